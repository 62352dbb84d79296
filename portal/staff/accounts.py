"""Staff pages about accounts: the queue of organizations to approve, suspension,
revoking a co-branded document, and the audit log. Each action is audited."""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.audit import ACTIONS, record
from portal.auth.forms import EmptyForm
from portal.auth.services import AccountError, decide_organization, reinstate, suspend
from portal.clock import MONTREAL, naive_utc_now
from portal.extensions import db
from portal.forms import PortalForm
from portal.mail import send_template
from portal.models import Account, AuditEntry, PersonalizedDocument
from portal.models.accounts import PENDING
from portal.reference import ROLE_ORGANIZATION
from portal.staff import bp


class RejectForm(PortalForm):
    reason = TextAreaField(_l("Reason (sent to the organization)"), validators=[
        DataRequired(_l("Give the reason: it is sent to the organization.")),
        Length(min=3, max=500, message=_l("Between 3 and 500 characters."))])


class AuditFilterForm(PortalForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    action = SelectField(_l("Action"), choices=[], validators=[Optional()])
    actor = StringField(_l("Staff member (address contains)"),
                        validators=[Optional(), Length(max=254)])
    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()])


def _utc_start_of(day) -> datetime:
    """The stored (naive UTC) instant at which a Montréal day begins."""
    return datetime.combine(day, time.min, MONTREAL).astimezone(UTC).replace(tzinfo=None)


@bp.get("/organizations")
def organizations():
    pending = db.session.scalars(select(Account).where(
        Account.role == ROLE_ORGANIZATION, Account.approval == PENDING)
        .order_by(Account.created_at)).all()
    return render_template("staff/organizations.html", pending=pending, form=EmptyForm(),
                           reject_form=RejectForm())


@bp.post("/organizations/<int:account_id>/approve")
def approve_organization(account_id):
    account = db.get_or_404(Account, account_id)
    if not EmptyForm().validate_on_submit() or account.role != ROLE_ORGANIZATION:
        abort(400)
    if not decide_organization(account, approve=True):
        flash(_("This organization was already decided on."), "error")
        return redirect(url_for("staff.organizations"))
    record("organization_approved", f"account:{account.id}")
    send_template(account.email, "organization_approved", account.locale,
                  _l("Your organization is approved"), account=account)
    flash(_("%(name)s is approved.", name=account.display_name), "success")
    return redirect(url_for("staff.organizations"))


@bp.post("/organizations/<int:account_id>/reject")
def reject_organization(account_id):
    account = db.get_or_404(Account, account_id)
    form = RejectForm()
    if account.role != ROLE_ORGANIZATION:
        abort(400)
    if not form.validate_on_submit():
        flash(_("Give the reason (3 to 500 characters): it is sent to the organization."),
              "error")
        return redirect(url_for("staff.organizations"))
    if not decide_organization(account, approve=False, reason=form.reason.data):
        flash(_("This organization was already decided on."), "error")
        return redirect(url_for("staff.organizations"))
    # The reason stays on the account (and goes with it); the log says who and when.
    record("organization_rejected", f"account:{account.id}")
    send_template(account.email, "organization_rejected", account.locale,
                  _l("About your organization's account"), account=account,
                  reason=account.approval_reason)
    flash(_("%(name)s is not approved; the reason was sent.", name=account.display_name),
          "success")
    return redirect(url_for("staff.organizations"))


@bp.get("/accounts")
def accounts():
    query = (request.args.get("q") or "").strip()[:254]
    found = []
    if query:
        pattern = f"%{query.lower()}%"
        found = db.session.scalars(select(Account).where(or_(
            Account.email.like(pattern), Account.display_name.ilike(pattern)))
            .order_by(Account.email).limit(50)).all()
    return render_template("staff/accounts.html", query=query, found=found)


@bp.get("/accounts/<int:account_id>")
def account_detail(account_id):
    account = db.get_or_404(Account, account_id)
    documents = db.session.scalars(select(PersonalizedDocument).where(
        PersonalizedDocument.account_id == account.id)
        .order_by(PersonalizedDocument.id.desc())).all()
    return render_template("staff/account.html", account=account, documents=documents,
                           form=EmptyForm())


@bp.post("/accounts/<int:account_id>/suspend")
def suspend_account(account_id):
    account = db.get_or_404(Account, account_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        suspend(account)
    except AccountError:
        flash(_("Staff accounts are managed with the command line."), "error")
        return redirect(url_for("staff.account_detail", account_id=account.id))
    record("account_suspended", f"account:{account.id}")
    flash(_("The account is suspended and every one of its sessions has ended."), "success")
    return redirect(url_for("staff.account_detail", account_id=account.id))


@bp.post("/accounts/<int:account_id>/reinstate")
def reinstate_account(account_id):
    account = db.get_or_404(Account, account_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    reinstate(account)
    record("account_reinstated", f"account:{account.id}")
    flash(_("The account is active again."), "success")
    return redirect(url_for("staff.account_detail", account_id=account.id))


@bp.post("/documents/<slug:public_id>/revoke")
def revoke_document(public_id):
    document = db.session.scalars(select(PersonalizedDocument).where(
        PersonalizedDocument.public_id == public_id)).first()
    if document is None:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if document.revoked_at is None:
        # Downloads stop; its QR code keeps leading to the help page, without the name.
        document.revoked_at = naive_utc_now()
        db.session.commit()
        record("document_revoked", f"document:{document.public_id}",
               f"account:{document.account_id}")
    flash(_("The document is revoked."), "success")
    return redirect(url_for("staff.account_detail", account_id=document.account_id)
                    if document.account_id else url_for("staff.accounts"))


@bp.get("/audit")
def audit_log():
    form = AuditFilterForm(request.args)
    form.action.choices = [("", _("All actions"))] + [(a, a) for a in ACTIONS]
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(500)
    error = not form.validate()
    if not error:
        if form.action.data:
            query = query.where(AuditEntry.action == form.action.data)
        if form.actor.data:
            query = query.where(AuditEntry.actor_email.like(f"%{form.actor.data.lower()}%"))
        if form.start.data:
            query = query.where(AuditEntry.occurred_at >= _utc_start_of(form.start.data))
        if form.end.data:
            query = query.where(AuditEntry.occurred_at <
                                _utc_start_of(form.end.data + timedelta(days=1)))
    return render_template("staff/audit.html", form=form, entries=db.session.scalars(query),
                           error=error), 400 if error else 200
