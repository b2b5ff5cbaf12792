"""Sending the digest by email: one multipart/alternative message (plain text, then HTML) over SMTP.

Configured by the `email` settings group (EmailSettings, in agent.publish.email_settings so that agent.settings can
mount it without importing this module; `DISSECT_EMAIL__HOST`, `DISSECT_EMAIL__PASSWORD`...).
An empty host means the digest is not emailed. Sending happens after the digest is published, so a failed send
never loses the page: it ends in an EmailError (exit code 11) with one line saying what went wrong.

Security: `starttls` (the default; port 587) upgrades the connection before logging in, `tls` speaks TLS from the
first byte (port 465), `none` is for a relay on the same machine and refuses to send a password in clear text.
Certificates are verified against the system's CAs, plus `ca_file` when a relay uses a private CA.
Retries: transient failures (4xx replies, dropped or refused connections, timeouts) are retried `retries` times,
waiting `backoff_s`, then twice that, and so on; permanent ones (5xx, a failed login, a certificate that does not
verify) are not. Recipients refused with a 4xx are retried alone; a 5xx refusal is reported.

The message's text comes from the digest record (and the daily post when there is one), rendered with
agent/templates/email/*.j2: titles, verdicts and quotes are untrusted and escaped in the HTML part; links are
http(s) only; a report link needs `digest.site_url` (a relative link means nothing in a mailbox).
"""
from __future__ import annotations

import logging
import re
import secrets
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from agent.digest.daily_post import DailyPost
from agent.digest.record import DigestRecord
from agent.errors import EmailError
from agent.publish.email_settings import EmailSettings
from agent.publish.render import is_demo_model, render

log = logging.getLogger("dissect.email")

__all__ = ["EmailOutcome", "EmailSettings", "digest_message", "send_digest_email", "send_message"]
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_HTTP = re.compile(r"https?://[^\s<>\"'`]+")
MAX_BACKOFF_S = 60.0


@dataclass
class EmailOutcome:
    """What send_digest_email did: sent (to whom, which Message-ID) or skipped (why)."""

    sent: bool
    reason: str = ""  # why it was not sent ("email is not configured", "nothing new today")
    recipients: list[str] = field(default_factory=list)
    message_id: str = ""
    attempts: int = 0


# ---- the message ------------------------------------------------------------------------------------------


def _clean(text: object, limit: int = 0) -> str:
    s = " ".join(_CONTROL.sub(" ", str(text or "")).split())
    return (s[: limit - 1] + "\u2026") if limit and len(s) > limit else s


def _http(url: object) -> str:
    """The URL when it is a plain http(s) URL (shown as a link), else "" (never a javascript: or data: link)."""
    u = str(url or "").strip()
    return u if _HTTP.fullmatch(u) else ""


def nothing_new(record: DigestRecord) -> bool:
    """True for a day that dissected nothing and had no failure to report."""
    return not record.dissected and not record.failed


def digest_view(record: DigestRecord, *, post: DailyPost | None = None, site_url: str = "") -> dict[str, Any]:
    """The data both parts render: strings cleaned to one line, links checked, report links made absolute."""
    site = _http(site_url.rstrip("/"))
    papers = []
    for e in record.dissected:
        report = f"{site}/site/reports/{Path(e.report).stem}.html" if site and e.report else ""
        papers.append({"id": _clean(e.id), "title": _clean(e.title, 300), "url": _http(e.url), "report_url": report,
                       "score": e.score, "authors": _clean(", ".join(e.authors[:4]) + (" et al." if
                                                                                      len(e.authors) > 4 else "")),
                       "fallacy": _clean(e.fallacy), "gist": _clean(e.gist, 900), "verdict": _clean(e.verdict, 500),
                       "grounding": e.grounding})
    failed = [{"title": _clean(e.title, 300), "url": _http(e.url), "error": _clean(e.error, 300)}
              for e in record.failed]
    view_post = None
    if post is not None:
        view_post = {"title": _clean(post.title, 300), "url": _http(post.url), "closing": _clean(post.closing, 400),
                     "blocks": [{"kind": b.kind, "text": _clean(b.text, 2000), "status": b.status}
                                for b in post.blocks]}
    return {"date": record.date, "window_start": record.window_start, "window_end": record.window_end,
            "candidates": record.candidates, "papers": papers, "failed": failed, "others": len(record.others),
            "model": _clean(record.model, 120), "demo": is_demo_model(record.model), "post": view_post,
            "site_url": site, "nothing_new": nothing_new(record)}


def digest_subject(record: DigestRecord, prefix: str) -> str:
    n = len(record.dissected)
    if nothing_new(record):
        what = "nothing new"
    elif n:
        what = f"{n} paper{'s' if n != 1 else ''}: {_clean(record.dissected[0].title, 70)}"
    else:
        what = f"{len(record.failed)} paper{'s' if len(record.failed) != 1 else ''} could not be dissected"
    demo = "[demo model] " if is_demo_model(record.model) else ""
    return _clean(f"{demo}{prefix} {record.date}: {what}")


def digest_message(record: DigestRecord, email: EmailSettings, *, post: DailyPost | None = None,
                   site_url: str = "", now: datetime | None = None) -> EmailMessage:
    """The digest as one multipart/alternative message: text/plain first, text/html second (the richer part last,
    as RFC 2046 asks), with From, To, Subject, Date and Message-ID."""
    view = digest_view(record, post=post, site_url=site_url)
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = email.sender
    msg["To"] = ", ".join(email.recipients)
    msg["Subject"] = digest_subject(record, email.subject_prefix)
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    # short enough for one header line: <digest.2026-01-19.1f2e3d4c5b6a7980@example.org>
    msg["Message-ID"] = f"<digest.{record.date}.{secrets.token_hex(8)}@{email.sender.rsplit('@', 1)[-1]}>"
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: autoresponders should not answer
    msg.set_content(render("email/digest.txt.j2", d=view))
    msg.add_alternative(render("email/digest.html.j2", d=view), subtype="html")
    return msg


