"""A digest day's papers on disk: one JSON file per paper job under <data_dir>/digest-runs/<date>/.

The jobs folder, not the checkpoint, is the truth about what a day's runs did: each stage saves the jobs it
advanced (atomically), so a killed or interrupted run resumes from them, and the day's page lists every paper a
run finished even if the checkpoint database was lost. File names come from validated arXiv ids only.
"""
from __future__ import annotations

import logging
from pathlib import Path

from agent.models import PaperJob
from agent.publish.files import inside, read_json, slugify, write_json
from agent.settings import Settings

log = logging.getLogger("dissect.digest")


class DayJobs:
    def __init__(self, settings: Settings, day: str):
        self.root = inside(settings.paths.data_dir, "digest-runs", day)

    def path(self, paper_id: str) -> Path:
        return inside(self.root, slugify(paper_id) + ".json")

    def save(self, job: PaperJob) -> None:
        write_json(self.path(job.source), job.model_dump(mode="json"))

    def load(self, paper_id: str) -> PaperJob | None:
        raw = read_json(self.path(paper_id))
        if raw is None:
            return None
        try:
            return PaperJob.model_validate(raw)
        except ValueError:
            log.warning("the saved job of %s is unreadable; it starts over", paper_id)
            return None

    def all(self) -> list[PaperJob]:
        out = []
        for f in sorted(Path(self.root).glob("*.json")):
            raw = read_json(f)
            try:
                out.append(PaperJob.model_validate(raw))
            except ValueError:
                log.warning("unreadable job file %s: left out of the page", f.name)
        return out

    def forget(self) -> None:
        for f in Path(self.root).glob("*.json"):
            f.unlink(missing_ok=True)
