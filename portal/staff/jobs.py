"""Staff pages of the background jobs: start one, follow its progress, get its result."""
from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms import HiddenField, IntegerField
from wtforms.validators import AnyOf, DataRequired

from portal.audit import record
from portal.extensions import db
from portal.forms import PortalForm
from portal.jobs.queue import KINDS, submit
from portal.jobs.runner import recent_jobs
from portal.models import BackgroundJob, Campaign
from portal.staff import bp
from portal.storage import get_storage
from portal.tracking.dashboard import campaigns


class JobForm(PortalForm):
    kind = HiddenField(validators=[DataRequired(), AnyOf(KINDS)])
    campaign = IntegerField(validators=[DataRequired()])


def status_text(job: BackgroundJob) -> str:
    """"Running · 120 of 480": the same words on the page and in its live updates."""
    from portal.i18n import number

    labels = {"queued": _("Waiting"), "running": _("Running"), "done": _("Done"),
              "failed": _("Failed")}
    return _("%(status)s · %(done)s of %(total)s", status=labels.get(job.status, job.status),
             done=number(job.done), total=number(job.total))


@bp.get("/jobs")
def jobs():
    return render_template("staff/jobs.html", jobs=recent_jobs(), campaigns=campaigns(),
                           form=JobForm(), status_text=status_text)


@bp.post("/jobs")
def start_job():
    form = JobForm()
    campaign = db.session.get(Campaign, form.campaign.data) if form.validate() else None
    if campaign is None:
        flash(_("This job could not be started: choose a campaign and try again."), "error")
        return redirect(url_for("staff.jobs"))
    job = submit(form.kind.data, campaign=campaign, account=current_user)
    record("job_started", f"job:{job.public_id}", f"{job.kind}, campaign {campaign.year}")
    flash(_("The job has started. Its progress is shown below."), "success")
    return redirect(url_for("staff.jobs", _anchor=f"job-{job.public_id}"))


@bp.get("/jobs/<slug:public_id>.json")
def job_status(public_id):
    job = db.first_or_404(select(BackgroundJob).where(BackgroundJob.public_id == public_id))
    return jsonify(status=job.status, total=job.total, done=job.done, percent=job.percent,
                   failed_items=job.failed_items, error=job.error, text=status_text(job))


@bp.get("/jobs/<slug:public_id>/result")
def job_result(public_id):
    job = db.first_or_404(select(BackgroundJob).where(BackgroundJob.public_id == public_id))
    if job.status != "done" or not job.result_key:
        abort(404)
    key, name = job.result_key, job.result_name
    record("events_exported", f"job:{job.public_id}")
    return get_storage().send(key, name, "text/csv")