# ---- sending ------------------------------------------------------------------------------------------------


def _is_transient(exc: BaseException) -> bool:
    """Worth another try: 4xx replies, dropped, refused or timed-out connections. Not: 5xx, a failed login, TLS
    that does not verify, a server without STARTTLS or AUTH."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, (ssl.SSLError, ssl.CertificateError, smtplib.SMTPNotSupportedError)):
        return False
    return isinstance(exc, OSError)  # timeouts, refused or reset connections, name lookups


def _why(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "every recipient was refused: " + "; ".join(
            f"{addr} ({code} {_clean(msg.decode(errors='replace') if isinstance(msg, bytes) else msg, 120)})"
            for addr, (code, msg) in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"login refused ({exc.smtp_code})"
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        return f"the server replied {exc.smtp_code} {_clean(text, 160)}"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"the server does not support it: {_clean(exc, 160)}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"its TLS certificate did not verify ({_clean(exc.verify_message, 120)}); set email.ca_file for a " \
               "private CA"
    return _clean(getattr(exc, "strerror", None) or exc or type(exc).__name__, 200)


def _tls_context(email: EmailSettings) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if email.ca_file:
        ctx.load_verify_locations(cafile=email.ca_file)
    return ctx


def _deliver(msg: EmailMessage, email: EmailSettings, to: list[str]) -> dict[str, tuple[int, bytes]]:
    """One SMTP conversation; returns the recipients the server refused (an exception when it refused all)."""
    port = email.effective_port
    if email.security == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(email.host, port, timeout=email.timeout_s, context=_tls_context(email))
    else:
        smtp = smtplib.SMTP(email.host, port, timeout=email.timeout_s)
    with smtp:
        smtp.ehlo()
        if email.security == "starttls":
            smtp.starttls(context=_tls_context(email))
            smtp.ehlo()
        if email.username:
            smtp.login(email.username, email.password)
        return smtp.send_message(msg, from_addr=email.sender, to_addrs=to)


def send_message(msg: EmailMessage, email: EmailSettings, *, sleep: Callable[[float], None] = time.sleep
                 ) -> tuple[list[str], int]:
    """Send `msg` to email.recipients, retrying transient failures with exponential backoff. Returns (the
    recipients that accepted it, attempts made); raises EmailError (one line) when it cannot reach them all."""
    pending = list(email.recipients)
    accepted: list[str] = []
    refused_for_good: dict[str, str] = {}
    last = ""
    attempts = 0
    for attempt in range(email.retries + 1):
        attempts = attempt + 1
        try:
            refused = _deliver(msg, email, pending)
        except Exception as exc:  # noqa: BLE001 - classified below; anything else is not retried
            last = _why(exc)
            if not _is_transient(exc):
                break
            log.warning("email: try %d of %d failed (%s)", attempts, email.retries + 1, last)
        else:
            accepted += [a for a in pending if a not in refused]
            pending = []
            for addr, (code, text) in refused.items():
                reason = f"{code} {_clean(text.decode(errors='replace') if isinstance(text, bytes) else text, 120)}"
                if 400 <= code < 500:
                    pending.append(addr)
                    last = f"{addr} refused for now ({reason})"
                else:
                    refused_for_good[addr] = reason
            if not pending:
                break
        if attempt < email.retries:
            sleep(min(MAX_BACKOFF_S, email.backoff_s * 2 ** attempt))
    for addr in pending:
        refused_for_good.setdefault(addr, last)
    if refused_for_good or not accepted:
        where = f"{email.host}:{email.effective_port}"
        if accepted:
            detail = "; ".join(f"{a} ({r})" for a, r in refused_for_good.items())
            raise EmailError(f"the digest is published, but the email reached {len(accepted)} of "
                             f"{len(email.recipients)} recipients via {where}: refused {detail}")
        raise EmailError(f"the digest is published, but the email could not be sent via {where} after "
                         f"{attempts} tr{'y' if attempts == 1 else 'ies'}: {last}")
    return accepted, attempts


def send_digest_email(email: EmailSettings, record: DigestRecord, *, post: DailyPost | None = None,
                      site_url: str = "", sleep: Callable[[float], None] = time.sleep) -> EmailOutcome:
    """Email the published digest `record` (with the day's post, if any) as configured by `email`.

    Call it after the digest's page, index and feed are written. Skipped (sent=False, with the reason) when email
    is not configured, or on a day with nothing new unless email.send_empty. Raises EmailError (exit code 11, one
    line) when the message cannot be delivered to every recipient after the retries."""
    if not email.enabled:
        return EmailOutcome(sent=False, reason="email is not configured (email.host is empty)")
    if nothing_new(record) and not email.send_empty:
        return EmailOutcome(sent=False, reason="nothing new today, and email.send_empty is off")
    msg = digest_message(record, email, post=post, site_url=site_url)
    accepted, attempts = send_message(msg, email, sleep=sleep)
    log.info("email: digest %s sent to %d recipients via %s (%d tries)", record.date, len(accepted), email.host,
             attempts)
    return EmailOutcome(sent=True, recipients=accepted, message_id=str(msg["Message-ID"]), attempts=attempts)
