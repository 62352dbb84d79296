"""Staff pages of publishing: kits, materials, versions and previews.

Views read the form and call ``portal.publishing.services``; previews are images of the
rendered pages, never a staff-edited source shown as HTML inside a portal page.
"""
from __future__ import annotations

from pathlib import Path

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal import limits
from portal.catalog.manifest import ManifestError, load_manifest
from portal.catalog.services import readable_filename
from portal.clock import naive_utc_now
from portal.extensions import db
from portal.i18n import datetime_local
from portal.models import Campaign, Kit, Material, MaterialVersion
from portal.pdf.worker import RenderFailed, RenderTimeout, run_job
from portal.publishing import services
from portal.publishing.forms import (
    ActionForm,
    AudienceForm,
    KitForm,
    MaterialForm,
    PrintLimitsForm,
    ReviewForm,
    ScheduleForm,
    SourceForm,
    UploadForm,
)
from portal.publishing.sources import (
    SourceRejected,
    content_messages,
    render_source,
    variable_names,
)
from portal.publishing.uploads import UploadRejected, checked_upload, language_problem
from portal.reference import MATERIAL_FORMATS
from portal.staff import bp
from portal.storage import get_storage

PREVIEW_WIDTH = 800
PREVIEW_PAGES = 6


@bp.route("/kits", methods=["GET", "POST"])
def kits():
    campaigns = list(db.session.scalars(select(Campaign).order_by(Campaign.year.desc())))
    form = KitForm()
    form.campaign.choices = [(c.id, str(c.year)) for c in campaigns]
    if form.validate_on_submit():
        campaign = db.session.get(Campaign, form.campaign.data)
        try:
            kit = services.create_kit(
                campaign, slug=form.slug.data, audience=form.audience.data,
                title_fr=form.title_fr.data, title_en=form.title_en.data,
                description_fr=form.description_fr.data.strip(),
                description_en=form.description_en.data.strip(), actor=current_user)
        except services.PublishingError as exc:
            form.slug.errors.append(str(exc))
        else:
            flash(_("Kit created. Add its materials in French and in English."), "success")
            return redirect(url_for("staff.kit_page", kit_id=kit.id))
    listed = list(db.session.scalars(select(Kit).order_by(Kit.campaign_id.desc(), Kit.position)))
    now = naive_utc_now()
    offered = {kit.id: sum(m.is_public(now) for m in kit.materials) for kit in listed}
    return render_template("staff/kits.html", kits=listed, offered=offered, form=form), \
        400 if form.errors else 200


def _version_or_404(material: Material, number: int) -> MaterialVersion:
    version = next((v for v in material.versions if v.number == number), None)
    if version is None:
        abort(404)
    return version


@bp.route("/kits/<int:kit_id>", methods=["GET", "POST"])
def kit_page(kit_id):
    kit = db.get_or_404(Kit, kit_id)
    form = MaterialForm()
    if form.validate_on_submit():
        try:
            created = services.create_material(
                kit, slug=form.slug.data, kind=form.kind.data, fmt=form.format.data,
                title_fr=form.title_fr.data, title_en=form.title_en.data, actor=current_user)
        except services.PublishingError as exc:
            form.slug.errors.append(str(exc))
        else:
            flash(_("Material created in French and in English. Give each a version."),
                  "success")
            return redirect(url_for("staff.material_page", material_id=created[0].id))
    audience = AudienceForm(formdata=None, audience=sorted(kit.audience_kinds))
    return render_template("staff/kit.html", kit=kit, form=form, audience_form=audience,
                           now=naive_utc_now()), 400 if form.errors else 200


@bp.post("/kits/<int:kit_id>/audience")
def kit_audience(kit_id):
    """Who may download the kit: the account kinds staff tick."""
    kit = db.get_or_404(Kit, kit_id)
    audience = AudienceForm()
    if audience.validate_on_submit():
        services.set_audience(kit, audience.audience.data, actor=current_user)
        db.session.commit()
        flash(_("Saved: who may download this kit."), "success")
        return redirect(url_for("staff.kit_page", kit_id=kit.id))
    return render_template("staff/kit.html", kit=kit, form=MaterialForm(formdata=None),
                           audience_form=audience, now=naive_utc_now()), 400


