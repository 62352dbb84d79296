"""Kit ZIPs: built once per kit version, streamed to storage, then served like any file.

The ZIP is written to a temporary file on disk member by member (each copied from
storage in chunks), never held whole in memory, then handed to storage in one atomic put.
"""
from __future__ import annotations

import hashlib
import shutil
import tempfile
import zipfile

from cachetools import TTLCache
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.catalog.services import download_filename, public_materials
from portal.extensions import db
from portal.models import Kit, KitArchive

FOLDERS = {"fr": "Français", "en": "English"}


def kit_fingerprint(kit: Kit) -> str:
    """A digest of the kit's public material versions: a new version, a new ZIP."""
    return versions_fingerprint((m.id, m.current_version.id, m.current_version.checksum)
                                for m in public_materials(kit))


def versions_fingerprint(versions) -> str:
    """The digest of (material id, version id, checksum) triples, in any order."""
    parts = sorted(f"{material}:{version}:{checksum}" for material, version, checksum in versions)
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def archive_filename(kit: Kit, language: str) -> str:
    """The ZIP's name, e.g. ``Trousse des organismes - 2027.zip``."""
    return f"{kit.title(language)} - {kit.campaign.year}.zip"


# A ZIP's key names its content for good (the fingerprint of the kit's versions) and the
# portal never deletes it, so a process that has seen the file does not ask the storage
# again (with S3, a request per download) for a while; it does now and then, in case
# someone removed it by hand. Per process, by storage object (held: one per app) and key.
STORED_RECHECK_SECONDS = 300
_seen_stored = TTLCache(maxsize=4096, ttl=STORED_RECHECK_SECONDS)


def stored(storage, key: str) -> bool:
    """Whether the file of a ZIP's key is in storage (see above)."""
    if (storage, key) in _seen_stored:
        return True
    if not storage.exists(key):
        return False
    _seen_stored[(storage, key)] = True
    return True


def ensure_kit_archive(kit: Kit, storage) -> KitArchive:
    """The kit's ZIP for its current versions, building and storing it if needed."""
    fingerprint = kit_fingerprint(kit)
    archive = db.session.scalars(select(KitArchive).where(
        KitArchive.kit_id == kit.id, KitArchive.fingerprint == fingerprint)).first()
    if archive is not None and stored(storage, archive.storage_key):
        return archive
    key = f"zips/{kit.slug}/{fingerprint[:24]}.zip"
    members = public_materials(kit)
    with tempfile.TemporaryFile() as spool:
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for material in members:
                name = f"{FOLDERS[material.language]}/{download_filename(kit, material)}"
                # PDF and PNG are already compressed: store them as they are.
                info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_STORED
                with storage.open(material.current_version.storage_key) as source, \
                        zf.open(info, "w") as target:
                    shutil.copyfileobj(source, target, 1024 * 1024)
        size = spool.tell()
        spool.seek(0)
        storage.put_file(key, spool, "application/zip")
    if archive is None:
        archive = KitArchive(kit_id=kit.id, fingerprint=fingerprint, storage_key=key,
                             size_bytes=size, file_count=len(members))
        db.session.add(archive)
        try:
            db.session.commit()
        except IntegrityError:
            # Another request built the same ZIP at the same time: use its row.
            db.session.rollback()
            archive = db.session.scalars(select(KitArchive).where(
                KitArchive.kit_id == kit.id, KitArchive.fingerprint == fingerprint)).one()
    return archive
