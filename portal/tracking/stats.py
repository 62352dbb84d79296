"""The campaign's figures, read from the rollup tables (never from raw events).

``campaign_figures`` computes everything the dashboard shows for a campaign and filters;
``public_counter`` the aggregates anyone may see. A campaign's figures are its season's
(``opens_on`` to ``closes_on``), each split into the part before the national week, the
week and the part after it: a kit distributed or an organization reached belongs to the
day it was first seen, so the three parts add up to the season.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Campaign, Kit, Material, PersonalizedDocument
from portal.models.stats import DailyDownloads, DailyFirsts, DailyScans, DailySummary
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
        start = start or campaign.opens_on
        end = end or campaign.closes_on
        if start > end:
            raise FilterError("start_after_end")
        if start < campaign.opens_on or end > campaign.closes_on:
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
    # The figures before the week, in the week and after it (within the filters' days).
    parts: dict = field(default_factory=dict)
    previous: dict | None = None
    # Printed copies shipped (portal/tracking/printed.py): counted apart, never added to
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


class _Sums:
    """What the dashboard adds up, whichever rollup rows it reads."""

    def __init__(self, campaign: Campaign, filters: Filters):
        self.totals = defaultdict(int)
        self.per_day = {day: {"day": day, "part": campaign.part_of_season(day), "downloads": 0,
                              "unique_downloads": 0, "kits_distributed": 0,
                              "organizations_reached": 0}
                        for day in _days(filters.start, filters.end)}
        self.by_kit, self.by_material = defaultdict(int), defaultdict(int)
        self.by_region = {code: defaultdict(int) for code in [*REGIONS, ""]}
        self.by_type = {t: defaultdict(int) for t in ("organization", "citizen", "staff")}
        self.by_org_type = {t: defaultdict(int) for t in ORGANIZATION_TYPES}


def _sum_summary(campaign: Campaign, filters: Filters, sums: _Sums) -> None:
    """The whole campaign (no region or kit filter): DailySummary's rows, some fifty a day,
    each a day's total or one breakdown's share of it."""
    s = DailySummary
    rows = _raw_rows(select(
        s.day, s.breakdown, s.key, s.downloads, s.unique_downloads, s.robots, s.double_clicks,
        s.over_daily_cap, s.personalized_downloads, s.zip_downloads, s.kits_distributed,
        s.organizations_reached,
    ).where(s.campaign_id == campaign.id, s.day >= filters.start, s.day <= filters.end))
    for (day, breakdown, key, downloads, unique, robots, doubles, over_cap, personalized, zips,
         kits, orgs) in rows:
        if breakdown == "total":
            for name, value in (("downloads", downloads), ("unique_downloads", unique),
                                ("robots_excluded", robots), ("double_clicks_excluded", doubles),
                                ("over_daily_cap_excluded", over_cap),
                                ("personalized_downloads", personalized),
                                ("zip_downloads", zips), ("kits_distributed", kits),
                                ("organizations_reached", orgs)):
                sums.totals[name] += value
            for name, value in (("downloads", downloads), ("unique_downloads", unique),
                                ("kits_distributed", kits), ("organizations_reached", orgs)):
                sums.per_day[day][name] += value
        elif breakdown == "kit":
            sums.by_kit[int(key)] += downloads
        elif breakdown == "material":
            sums.by_material[int(key)] += downloads
        elif breakdown == "region" and key in sums.by_region:
            sums.by_region[key]["downloads"] += downloads
            sums.by_region[key]["kits_distributed"] += kits
            sums.by_region[key]["organizations_reached"] += orgs
        elif breakdown == "account_type" and key in sums.by_type:
            sums.by_type[key]["downloads"] += downloads
            sums.by_type[key]["kits_distributed"] += kits
        elif breakdown == "organization_type" and key in sums.by_org_type:
            sums.by_org_type[key]["downloads"] += downloads
            sums.by_org_type[key]["organizations_reached"] += orgs


def _sum_detail(campaign: Campaign, filters: Filters, sums: _Sums) -> None:
    """A region or a kit chosen: DailyDownloads' and DailyFirsts' rows, which cross every
    dimension, read once each (the filters keep them few) and summed in one pass."""
    totals, per_day = sums.totals, sums.per_day
    by_kit, by_material, by_region = sums.by_kit, sums.by_material, sums.by_region
    by_type, by_org_type = sums.by_type, sums.by_org_type
    d = DailyDownloads
    rows = _raw_rows(select(
        d.day, d.kit_id, d.material_id, d.region, d.account_type, d.organization_type,
        d.personalized, d.is_zip, d.downloads, d.unique_downloads, d.robots, d.double_clicks,
        d.over_daily_cap,
    ).where(*_where(d, campaign, filters)))
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
        per_day[day]["unique_downloads"] += unique
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


def campaign_figures(campaign: Campaign, filters: Filters, with_previous: bool = True,
                     from_detail: bool = False) -> Figures:
    """Everything the dashboard shows, from the rollup tables.

    Without a region or kit filter, from DailySummary (a few thousand rows for a whole
    season, whatever the traffic); with one, from the tables that cross every dimension.
    ``from_detail`` makes the whole view from those too: the tests hold both to one answer.
    """
    figures = Figures(campaign=campaign, filters=filters)
    sums = _Sums(campaign, filters)
    if filters.region is None and filters.kit_id is None and not from_detail:
        _sum_summary(campaign, filters, sums)
    else:
        _sum_detail(campaign, filters, sums)
    totals, per_day = sums.totals, sums.per_day
    by_kit, by_material, by_region = sums.by_kit, sums.by_material, sums.by_region
    by_type, by_org_type = sums.by_type, sums.by_org_type
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
    figures.parts = _parts(figures.days)

    kits = {k.id: k for k in db.session.scalars(select(Kit).where(
        Kit.campaign_id == campaign.id))}
    # Kits and materials with counted downloads (rows of robots or double clicks only
    # would list them with none).
    figures.top_kits = [{"kit": kits.get(kit_id), "kit_id": kit_id, "downloads": count}
                        for kit_id, count in sorted(by_kit.items(), key=lambda kv: (-kv[1], kv[0]))
                        if count]
    top = [item for item in sorted(by_material.items(), key=lambda kv: (-kv[1], kv[0]))
           if item[1]][:10]
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


PARTS = ("before", "week", "after")
PART_FIGURES = ("downloads", "unique_downloads", "kits_distributed", "organizations_reached")


def _parts(days: list[dict]) -> dict[str, dict[str, int]]:
    """The days' figures summed by part of the season: before the week, the week, after."""
    parts = {part: dict.fromkeys(PART_FIGURES, 0) for part in PARTS}
    for day in days:
        for name in PART_FIGURES:
            parts[day["part"]][name] += day[name]
    return parts


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
    """The same days of the previous campaign, for comparison: days counted from each
    week's first day (the day before a week compares with the day before the other),
    within the previous season."""
    previous = db.session.scalars(select(Campaign).where(
        Campaign.year == campaign.year - 1)).first()
    if previous is None:
        return None
    start = max(previous.starts_on + (filters.start - campaign.starts_on), previous.opens_on)
    end = min(previous.starts_on + (filters.end - campaign.starts_on), previous.closes_on)
    if start > end:
        return None
    figures = campaign_figures(previous, Filters(start, end, filters.region, None),
                               with_previous=False)
    # Downloads by the day's place relative to its week's first day, to set beside each day.
    by_offset = {(day["day"] - previous.starts_on).days: day["downloads"]
                 for day in figures.days}
    return {"campaign": previous, "totals": figures.totals, "days": figures.days,
            "downloads_by_offset": by_offset}


