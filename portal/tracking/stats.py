"""The campaign's figures, read from the rollup tables (never from raw events).

``campaign_figures`` computes everything the dashboard shows for a campaign and filters;
``public_counter`` the aggregates anyone may see.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Campaign, Kit, Material, PersonalizedDocument
from portal.models.stats import DailyDownloads, DailyFirsts, DailyScans
from portal.reference import ORGANIZATION_TYPES, REGIONS
from portal.tracking.rollup import DAILY_CAP


class FilterError(ValueError):
    """A filter the dashboard cannot apply; the message says why (translated by the view)."""


@dataclass(frozen=True)
class Filters:
    start: date
    end: date
    region: str | None = None
    kit_id: int | None = None

    @classmethod
    def for_campaign(cls, campaign: Campaign, start=None, end=None, region=None, kit_id=None):
        start = start or campaign.starts_on
        end = end or campaign.ends_on
        if start > end:
            raise FilterError("start_after_end")
        if start < campaign.starts_on or end > campaign.ends_on:
            raise FilterError("outside_campaign")
        if region is not None and region not in REGIONS and region != "none":
            raise FilterError("unknown_region")
        return cls(start, end, region, kit_id)


@dataclass
class Figures:
    campaign: Campaign
    filters: Filters
    totals: dict = field(default_factory=dict)
    days: list[dict] = field(default_factory=list)
    top_kits: list[dict] = field(default_factory=list)
    top_materials: list[dict] = field(default_factory=list)
    by_region: list[dict] = field(default_factory=list)
    by_account_type: list[dict] = field(default_factory=list)
    by_organization_type: list[dict] = field(default_factory=list)
    previous: dict | None = None
    # Printed copies shipped (portal/orders/figures.py): counted apart, never added to
    # the download figures.
    printed: dict | None = None
    # The counted downloads one account may make in a day (tracking.rollup.DAILY_CAP).
    daily_cap: int = DAILY_CAP


def _where(model, campaign: Campaign, filters: Filters, kit_column=True):
    conditions = [model.campaign_id == campaign.id, model.day >= filters.start,
                  model.day <= filters.end]
    if filters.region is not None:
        conditions.append(model.region == ("" if filters.region == "none" else filters.region))
    if filters.kit_id is not None and kit_column:
        conditions.append(model.kit_id == filters.kit_id)
    return conditions


def _firsts_conditions(campaign, filters):
    """Kits distributed come from kit rows; organizations reached from organization rows,
    or, under a kit filter, from that kit's organization rows (first download of the kit)."""
    return _where(DailyFirsts, campaign, filters, kit_column=False)


def _sum_firsts(campaign, filters, group_by=()):
    conditions = _firsts_conditions(campaign, filters)
    kit_rows = [DailyFirsts.kit_id != 0]
    if filters.kit_id is not None:
        kit_rows.append(DailyFirsts.kit_id == filters.kit_id)
        orgs = func.sum(DailyFirsts.kits_distributed).filter(
            DailyFirsts.account_type == "organization")
    else:
        orgs = func.sum(DailyFirsts.organizations_reached)
    kits = func.sum(DailyFirsts.kits_distributed)
    query = select(*group_by, func.coalesce(kits, 0), func.coalesce(orgs, 0)).where(*conditions)
    if filters.kit_id is not None:
        query = query.where(*kit_rows)
    if group_by:
        query = query.group_by(*group_by)
    return query


def _raw_rows(query) -> list[tuple]:
    """Rows as plain tuples straight from the driver: thousands of rows, none of the
    per-row work SQLAlchemy's result objects do (days come back as dates either way)."""
    from datetime import date as date_type

    connection = db.session.connection()
    compiled = query.compile(dialect=connection.dialect)
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.execute(str(compiled), compiled.params if connection.dialect.name != "sqlite"
                       else tuple(compiled.params[name] for name in compiled.positiontup))
        rows = cursor.fetchall()
    finally:
        cursor.close()
    if rows and not isinstance(rows[0][0], date_type):  # SQLite returns ISO text
        rows = [(date_type.fromisoformat(row[0]), *row[1:]) for row in rows]
    return rows


