"""The kit catalog: campaigns, kits, materials and their versions, and kit ZIPs.

A material is seen by the public once its publication moment has come (``published_at``,
on the portal's clock) and until it is withdrawn; staff see everything.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, and_
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import naive_utc_now
from portal.extensions import db


def default_opens_on(year: int, starts_on: date | None = None) -> date:
    """1 February of the year: schools and organizations print their kits in February
    (never after the week's first day)."""
    opens = date(year, 2, 1)
    return min(opens, starts_on) if starts_on else opens


def default_closes_on(year: int, ends_on: date | None = None) -> date:
    """31 March of the year (never before the week's last day)."""
    closes = date(year, 3, 31)
    return max(closes, ends_on) if ends_on else closes


def _opens_default(context) -> date:
    values = context.get_current_parameters()
    return default_opens_on(values["year"], values.get("starts_on"))


def _closes_default(context) -> date:
    values = context.get_current_parameters()
    return default_closes_on(values["year"], values.get("ends_on"))


class Campaign(db.Model):
    """One campaign: its season (the days its kits go out and count, by default 1 February
    to 31 March), and within it the national week (by default 1 to 7 March) and the
    national day (4 March)."""

    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(unique=True)
    # The week: starts_on..ends_on. The season: opens_on..closes_on, around the week.
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    national_day: Mapped[date]
    opens_on: Mapped[date] = mapped_column(default=_opens_default)
    closes_on: Mapped[date] = mapped_column(default=_closes_default)
    timezone: Mapped[str] = mapped_column(String(40), default="America/Montreal")
    target_kits: Mapped[int | None]
    target_organizations: Mapped[int | None]
    # Orders of printed kits: staff close them (stock exhausted, budget spent) with a
    # message shown to organizations.
    ordering_open: Mapped[bool] = mapped_column(default=True)
    ordering_message_fr: Mapped[str | None] = mapped_column(String(500))
    ordering_message_en: Mapped[str | None] = mapped_column(String(500))

    kits: Mapped[list[Kit]] = relationship(back_populates="campaign", order_by="Kit.position")
    region_targets: Mapped[list[RegionTarget]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan")

    def in_season(self, day: date) -> bool:
        return self.opens_on <= day <= self.closes_on

    def part_of_season(self, day: date) -> str:
        """``before``, ``week`` or ``after``: where a season's day stands to the week."""
        if day < self.starts_on:
            return "before"
        return "week" if day <= self.ends_on else "after"

    def region_target(self, region: str) -> int | None:
        return next((t.target_kits for t in self.region_targets if t.region == region), None)

    def ordering_message(self, language: str) -> str | None:
        return self.ordering_message_en if language == "en" else self.ordering_message_fr


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
    # Who may download it: account kinds separated by spaces (reference.ACCOUNT_KINDS),
    # e.g. "citizen organization"; the catalog's filter reads it in SQL
    # (catalog.services.kits_open_to_sql).
    audience: Mapped[str] = mapped_column(String(60))
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

    @property
    def audience_kinds(self) -> frozenset[str]:
        from portal.reference import audience_kinds

        return audience_kinds(self.audience)

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
    # Publication, in UTC on the portal's clock: empty for a draft, in the future when
    # scheduled; a withdrawn material is no longer offered (its versions and figures stay).
    published_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    last_reviewed_on: Mapped[date | None]
    next_review_on: Mapped[date | None]
    # Printed copies that organizations may order, with their limits.
    orderable: Mapped[bool] = mapped_column(default=False)
    max_per_order: Mapped[int | None]
    max_per_campaign: Mapped[int | None]

    kit: Mapped[Kit] = relationship(back_populates="materials")
    current_version: Mapped[MaterialVersion | None] = relationship(
        foreign_keys=[current_version_id], post_update=True
    )
    versions: Mapped[list[MaterialVersion]] = relationship(
        foreign_keys="MaterialVersion.material_id",
        back_populates="material",
        order_by="MaterialVersion.number",
    )

    @classmethod
    def public_clause(cls, now: datetime):
        """The SQL twin of ``is_public``."""
        return and_(cls.current_version_id.is_not(None), cls.published_at.is_not(None),
                    cls.published_at <= now, cls.withdrawn_at.is_(None))

    def is_public(self, now: datetime) -> bool:
        """Offered to the public at ``now`` (naive UTC): published, not withdrawn, a file."""
        return (self.current_version_id is not None and self.published_at is not None
                and self.published_at <= now and self.withdrawn_at is None)

    def publication_state(self, now: datetime) -> str:
        """``draft``, ``scheduled``, ``published`` or ``withdrawn``."""
        if self.withdrawn_at is not None:
            return "withdrawn"
        if self.published_at is None:
            return "draft"
        return "scheduled" if self.published_at > now else "published"


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
    # Versions made in the portal: "upload" keeps the file staff gave; "source" keeps the
    # HTML and CSS they edited (rendered in Jinja's sandbox with the facts as variables).
    source_html: Mapped[str | None] = mapped_column(Text)
    source_css: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
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
