"""Making and keeping kits in the portal: kits, materials, versions, publication, reviews.

Each material exists in French and in English (two rows of the same slug). A new
version, uploaded or made from an edited source, starts as a draft: staff look at its
preview, then make it the current one. Versions are never changed or deleted, so their
downloads stay counted against them. Publication moments are on the portal's clock:
a material scheduled for 1 March 00:00 in Montréal appears at that moment.
"""
from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal.audit import record
from portal.catalog.manifest import LANGS
from portal.catalog.material_files import RenderedMaterial
from portal.clock import naive_utc_now, today_in_montreal
from portal.extensions import db
from portal.models import Account, Campaign, DownloadEvent, Kit, Material, MaterialVersion
from portal.reference import MATERIAL_FORMATS, audience_text

MONTREAL = ZoneInfo("America/Montreal")
REVIEW_SOON_DAYS = 30
REVIEW_INTERVAL_DAYS = 365


class PublishingError(ValueError):
    """A publishing step that cannot be done; the message says why, translated."""


def create_kit(campaign: Campaign, *, slug: str, audience, title_fr: str, title_en: str,
               description_fr: str, description_en: str, actor: Account) -> Kit:
    """A new kit; ``audience`` is the account kinds that may download it."""
    if db.session.scalar(select(func.count()).where(Kit.slug == slug)):
        raise PublishingError(_l("A kit already has this short name."))
    position = (db.session.scalar(select(func.max(Kit.position))
                                  .where(Kit.campaign_id == campaign.id)) or 0) + 1
    kit = Kit(slug=slug, campaign_id=campaign.id, audience=audience_text(audience),
              position=position,
              title_fr=title_fr, title_en=title_en, description_fr=description_fr,
              description_en=description_en)
    db.session.add(kit)
    try:
        db.session.flush()
    except IntegrityError as exc:  # the same short name taken at the same moment
        db.session.rollback()
        raise PublishingError(_l("A kit already has this short name.")) from exc
    record("kit_created", target=f"kit:{slug}", details=f"campaign {campaign.year}", actor=actor)
    return kit


def set_audience(kit: Kit, kinds, *, actor: Account) -> None:
    """Who may download the kit from now on (the next download follows it)."""
    new = audience_text(kinds)
    if not new:
        raise PublishingError(_l("Choose at least one kind of account."))
    if new != kit.audience:
        old, kit.audience = kit.audience, new
        record("kit_audience_changed", target=f"kit:{kit.slug}", details=f"{old} -> {new}",
               actor=actor)


def create_material(kit: Kit, *, slug: str, kind: str, fmt: str, title_fr: str,
                    title_en: str, actor: Account) -> list[Material]:
    """The material in both languages, as drafts without a version yet."""
    if fmt not in MATERIAL_FORMATS:
        raise PublishingError(_l("Choose PDF or PNG."))
    if any(m.slug == slug for m in kit.materials):
        raise PublishingError(_l("This kit already has a material with this short name."))
    position = max((m.position for m in kit.materials), default=-1) + 1
    today = today_in_montreal()
    created = [Material(kit_id=kit.id, slug=slug, language=language, kind=kind, format=fmt,
                        title=title_fr if language == "fr" else title_en, position=position,
                        last_reviewed_on=today,
                        next_review_on=today + timedelta(days=REVIEW_INTERVAL_DAYS))
               for language in LANGS]
    db.session.add_all(created)
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise PublishingError(_l("This kit already has a material with this short name.")) \
            from exc
    record("material_created", target=f"material:{kit.slug}/{slug}", actor=actor)
    return created


def siblings(material: Material) -> list[Material]:
    """The material in every language (itself included)."""
    return list(db.session.scalars(select(Material).where(
        Material.kit_id == material.kit_id, Material.slug == material.slug)))


def add_version(material: Material, files: RenderedMaterial, storage, *, actor: Account,
                fingerprint: str | None = None, source_html: str | None = None,
                source_css: str | None = None) -> MaterialVersion:
    """Store the files, then the version row (a draft: not current yet).

    The files go first under keys named by their checksum; if storage fails, no row is
    written, and a file stored without its row is harmless and reused next time.
    """
    checksum = hashlib.sha256(files.data).hexdigest()
    kit = material.kit
    base = f"materials/{kit.slug}/{material.slug}/{material.language}/{checksum[:16]}"
    key, thumb_key = f"{base}.{material.format}", f"{base}.thumb.png"
    if not storage.exists(key):
        storage.put_bytes(key, files.data, MATERIAL_FORMATS[material.format])
    if not storage.exists(thumb_key):
        storage.put_bytes(thumb_key, files.thumbnail, "image/png")
    for _attempt in range(3):  # two staff adding a version at once: the next number
        number = (db.session.scalar(select(func.max(MaterialVersion.number))
                                    .where(MaterialVersion.material_id == material.id)) or 0) + 1
        version = MaterialVersion(
            material_id=material.id, number=number,
            source_fingerprint=fingerprint or checksum, checksum=checksum,  # an upload is its bytes
            size_bytes=len(files.data), pages=files.pages, width_px=files.width_px,
            height_px=files.height_px, storage_key=key, thumbnail_key=thumb_key,
            origin="portal", source_html=source_html, source_css=source_css,
            created_by_id=actor.id)
        db.session.add(version)
        try:
            db.session.commit()
            break
        except IntegrityError:
            db.session.rollback()
    else:
        raise PublishingError(_l("Someone else is adding versions of this material; try again."))
    record("version_created", target=f"material:{_label(material)}",
           details=f"version {number} ({'source' if source_html is not None else 'upload'})",
           actor=actor)
    return version


