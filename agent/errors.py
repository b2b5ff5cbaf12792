"""One exception type per failure kind; cli.py turns each into one line on stderr and an exit code."""
from __future__ import annotations


class DissectError(Exception):
    """Base of every error the program reports to the user instead of a traceback."""

    exit_code = 1

    def __str__(self) -> str:  # one line, always
        return " ".join(super().__str__().split())


class ConfigError(DissectError):
    exit_code = 2


class InvalidSourceError(DissectError):
    """The user gave something that cannot be a source (malformed id, missing file...)."""

    exit_code = 2


class SourceNotFoundError(DissectError):
    """A well-formed id or URL that the remote does not know."""

    exit_code = 3


class FetchError(DissectError):
    """Network or remote-server failure after retries."""

    exit_code = 4


class ExtractionError(DissectError):
    """Fetched content that holds no usable text (not a PDF, empty page, binary...)."""

    exit_code = 5


class LLMError(DissectError):
    """The configured model failed or kept returning invalid output."""

    exit_code = 6


class StoreError(DissectError):
    """The Chroma store or another on-disk store is missing, corrupt or locked."""

    exit_code = 7


class LockError(DissectError):
    """Another run holds the lock."""

    exit_code = 8


class EmailError(DissectError):
    """The digest was published, but sending it by email failed (after retries)."""

    exit_code = 11
