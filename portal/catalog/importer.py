"""``import-materials``: the manifest and sources of ``materials/`` into the database and storage.

Idempotent: a material whose sources (template, included partials, assets, facts and
manifest entry) have not changed keeps its version; a changed one gets a new version
and the old versions stay, with their files and their figures. A material the import
creates is published at once (from the minute the run began, the same moment for the whole
run, so a server whose clock was set to the same start never sees it as scheduled), with
the manifest's print limits; after that, its publication, review dates and print limits
belong to staff in the portal.

Staff may also make versions in the portal. Those are never replaced by the import: when
the manifest's source of such a material changed, the import leaves the material as it
is and reports the conflict for staff to settle.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from jinja2 import TemplateError
from sqlalchemy import func, select

from portal.catalog.content_checks import problems
from portal.catalog.manifest import LANGS, load_manifest
from portal.catalog.material_files import ContentError, MaterialRenderer
from portal.clock import naive_utc_now, today_in_montreal
from portal.extensions import db
from portal.facts import load_facts
from portal.models import Campaign, Kit, Material, MaterialVersion
from portal.reference import MATERIAL_FORMATS, audience_text
from portal.storage import StorageError


@dataclass
class ImportReport:
    kits_created: list[str] = field(default_factory=list)
    kits_updated: list[str] = field(default_factory=list)
    new_versions: list[str] = field(default_factory=list)
    # Materials whose current version was made in the portal while the manifest's source
    # changed: left as they are, for staff to settle.
    conflicts: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.kits_created or self.kits_updated or self.new_versions)


def _month_day(year: int, value: str, fallback: tuple[int, int]) -> date:
    try:
        month, day = (int(part) for part in str(value).split("-"))
        return date(year, month, day)
    except (TypeError, ValueError):
        return date(year, *fallback)


def ensure_campaign(year: int, facts: dict) -> Campaign:
    """The campaign of a year, created with the facts' dates (1-7 March) if missing."""
    campaign = db.session.scalars(select(Campaign).where(Campaign.year == year)).first()
    if campaign is None:
        dates = facts.get("campaign", {})
        campaign = Campaign(
            year=year,
            starts_on=_month_day(year, dates.get("start"), (3, 1)),
            ends_on=_month_day(year, dates.get("end"), (3, 7)),
            national_day=_month_day(year, dates.get("national_day"), (3, 4)),
        )
        db.session.add(campaign)
        db.session.flush()
    return campaign


def _upsert_kit(entry: dict, campaign: Campaign, position: int, report: ImportReport) -> Kit:
    values = {
        "campaign_id": campaign.id,
        "position": entry.get("position", position),
        "title_fr": entry["title"]["fr"],
        "title_en": entry["title"]["en"],
        "description_fr": entry["description"]["fr"].strip(),
        "description_en": entry["description"]["en"].strip(),
    }
    kit = db.session.scalars(select(Kit).where(Kit.slug == entry["slug"])).first()
    if kit is None:
        # The audience comes from the manifest when the kit is made; after that it is
        # staff's to choose in the portal, and an import leaves it as they set it.
        kit = Kit(slug=entry["slug"], audience=audience_text(entry["audience"]), **values)
        db.session.add(kit)
        db.session.flush()
        report.kits_created.append(kit.slug)
    elif any(getattr(kit, k) != v for k, v in values.items()):
        for key, value in values.items():
            setattr(kit, key, value)
        report.kits_updated.append(kit.slug)
    return kit


def _upsert_material(kit: Kit, entry: dict, language: str, position: int,
                     published_at: datetime) -> Material:
    values = {
        "kind": entry["kind"],
        "format": entry["format"],
        "title": entry["title"][language],
        "position": position,
        "personalizable": bool(entry.get("personalizable", False)),
    }
    material = db.session.scalars(select(Material).where(
        Material.kit_id == kit.id, Material.slug == entry["slug"], Material.language == language
    )).first()
    if material is None:
        printed = entry.get("print") or {}
        today = today_in_montreal()
        material = Material(kit_id=kit.id, slug=entry["slug"], language=language, **values,
                             published_at=published_at, last_reviewed_on=today,
                             next_review_on=today + timedelta(days=REVIEW_INTERVAL_DAYS),
                             orderable=bool(printed),
                             max_per_order=printed.get("max_per_order"),
                             max_per_campaign=printed.get("max_per_campaign"))
        db.session.add(material)
        db.session.flush()
    elif _made_in_portal(material):
        return material  # staff own it now; the caller reports a changed source
    else:
        for key, value in values.items():
            if getattr(material, key) != value:
                setattr(material, key, value)
    return material


