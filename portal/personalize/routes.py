"""Personalization pages. Views stay thin: forms validate, services decide, storage sends."""
from __future__ import annotations

from functools import wraps

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from portal import limits
from portal.auth.access import citizen_refusal, cobrand_refusal, refusal_page
from portal.catalog.services import current_campaign
from portal.clock import today_in_montreal
from portal.extensions import db
from portal.images import ImageRejected
from portal.models import PersonalizedDocument
from portal.personalize import bp
from portal.personalize.documents import (
    DocumentUnavailable,
    document_for,
    ensure_preview,
    ensure_ready,
    touch,
)
from portal.personalize.forms import CertificateForm, CobrandForm, FrameForm
from portal.personalize.services import (
    certificate_data,
    certificate_material,
    cobrand_data,
    frame_material,
    framed_profile_picture,
    get_profile,
    personalizable_materials,
    save_profile,
)
from portal.storage import get_storage
from portal.tracking.events import record_download, request_records_a_download
from portal.tracking.scans import document_by_qr_token, organization_shown, record_scan

PUBLIC_ID = "<string(length=32):public_id>"


def allowed_by(refusal_of):
    """Signed in, and ``refusal_of(account)`` finds nothing against it; otherwise a page
    that says what to do (confirm the address, wait for approval) or a 403."""
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            refusal = refusal_of(current_user)
            if refusal is not None:
                return refusal_page(refusal)
            return view(*args, **kwargs)
        return wrapped
    return decorator


def _own_document(public_id: str) -> PersonalizedDocument:
    """The signed-in account's document; anyone else's is a 404, as if it did not exist."""
    document = db.session.scalars(select(PersonalizedDocument).where(
        PersonalizedDocument.public_id == public_id)).first()
    if document is None or document.account_id != current_user.id or document.revoked_at:
        abort(404)
    return document


def _ready_or_503(document):
    try:
        return ensure_ready(document)
    except DocumentUnavailable:
        abort(503)


@bp.route("/personalize", methods=["GET", "POST"])
@limits.uploads
@allowed_by(cobrand_refusal)
def cobrand():
    profile = get_profile(current_user)
    campaign = current_campaign()
    form = CobrandForm(obj=profile, campaign=campaign)
    if request.method == "GET" and profile is None:
        form.organization_name.data = current_user.display_name
    status = 200
    if form.validate_on_submit():
        chosen = form.logo.data
        upload = chosen.read() if chosen is not None and getattr(chosen, "filename", "") else None
        try:
            save_profile(current_user, form.data, upload, remove_logo=form.remove_logo.data)
        except ImageRejected as exc:
            form.logo.errors, status = [str(exc)], exc.status
        else:
            flash(_("Your details are saved. Your posters and flyers are ready below."), "success")
            return redirect(url_for("personalize.cobrand") + "#documents")
    documents = []
    if profile is not None:
        for material in personalizable_materials(current_user):
            data = cobrand_data(profile, material.language)
            documents.append((material, document_for(current_user, material, data)))
    status = max(status, 400) if form.errors else 200
    return render_template("personalize/cobrand.html", form=form, profile=profile,
                           documents=documents, campaign=campaign), status


@bp.get(f"/documents/{PUBLIC_ID}/preview.png")
@login_required
def preview(public_id):
    document = _ready_or_503(_own_document(public_id))
    try:
        key = ensure_preview(document)
    except DocumentUnavailable:
        abort(503)
    return get_storage().send_inline(key, "image/png", max_age=0)


@bp.get(f"/documents/{PUBLIC_ID}/download")
@limits.downloads
@login_required
def download(public_id):
    document = _ready_or_503(_own_document(public_id))
    material = document.material
    touch(document)
    response = get_storage().send(document.storage_key, _document_filename(document),
                                  "application/pdf")
    if not request_records_a_download(request):  # HEAD, or a Range past byte 0
        return response
    try:
        record_download(current_user, material.kit, material_version=document.material_version,
                        personalized=True, user_agent=request.user_agent.string)
    except Exception:
        response.close()
        raise
    return response


def _document_filename(document) -> str:
    """'Affiche (FR) - personnalisée.pdf': the document's language, not the page's."""
    material = document.material
    title = " ".join(material.title.replace("/", "-").replace("\\", "-").split())
    suffix = "personnalisé" if material.language == "fr" else "personalized"
    return f"{title} ({material.language.upper()}) - {suffix}.pdf"


@bp.route("/certificate", methods=["GET", "POST"])
@allowed_by(citizen_refusal)
def certificate():
    form = CertificateForm()
    if request.method == "GET":
        form.display_name.data = current_user.display_name
        form.region.data = current_user.region or ""
        form.language.data = request.args.get("language", "fr") \
            if request.args.get("language") in ("fr", "en") else "fr"
    document = None
    if form.validate_on_submit():
        material = certificate_material(form.language.data)
        if material is None:
            abort(404)
        data = certificate_data(form.display_name.data, form.region.data or None,
                                form.language.data, today_in_montreal())
        document = document_for(current_user, material, data)
        flash(_("Your certificate is ready."), "success")
    status = 400 if form.errors else 200
    return render_template("personalize/certificate.html", form=form,
                           document=document), status


@bp.route("/frame", methods=["GET", "POST"])
@limits.downloads
@limits.uploads
@allowed_by(citizen_refusal)
def frame():
    form = FrameForm()
    status = 200
    if form.validate_on_submit():
        material = frame_material(form.language.data)
        if material is None:
            abort(404)
        try:
            png = framed_profile_picture(form.photo.data.read(), form.language.data)
        except ImageRejected as exc:
            form.photo.errors, status = [str(exc)], exc.status
        else:
            # Processed in memory, sent, and forgotten: the photo is never stored.
            record_download(current_user, material.kit, material_version=material.current_version,
                            personalized=True, user_agent=request.user_agent.string)
            name = ("photo-profil-semaine-nationale.png" if form.language.data == "fr"
                    else "profile-picture-national-week.png")
            return Response(png, mimetype="image/png", headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store"})
    status = max(status, 400) if form.errors else 200
    return render_template("personalize/frame.html", form=form), status


@bp.get("/r/<string(maxlength=32):token>")
@limits.qr_scans
def qr_landing(token):
    """Where a printed QR code leads: the help resources, and the poster's organization."""
    document = document_by_qr_token(token)
    if document is None:
        abort(404)
    record_scan(document, request.remote_addr, request.user_agent.string)
    return render_template("pages/help.html", organization=organization_shown(document))


@bp.errorhandler(429)
def too_many(exc):
    """Past the QR limit of one address, nothing is recorded, but the person who scanned
    still gets the whole help page, its phone links included (a class behind one school
    address must still get help)."""
    if request.endpoint == "personalize.qr_landing":
        return render_template("pages/help.html", organization=None), 429
    from portal.errors import render_error

    return render_error(429)
