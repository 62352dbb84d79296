"""Personalized documents: organizations' co-branding profiles, the documents made from
them (co-branded posters and flyers, citizens' certificates) and the QR scans they get."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import naive_utc_now
from portal.extensions import db
from portal.models.catalog import Material, MaterialVersion
from portal.models.tracking import BigId


class CobrandProfile(db.Model):
    """What an organization prints on its co-branded materials."""

    __tablename__ = "cobrand_profile"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), unique=True)
    organization_name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(254))
    website: Mapped[str | None] = mapped_column(String(200))
    # The processed logo (re-encoded PNG at its printed size), by content hash.
    logo_key: Mapped[str | None] = mapped_column(String(255))
    event_title: Mapped[str | None] = mapped_column(String(120))
    event_date: Mapped[date | None]
    event_time: Mapped[str | None] = mapped_column(String(5))
    event_place: Mapped[str | None] = mapped_column(String(160))
    updated_at: Mapped[datetime] = mapped_column(default=naive_utc_now, onupdate=naive_utc_now)


class PersonalizedDocument(db.Model):
    """One personalized rendering of a material for one account.

    ``data_hash`` digests the template version and the personalization data: the same
    request twice finds the same row and the same stored file. The row also serves as
    the render lock: whoever inserts it (or takes over a stale lease) renders.
    """

    __tablename__ = "personalized_document"
    __table_args__ = (Index("ix_personalized_document_account", "account_id", "material_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    qr_token: Mapped[str | None] = mapped_column(String(24), unique=True)
    data_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    material_id: Mapped[int] = mapped_column(ForeignKey("material.id"))
    material_version_id: Mapped[int] = mapped_column(ForeignKey("material_version.id"))
    data_json: Mapped[str] = mapped_column(Text)
    # pending: not rendered (or its file was purged); rendering: someone holds the lease;
    # ready: the file is in storage; failed: the last attempt failed (retried on request).
    status: Mapped[str] = mapped_column(String(10), default="pending")
    render_started_at: Mapped[datetime | None]
    storage_key: Mapped[str | None] = mapped_column(String(255))
    preview_key: Mapped[str | None] = mapped_column(String(255))
    size_bytes: Mapped[int | None]
    pages: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=naive_utc_now)
    last_requested_at: Mapped[datetime] = mapped_column(default=naive_utc_now)
    revoked_at: Mapped[datetime | None]

    material: Mapped[Material] = relationship()
    material_version: Mapped[MaterialVersion] = relationship()


class QrScan(db.Model):
    """One scan of a document's QR code. The visitor is a hash of (daily salt, address,
    user agent); the salt is deleted after its day, so no scan can be traced back."""

    __tablename__ = "qr_scan"
    # Distinct scanners: is there an earlier scan of the same visitor, document and day?
    # One index probe per scan, in one set-based query (tracking.rollup).
    __table_args__ = (Index("ix_qr_scan_visitor", "document_id", "day", "visitor_hash", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("personalized_document.id"), index=True)
    occurred_at: Mapped[datetime]
    day: Mapped[date]
    visitor_hash: Mapped[str] = mapped_column(String(64))
    is_robot: Mapped[bool] = mapped_column(default=False)


class DailySalt(db.Model):
    """The salt of one Montréal day for anonymous visitor hashes; purged after the day."""

    __tablename__ = "daily_salt"

    day: Mapped[date] = mapped_column(primary_key=True)
    salt: Mapped[str] = mapped_column(String(64))