def make_current(material: Material, version: MaterialVersion, actor: Account) -> None:
    """Offer this version from now on (if the material is published); it counts as reviewed."""
    if version.material_id != material.id:
        raise PublishingError(_l("This version belongs to another material."))
    material.current_version = version
    today = today_in_montreal()
    material.last_reviewed_on = today
    material.next_review_on = today + timedelta(days=REVIEW_INTERVAL_DAYS)
    db.session.commit()
    record("version_made_current", target=f"material:{_label(material)}",
           details=f"version {version.number}", actor=actor)


def montreal_moment(day: date, at: time) -> datetime:
    """A Montréal wall-clock moment as the naive UTC datetime the database keeps."""
    local = datetime.combine(day, at).replace(tzinfo=MONTREAL)
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def local_moment(moment: datetime | None) -> datetime | None:
    """A naive UTC moment from the database, in Montréal time, for pages."""
    if moment is None:
        return None
    return moment.replace(tzinfo=ZoneInfo("UTC")).astimezone(MONTREAL)


def publish(material: Material, actor: Account, at: datetime | None = None) -> None:
    """Publish now, or at ``at`` (naive UTC) on the portal's clock."""
    if material.current_version_id is None:
        raise PublishingError(_l("Make a version current before publishing this material."))
    now = naive_utc_now()
    material.published_at = at if at is not None and at > now else now
    material.withdrawn_at = None
    db.session.commit()
    scheduled = material.published_at > now
    record("material_scheduled" if scheduled else "material_published",
           target=f"material:{_label(material)}",
           details=f"at {material.published_at:%Y-%m-%d %H:%M} UTC", actor=actor)


def withdraw(material: Material, actor: Account) -> None:
    """No longer offered (nor orderable); versions, files and figures stay."""
    if material.withdrawn_at is not None:
        raise PublishingError(_l("This material is already withdrawn."))
    material.withdrawn_at = naive_utc_now()
    db.session.commit()
    record("material_withdrawn", target=f"material:{_label(material)}", actor=actor)


def set_review_dates(material: Material, last: date, next_on: date, actor: Account) -> None:
    if next_on < last:
        raise PublishingError(_l("The next review comes after the last one."))
    material.last_reviewed_on, material.next_review_on = last, next_on
    db.session.commit()
    record("material_reviewed", target=f"material:{_label(material)}",
           details=f"next review {next_on}", actor=actor)


def set_print_limits(material: Material, orderable: bool, per_order: int | None,
                     per_campaign: int | None, actor: Account) -> None:
    if orderable and (not per_order or not per_campaign):
        raise PublishingError(_l("An orderable material needs both maximum quantities."))
    if orderable and per_order > per_campaign:
        raise PublishingError(_l("The maximum per order cannot exceed the maximum per "
                                 "campaign."))
    material.orderable = orderable
    material.max_per_order = per_order if orderable else None
    material.max_per_campaign = per_campaign if orderable else None
    db.session.commit()
    record("print_limits_changed", target=f"material:{_label(material)}",
           details=f"orderable={orderable} {per_order}/{per_campaign}", actor=actor)


def due_for_review(today: date, within_days: int = REVIEW_SOON_DAYS) -> list[Material]:
    """Materials still offered (or to be) whose review is due or falls within the days."""
    return list(db.session.scalars(
        select(Material).where(Material.withdrawn_at.is_(None),
                               (Material.next_review_on.is_(None))
                               | (Material.next_review_on <= today + timedelta(days=within_days)))
        .order_by(Material.next_review_on.nulls_first(), Material.kit_id, Material.slug,
                  Material.language)))


def kits_missing_a_language() -> list[tuple[Kit, list[tuple[Material | None, str]]]]:
    """Kits where a material has no current version in French or in English: for each,
    (a version of the material that exists, to name it, or ``None`` when the kit has no
    material yet; the language that lacks)."""
    found = []
    for kit in db.session.scalars(select(Kit).order_by(Kit.campaign_id.desc(), Kit.position)):
        offered = [m for m in kit.materials if m.withdrawn_at is None]
        have = {(m.slug, m.language) for m in offered if m.current_version_id is not None}
        gaps: list[tuple[Material | None, str]] = []
        for slug in dict.fromkeys(m.slug for m in sorted(offered, key=lambda m: m.position)):
            versions = [m for m in offered if m.slug == slug]
            for language in LANGS:
                if (slug, language) not in have:  # named by its version in the other language
                    gaps.append((next((m for m in versions if m.language != language),
                                      versions[0]), language))
        if not offered:
            gaps = [(None, language) for language in LANGS]
        if gaps:
            found.append((kit, gaps))
    return found


def upcoming_publications(now: datetime) -> list[Material]:
    return list(db.session.scalars(select(Material).where(
        Material.published_at > now, Material.withdrawn_at.is_(None))
        .order_by(Material.published_at)))


def downloads_by_version(material: Material) -> dict[int, int]:
    """Download events of each version of the material (robots left out)."""
    rows = db.session.execute(
        select(DownloadEvent.material_version_id, func.count())
        .where(DownloadEvent.material_version_id.in_([v.id for v in material.versions]),
               DownloadEvent.is_robot.is_(False))
        .group_by(DownloadEvent.material_version_id))
    return dict(rows.all())


def _label(material: Material) -> str:
    return f"{material.kit.slug}/{material.slug}/{material.language}"
