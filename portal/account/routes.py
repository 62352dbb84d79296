"""Views of the account page; the logic lives in portal.auth.services and account_data."""
from __future__ import annotations

import json

from flask import Response, flash, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user

from portal.account import bp
from portal.auth.account_data import delete_account, export_data
from portal.auth.forms import (
    ChangeEmailForm,
    ChangePasswordForm,
    DeleteAccountForm,
    EmptyForm,
)
from portal.auth.passwords import verify_password
from portal.auth.routes import MAIL_LIMIT, public_link
from portal.auth.services import AccountError, change_password, request_email_change
from portal.extensions import limiter
from portal.mail import send_template


def _page(status=200, **forms):
    forms.setdefault("email_form", ChangeEmailForm(prefix="email"))
    forms.setdefault("password_form", ChangePasswordForm(prefix="password"))
    forms.setdefault("delete_form", DeleteAccountForm(prefix="delete"))
    return render_template("account/overview.html", resend_form=EmptyForm(), **forms), status


@bp.get("/")
@login_required
def overview():
    return _page()


@bp.post("/email")
@login_required
@limiter.limit(MAIL_LIMIT)
def change_email():
    form = ChangeEmailForm(prefix="email")
    if form.validate_on_submit():
        try:
            token, free = request_email_change(current_user, form.new_email.data,
                                               form.current.data)
        except AccountError as exc:
            message = (_l("Incorrect password.") if str(exc) == "wrong_password"
                       else _l("This is already your address."))
            field = form.current if str(exc) == "wrong_password" else form.new_email
            field.errors = [message]
            return _page(400, email_form=form)
        new_address = current_user.pending_email
        if free:
            send_template(new_address, "verify", current_user.locale,
                          _l("Confirm your email address"), account=current_user,
                          link=public_link("auth.verify", token=token))
        else:  # one mail either way; the owner of that address learns someone tried
            send_template(new_address, "address_taken", current_user.locale,
                          _l("Someone tried to use your address"))
        send_template(current_user.email, "email_change_notice", current_user.locale,
                      _l("A change of address was asked for your account"),
                      account=current_user, reset_link=public_link("auth.reset_request"))
        # The same answer when the new address belongs to another account.
        flash(_l("We have sent a confirmation link to the new address. Your address "
                 "changes when you follow it."), "success")
        return redirect(url_for("account.overview"))
    return _page(400, email_form=form)


@bp.post("/password")
@login_required
def change_password_view():
    form = ChangePasswordForm(prefix="password")
    form.email.data = current_user.email
    if form.validate_on_submit():
        try:
            change_password(current_user, form.current.data, form.password.data)
        except AccountError:
            form.current.errors = [_l("Incorrect password.")]
            return _page(400, password_form=form)
        # Every other session has ended; this one carries on under the new version.
        login_user(current_user._get_current_object())
        flash(_l("Your password is changed. Your other sessions have ended."), "success")
        return redirect(url_for("account.overview"))
    return _page(400, password_form=form)


@bp.get("/data.json")
@login_required
def download_data():
    body = json.dumps(export_data(current_user), ensure_ascii=False, indent=2)
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": 'attachment; filename="my-data.json"',
                             "Cache-Control": "no-store"})


@bp.post("/delete")
@login_required
def delete():
    form = DeleteAccountForm(prefix="delete")
    if current_user.is_staff:
        flash(_l("Staff accounts are closed by the portal's administrators."), "error")
        return redirect(url_for("account.overview"))
    if form.validate_on_submit():
        if not verify_password(current_user.password_hash, form.current.data):
            form.current.errors = [_l("Incorrect password.")]
            return _page(400, delete_form=form)
        account = current_user._get_current_object()
        logout_user()
        delete_account(account)
        flash(_l("Your account and your data are deleted. Thank you for your support."),
              "success")
        return redirect(url_for("catalog.home"))
    return _page(400, delete_form=form)
