"""Catalog pages and downloads. Views stay thin: services decide, storage sends."""
from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user

from portal import limits
from portal.auth.access import refusal_page
from portal.catalog import bp
from portal.catalog.archives import archive_filename, ensure_kit_archive
from portal.catalog.services import (
    CatalogFilters,
    NotFound,
    current_campaign,
    download_refusal,
    filter_materials,
    get_kit,
    get_material,
    get_public_material,
    list_kits,
    may_download,
)
from portal.i18n import current_language
from portal.reference import ACCOUNT_KIND_LABELS, LANGUAGES, MATERIAL_FORMATS, MATERIAL_KINDS
from portal.storage import get_storage
from portal.tracking.events import record_download, request_records_a_download

SLUG = "<slug:kit_slug>"
MATERIAL = SLUG + "/<slug:material_slug>/<any(fr,en):language>"


def _kit_or_404(slug: str):
    try:
        return get_kit(slug)
    except NotFound:
        abort(404)


def _require_download_right(kit):
    """Visitors are sent to sign in; an unconfirmed address or an organization waiting
    for approval gets a page saying what to do; others outside the audience a 403."""
    refusal = download_refusal(current_user._get_current_object(), kit)
    return None if refusal is None else _refusal_answer(refusal)


def _refusal_answer(refusal: str):
    if refusal == "sign_in":
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return refusal_page(refusal)  # (raises for a 403 without a page of its own)


@bp.get("/")
def home():
    campaign = current_campaign()
    kits = list_kits(campaign)
    return render_template("catalog/home.html", campaign=campaign, kits=kits)


@bp.get("/kits")
def kits():
    filters, rejected = CatalogFilters.from_args(request.args)
    campaign = current_campaign()
    return render_template(
        "catalog/kits.html", campaign=campaign, kits=list_kits(campaign, filters),
        filters=filters, rejected=rejected, audiences=ACCOUNT_KIND_LABELS,
        languages=LANGUAGES, kinds=MATERIAL_KINDS,
    )


@bp.get(f"/kits/{SLUG}")
def kit(kit_slug):
    kit = _kit_or_404(kit_slug)
    filters, rejected = CatalogFilters.from_args(request.args)
    return render_template(
        "catalog/kit.html", kit=kit, materials=filter_materials(kit.materials, filters),
        filters=filters, rejected=rejected, may_download=may_download(current_user, kit),
        languages=LANGUAGES, kinds=MATERIAL_KINDS, audiences=ACCOUNT_KIND_LABELS,
    )


@bp.get(f"/kits/{MATERIAL}/thumbnail.png")
def thumbnail(kit_slug, material_slug, language):
    kit = _kit_or_404(kit_slug)
    try:
        material = get_material(kit, material_slug, language)
    except NotFound:
        abort(404)
    return get_storage().send_inline(material.current_version.thumbnail_key, "image/png")


@bp.get(f"/kits/{MATERIAL}/download")
@limits.downloads
def download_material(kit_slug, material_slug, language):
    try:
        material = get_public_material(kit_slug, material_slug, language)
    except NotFound:
        abort(404)
    refusal = _require_download_right(material.kit)
    if refusal is not None:
        return refusal
    response = get_storage().send(material.version.storage_key, material.filename,
                                  MATERIAL_FORMATS[material.format])
    return _recorded(response, material.kit, material_version=material.version)


@bp.get(f"/kits/{SLUG}/download.zip")
@limits.downloads
def download_kit(kit_slug):
    kit = _kit_or_404(kit_slug)
    refusal = _require_download_right(kit)
    if refusal is not None:
        return refusal
    storage = get_storage()
    archive = ensure_kit_archive(kit, storage)  # built once per set of versions
    response = storage.send(archive.storage_key, archive_filename(kit, current_language()),
                            "application/zip")
    return _recorded(response, kit, is_zip=True)


def _recorded(response, kit, **what):
    """Record the download, then let the prepared response go; no event, no file.

    The file (or its redirect) is prepared first, so a missing file or a storage that
    does not answer records nothing; HEAD requests send no file and record nothing, nor
    does a ``Range`` that does not start at byte 0 (``request_records_a_download``).
    """
    if not request_records_a_download(request):
        return response
    try:
        record_download(current_user._get_current_object(), kit,
                        user_agent=request.user_agent.string, **what)
    except Exception:
        response.close()
        raise
    return response

