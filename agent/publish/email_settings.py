"""The `email` settings group (agent.publish.email sends the digest with it). Only pydantic and the standard
library here: agent.settings mounts this group, and must not import the sending code."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

Security = Literal["none", "starttls", "tls"]
DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}
_ADDRESS = re.compile(r"[^@\s<>()\[\],;:\"\\]+@[^@\s<>()\[\],;:\"\\]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class EmailSettings(BaseModel):
    """The `email` settings group."""

    model_config = {"extra": "forbid", "validate_assignment": True}

    host: str = Field("", description="SMTP server to send the digest through (empty: the digest is not emailed)")
    port: int = Field(0, ge=0, le=65535, description="SMTP port (0: 587 for starttls, 465 for tls, 25 for none)")
    security: Security = Field("starttls", description="starttls (upgrade, then log in), tls (TLS from the first "
                                                       "byte) or none (a relay on this machine; no password)")
    username: str = Field("", description="login name (empty: no login)")
    password: str = Field("", repr=False, description="login password: set it with DISSECT_EMAIL__PASSWORD (never "
                                                       "printed)")
    sender: str = Field("", description="the From address")
    recipients: list[str] = Field([], description="To addresses (comma-separated in the environment)")
    send_empty: bool = Field(False, description="also send the email on a day with nothing new")
    subject_prefix: str = Field("Alignment digest", max_length=80, description="the subject's first words")
    timeout_s: float = Field(30.0, gt=0, description="seconds one SMTP conversation step may take")
    retries: int = Field(3, ge=0, le=10, description="retries after a transient failure (4xx, dropped connection)")
    backoff_s: float = Field(2.0, ge=0, description="seconds before the first retry, doubled for each next one")
    ca_file: str = Field("", description="extra CA certificates (PEM) to trust, for a relay with a private CA")

    @field_validator("recipients", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        return [a.strip() for a in v.split(",") if a.strip()] if isinstance(v, str) else v

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        for address in v:
            if not _ADDRESS.fullmatch(address):
                raise ValueError(f"not an email address: {address!r}")
        return list(dict.fromkeys(v))

    @field_validator("sender")
    @classmethod
    def _sender(cls, v: str) -> str:
        if v and not _ADDRESS.fullmatch(v):
            raise ValueError(f"not an email address: {v!r}")
        return v

    @field_validator("host", "username", "subject_prefix")
    @classmethod
    def _one_line(cls, v: str) -> str:
        if _CONTROL.search(v):
            raise ValueError("must be one line without control characters")
        return v.strip()

    @model_validator(mode="after")
    def _complete(self) -> EmailSettings:
        if self.host and (not self.sender or not self.recipients):
            raise ValueError("an email host needs a sender and at least one recipient")
        if self.host and self.security == "none" and self.password:
            raise ValueError("security 'none' would send the password in clear text; use starttls or tls")
        if self.ca_file and not Path(self.ca_file).is_file():
            raise ValueError(f"ca_file {self.ca_file} is not a file")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.host)

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]
