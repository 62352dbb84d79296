"""Download events: one row per download the portal answered, and nothing else.

Rows carry what the figures need (when, what, which kind of account, where) and an
opaque actor id instead of the account, so counting needs no personal data.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db

# SQLite only auto-increments an INTEGER primary key.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class DownloadEvent(db.Model):
    __tablename__ = "download_event"
    __table_args__ = (
        Index("ix_download_event_actor_item", "actor_id", "kit_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id"))
    kit_id: Mapped[int] = mapped_column(ForeignKey("kit.id"))
    # Empty for a kit ZIP: a ZIP is one download of the kit, not of each material.
    material_version_id: Mapped[int | None] = mapped_column(ForeignKey("material_version.id"))
    actor_id: Mapped[str] = mapped_column(String(32))
    account_type: Mapped[str] = mapped_column(String(16))
    region: Mapped[str | None] = mapped_column(String(2))
    organization_type: Mapped[str | None] = mapped_column(String(20))
    personalized: Mapped[bool] = mapped_column(default=False)
    is_zip: Mapped[bool] = mapped_column(default=False)
    is_robot: Mapped[bool] = mapped_column(default=False)
