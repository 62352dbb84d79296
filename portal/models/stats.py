"""Rollup tables: what the dashboard and the public counter read instead of raw events.

Rollups catch up from a watermark (the last event id they processed), so a download
writes only its own event and the figures' cost does not grow with traffic.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.tracking import BigId


class RollupState(db.Model):
    """How far a rollup got: the id of the last event (or scan) it processed."""

    __tablename__ = "rollup_state"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigId, default=0)
    updated_at: Mapped[datetime | None]


class FetchState(db.Model):
    """Per account and item: when its last counted fetch was, and in which clock hour,
    so double clicks (30 s) and unique downloads (one per hour) are decided in one pass."""

    __tablename__ = "fetch_state"

    actor_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    item_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_counted_at: Mapped[datetime]
    last_unique_hour: Mapped[datetime]


class ActorDay(db.Model):
    """Counted downloads of one account in one Montréal day, so the rollup counts at most
    ``rollup.DAILY_CAP`` of them: no single account can inflate the figures."""

    __tablename__ = "actor_day"

    actor_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    counted: Mapped[int] = mapped_column(default=0)


class DailyDownloads(db.Model):
    """Counted downloads of one Montréal day, by kit, material and kind of account."""

    __tablename__ = "daily_downloads"
    __table_args__ = (UniqueConstraint("campaign_id", "day", "kit_id", "material_id", "region",
                                       "account_type", "organization_type", "personalized",
                                       "is_zip", name="uq_daily_downloads_dims"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    day: Mapped[date]
    kit_id: Mapped[int] = mapped_column(ForeignKey("kit.id"))
    material_id: Mapped[int] = mapped_column(default=0)  # 0 for a kit ZIP
    region: Mapped[str] = mapped_column(String(2), default="")
    account_type: Mapped[str] = mapped_column(String(16))
    organization_type: Mapped[str] = mapped_column(String(20), default="")
    personalized: Mapped[bool] = mapped_column(default=False)
    is_zip: Mapped[bool] = mapped_column(default=False)
    downloads: Mapped[int] = mapped_column(default=0)
    unique_downloads: Mapped[int] = mapped_column(default=0)
    robots: Mapped[int] = mapped_column(default=0)
    double_clicks: Mapped[int] = mapped_column(default=0)
    # Recorded, but past the counted downloads one account may make in a day.
    over_daily_cap: Mapped[int] = mapped_column(default=0, server_default="0")


class FirstKit(db.Model):
    """An (account, kit) pair's first counted download in a campaign: kits distributed."""

    __tablename__ = "first_kit"
    __table_args__ = (UniqueConstraint("campaign_id", "actor_id", "kit_id",
                                       name="uq_first_kit_pair"),
                      Index("ix_first_kit_actor", "actor_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    actor_id: Mapped[str] = mapped_column(String(32))
    kit_id: Mapped[int] = mapped_column(ForeignKey("kit.id"))
    day: Mapped[date]
    region: Mapped[str] = mapped_column(String(2), default="")
    account_type: Mapped[str] = mapped_column(String(16))
    organization_type: Mapped[str] = mapped_column(String(20), default="")


class FirstOrganization(db.Model):
    """An organization account's first counted download in a campaign: organizations reached."""

    __tablename__ = "first_organization"
    __table_args__ = (UniqueConstraint("campaign_id", "actor_id", name="uq_first_org_actor"),
                      Index("ix_first_organization_actor", "actor_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    actor_id: Mapped[str] = mapped_column(String(32))
    day: Mapped[date]
    region: Mapped[str] = mapped_column(String(2), default="")
    organization_type: Mapped[str] = mapped_column(String(20), default="")


class DailyFirsts(db.Model):
    """Kits distributed and organizations reached per day (their first day), by dimension."""

    __tablename__ = "daily_firsts"
    __table_args__ = (UniqueConstraint("campaign_id", "day", "kit_id", "region", "account_type",
                                       "organization_type", name="uq_daily_firsts_dims"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    day: Mapped[date]
    kit_id: Mapped[int] = mapped_column(default=0)  # 0 on organization rows
    region: Mapped[str] = mapped_column(String(2), default="")
    account_type: Mapped[str] = mapped_column(String(16))
    organization_type: Mapped[str] = mapped_column(String(20), default="")
    kits_distributed: Mapped[int] = mapped_column(default=0)
    organizations_reached: Mapped[int] = mapped_column(default=0)


class DailySummary(db.Model):
    """A day's figures by one breakdown at a time (the day's total, each kit, material,
    region, kind of account, type of organization): what the dashboard's whole-campaign
    view and the public counter read. DailyDownloads and DailyFirsts cross every
    dimension, which filters need, but over a season that is some 2,000 rows a day; these
    are some 50, so the figures cost the same at a million events as at a thousand."""

    __tablename__ = "daily_summary"
    __table_args__ = (UniqueConstraint("campaign_id", "day", "breakdown", "key",
                                       name="uq_daily_summary_dims"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    day: Mapped[date]
    # total (key ""), kit, material (their ids), region, account_type, organization_type
    breakdown: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(20), default="")
    downloads: Mapped[int] = mapped_column(default=0)
    unique_downloads: Mapped[int] = mapped_column(default=0)
    robots: Mapped[int] = mapped_column(default=0)
    double_clicks: Mapped[int] = mapped_column(default=0)
    # Counted past the daily cap of an account (tracking.rollup.DAILY_CAP): excluded.
    over_daily_cap: Mapped[int] = mapped_column(default=0, server_default="0")
    personalized_downloads: Mapped[int] = mapped_column(default=0)
    zip_downloads: Mapped[int] = mapped_column(default=0)
    kits_distributed: Mapped[int] = mapped_column(default=0)
    organizations_reached: Mapped[int] = mapped_column(default=0)


class DailyScans(db.Model):
    """QR scans of one day: all of them and distinct visitors per document and day."""

    __tablename__ = "daily_scans"
    __table_args__ = (UniqueConstraint("campaign_id", "day", name="uq_daily_scans_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    day: Mapped[date]
    scans: Mapped[int] = mapped_column(default=0)
    unique_scans: Mapped[int] = mapped_column(default=0)
