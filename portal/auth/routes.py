"""Account pages: register, verify the address, sign in (with a second factor for staff),
reset a forgotten password, sign out."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import (
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user

from portal.auth import bp
from portal.auth.forms import (
    CitizenRegistrationForm,
    EmptyForm,
    LoginForm,
    OrganizationRegistrationForm,
    ResetPasswordForm,
    ResetRequestForm,
    TwoFactorForm,
)
from portal.auth.second_factor import (
    LINK_LIFETIME,
    pending_setup,
    pending_setup_by_row,
    use_setup_link,
)
from portal.auth.services import (
    AccountError,
    authenticate,
    check_totp,
    enable_totp,
    end_sessions,
    register,
    reset_password,
    reset_token_for,
    totp_failed,
    totp_locked,
    totp_uri,
    verification_token,
    verify_email,
)
from portal.auth.tokens import peek
from portal.extensions import db, limiter
from portal.i18n import current_language
from portal.mail import send_template
from portal.models import Account
from portal.reference import ROLE_CITIZEN, ROLE_ORGANIZATION

AUTH_LIMIT = "10 per minute;60 per hour"
MAIL_LIMIT = "5 per hour"  # mails a client can make the portal send (reset, verification)
TWO_FACTOR_SECONDS = 300  # the code must follow the password within five minutes


def safe_next(target: str | None) -> str | None:
    """Only a path on this portal: never another host, scheme or protocol-relative URL."""
    if not target or len(target) > 500 or "\\" in target or any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def public_link(endpoint: str, **values) -> str:
    """An absolute link for a mail, always on PORTAL_PUBLIC_URL (never the Host header)."""
    return current_app.config["PUBLIC_URL"] + url_for(endpoint, **values)


def send_verification(account: Account, email: str | None = None) -> None:
    token = verification_token(account, email)
    send_template(email or account.email, "verify", account.locale,
                  _l("Confirm your email address"), account=account,
                  link=public_link("auth.verify", token=token))


def _fresh_session(account: Account, remember: bool) -> None:
    """A new session at sign-in (nothing from before carries over but the language)."""
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    login_user(account, remember=remember)


@bp.get("/register")
def register_choice():
    return render_template("auth/register_choice.html")


def _register(form, role: str, template: str):
    if form.validate_on_submit():
        account, created = register(
            role, form.email.data, form.password.data,
            display_name=(form.organization_name.data if role == ROLE_ORGANIZATION
                          else form.display_name.data),
            organization_type=form.organization_type.data if role == ROLE_ORGANIZATION else None,
            region=form.region.data or None,
            locale=current_language(),
        )
        if created:
            send_verification(account)
        else:
            send_template(account.email, "already_registered", account.locale,
                          _l("Someone tried to register with your address"), account=account,
                          reset_link=public_link("auth.reset_request"))
        # The same answer whether or not the address was already registered.
        session["registered_email"] = form.email.data.strip().lower()
        return redirect(url_for("auth.registered"))
    return render_template(template, form=form), 400 if form.errors else 200


@bp.route("/register/organization", methods=["GET", "POST"])
@limiter.limit(AUTH_LIMIT, methods=["POST"])
def register_organization():
    return _register(OrganizationRegistrationForm(), ROLE_ORGANIZATION,
                     "auth/register_organization.html")


@bp.route("/register/citizen", methods=["GET", "POST"])
@limiter.limit(AUTH_LIMIT, methods=["POST"])
def register_citizen():
    return _register(CitizenRegistrationForm(), ROLE_CITIZEN, "auth/register_citizen.html")


@bp.get("/registered")
def registered():
    return render_template("auth/registered.html", email=session.get("registered_email"))


@bp.route("/verify/<token>", methods=["GET", "POST"])
def verify(token):
    """The link of a verification mail. Opening it shows a button: mail scanners that
    open links do not use it up; pressing the button does."""
    form = EmptyForm()
    if form.validate_on_submit():
        account = verify_email(token)
        if account is None:
            return render_template("auth/verify.html", form=form, state="invalid"), 400
        flash(_l("Your email address is confirmed. You can download the kits."), "success")
        if current_user.is_authenticated:
            return redirect(url_for("account.overview"))
        return redirect(url_for("auth.login"))
    state = "ready" if peek(token, "verify") is not None else "invalid"
    return render_template("auth/verify.html", form=form, state=state), \
        200 if state == "ready" else 400


@bp.post("/verify/resend")
@login_required
@limiter.limit(MAIL_LIMIT)
def resend_verification():
    if EmptyForm().validate_on_submit() and not current_user.is_verified:
        send_verification(current_user)
    flash(_l("We have sent you a new confirmation link. Earlier links no longer work."),
          "success")
    return redirect(request.referrer if safe_next(urlsplit(request.referrer or "").path)
                    else url_for("account.overview"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(AUTH_LIMIT, methods=["POST"])
def login():
    form = LoginForm()
    next_url = safe_next(request.args.get("next"))
    failed = suspended = False
    if form.validate_on_submit():
        account = authenticate(form.email.data, form.password.data)
        if account is None:
            failed = True
        elif not account.is_active:
            suspended = True
        elif account.is_staff:
            # Staff go on to the second factor; nothing is signed in yet.
            language = session.get("lang")
            session.clear()
            if language:
                session["lang"] = language
            session["two_factor"] = {"id": account.id, "version": account.session_version,
                                     "remember": bool(form.remember.data), "next": next_url,
                                     "at": time.time()}
            return redirect(url_for("auth.two_factor"))
        else:
            _fresh_session(account, form.remember.data)
            flash(_l("You are signed in."), "success")
            return redirect(next_url or url_for("catalog.home"))
    status = 403 if suspended else 400 if (failed or form.errors) else 200
    return render_template("auth/login.html", form=form, failed=failed, suspended=suspended,
                           next_url=next_url), status


def _password_step(account_id: int | None = None) -> tuple[dict, Account] | None:
    """The staff sign-in waiting for its second step in this browser, if it still stands:
    the password given less than five minutes ago, for an account unchanged since."""
    pending = session.get("two_factor")
    account = db.session.get(Account, pending["id"]) if pending else None
    fresh = pending and time.time() - pending.get("at", 0) < TWO_FACTOR_SECONDS
    if account is None or not fresh or account.session_version != pending["version"] or \
            not account.is_active or (account_id is not None and account.id != account_id):
        return None
    return pending, account


def _too_many_codes():
    session.pop("two_factor", None)
    flash(_l("Too many wrong codes. Wait a quarter of an hour, then sign in again."), "error")
    return redirect(url_for("auth.login"))


def _signed_in_with_second_factor(pending: dict, account: Account):
    _fresh_session(account, pending.get("remember", False))
    flash(_l("You are signed in."), "success")
    return redirect(pending.get("next") or url_for("staff.dashboard"))


@bp.route("/two-factor", methods=["GET", "POST"])
@limiter.limit(AUTH_LIMIT, methods=["POST"])
def two_factor():
    """The second step of a staff sign-in: a TOTP code. A staff member without a second
    factor is told that its set-up link was mailed (``second_factor_setup``): a password
    alone never shows a key. Once this browser opened that link, it sets up here too."""
    step = _password_step()
    if step is None:
        session.pop("two_factor", None)
        return redirect(url_for("auth.login"))
    pending, account = step
    if totp_locked(account):
        return _too_many_codes()
    if account.totp_enabled_at is None:
        link_row = pending.get("setup_link")
        if link_row is not None and pending_setup_by_row(link_row, account):
            return _enrolment(account, link_row)
        return render_template("auth/two_factor_mailed.html",
                               hours=int(LINK_LIFETIME.total_seconds() // 3600))
    form = TwoFactorForm()
    wrong = False
    if form.validate_on_submit():
        used = check_totp(account.totp_secret, form.code.data, account.totp_last_step)
        if used is not None and enable_totp(account, account.totp_secret, used):
            return _signed_in_with_second_factor(pending, account)
        wrong = True
        if totp_failed(account):
            return _too_many_codes()
    return render_template("auth/two_factor.html", form=form, wrong=wrong,
                           setting_up=False), 400 if (wrong or form.errors) else 200


@bp.route("/two-factor/setup/<token>", methods=["GET", "POST"])
@limiter.limit(AUTH_LIMIT, methods=["POST"])
def second_factor_setup(token):
    """The mailed set-up link: the key (kept on the server) and the first code."""
    found = pending_setup(token)
    if found is None:
        return render_template("auth/two_factor_link.html"), 400
    account, link_row = found
    step = _password_step(account.id)
    if step is not None:  # this browser has just given the password: it may go on there
        step[0]["setup_link"] = link_row
        session["two_factor"] = step[0]
    return _enrolment(account, link_row)


def _enrolment(account: Account, link_row: int):
    """The set-up page (the key and the code field) and its first code. A right code uses
    the link up and turns the second factor on; it also signs in when this browser has
    just given the account's password."""
    if totp_locked(account):
        return _too_many_codes()
    form = TwoFactorForm()
    wrong = False
    if form.validate_on_submit():
        used = check_totp(account.totp_secret, form.code.data, None)
        if used is not None and use_setup_link(link_row) and \
                enable_totp(account, account.totp_secret, used):
            step = _password_step(account.id)
            if step is not None:
                return _signed_in_with_second_factor(*step)
            flash(_l("Your second factor is set up. Sign in with your password and a code "
                     "from your app."), "success")
            return redirect(url_for("auth.login"))
        wrong = True
        if totp_failed(account):
            return _too_many_codes()
    import segno

    uri = totp_uri(account.totp_secret, account.email)
    return render_template(
        "auth/two_factor.html", form=form, wrong=wrong, setting_up=True,
        secret=account.totp_secret, uri=uri,
        qr=segno.make(uri, error="m").svg_data_uri(scale=5, border=2)), \
        400 if (wrong or form.errors) else 200


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit(MAIL_LIMIT, methods=["POST"])
def reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        found = reset_token_for(form.email.data)
        if found is not None:
            account, token = found
            send_template(account.email, "reset", account.locale,
                          _l("Choose a new password"), account=account,
                          link=public_link("auth.reset_password_form", token=token))
        # The same answer whether or not the address has an account.
        flash(_l("If an account uses this address, we have sent it a link to choose a new "
                 "password. The link works for two hours."), "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset_request.html", form=form), 400 if form.errors else 200


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit(AUTH_LIMIT, methods=["POST"])
def reset_password_form(token):
    row = peek(token, "reset")
    if row is None:
        return render_template("auth/reset_password.html", form=None), 400
    form = ResetPasswordForm()
    form.email.data = db.session.get(Account, row.account_id).email
    if form.validate_on_submit():
        try:
            account = reset_password(token, form.password.data)
        except AccountError:
            account = None
        if account is not None:
            if current_user.is_authenticated:
                logout_user()
            flash(_l("Your password is changed, and every session of your account has "
                     "ended. Sign in with the new password."), "success")
            return redirect(url_for("auth.login"))
        return render_template("auth/reset_password.html", form=None), 400
    return render_template("auth/reset_password.html", form=form), 400 if form.errors else 200


@bp.post("/logout")
@login_required
def logout():
    # Every session of the account ends on the server (a copied session or remember
    # cookie no longer fits), and this browser's cookies go.
    end_sessions(current_user)
    language = session.get("lang")
    session.clear()
    # After the clear: logout_user() marks the remember cookie for deletion in the session.
    logout_user()
    if language:
        session["lang"] = language
    flash(_l("You are signed out."), "success")
    return redirect(url_for("catalog.home"))