def _material_page(material: Material, status: int = 200, **forms):
    now = naive_utc_now()
    schedule = forms.pop("schedule", None) or ScheduleForm(formdata=None)
    review = forms.pop("review", None) or ReviewForm(
        formdata=None, last_reviewed_on=material.last_reviewed_on,
        next_review_on=material.next_review_on)
    limits = forms.pop("limits", None) or PrintLimitsForm(
        formdata=None, orderable=material.orderable, max_per_order=material.max_per_order,
        max_per_campaign=material.max_per_campaign)
    upload = forms.pop("upload", None) or UploadForm(formdata=None)
    return render_template(
        "staff/material.html", material=material, kit=material.kit,
        siblings=services.siblings(material), state=material.publication_state(now),
        published_local=services.local_moment(material.published_at),
        downloads=services.downloads_by_version(material), schedule=schedule, review=review,
        limits=limits, upload=upload, action=ActionForm(formdata=None)), status


@bp.get("/materials/<int:material_id>")
def material_page(material_id):
    return _material_page(db.get_or_404(Material, material_id))


@bp.post("/materials/<int:material_id>/upload")
@limits.uploads
def material_upload(material_id):
    material = db.get_or_404(Material, material_id)
    form = UploadForm()
    status = 400
    if form.validate_on_submit():
        if material.personalizable:
            form.file.errors.append(_("Organizations co-brand this material: change it by "
                                      "editing its source, so their names keep their place."))
        else:
            try:
                files = checked_upload(form.file.data.read(), material.format)
                # A PNG's text is in its pixels: only PDFs can be read and checked.
                messages = [] if material.format == "png" else [
                    *content_messages(files.text),
                    *filter(None, [language_problem(files.text, material.language)])]
                if messages:
                    raise UploadRejected("; ".join(messages))
            except UploadRejected as exc:
                form.file.errors.append(str(exc))
                status = exc.status
            else:
                version = services.add_version(material, files, get_storage(),
                                               actor=current_user)
                flash(_("Version %(number)d added as a draft. Check its preview, then make it "
                        "current.", number=version.number), "success")
                return redirect(url_for("staff.version_page", material_id=material.id,
                                        number=version.number))
    return _material_page(material, status, upload=form)


def _starting_source(material: Material) -> tuple[str, str]:
    """The source to edit: the current version's, else the material's file in materials/."""
    version = material.current_version
    if version is not None and version.source_html is not None:
        return version.source_html, version.source_css or ""
    root = Path(current_app.config["MATERIALS_PATH"])
    try:
        for kit in load_manifest(root):
            if kit["slug"] == material.kit.slug:
                for entry in kit["materials"]:
                    if entry["slug"] == material.slug:
                        path = root / "sources" / entry["source"][material.language]
                        return path.read_text(encoding="utf-8"), ""
    except (ManifestError, OSError, KeyError):
        pass
    layout = "_layouts/social.html" if material.format == "png" else "_layouts/print.html"
    return ('{% extends "' + layout + '" %}\n{% import "_partials/ui.html" as ui %}\n'
            '{% block body %}\n<main>\n  <h1>{{ material.title[lang] }}</h1>\n'
            '  {{ ui.helplines_grid(facts, lang) }}\n</main>\n{% endblock %}\n', "")


@bp.route("/materials/<int:material_id>/source", methods=["GET", "POST"])
def material_source(material_id):
    material = db.get_or_404(Material, material_id)
    form = SourceForm()
    problems: list[str] = []
    if request.method == "GET":
        form.html.data, form.css.data = _starting_source(material)
    elif form.validate_on_submit():
        html = form.html.data.replace("\r\n", "\n")
        css = (form.css.data or "").replace("\r\n", "\n")
        try:
            files, fingerprint = render_source(material, services.siblings(material), html, css)
        except SourceRejected as exc:
            problems = exc.messages
        else:
            current = material.current_version
            if current is not None and current.source_fingerprint == fingerprint:
                flash(_("Nothing changed: this is the current version's source."), "info")
                return redirect(url_for("staff.material_page", material_id=material.id))
            version = services.add_version(material, files, get_storage(), actor=current_user,
                                           fingerprint=fingerprint, source_html=html,
                                           source_css=css)
            flash(_("Version %(number)d made as a draft. Check its preview, then make it "
                    "current.", number=version.number), "success")
            return redirect(url_for("staff.version_page", material_id=material.id,
                                    number=version.number))
    status = 400 if (problems or form.errors) else 200
    return render_template("staff/source.html", material=material, form=form,
                           problems=problems, variables=variable_names(
                               material, services.siblings(material))), status


@bp.get("/materials/<int:material_id>/versions/<int:number>")
def version_page(material_id, number):
    material = db.get_or_404(Material, material_id)
    version = _version_or_404(material, number)
    pages = min(version.pages or 1, PREVIEW_PAGES)
    return render_template("staff/version.html", material=material, version=version,
                           pages=pages, downloads=services.downloads_by_version(material),
                           action=ActionForm(formdata=None))


