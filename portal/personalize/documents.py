"""Personalized documents: render once, store, serve from storage.

A document is keyed by a digest of its template version and its personalization data.
The first request inserts the row and renders; a simultaneous request for the same
document (another thread, worker or server) finds the row and waits for it. The row's
status is the lock: only whoever moves it to ``rendering`` renders, and a lease that
outlives the render time limit can be taken over. The file is written to storage
atomically before the row says ``ready``, so nobody is served a half-written file.

The web process only gathers the document's context and in-memory assets; the template
(which may be a source staff edited) and WeasyPrint run in the render process, within
its time and memory limits (``portal.pdf.worker``).
"""
from __future__ import annotations

import hashlib
import json
import secrets
import time
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from portal.catalog.manifest import load_manifest
from portal.clock import naive_utc_now
from portal.extensions import db
from portal.facts import facts
from portal.models import Account, Material, PersonalizedDocument
from portal.pdf.worker import Refused, RenderFailed, RenderTimeout, run_job
from portal.storage import StorageError, get_storage

QR_KINDS = ("poster", "flyer")
PREVIEW_WIDTH = 600


class DocumentUnavailable(RuntimeError):
    """The document could not be made now (render failed, timed out, storage down)."""


def _manifest_entries(material: Material) -> tuple[dict, dict]:
    materials_path = Path(current_app.config["MATERIALS_PATH"])
    for kit in load_manifest(materials_path):
        if kit["slug"] == material.kit.slug:
            for entry in kit["materials"]:
                if entry["slug"] == material.slug:
                    return kit, entry
    raise DocumentUnavailable(f"{material.kit.slug}/{material.slug} is not in the manifest")


def data_hash(account: Account, material: Material, data: dict) -> str:
    version = material.current_version
    payload = {"account": account.id, "material": material.id, "version": version.id,
               "checksum": version.checksum, "data": data}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def document_for(account: Account, material: Material, data: dict) -> PersonalizedDocument:
    """The document of this account, material version and data; created (not rendered)."""
    digest = data_hash(account, material, data)
    document = db.session.scalars(
        select(PersonalizedDocument).where(PersonalizedDocument.data_hash == digest)).first()
    if document is not None:
        return document
    document = PersonalizedDocument(
        public_id=secrets.token_hex(16),
        qr_token=secrets.token_urlsafe(16) if material.kind in QR_KINDS else None,
        data_hash=digest, account_id=account.id, material_id=material.id,
        material_version_id=material.current_version_id,
        data_json=json.dumps(data, sort_keys=True, default=str), status="pending",
    )
    db.session.add(document)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # the same document created at the same instant
        document = db.session.scalars(
            select(PersonalizedDocument).where(PersonalizedDocument.data_hash == digest)).one()
    return document


def qr_url(document: PersonalizedDocument) -> str:
    return f"{current_app.config['PUBLIC_URL']}/r/{document.qr_token}"


def _qr_svg(url: str) -> bytes:
    import io

    import segno

    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", border=2, dark="#1f1a2e",
                                    xmldecl=False, svgns=True)
    return buffer.getvalue()


def document_job(document: PersonalizedDocument) -> tuple:
    """The arguments of the render process's ``document`` job (``portal.pdf.sources.
    render_document``): no template is rendered here."""
    material = document.material
    kit_entry, entry = _manifest_entries(material)
    data = json.loads(document.data_json)
    assets: dict[str, bytes] = {}
    context = {"facts": facts(), "lang": material.language, "kit": kit_entry,
               "material": entry, "year": kit_entry["campaign_year"], "person": None,
               "org": None, "qr_src": None, "qr_url": None}
    data.setdefault("logo_src", None)
    if data.get("logo_key"):
        assets["logo/" + data["logo_key"].rsplit("/", 1)[-1]] = \
            get_storage().read_bytes(data["logo_key"])
        data["logo_src"] = "asset:logo/" + data["logo_key"].rsplit("/", 1)[-1]
    if document.qr_token:
        url = qr_url(document)
        assets[f"qr/{document.qr_token}.svg"] = _qr_svg(url)
        context.update(qr_src=f"asset:qr/{document.qr_token}.svg", qr_url=url)
    cobrand = material.kind in QR_KINDS
    context["org" if cobrand else "person"] = data
    # A version staff made from an edited source is co-branded from that source (its CSS
    # added as it was when the version was made); others from the file of materials/.
    version = document.material_version
    source = version.source_html if version is not None else None
    css = (version.source_css or "") if version is not None else ""
    root = Path(current_app.config["MATERIALS_PATH"])
    return (root / "sources", root / "assets", entry["source"][material.language], source,
            css, cobrand, context, assets)