def public_counter(campaign: Campaign) -> dict:
    """Aggregates only: nothing about any account, region or kit. The season's figures,
    and ``week`` the same four for the national week (a pair or an organization in the
    part of the season it was first seen, so before + week + after = season). Printed
    copies shipped are their own figure, never part of the kits distributed.

    Read from the rollups' daily totals (one row a day): cheap enough to answer every
    request without a cache, so every worker answers the same figures.
    """
    from portal.tracking.printed import printed_by_part

    season = dict.fromkeys(("kits_distributed", "organizations_reached", "downloads"), 0)
    week = dict(season)
    s = DailySummary
    for day, kits, organizations, downloads in db.session.execute(
            select(s.day, s.kits_distributed, s.organizations_reached, s.downloads)
            .where(s.campaign_id == campaign.id, s.breakdown == "total")):
        for figures in (season, week) if campaign.part_of_season(day) == "week" else (season,):
            figures["kits_distributed"] += kits
            figures["organizations_reached"] += organizations
            figures["downloads"] += downloads
    printed = printed_by_part(campaign)
    season["printed_copies"] = sum(printed.values())
    week["printed_copies"] = printed["week"]
    return {**season, "week": week,
            "campaign": {"year": campaign.year, "start": campaign.starts_on.isoformat(),
                         "end": campaign.ends_on.isoformat(),
                         "opens": campaign.opens_on.isoformat(),
                         "closes": campaign.closes_on.isoformat()}}
