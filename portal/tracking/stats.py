"""The campaign's figures, read from the rollup tables (never from raw events).

``campaign_figures`` computes everything the dashboard shows for a campaign and filters;
``public_counter`` the aggregates anyone may see.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Campaign, Kit, Material, PersonalizedDocument
from portal.models.stats import DailyDownloads, DailyFirsts, DailyScans
from portal.reference import ORGANIZATION_TYPES, REGIONS


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


def campaign_figures(campaign: Campaign, filters: Filters, with_previous: bool = True) -> Figures:
    figures = Figures(campaign=campaign, filters=filters)
    dl_where = _where(DailyDownloads, campaign, filters)
    downloads = func.coalesce(func.sum(DailyDownloads.downloads), 0)
    unique = func.coalesce(func.sum(DailyDownloads.unique_downloads), 0)
    personalized = func.coalesce(func.sum(DailyDownloads.downloads).filter(
        DailyDownloads.personalized.is_(True)), 0)
    zips = func.coalesce(func.sum(DailyDownloads.downloads).filter(
        DailyDownloads.is_zip.is_(True)), 0)
    robots = func.coalesce(func.sum(DailyDownloads.robots), 0)
    doubles = func.coalesce(func.sum(DailyDownloads.double_clicks), 0)
    row = db.session.execute(select(downloads, unique, personalized, zips, robots, doubles)
                             .where(*dl_where)).one()
    kits_distributed, organizations = db.session.execute(_sum_firsts(campaign, filters)).one()
    figures.totals = {
        "downloads": int(row[0]), "unique_downloads": int(row[1]),
        "personalized_downloads": int(row[2]), "zip_downloads": int(row[3]),
        "robots_excluded": int(row[4]), "double_clicks_excluded": int(row[5]),
        "kits_distributed": int(kits_distributed), "organizations_reached": int(organizations),
        "target_kits": campaign.target_kits, "target_organizations": campaign.target_organizations,
    }
    scans_where = [DailyScans.campaign_id == campaign.id, DailyScans.day >= filters.start,
                   DailyScans.day <= filters.end]
    scans = db.session.execute(select(func.coalesce(func.sum(DailyScans.scans), 0),
                                      func.coalesce(func.sum(DailyScans.unique_scans), 0))
                               .where(*scans_where)).one()
    figures.totals["qr_scans"], figures.totals["qr_unique_scans"] = int(scans[0]), int(scans[1])
    figures.totals["documents_made"] = _documents_made(campaign, filters)

    per_day = {d: {"day": d, "downloads": 0, "kits_distributed": 0, "organizations_reached": 0}
               for d in _days(filters.start, filters.end)}
    for day, count in db.session.execute(select(DailyDownloads.day, downloads)
                                         .where(*dl_where).group_by(DailyDownloads.day)):
        per_day[day]["downloads"] = int(count)
    for day, kits, orgs in db.session.execute(_sum_firsts(campaign, filters, (DailyFirsts.day,))):
        per_day[day]["kits_distributed"], per_day[day]["organizations_reached"] = int(kits), int(orgs)
    figures.days = list(per_day.values())

    kit_titles = {k.id: k for k in db.session.scalars(select(Kit).where(
        Kit.campaign_id == campaign.id))}
    figures.top_kits = [
        {"kit": kit_titles.get(kit_id), "kit_id": kit_id, "downloads": int(count)}
        for kit_id, count in db.session.execute(
            select(DailyDownloads.kit_id, downloads).where(*dl_where)
            .group_by(DailyDownloads.kit_id).order_by(downloads.desc()))]
    materials = {m.id: m for m in db.session.scalars(select(Material).where(
        Material.kit_id.in_(list(kit_titles) or [0])))}
    figures.top_materials = [
        {"material": materials.get(material_id), "material_id": material_id,
         "downloads": int(count)}
        for material_id, count in db.session.execute(
            select(DailyDownloads.material_id, downloads).where(
                *dl_where, DailyDownloads.material_id != 0)
            .group_by(DailyDownloads.material_id).order_by(downloads.desc()).limit(10))]

    region_downloads = dict(db.session.execute(select(DailyDownloads.region, downloads)
                                               .where(*dl_where).group_by(DailyDownloads.region)).all())
    region_firsts = {r: (k, o) for r, k, o in db.session.execute(
        _sum_firsts(campaign, filters, (DailyFirsts.region,)))}
    figures.by_region = [
        {"region": code, "downloads": int(region_downloads.get(code, 0)),
         "kits_distributed": int(region_firsts.get(code, (0, 0))[0]),
         "organizations_reached": int(region_firsts.get(code, (0, 0))[1])}
        for code in [*REGIONS, ""]]
    type_downloads = dict(db.session.execute(select(DailyDownloads.account_type, downloads)
                                             .where(*dl_where)
                                             .group_by(DailyDownloads.account_type)).all())
    type_firsts = {t: k for t, k, _ in db.session.execute(
        _sum_firsts(campaign, filters, (DailyFirsts.account_type,)))}
    figures.by_account_type = [
        {"account_type": t, "downloads": int(type_downloads.get(t, 0)),
         "kits_distributed": int(type_firsts.get(t, 0))}
        for t in ("organization", "citizen", "staff")]
    org_downloads = dict(db.session.execute(
        select(DailyDownloads.organization_type, downloads).where(
            *dl_where, DailyDownloads.account_type == "organization")
        .group_by(DailyDownloads.organization_type)).all())
    org_firsts = {t: o for t, _, o in db.session.execute(
        _sum_firsts(campaign, filters, (DailyFirsts.organization_type,)))}
    figures.by_organization_type = [
        {"organization_type": t, "downloads": int(org_downloads.get(t, 0)),
         "organizations_reached": int(org_firsts.get(t, 0))}
        for t in ORGANIZATION_TYPES]

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
    """Aggregates only: nothing about any account, region or kit."""
    figures = _sum_firsts(campaign, Filters(campaign.starts_on, campaign.ends_on))
    kits, organizations = db.session.execute(figures).one()
    downloads = db.session.scalar(select(func.coalesce(func.sum(DailyDownloads.downloads), 0))
                                  .where(DailyDownloads.campaign_id == campaign.id))
    return {"kits_distributed": int(kits), "organizations_reached": int(organizations),
            "downloads": int(downloads),
            "campaign": {"year": campaign.year, "start": campaign.starts_on.isoformat(),
                         "end": campaign.ends_on.isoformat()}}