def document_html(document: PersonalizedDocument) -> tuple[str, dict[str, bytes]]:
    """The HTML of a personalized document and the in-memory assets it may fetch (made
    in the render process, as for the real document)."""
    job = document_job(document)
    return run_job("document", *job)[1], job[-1]


def _take_lease(document: PersonalizedDocument) -> bool:
    """Move the document to ``rendering`` if nobody is rendering it; True if we did."""
    now = naive_utc_now()
    stale = now - timedelta(seconds=current_app.config["PDF_RENDER_TIMEOUT"] * 2)
    result = db.session.execute(
        update(PersonalizedDocument)
        .where(PersonalizedDocument.id == document.id)
        .where(or_(PersonalizedDocument.status.in_(("pending", "failed")),
                   (PersonalizedDocument.status == "rendering")
                   & (PersonalizedDocument.render_started_at < stale),
                   (PersonalizedDocument.status == "ready")
                   & PersonalizedDocument.storage_key.is_(None)))
        .values(status="rendering", render_started_at=now)
    )
    db.session.commit()
    return result.rowcount == 1


def _render_and_store(document: PersonalizedDocument) -> None:
    storage = get_storage()
    try:
        rendered, _html = run_job("document", *document_job(document))
        if rendered.refused_urls:
            raise RenderFailed(f"refused URLs: {rendered.refused_urls[:3]}")
        key = f"personalized/{document.data_hash}.pdf"
        storage.put_bytes(key, rendered.data, "application/pdf")
    except (RenderFailed, RenderTimeout, Refused, StorageError, OSError) as exc:
        db.session.rollback()
        db.session.execute(update(PersonalizedDocument)
                           .where(PersonalizedDocument.id == document.id)
                           .values(status="failed"))
        db.session.commit()
        current_app.logger.error("personalized document %s not made: %s",
                                 document.public_id, type(exc).__name__)
        raise DocumentUnavailable(str(exc)) from exc
    db.session.execute(update(PersonalizedDocument)
                       .where(PersonalizedDocument.id == document.id)
                       .values(status="ready", storage_key=key, preview_key=None,
                               size_bytes=len(rendered.data), pages=rendered.pages))
    db.session.commit()


def ensure_ready(document: PersonalizedDocument, wait_seconds: float | None = None
                 ) -> PersonalizedDocument:
    """Make sure the document's file is in storage: render it, or wait for whoever is."""
    if document.status == "ready" and document.storage_key:
        return document
    wait_seconds = wait_seconds or current_app.config["PDF_RENDER_TIMEOUT"] + 5
    deadline = time.monotonic() + wait_seconds
    while True:
        if _take_lease(document):
            _render_and_store(document)
        db.session.refresh(document)
        if document.status == "ready" and document.storage_key:
            return document
        if document.status == "failed" or time.monotonic() > deadline:
            raise DocumentUnavailable(f"document {document.public_id} is not available")
        time.sleep(0.05)


def ensure_preview(document: PersonalizedDocument) -> str:
    """The storage key of the document's first-page image, made on first request."""
    if document.preview_key:
        return document.preview_key
    storage = get_storage()
    key = f"personalized/{document.data_hash}.preview.png"
    try:
        image = run_job("rasterize", storage.read_bytes(document.storage_key), 0, PREVIEW_WIDTH)
        storage.put_bytes(key, image, "image/png")
    except (StorageError, RenderFailed, RenderTimeout) as exc:
        raise DocumentUnavailable(str(exc)) from exc
    document.preview_key = key
    db.session.commit()
    return key


def touch(document: PersonalizedDocument) -> None:
    """Note that the document was asked for (at most once an hour: no write per download)."""
    now = naive_utc_now()
    if now - document.last_requested_at > timedelta(hours=1):
        document.last_requested_at = now
        db.session.commit()


def purge_unused(older_than_days: int) -> int:
    """Delete the files of documents nobody asked for in a while; their rows (and QR links)
    stay, and a new request renders the file again. Returns how many files went."""
    cutoff = naive_utc_now() - timedelta(days=older_than_days)
    storage = get_storage()
    stale = db.session.scalars(select(PersonalizedDocument).where(
        PersonalizedDocument.status == "ready",
        PersonalizedDocument.last_requested_at < cutoff)).all()
    for document in stale:
        for key in (document.storage_key, document.preview_key):
            if key:
                storage.delete(key)
        document.status, document.storage_key, document.preview_key = "pending", None, None
    db.session.commit()
    return len(stale)
