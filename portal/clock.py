"""The portal's one clock.

Everything that asks "what time is it?" asks here, so tests can stop the time with the
``FROZEN_NOW`` setting, and demonstrations of a week that has not come yet can start the
portal's clock at another moment with ``PORTAL_CLOCK_START`` (it then runs on from there).
``PORTAL_CLOCK_ANCHOR`` says at which real time the portal's clock read that moment, so
that every process (each gunicorn worker, several servers, a restarted one) keeps one and
the same clock; without it a process starts the clock at its first use (gunicorn's
configuration sets the anchor for its workers: one clock per server).
Campaign days are America/Montreal days, never UTC days.
"""
from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

MONTREAL = ZoneInfo("America/Montreal")


def _aware(moment: datetime | str) -> datetime:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def now() -> datetime:
    """The current instant, timezone-aware in UTC."""
    if not has_app_context():
        return datetime.now(UTC)
    config = current_app.config
    if config.get("FROZEN_NOW") is not None:
        return _aware(config["FROZEN_NOW"])
    if config.get("CLOCK_START"):
        # Computed once per process: from then on the portal's clock runs at real speed.
        offset = config.get("_CLOCK_OFFSET")
        if offset is None:
            anchor = config.get("CLOCK_ANCHOR")
            started = _aware(anchor) if anchor else datetime.now(UTC)
            offset = config["_CLOCK_OFFSET"] = _aware(config["CLOCK_START"]) - started
        return datetime.now(UTC) + offset
    return datetime.now(UTC)


def naive_utc_now() -> datetime:
    """The current instant as a naive UTC datetime, the form the database stores."""
    return now().replace(tzinfo=None)


def today_in_montreal() -> date:
    """Today's date in Montréal."""
    return now().astimezone(MONTREAL).date()