@bp.get("/materials/<int:material_id>/versions/<int:number>/pages/<int:page>.png")
def version_page_image(material_id, number, page):
    """One rendered page of a version as a PNG (the preview)."""
    version = _version_or_404(db.get_or_404(Material, material_id), number)
    if version.storage_key.endswith(".png"):
        if page != 1:
            abort(404)
        return get_storage().send_inline(version.storage_key, "image/png", max_age=0)
    if not 1 <= page <= min(version.pages or 1, PREVIEW_PAGES):
        abort(404)
    try:  # drawn in the files work process, within its limits
        image = run_job("rasterize", get_storage().read_bytes(version.storage_key), page - 1,
                        PREVIEW_WIDTH)
    except (RenderFailed, RenderTimeout):
        abort(503)
    return Response(image, mimetype="image/png", headers={"Cache-Control": "private, max-age=600"})


@bp.get("/materials/<int:material_id>/versions/<int:number>/file")
def version_file(material_id, number):
    """Any version's file, for staff (not counted: staff checking is not distribution)."""
    material = db.get_or_404(Material, material_id)
    version = _version_or_404(material, number)
    name = readable_filename(f"{material.title} v{version.number}", material.language,
                             material.kit.campaign.year, material.format)
    return get_storage().send(version.storage_key, name, MATERIAL_FORMATS[material.format])


@bp.post("/materials/<int:material_id>/versions/<int:number>/current")
def version_make_current(material_id, number):
    material = db.get_or_404(Material, material_id)
    version = _version_or_404(material, number)
    if ActionForm().validate_on_submit():
        services.make_current(material, version, current_user)
        flash(_("Version %(number)d is now the current one.", number=number), "success")
    return redirect(url_for("staff.material_page", material_id=material.id))


def _publication_step(material_id: int, step):
    material = db.get_or_404(Material, material_id)
    if not ActionForm().validate_on_submit():
        flash(_("The form expired. Please send it again."), "error")
        return redirect(url_for("staff.material_page", material_id=material.id))
    try:
        message = step(material)
    except services.PublishingError as exc:
        flash(str(exc), "error")
    else:
        flash(message, "success")
    return redirect(url_for("staff.material_page", material_id=material.id))


@bp.post("/materials/<int:material_id>/publish")
def material_publish(material_id):
    def step(material):
        services.publish(material, current_user)
        return _("Published: the material is offered now.")
    return _publication_step(material_id, step)


@bp.post("/materials/<int:material_id>/withdraw")
def material_withdraw(material_id):
    def step(material):
        services.withdraw(material, current_user)
        return _("Withdrawn: the material is no longer offered. Its versions and figures stay.")
    return _publication_step(material_id, step)


@bp.post("/materials/<int:material_id>/schedule")
def material_schedule(material_id):
    material = db.get_or_404(Material, material_id)
    form = ScheduleForm()
    if form.validate_on_submit():
        moment = services.montreal_moment(form.day.data, form.at.data)
        if moment <= naive_utc_now():
            form.day.errors.append(_("Choose a moment to come, or publish now."))
        else:
            try:
                services.publish(material, current_user, at=moment)
            except services.PublishingError as exc:
                form.day.errors.append(str(exc))
            else:
                flash(_("Scheduled: the material will be offered on %(moment)s (Montréal time).",
                        moment=datetime_local(material.published_at)), "success")
                return redirect(url_for("staff.material_page", material_id=material.id))
    return _material_page(material, 400, schedule=form)


@bp.post("/materials/<int:material_id>/review")
def material_review(material_id):
    material = db.get_or_404(Material, material_id)
    form = ReviewForm()
    if form.validate_on_submit():
        try:
            services.set_review_dates(material, form.last_reviewed_on.data,
                                      form.next_review_on.data, current_user)
        except services.PublishingError as exc:
            form.next_review_on.errors.append(str(exc))
        else:
            flash(_("Review dates saved."), "success")
            return redirect(url_for("staff.material_page", material_id=material.id))
    return _material_page(material, 400, review=form)


@bp.post("/materials/<int:material_id>/print")
def material_print_limits(material_id):
    material = db.get_or_404(Material, material_id)
    form = PrintLimitsForm()
    if form.validate_on_submit():
        try:
            services.set_print_limits(material, form.orderable.data, form.max_per_order.data,
                                      form.max_per_campaign.data, current_user)
        except services.PublishingError as exc:
            form.max_per_order.errors.append(str(exc))
        else:
            flash(_("Print settings saved."), "success")
            return redirect(url_for("staff.material_page", material_id=material.id))
    return _material_page(material, 400, limits=form)
