"""Plain public pages: help resources, about, privacy, and the public counter (page and JSON)."""
from __future__ import annotations

import time

from flask import Blueprint, jsonify, render_template

from portal.catalog.services import current_campaign
from portal.clock import now

bp = Blueprint("pages", __name__)

COUNTER_SECONDS = 60
_counter_cache: dict[int, tuple[float, dict]] = {}


@bp.get("/help")
def help_resources():
    return render_template("pages/help.html")


@bp.get("/privacy")
def privacy():
    return render_template("pages/privacy.html")


@bp.get("/about")
def about():
    return render_template("pages/about.html")


def _public_figures() -> dict | None:
    """The current campaign's aggregates, computed at most once a minute per process."""
    from portal.tracking.dashboard import refresh_figures
    from portal.tracking.stats import public_counter

    campaign = current_campaign()
    if campaign is None:
        return None
    cached = _counter_cache.get(campaign.id)
    if cached is None or time.monotonic() - cached[0] > COUNTER_SECONDS:
        refresh_figures()
        data = public_counter(campaign)
        data["computed_at"] = now().isoformat(timespec="seconds")
        cached = (time.monotonic(), data)
        _counter_cache[campaign.id] = cached
    return cached[1]


@bp.get("/api/stats/public")
def public_stats():
    data = _public_figures()
    if data is None:
        response = jsonify({"error": "no campaign"})
        response.status_code = 404
        return response
    response = jsonify(data)
    response.headers["Cache-Control"] = f"public, max-age={COUNTER_SECONDS}"
    response.headers["Access-Control-Allow-Origin"] = "*"  # aggregates only: embeddable
    return response


@bp.get("/counter")
def counter():
    return render_template("pages/counter.html", figures=_public_figures())
