"""What the staff dashboard reads, callable without a request: the campaigns and their
targets, figures brought up to date, and the rows of its CSV exports. The figures
themselves are counted in ``tracking.stats`` (downloads) and ``tracking.printed``
(printed copies)."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta

from sqlalchemy import select

from portal.catalog.services import current_campaign
from portal.clock import naive_utc_now
from portal.extensions import db
from portal.models import Campaign, DownloadEvent, Kit
from portal.models.stats import RollupState
from portal.tracking.rollup import catch_up
from portal.tracking.stats import Figures, Filters, campaign_figures

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def campaigns() -> list[Campaign]:
    return list(db.session.scalars(select(Campaign).order_by(Campaign.year.desc())))


def chosen_campaign(campaign_id: int | None) -> Campaign | None:
    if campaign_id:
        return db.session.get(Campaign, campaign_id)
    return current_campaign()


def save_campaign(form, campaign: Campaign) -> Campaign:
    """Copy a validated campaign form onto a campaign, with its regional targets. An empty
    season day takes its default (1 February, 31 March)."""
    from portal.models import RegionTarget
    from portal.models.catalog import default_closes_on, default_opens_on
    from portal.reference import REGIONS

    for name in ("year", "starts_on", "ends_on", "national_day", "target_kits",
                 "target_organizations"):
        setattr(campaign, name, getattr(form, name).data)
    campaign.opens_on = form.opens_on.data or default_opens_on(campaign.year, campaign.starts_on)
    campaign.closes_on = form.closes_on.data or default_closes_on(campaign.year,
                                                                  campaign.ends_on)
    campaign.ordering_open = not form.ordering_closed.data
    campaign.ordering_message_fr = form.ordering_message_fr.data or None
    campaign.ordering_message_en = form.ordering_message_en.data or None
    wanted = {code: getattr(form, f"region_{code}").data for code in REGIONS}
    existing = {t.region: t for t in campaign.region_targets}
    for code, value in wanted.items():
        if value is None and code in existing:
            campaign.region_targets.remove(existing[code])
        elif value is not None and code in existing:
            existing[code].target_kits = value
        elif value is not None:
            campaign.region_targets.append(RegionTarget(region=code, target_kits=value))
    return campaign


def recount_season() -> None:
    """The rollups emptied, to be counted again from the events (never changed) under the
    season staff just set: every later rollup (the ``flask rollup`` service, or dashboards
    a batch at a time) refills them. ``flask rollup --rebuild`` does it all at once."""
    from sqlalchemy import delete

    from portal.tracking.rollup import ROLLUP_MODELS

    for model in ROLLUP_MODELS:
        db.session.execute(delete(model))


def refresh_figures(max_age_seconds: int = 3) -> None:
    """Catch the rollups up if they are more than a few seconds old (dashboards lag by
    seconds at most, and a quiet portal does no work)."""
    states = list(db.session.scalars(select(RollupState)))
    newest = max((s.updated_at for s in states if s.updated_at), default=None)
    if newest is None or naive_utc_now() - newest > timedelta(seconds=max_age_seconds) \
            or len(states) < 2:
        catch_up(max_batches=1)


def figures_for(campaign: Campaign, filters: Filters) -> Figures:
    from portal.tracking.printed import printed_copies

    figures = campaign_figures(campaign, filters)
    figures.printed = printed_copies(campaign, filters)  # counted apart from downloads
    return figures


def safe_cell(value):
    """A CSV cell a spreadsheet will not run as a formula; numbers stay numbers."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) or value is None:
        return "" if value is None else value
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_lines(rows) -> Iterator[str]:
    """Stream rows as CSV lines (UTF-8 with a BOM for spreadsheets)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield "\ufeff"
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def figure_rows(figures: Figures, language: str):
    """Every figure of the dashboard as (section, key, dimension, value) rows."""
    yield ("section", "figure", "dimension", "value")
    for key, value in figures.totals.items():
        yield ("totals", key, "", value)
    for part, values in figures.parts.items():  # before the week, the week, after it
        for key, value in values.items():
            yield ("part", key, part, value)
    for day in figures.days:
        for key in ("downloads", "kits_distributed", "organizations_reached"):
            yield ("day", key, day["day"].isoformat(), day[key])
    for row in figures.top_kits:
        title = row["kit"].title(language) if row["kit"] else row["kit_id"]
        yield ("kit", "downloads", title, row["downloads"])
    for row in figures.top_materials:
        material = row["material"]
        label = f"{material.title} ({material.language})" if material else row["material_id"]
        yield ("material", "downloads", label, row["downloads"])
    for row in figures.by_region:
        for key in ("downloads", "kits_distributed", "organizations_reached"):
            yield ("region", key, row["region"] or "none", row[key])
    for row in figures.by_account_type:
        for key in ("downloads", "kits_distributed"):
            yield ("account_type", key, row["account_type"], row[key])
    for row in figures.by_organization_type:
        for key in ("downloads", "organizations_reached"):
            yield ("organization_type", key, row["organization_type"], row[key])
    if figures.printed is not None:  # shipped printed copies, apart from downloads
        printed = figures.printed
        yield ("printed", "printed_copies", "", printed["total"])
        for row in printed["by_kit"]:
            yield ("printed_kit", "printed_copies",
                   row["kit"].title(language) if row["kit"] else row["kit_id"], row["copies"])
        for row in printed["by_region"]:
            yield ("printed_region", "printed_copies", row["region"] or "none", row["copies"])
        for row in printed["by_organization_type"]:
            yield ("printed_organization_type", "printed_copies", row["organization_type"],
                   row["copies"])
        for row in printed["by_day"]:
            yield ("printed_day", "printed_copies", row["day"].isoformat(), row["copies"])
    if figures.previous:
        for key, value in figures.previous["totals"].items():
            yield ("previous_campaign", key, figures.previous["campaign"].year, value)


def event_rows(campaign: Campaign, batch: int = 5000):
    """Download events of a campaign with no personal data (opaque account id), streamed."""
    yield ("event_id", "occurred_at_utc", "kit", "material_version_id", "account",
           "account_type", "region", "organization_type", "personalized", "zip", "robot")
    slugs = dict(db.session.execute(select(Kit.id, Kit.slug)).all())
    table = DownloadEvent.__table__
    last_id = 0
    while True:
        rows = db.session.execute(select(table).where(
            table.c.campaign_id == campaign.id, table.c.id > last_id)
            .order_by(table.c.id).limit(batch)).all()
        if not rows:
            return
        for e in rows:
            yield (e.id, e.occurred_at.isoformat(timespec="seconds"), slugs.get(e.kit_id, ""),
                   e.material_version_id, e.actor_id, e.account_type, e.region or "",
                   e.organization_type or "", e.personalized, e.is_zip, e.is_robot)
        last_id = rows[-1].id
