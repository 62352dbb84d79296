"""Synthetic download events for demonstrations and benchmarks (`flask simulate-week`).

They look like a real season: spread over its days (the week busier, the national day
busiest, February's preparation steady, the weeks after quieter) and daytime hours, over regions, kits, materials and kinds of account, with some robots and double
clicks. Only this command writes events outside ``tracking.events``, and only
synthetic ones, in bulk, for a campaign a staff member chose to fill.
"""
from __future__ import annotations

import random
import secrets
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import insert, select

from portal.clock import MONTREAL
from portal.extensions import db
from portal.models import Campaign, DownloadEvent, Kit
from portal.reference import ORGANIZATION_TYPES, REGIONS, audience_kinds, roles_in

# Rough weights: where people live, and when they download.
REGION_WEIGHTS = {"06": 24, "16": 17, "03": 9, "15": 8, "14": 6, "12": 5, "13": 5, "05": 4,
                  "07": 4, "02": 3, "17": 3, "04": 3, "01": 2, "08": 2, "11": 1, "09": 1,
                  "10": 1}
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 4, 8, 12, 14, 14, 13, 12, 13, 14, 13, 11, 9, 8, 7, 6, 4, 3, 2]
ROBOT_AGENT_SHARE = 0.02
DOUBLE_CLICK_SHARE = 0.03


def simulate_week(campaign: Campaign, events: int, seed: int | None = None,
                  progress=None) -> int:
    """Insert ``events`` synthetic download events into the campaign's season."""
    rng = random.Random(seed)
    kits = list(db.session.scalars(select(Kit).where(Kit.campaign_id == campaign.id)))
    if not kits:
        raise ValueError(f"campaign {campaign.year} has no kits")
    items = {kit.id: [m for m in kit.materials if m.current_version_id] for kit in kits}
    actors = _actors(rng, max(50, events // 8))
    days = [campaign.opens_on + timedelta(days=n)
            for n in range((campaign.closes_on - campaign.opens_on).days + 1)]
    weights = {"before": 1, "week": 4, "after": 0.5}
    day_weights = [12 if day == campaign.national_day
                   else weights[campaign.part_of_season(day)] * (1 + (n % 3) * 0.3)
                   for n, day in enumerate(days)]
    rows = []
    while len(rows) < events:
        actor = rng.choice(actors)
        allowed = [k for k in kits if actor["account_type"] in roles_in(audience_kinds(k.audience))]
        kit = rng.choice(allowed or kits)
        day = rng.choices(days, day_weights)[0]
        hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
        local = datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)),
                                 tzinfo=MONTREAL)
        moment = local.astimezone(UTC).replace(tzinfo=None, microsecond=rng.randrange(10**6))
        is_zip = rng.random() < 0.15 or not items[kit.id]
        material = None if is_zip else rng.choice(items[kit.id])
        row = {
            "occurred_at": moment, "campaign_id": campaign.id, "kit_id": kit.id,
            "material_version_id": material.current_version_id if material else None,
            "actor_id": actor["actor_id"], "account_type": actor["account_type"],
            "region": actor["region"], "organization_type": actor["organization_type"],
            "personalized": bool(material and material.personalizable and rng.random() < 0.3),
            "is_zip": is_zip, "is_robot": rng.random() < ROBOT_AGENT_SHARE,
        }
        rows.append(row)
        if rng.random() < DOUBLE_CLICK_SHARE and len(rows) < events:
            rows.append({**row, "occurred_at": moment + timedelta(seconds=rng.randint(1, 25))})
    rows.sort(key=lambda r: r["occurred_at"])
    for start in range(0, len(rows), 20_000):
        db.session.execute(insert(DownloadEvent), rows[start:start + 20_000])
        db.session.commit()
        if progress:
            progress(min(start + 20_000, len(rows)), len(rows))
    return len(rows)


def _actors(rng: random.Random, count: int) -> list[dict]:
    actors = []
    for _ in range(count):
        kind = rng.choices(["organization", "citizen", "staff"], [55, 42, 3])[0]
        region = rng.choices(list(REGION_WEIGHTS), list(REGION_WEIGHTS.values()))[0]
        actors.append({
            "actor_id": secrets.token_hex(16), "account_type": kind,
            "region": None if kind == "citizen" and rng.random() < 0.3 else region,
            "organization_type": rng.choice(list(ORGANIZATION_TYPES))
            if kind == "organization" else None,
        })
    assert set(REGION_WEIGHTS) == set(REGIONS)
    return actors
