"""When the digest runs and what it covers: the announcement-day window rule and the digest's own options.

The window rule: arXiv announces new submissions Sunday to Thursday at 20:00 US Eastern, i.e. on the mornings
(UTC) of Monday to Friday. The digest for announcement day A (default: today, UTC; a Saturday or Sunday means
the Friday before) covers papers submitted, in whole UTC days, from the weekday before E through E, where E is
the weekday before A: Monday = Thu-Fri, Tuesday = Fri-Mon (the weekend included), Wednesday = Mon-Tue, and so
on. The submission cut-off (14:00 Eastern) splits days, so consecutive windows overlap by a day; the digest's
dedupe keeps a paper from being listed twice. `--since D` covers D to today instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from agent.errors import ConfigError

MAX_SINCE_DAYS = 31


@dataclass
class DigestOptions:
    """Digest knobs. The first three come from Settings (digest_profile, site_url, digest_search_max:
    DISSECT_PROFILE, DISSECT_SITE_URL, DISSECT_DIGEST_SEARCH_MAX); `for_settings` fills them."""

    profile_path: str = ""
    site_url: str = ""  # for feed links
    search_max: int = 500
    batch_window_s: float = 0.2  # how long the first request of a model batch waits for others
    log_max_bytes: int = 1_000_000
    log_backups: int = 5
    feed_entries: int = 50

    @classmethod
    def for_settings(cls, settings) -> DigestOptions:
        return cls(profile_path=settings.digest.profile, site_url=settings.digest.site_url,
                   search_max=settings.digest.search_max)


# ---- the window -----------------------------------------------------------------------------------


def _prev_weekday(d: date) -> date:
    d -= timedelta(days=1)
    while d.weekday() >= 5:
        d -= timedelta(days=1)
    return d


def announcement_day(d: date) -> date:
    """The last arXiv announcement morning (UTC) on or before d: Saturday and Sunday fall back to Friday."""
    return d - timedelta(days=max(0, d.weekday() - 4))


def default_window(day: date) -> tuple[date, date]:
    end = _prev_weekday(announcement_day(day))
    return _prev_weekday(end), end


def today_utc() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class Window:
    day: date  # the digest's date (its page is reports/digests/<day>.md)
    start: date
    end: date
    since: bool = False  # an explicit --since window

    @property
    def thread_id(self) -> str:
        return self.day.isoformat() + (f"+since-{self.start.isoformat()}" if self.since else "")


def resolve_window(day: date | None = None, since: date | None = None, today: date | None = None) -> Window:
    today = today or today_utc()
    if day and since:
        raise ConfigError("give --date or --since, not both")
    if since:
        if since > today:
            raise ConfigError(f"--since {since} is in the future")
        if (today - since).days > MAX_SINCE_DAYS:
            raise ConfigError(f"--since {since} is more than {MAX_SINCE_DAYS} days ago; run it in pieces with --date")
        return Window(announcement_day(today), since, today, since=True)
    day = day or today
    if day > today:
        raise ConfigError(f"--date {day} is in the future")
    day = announcement_day(day)
    return Window(day, *default_window(day))
