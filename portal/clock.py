"""The portal's one clock.

Everything that asks "what time is it?" asks here, so tests (and demonstrations of a
week that has not come yet) can set the time with the ``FROZEN_NOW`` setting.
Campaign days are America/Montreal days, never UTC days.
"""
from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

MONTREAL = ZoneInfo("America/Montreal")


def now() -> datetime:
    """The current instant, timezone-aware in UTC."""
    frozen = current_app.config.get("FROZEN_NOW") if has_app_context() else None
    if frozen is not None:
        if isinstance(frozen, str):
            frozen = datetime.fromisoformat(frozen)
        return frozen.astimezone(UTC) if frozen.tzinfo else frozen.replace(tzinfo=UTC)
    return datetime.now(UTC)


def naive_utc_now() -> datetime:
    """The current instant as a naive UTC datetime, the form the database stores."""
    return now().replace(tzinfo=None)


def today_in_montreal() -> date:
    """Today's date in Montréal."""
    return now().astimezone(MONTREAL).date()
