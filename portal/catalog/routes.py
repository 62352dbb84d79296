"""Catalog pages and downloads. Views stay thin: services decide, storage sends."""
from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user

from portal import limits
from portal.auth.access import refusal_page
from portal.catalog import bp
from portal.catalog.archives import archive_filename, ensure_kit_archive
from portal.catalog.downloads import kit_download, material_download, stored_archive_key
from portal.catalog.services import (
    CatalogFilters,
    NotFound,
    current_campaign,
    download_refusal,
    filter_materials,
    get_kit,
    get_material,
    list_kits,
    may_download,
)
from portal.i18n import current_language
from portal.reference import AUDIENCE_LABELS, LANGUAGES, MATERIAL_FORMATS, MATERIAL_KINDS
from portal.storage import get_storage
from portal.tracking.events import (
    record_download,
    request_records_a_download,
    withdraw_download,
)

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
        filters=filters, rejected=rejected, audiences=AUDIENCE_LABELS,
        languages=LANGUAGES, kinds=MATERIAL_KINDS,
    )


@bp.get(f"/kits/{SLUG}")
def kit(kit_slug):
    kit = _kit_or_404(kit_slug)
    filters, rejected = CatalogFilters.from_args(request.args)
    return render_template(
        "catalog/kit.html", kit=kit, materials=filter_materials(kit.materials, filters),
        filters=filters, rejected=rejected, may_download=may_download(current_user, kit),
        languages=LANGUAGES, kinds=MATERIAL_KINDS, audiences=AUDIENCE_LABELS,
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
    # One read (the catalog entry and the account), then one INSERT that commits itself;
    # or, when the answer is a redirect signed here, both in one statement.
    storage = get_storage()
    records = request_records_a_download(request)
    ahead = records and storage.answers_by_redirect
    if ahead:  # credentials refreshed now, not between the event and its answer
        storage.prepare_signing()
    try:
        material = material_download(
            kit_slug, material_slug, language,
            record_for_agent=request.user_agent.string if ahead else None)
    except NotFound:
        abort(404)
    if material.event_id is not None:
        return _kept_if_answered(material, storage)
    refusal = download_refusal(current_user._get_current_object(), material.kit)
    if refusal is not None:
        return _refusal_answer(refusal)
    return _recorded(_send_material(storage, material), material.kit,
                     material_version=material.version)


def _kept_if_answered(material, storage):
    """A download whose event the lookup recorded: the event stays only if the file's
    redirect goes out; a refusal (the view decides, with the same rules) or a failure
    withdraws it."""
    try:
        refusal = download_refusal(current_user._get_current_object(), material.kit)
        if refusal is None:
            return _send_material(storage, material)
    except BaseException:
        withdraw_download(material.event_id, "its answer failed")
        raise
    withdraw_download(material.event_id, "the portal's rules refused it")
    return _refusal_answer(refusal)


def _send_material(storage, material):
    return storage.send(material.version.storage_key, material.filename,
                        MATERIAL_FORMATS[material.format])


@bp.get(f"/kits/{SLUG}/download.zip")
@limits.downloads
def download_kit(kit_slug):
    try:
        download = kit_download(kit_slug)
    except NotFound:
        abort(404)
    kit = download.kit
    refusal = _require_download_right(kit)
    if refusal is not None:
        return refusal
    storage = get_storage()
    key = stored_archive_key(download, storage)
    if key is None:  # the first download of these versions: build the ZIP
        key = ensure_kit_archive(get_kit(kit_slug), storage).storage_key
    response = storage.send(key, archive_filename(kit, current_language()), "application/zip")
    return _recorded(response, kit, is_zip=True)


def _recorded(response, kit, **what):
    """Record the download, then let the prepared response go; no event, no file.

    The file (or its redirect) is prepared first so a missing file records nothing;
    HEAD requests send no file and record nothing, nor does a ``Range`` that does not
    start at byte 0 (``request_records_a_download``).
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