def campaign_figures(campaign: Campaign, filters: Filters, with_previous: bool = True) -> Figures:
    """Everything the dashboard shows, from two reads of the rollup tables.

    The rollup rows of the campaign and filters (a few thousand at most, whatever the
    traffic) are read once each and summed in one pass: fewer round trips than one
    aggregate query per breakdown, on SQLite and PostgreSQL alike.
    """
    figures = Figures(campaign=campaign, filters=filters)
    d = DailyDownloads
    rows = _raw_rows(select(
        d.day, d.kit_id, d.material_id, d.region, d.account_type, d.organization_type,
        d.personalized, d.is_zip, d.downloads, d.unique_downloads, d.robots, d.double_clicks,
        d.over_daily_cap,
    ).where(*_where(d, campaign, filters)))
    totals = defaultdict(int)
    per_day = {day: {"day": day, "downloads": 0, "kits_distributed": 0,
                     "organizations_reached": 0} for day in _days(filters.start, filters.end)}
    by_kit, by_material = defaultdict(int), defaultdict(int)
    by_region = {code: defaultdict(int) for code in [*REGIONS, ""]}
    by_type = {t: defaultdict(int) for t in ("organization", "citizen", "staff")}
    by_org_type = {t: defaultdict(int) for t in ORGANIZATION_TYPES}
    for (day, kit_id, material_id, region, account_type, org_type, personalized, is_zip,
         downloads, unique, robots, doubles, over_cap) in rows:
        totals["downloads"] += downloads
        totals["unique_downloads"] += unique
        totals["robots_excluded"] += robots
        totals["double_clicks_excluded"] += doubles
        totals["over_daily_cap_excluded"] += over_cap
        if personalized:
            totals["personalized_downloads"] += downloads
        if is_zip:
            totals["zip_downloads"] += downloads
        per_day[day]["downloads"] += downloads
        by_kit[kit_id] += downloads
        if material_id:
            by_material[material_id] += downloads
        if region in by_region:
            by_region[region]["downloads"] += downloads
        if account_type in by_type:
            by_type[account_type]["downloads"] += downloads
        if account_type == "organization" and org_type in by_org_type:
            by_org_type[org_type]["downloads"] += downloads

    f = DailyFirsts
    firsts = _raw_rows(select(
        f.day, f.kit_id, f.region, f.account_type, f.organization_type, f.kits_distributed,
        f.organizations_reached).where(*_firsts_conditions(campaign, filters)))
    for day, kit_id, region, account_type, org_type, kits, orgs in firsts:
        if filters.kit_id is not None:
            # Under a kit filter, an organization is reached by its first download of the kit.
            if kit_id != filters.kit_id:
                continue
            orgs = kits if account_type == "organization" else 0
        elif kit_id == 0:
            kits = 0  # organization rows carry organizations reached only
        totals["kits_distributed"] += kits
        totals["organizations_reached"] += orgs
        per_day[day]["kits_distributed"] += kits
        per_day[day]["organizations_reached"] += orgs
        if region in by_region:
            by_region[region]["kits_distributed"] += kits
            by_region[region]["organizations_reached"] += orgs
        if account_type in by_type:
            by_type[account_type]["kits_distributed"] += kits
        if org_type in by_org_type:
            by_org_type[org_type]["organizations_reached"] += orgs

    figures.totals = {name: int(totals[name]) for name in (
        "downloads", "unique_downloads", "personalized_downloads", "zip_downloads",
        "robots_excluded", "double_clicks_excluded", "over_daily_cap_excluded",
        "kits_distributed",
        "organizations_reached")}
    figures.totals.update(target_kits=campaign.target_kits,
                          target_organizations=campaign.target_organizations)
    scans = db.session.execute(select(func.coalesce(func.sum(DailyScans.scans), 0),
                                      func.coalesce(func.sum(DailyScans.unique_scans), 0))
                               .where(DailyScans.campaign_id == campaign.id,
                                      DailyScans.day >= filters.start,
                                      DailyScans.day <= filters.end)).one()
    figures.totals["qr_scans"], figures.totals["qr_unique_scans"] = int(scans[0]), int(scans[1])
    figures.totals["documents_made"] = _documents_made(campaign, filters)
    figures.days = list(per_day.values())

    kits = {k.id: k for k in db.session.scalars(select(Kit).where(
        Kit.campaign_id == campaign.id))}
    figures.top_kits = [{"kit": kits.get(kit_id), "kit_id": kit_id, "downloads": count}
                        for kit_id, count in sorted(by_kit.items(), key=lambda kv: -kv[1])]
    top = sorted(by_material.items(), key=lambda kv: -kv[1])[:10]
    materials = {m.id: m for m in db.session.scalars(select(Material).where(
        Material.id.in_([material_id for material_id, _ in top] or [0])))}
    figures.top_materials = [{"material": materials.get(material_id),
                              "material_id": material_id, "downloads": count}
                             for material_id, count in top]
    figures.by_region = [{"region": code, "downloads": v["downloads"],
                          "kits_distributed": v["kits_distributed"],
                          "organizations_reached": v["organizations_reached"]}
                         for code, v in by_region.items()]
    figures.by_account_type = [{"account_type": t, "downloads": v["downloads"],
                                "kits_distributed": v["kits_distributed"]}
                               for t, v in by_type.items()]
    figures.by_organization_type = [{"organization_type": t, "downloads": v["downloads"],
                                     "organizations_reached": v["organizations_reached"]}
                                    for t, v in by_org_type.items()]
    if with_previous:
        figures.previous = _previous_week(campaign, filters)
    return figures


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _documents_made(campaign: Campaign, filters: Filters) -> int:
    from datetime import datetime

    start = datetime.combine(filters.start, datetime.min.time()) - timedelta(days=1)
    end = datetime.combine(filters.end, datetime.min.time()) + timedelta(days=2)
    # Personalized documents are few (one per account and material): counted directly.
    return int(db.session.scalar(select(func.count()).select_from(PersonalizedDocument)
                                 .join(Material).join(Kit).where(
        Kit.campaign_id == campaign.id, PersonalizedDocument.created_at >= start,
        PersonalizedDocument.created_at < end)) or 0)


