"""Printed copies, counted apart from downloads: never part of ``kits_distributed``.

A printed copy counts once its order is shipped: the copies staff approved, on the day
they left (a Montréal day chosen by staff). Orders are few (thousands at most), so the
figures are summed straight from the order lines, by campaign. Kits usually ship before
the week: under the dashboard's whole-season view every shipped copy of the campaign
counts, whatever its day; a narrower date filter keeps the copies shipped on those days.
"""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Campaign, Kit, Material, PrintOrder, PrintOrderLine
from portal.models.orders import SHIPPED
from portal.reference import ORGANIZATION_TYPES, REGIONS


def _rows(campaign: Campaign, filters=None):
    """(shipped_on, kit id, material id, region, organization type, copies) rows."""
    query = (select(PrintOrder.shipped_on, Material.kit_id, PrintOrderLine.material_id,
                    PrintOrder.region, PrintOrder.organization_type,
                    func.sum(PrintOrderLine.approved_quantity))
             .join(PrintOrderLine, PrintOrderLine.order_id == PrintOrder.id)
             .join(Material, Material.id == PrintOrderLine.material_id)
             .where(PrintOrder.campaign_id == campaign.id, PrintOrder.status == SHIPPED,
                    PrintOrderLine.approved_quantity > 0)
             .group_by(PrintOrder.shipped_on, Material.kit_id, PrintOrderLine.material_id,
                       PrintOrder.region, PrintOrder.organization_type)
             .order_by(PrintOrder.shipped_on))
    if filters is not None:
        if (filters.start, filters.end) != (campaign.opens_on, campaign.closes_on):
            query = query.where(PrintOrder.shipped_on >= filters.start,
                                PrintOrder.shipped_on <= filters.end)
        if filters.region is not None:
            query = (query.where(PrintOrder.region.is_(None)) if filters.region == "none"
                     else query.where(PrintOrder.region == filters.region))
        if filters.kit_id is not None:
            query = query.where(Material.kit_id == filters.kit_id)
    return db.session.execute(query).all()


def printed_copies(campaign: Campaign, filters=None) -> dict:
    """The campaign's shipped copies: total, by kit, material, region, organization
    type and shipping day (each breakdown adds up to the total)."""
    total = 0
    by_kit, by_material, by_day = defaultdict(int), defaultdict(int), defaultdict(int)
    by_region = {code: 0 for code in [*REGIONS, ""]}
    by_type = {code: 0 for code in ORGANIZATION_TYPES}
    for day, kit_id, material_id, region, org_type, copies in _rows(campaign, filters):
        copies = int(copies or 0)
        total += copies
        by_kit[kit_id] += copies
        by_material[material_id] += copies
        by_day[day] += copies
        by_region[region if region in by_region else ""] += copies
        if org_type in by_type:
            by_type[org_type] += copies
    kits = {k.id: k for k in db.session.scalars(select(Kit).where(Kit.id.in_(list(by_kit) or [0])))}
    materials = {m.id: m for m in db.session.scalars(
        select(Material).where(Material.id.in_(list(by_material) or [0])))}
    return {
        "total": total,
        "by_kit": [{"kit": kits.get(kit_id), "kit_id": kit_id, "copies": n}
                   for kit_id, n in sorted(by_kit.items(), key=lambda kv: -kv[1])],
        "by_material": [{"material": materials.get(material_id), "material_id": material_id,
                         "copies": n}
                        for material_id, n in sorted(by_material.items(), key=lambda kv: -kv[1])],
        "by_region": [{"region": code, "copies": n} for code, n in by_region.items()],
        "by_organization_type": [{"organization_type": code, "copies": n}
                                 for code, n in by_type.items()],
        "by_day": [{"day": day, "copies": n} for day, n in sorted(by_day.items())],
    }


def printed_by_part(campaign: Campaign) -> dict[str, int]:
    """The public counter's ``printed_copies``: shipped copies of the campaign, by the part
    of the season their shipping day falls in (a copy shipped before the season opened is
    counted before the week), so that before + week + after = all of them."""
    parts = {"before": 0, "week": 0, "after": 0}
    for shipped_on, copies in db.session.execute(
            select(PrintOrder.shipped_on, func.sum(PrintOrderLine.approved_quantity))
            .join(PrintOrder, PrintOrder.id == PrintOrderLine.order_id)
            .where(PrintOrder.campaign_id == campaign.id, PrintOrder.status == SHIPPED)
            .group_by(PrintOrder.shipped_on)):
        part = campaign.part_of_season(shipped_on) if shipped_on else "before"
        parts[part] += int(copies or 0)
    return parts


def printed_total(campaign: Campaign) -> int:
    """Every shipped copy of the campaign."""
    return sum(printed_by_part(campaign).values())


def printed_rows(campaign: Campaign, filters):
    """The printed copies as CSV rows, one per shipping day, material, region and type of
    organization: no organization's name or address."""
    yield ("shipped_on", "kit", "material", "language", "region", "organization_type",
           "copies")
    kits = {k.id: k for k in db.session.scalars(select(Kit).where(Kit.campaign_id == campaign.id))}
    materials = {}
    for day, kit_id, material_id, region, org_type, copies in _rows(campaign, filters):
        if material_id not in materials:
            materials[material_id] = db.session.get(Material, material_id)
        material = materials[material_id]
        kit = kits.get(kit_id)
        yield (day.isoformat() if day else "", kit.slug if kit else kit_id, material.slug,
               material.language, region or "none", org_type or "", int(copies or 0))