REVIEW_INTERVAL_DAYS = 365


def _made_in_portal(material: Material) -> bool:
    current = material.current_version
    return current is not None and current.origin == "portal"


def _last_imported(material: Material) -> MaterialVersion | None:
    return db.session.scalars(select(MaterialVersion).where(
        MaterialVersion.material_id == material.id, MaterialVersion.origin == "import")
        .order_by(MaterialVersion.number.desc()).limit(1)).first()


def _store_if_missing(storage, key: str, data: bytes, content_type: str) -> None:
    """Keys carry the checksum, so an existing key already holds these bytes."""
    if not storage.exists(key):
        storage.put_bytes(key, data, content_type)


def import_materials(materials_path: Path, storage,
                     progress: Callable[[int, int, str], None] | None = None) -> ImportReport:
    """Import every kit of the manifest; commit kit by kit.

    ``progress(done, total, label)`` is called after each material and language.
    """
    materials_path = Path(materials_path)
    facts = load_facts(materials_path)
    kits = load_manifest(materials_path)
    renderer = MaterialRenderer(materials_path, facts)
    report = ImportReport()
    published_at = naive_utc_now().replace(second=0, microsecond=0)
    total = sum(len(kit["materials"]) for kit in kits) * len(LANGS)
    done = 0
    for kit_position, kit_entry in enumerate(kits):
        campaign = ensure_campaign(kit_entry["campaign_year"], facts)
        kit = _upsert_kit(kit_entry, campaign, kit_position, report)
        for position, entry in enumerate(kit_entry["materials"]):
            for language in LANGS:
                material = _upsert_material(kit, entry, language, position, published_at)
                label = f"{kit.slug}/{entry['slug']}/{language}"
                try:
                    fingerprint = renderer.fingerprint(kit_entry, entry, language)
                except TemplateError as exc:
                    db.session.rollback()
                    raise ContentError(f"{label}: template error: {exc}") from exc
                current = material.current_version
                done += 1
                if progress:
                    progress(done, total, label)
                if current is not None and current.source_fingerprint == fingerprint:
                    report.unchanged += 1
                    continue
                if _made_in_portal(material):
                    imported = _last_imported(material)
                    if imported is not None and imported.source_fingerprint == fingerprint:
                        report.unchanged += 1  # the manifest has not changed since
                    else:
                        report.conflicts.append(
                            f"{label}: version {current.number} was made in the portal; "
                            "the manifest's source changed and was not imported")
                    continue
                try:
                    rendered = renderer.render(kit_entry, entry, language)
                except TemplateError as exc:
                    db.session.rollback()
                    raise ContentError(f"{label}: template error: {exc}") from exc
                refused = problems(rendered.text, facts)
                if refused:
                    db.session.rollback()
                    raise ContentError(f"{label}: {'; '.join(refused)}")
                checksum = hashlib.sha256(rendered.data).hexdigest()
                number = (db.session.scalar(select(func.max(MaterialVersion.number))
                                            .where(MaterialVersion.material_id == material.id))
                          or 0) + 1
                base = f"materials/{kit.slug}/{entry['slug']}/{language}/{checksum[:16]}"
                key, thumb_key = f"{base}.{entry['format']}", f"{base}.thumb.png"
                try:
                    _store_if_missing(storage, key, rendered.data,
                                      MATERIAL_FORMATS[entry["format"]])
                    _store_if_missing(storage, thumb_key, rendered.thumbnail, "image/png")
                except StorageError:
                    db.session.rollback()  # this kit's rows wait for its files
                    raise
                version = MaterialVersion(
                    material_id=material.id, number=number, source_fingerprint=fingerprint,
                    checksum=checksum, size_bytes=len(rendered.data), pages=rendered.pages,
                    width_px=rendered.width_px, height_px=rendered.height_px,
                    storage_key=key, thumbnail_key=thumb_key, origin="import",
                )
                db.session.add(version)
                db.session.flush()
                material.current_version = version
                report.new_versions.append(f"{label} v{number}")
        db.session.commit()
    return report
