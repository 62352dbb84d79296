"""Catalog logic, callable without a request: who may download what, listings, filters."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

from sqlalchemy import bindparam, literal, or_, select
from sqlalchemy.orm import joinedload, selectinload

from portal.clock import naive_utc_now, today_in_montreal
from portal.extensions import db
from portal.models import Account, Campaign, Kit, Material, MaterialVersion
from portal.reference import (
    ACCOUNT_KINDS,
    KIND_APPROVED_ORGANIZATION,
    KIND_CITIZEN,
    KIND_ORGANIZATION,
    LANGUAGES,
    MATERIAL_KINDS,
    ROLE_CITIZEN,
    ROLE_ORGANIZATION,
    audience_kinds,
)


class NotFound(LookupError):
    """No such kit or material."""


class NotAllowed(PermissionError):
    """The account may not download this kit."""


def download_refusal(account: Account | None, kit: Kit | KitToDownload) -> str | None:
    """Why this account may not download this kit now, or ``None`` if it may.

    ``sign_in`` (a visitor), ``audience`` (no kind of account the kit is open to fits
    this one), ``verify`` (address not confirmed yet), ``approval`` (an organization
    not approved yet, asking for a kit open only to approved organizations). The kit's
    audience is a set of account kinds (``reference.ACCOUNT_KINDS``); staff may download
    every kit.
    """
    if account is None or not getattr(account, "is_authenticated", False):
        return "sign_in"
    kinds = audience_kinds(kit.audience)
    if account.is_staff:
        pass
    elif account.role == ROLE_CITIZEN:
        if KIND_CITIZEN not in kinds:
            return "audience"
    elif account.role == ROLE_ORGANIZATION:
        if not kinds & {KIND_ORGANIZATION, KIND_APPROVED_ORGANIZATION}:
            return "audience"
    else:
        return "audience"
    if not account.is_verified:
        return "verify"
    if account.role == ROLE_ORGANIZATION and KIND_ORGANIZATION not in kinds \
            and not account.is_approved_organization:
        return "approval"
    return None


def audience_has_sql(audience, kind: str):
    """The SQL twin of ``kind in audience_kinds(audience)``: a space-separated list holds
    a kind when, padded with spaces, it contains the kind between spaces."""
    padded = literal(" ") + audience + literal(" ")
    return padded.contains(f" {kind} ", autoescape=True)  # "_" is not a wildcard


def kits_open_to_sql(kind: str):
    """Kits an account of this kind may download (the catalog's filter): an approved
    organization also gets the kits open to every organization."""
    if kind == KIND_APPROVED_ORGANIZATION:
        return or_(audience_has_sql(Kit.audience, KIND_APPROVED_ORGANIZATION),
                   audience_has_sql(Kit.audience, KIND_ORGANIZATION))
    return audience_has_sql(Kit.audience, kind)


def may_download(account: Account | None, kit: Kit) -> bool:
    """The audience table, the address confirmed, the organization approved if needed."""
    return download_refusal(account, kit) is None


def current_campaign() -> Campaign | None:
    """The campaign whose season is running or comes next; else the most recent one.

    Only campaigns with something published count: a campaign staff are preparing, whose
    materials are scheduled for its first day, does not empty the catalog before then.
    """
    today = today_in_montreal()
    offered = (select(Material.id).join(Kit, Kit.id == Material.kit_id)
               .where(Kit.campaign_id == Campaign.id, Material.public_clause(naive_utc_now()))
               .exists())
    for query in (
        select(Campaign).where(Campaign.closes_on >= today, offered).order_by(Campaign.starts_on),
        select(Campaign).where(offered).order_by(Campaign.starts_on.desc()),
        select(Campaign).where(Campaign.closes_on >= today).order_by(Campaign.starts_on),
        select(Campaign).order_by(Campaign.starts_on.desc()),
    ):
        campaign = db.session.scalars(query.limit(1)).first()
        if campaign is not None:
            return campaign
    return None


@dataclass(frozen=True)
class CatalogFilters:
    audience: str | None = None
    language: str | None = None
    kind: str | None = None

    @classmethod
    def from_args(cls, args) -> tuple[CatalogFilters, list[str]]:
        """Filters from query arguments; unknown values are dropped and named."""
        rejected = []
        values = {}
        for name, allowed in (("audience", ACCOUNT_KINDS), ("language", LANGUAGES),
                              ("kind", MATERIAL_KINDS)):
            raw = args.get(name, "")
            if raw and raw in allowed:
                values[name] = raw
            elif raw:
                rejected.append(name)
        return cls(**values), rejected

    @property
    def active(self) -> bool:
        return any((self.audience, self.language, self.kind))


def list_kits(campaign: Campaign | None, filters: CatalogFilters = CatalogFilters()):
    """The campaign's kits with their public materials, filtered by audience, language
    and kind.

    A kit is listed when at least one of its public materials passes the language and
    kind filters (a kit with none published yet is not listed), with those materials.
    """
    query = (select(Kit).options(selectinload(Kit.materials).selectinload(Material.current_version))
             .order_by(Kit.position, Kit.slug))
    if campaign is not None:
        query = query.where(Kit.campaign_id == campaign.id)
    if filters.audience:
        query = query.where(kits_open_to_sql(filters.audience))
    listed = []
    for kit in db.session.scalars(query):
        materials = filter_materials(kit.materials, filters)
        if materials or (public_materials(kit) and not (filters.language or filters.kind)):
            listed.append((kit, materials))
    return listed


def public_materials(kit: Kit) -> list[Material]:
    """The kit's materials offered now, on the portal's clock."""
    now = naive_utc_now()
    return [m for m in kit.materials if m.is_public(now)]


def filter_materials(materials, filters: CatalogFilters) -> list[Material]:
    now = naive_utc_now()
    return [
        m for m in materials
        if m.is_public(now)
        and (not filters.language or m.language == filters.language)
        and (not filters.kind or m.kind == filters.kind)
    ]


@cache
def _kit_query():
    # Built once per process: composing a statement costs more CPU than running it.
    return (select(Kit).where(Kit.slug == bindparam("slug"))
            .options(joinedload(Kit.campaign),
                     joinedload(Kit.materials).joinedload(Material.current_version)))


def get_kit(slug: str) -> Kit:
    """A kit with its campaign and its materials' current versions, in one query;
    ``NotFound`` unless at least one of its materials is public."""
    # one_or_none, not first: the joined materials span several rows, all to be read.
    kit = db.session.scalars(_kit_query(), {"slug": slug}).unique().one_or_none()
    if kit is None or not public_materials(kit):
        raise NotFound(slug)
    return kit


class KitToDownload(NamedTuple):
    """What a download uses of a kit: its rules (``download_refusal`` reads the audience),
    its event (ids) and its file names (the campaign's year)."""

    id: int
    campaign_id: int
    audience: str
    year: int


class VersionToDownload(NamedTuple):
    id: int
    storage_key: str


class MaterialToDownload(NamedTuple):
    """A public material's current version, as a download reads it."""

    kit: KitToDownload
    version: VersionToDownload
    title: str
    language: str
    format: str

    @property
    def filename(self) -> str:
        return readable_filename(self.title, self.language, self.kit.year, self.format)


@cache
def _public_material_query():
    # Built once per process, as _kit_query: composing it costs more CPU than running it.
    # Plain columns, not ORM objects: loading four entities was most of a download's cost.
    return (select(Kit.id, Kit.campaign_id, Kit.audience, Campaign.year,
                   MaterialVersion.id, MaterialVersion.storage_key,
                   Material.title, Material.language, Material.format)
            .select_from(Material)
            .join(Material.kit).join(Kit.campaign).join(Material.current_version)
            .where(Kit.slug == bindparam("kit"), Material.slug == bindparam("material"),
                   Material.language == bindparam("language"),
                   Material.public_clause(bindparam("now"))))


def get_public_material(kit_slug: str, material_slug: str, language: str) -> MaterialToDownload:
    """A public material's kit and current version, in one query; ``NotFound`` otherwise."""
    row = db.session.execute(_public_material_query(), {
        "kit": kit_slug, "material": material_slug, "language": language,
        "now": naive_utc_now()}).one_or_none()
    if row is None:
        raise NotFound(f"{kit_slug}/{material_slug}/{language}")
    return MaterialToDownload(KitToDownload(*row[:4]), VersionToDownload(*row[4:6]), *row[6:])


def get_material(kit: Kit, material_slug: str, language: str) -> Material:
    for material in kit.materials:
        if material.slug == material_slug and material.language == language:
            if not material.is_public(naive_utc_now()):
                break
            return material
    raise NotFound(f"{kit.slug}/{material_slug}/{language}")


def download_filename(kit: Kit, material: Material) -> str:
    """A readable file name that keeps its accents, e.g. ``Affiche (FR) - 2027.pdf``."""
    return readable_filename(material.title, material.language, kit.campaign.year,
                             material.format)


def readable_filename(title: str, language: str, year: int, extension: str) -> str:
    title = " ".join(title.replace("/", "-").replace("\\", "-").split())
    return f"{title} ({language.upper()}) - {year}.{extension}"
