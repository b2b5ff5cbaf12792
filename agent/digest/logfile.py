"""The digest's rotating log file: what cron leaves behind to read."""
from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

from agent.digest.window import DigestOptions
from agent.publish.files import StorageError
from agent.settings import Settings


class _LevelFilter(logging.Filter):
    def __init__(self, level: int):
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.level and not getattr(record, "file_only", False)


class digest_logging:
    """`with digest_logging(settings, opts):` the dissect loggers write INFO and up to
    <data_dir>/logs/digest.log (rotated at opts.log_max_bytes, opts.log_backups kept); stderr keeps the
    level cli.py chose (warnings, or everything with -v)."""

    def __init__(self, settings: Settings, opts: DigestOptions | None = None):
        self.settings, self.opts = settings, opts or DigestOptions.for_settings(settings)

    def __enter__(self) -> Path:
        path = Path(self.settings.log_dir) / "digest.log"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.handler = RotatingFileHandler(path, maxBytes=self.opts.log_max_bytes,
                                               backupCount=self.opts.log_backups, encoding="utf-8")
        except OSError as exc:
            raise StorageError(f"cannot open the digest log {path}: {exc.strerror or exc}") from None
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
        self.handler.setLevel(logging.INFO)
        self.logger = logging.getLogger("dissect")
        self.saved = (self.logger.level, self.logger.filters[:])
        root_level = logging.getLogger().getEffectiveLevel()
        self.stderr_filter = _LevelFilter(root_level)
        for h in logging.getLogger().handlers:  # INFO for the file must not make stderr chatty under cron
            h.addFilter(self.stderr_filter)
        self.logger.setLevel(logging.INFO)
        self.logger.addHandler(self.handler)
        return path

    def __exit__(self, *exc) -> None:
        self.logger.removeHandler(self.handler)
        self.handler.close()
        self.logger.setLevel(self.saved[0])
        for h in logging.getLogger().handlers:
            h.removeFilter(self.stderr_filter)
