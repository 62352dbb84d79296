"""The kit catalog: campaigns, kits, materials and their versions, and kit ZIPs."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import naive_utc_now
from portal.extensions import db


class Campaign(db.Model):
    """One national week: by default 1 to 7 March, national day 4 March."""

    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(unique=True)
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    national_day: Mapped[date]
    timezone: Mapped[str] = mapped_column(String(40), default="America/Montreal")
    target_kits: Mapped[int | None]
    target_organizations: Mapped[int | None]

    kits: Mapped[list[Kit]] = relationship(back_populates="campaign", order_by="Kit.position")
    region_targets: Mapped[list[RegionTarget]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan")

    def region_target(self, region: str) -> int | None:
        return next((t.target_kits for t in self.region_targets if t.region == region), None)


class RegionTarget(db.Model):
    """An optional target of kits distributed in one administrative region."""

    __tablename__ = "region_target"
    __table_args__ = (UniqueConstraint("campaign_id", "region"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    region: Mapped[str] = mapped_column(String(2))
    target_kits: Mapped[int]

    campaign: Mapped[Campaign] = relationship(back_populates="region_targets")


class Kit(db.Model):
    __tablename__ = "kit"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    audience: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(default=0)
    title_fr: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    description_fr: Mapped[str] = mapped_column(String(2000))
    description_en: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=naive_utc_now)

    campaign: Mapped[Campaign] = relationship(back_populates="kits")
    materials: Mapped[list[Material]] = relationship(
        back_populates="kit", order_by="(Material.position, Material.language.desc())"
    )

    def title(self, language: str) -> str:
        return self.title_en if language == "en" else self.title_fr

    def description(self, language: str) -> str:
        return self.description_en if language == "en" else self.description_fr


class Material(db.Model):
    """One material of a kit in one language (the French poster, the English poster...)."""

    __tablename__ = "material"
    __table_args__ = (UniqueConstraint("kit_id", "slug", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kit_id: Mapped[int] = mapped_column(ForeignKey("kit.id"))
    slug: Mapped[str] = mapped_column(String(80))
    language: Mapped[str] = mapped_column(String(2))
    kind: Mapped[str] = mapped_column(String(30))
    format: Mapped[str] = mapped_column(String(5))
    title: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(default=0)
    personalizable: Mapped[bool] = mapped_column(default=False)
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("material_version.id", use_alter=True)
    )

    kit: Mapped[Kit] = relationship(back_populates="materials")
    current_version: Mapped[MaterialVersion | None] = relationship(
        foreign_keys=[current_version_id], post_update=True
    )
    versions: Mapped[list[MaterialVersion]] = relationship(
        foreign_keys="MaterialVersion.material_id",
        back_populates="material",
        order_by="MaterialVersion.number",
    )


class MaterialVersion(db.Model):
    """An immutable rendering of a material; a changed source makes a new one."""

    __tablename__ = "material_version"
    __table_args__ = (UniqueConstraint("material_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("material.id"))
    number: Mapped[int]
    source_fingerprint: Mapped[str] = mapped_column(String(64))
    checksum: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int]
    pages: Mapped[int | None]
    width_px: Mapped[int | None]
    height_px: Mapped[int | None]
    storage_key: Mapped[str] = mapped_column(String(255))
    thumbnail_key: Mapped[str] = mapped_column(String(255))
    origin: Mapped[str] = mapped_column(String(10), default="import")
    created_at: Mapped[datetime] = mapped_column(default=naive_utc_now)

    material: Mapped[Material] = relationship(
        foreign_keys=[material_id], back_populates="versions"
    )


class KitArchive(db.Model):
    """A kit's ZIP, built once per combination of its materials' versions."""

    __tablename__ = "kit_archive"
    __table_args__ = (UniqueConstraint("kit_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kit_id: Mapped[int] = mapped_column(ForeignKey("kit.id"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int]
    file_count: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=naive_utc_now)
