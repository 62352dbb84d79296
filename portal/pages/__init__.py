"""Plain public pages: help resources, about, privacy, and the public counter (page and JSON)."""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template

from portal.catalog.services import current_campaign
from portal.clock import now, today_in_montreal

bp = Blueprint("pages", __name__)

# How long browsers and proxies may keep the public figures. The portal itself keeps no
# copy: each answer is read from the rollups (cheap), so every worker answers the same.
COUNTER_SECONDS = 60


@bp.get("/help")
def help_resources():
    return render_template("pages/help.html")


@bp.get("/privacy")
def privacy():
    return render_template("pages/privacy.html")


@bp.get("/about")
def about():
    return render_template("pages/about.html")


def shown_campaign(today) -> tuple[object, str] | tuple[None, None]:
    """The campaign the public counter shows, and where ``today`` stands in it: ``before``
    the week (in its season), the ``week``, ``after`` it (season still open), or
    ``closed``. Before a season opens, the previous campaign's final figures (``closed``);
    ``upcoming`` only when there is no earlier campaign."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import Campaign

    campaign = current_campaign()
    if campaign is None:
        return None, None
    if today < campaign.opens_on:
        previous = db.session.scalars(select(Campaign).where(
            Campaign.closes_on < today).order_by(Campaign.closes_on.desc()).limit(1)).first()
        if previous is None:
            return campaign, "upcoming"
        return previous, "closed"
    if today > campaign.closes_on:
        return campaign, "closed"
    return campaign, campaign.part_of_season(today)


def _public_figures() -> dict | None:
    """The aggregates the counter shows, read now from the rollups: what ``flask rollup``
    (or the rollup service) counted is seen at once, by every worker. Without a rollup
    service, a request catches the rollups up when they are more than half a minute old
    (public traffic shares that work instead of each request waiting on it)."""
    from portal.tracking.dashboard import refresh_figures
    from portal.tracking.stats import public_counter

    campaign, phase = shown_campaign(today_in_montreal())
    if campaign is None:
        return None
    refresh_figures(max_age_seconds=30)
    data = public_counter(campaign)
    data["campaign"]["phase"] = phase
    data["computed_at"] = now().isoformat(timespec="seconds")
    return data


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
    figures = _public_figures()
    # Before a season opens, the previous campaign is shown: say when the next one opens.
    upcoming = current_campaign() if figures and figures["campaign"]["phase"] in (
        "closed", "upcoming") else None
    if upcoming is not None and upcoming.year == figures["campaign"]["year"] \
            and figures["campaign"]["phase"] == "closed":
        upcoming = None
    return render_template("pages/counter.html", figures=figures, upcoming=upcoming)