def _previous_week(campaign: Campaign, filters: Filters) -> dict | None:
    """The same days of the previous campaign, for comparison."""
    previous = db.session.scalars(select(Campaign).where(
        Campaign.year == campaign.year - 1)).first()
    if previous is None:
        return None
    offset_start = (filters.start - campaign.starts_on).days
    offset_end = (filters.end - campaign.starts_on).days
    start = previous.starts_on + timedelta(days=offset_start)
    end = min(previous.starts_on + timedelta(days=offset_end), previous.ends_on)
    if start > end:
        return None
    figures = campaign_figures(previous, Filters(start, end, filters.region, None),
                               with_previous=False)
    return {"campaign": previous, "totals": figures.totals, "days": figures.days}


def public_counter(campaign: Campaign) -> dict:
    """Aggregates only: nothing about any account, region or kit. Printed copies shipped
    are their own figure, never part of the kits distributed."""
    figures = _sum_firsts(campaign, Filters(campaign.starts_on, campaign.ends_on))
    kits, organizations = db.session.execute(figures).one()
    downloads = db.session.scalar(select(func.coalesce(func.sum(DailyDownloads.downloads), 0))
                                  .where(DailyDownloads.campaign_id == campaign.id))
    from portal.orders.figures import printed_total

    return {"kits_distributed": int(kits), "organizations_reached": int(organizations),
            "downloads": int(downloads), "printed_copies": printed_total(campaign),
            "campaign": {"year": campaign.year, "start": campaign.starts_on.isoformat(),
                         "end": campaign.ends_on.isoformat()}}
