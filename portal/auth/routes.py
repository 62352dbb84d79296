"""Account pages: register, sign in, sign out."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import login_required, login_user, logout_user

from portal.auth import bp
from portal.auth.forms import CitizenRegistrationForm, LoginForm, OrganizationRegistrationForm
from portal.auth.services import authenticate, register
from portal.extensions import limiter
from portal.i18n import current_language
from portal.mail import send_template
from portal.reference import ROLE_CITIZEN, ROLE_ORGANIZATION

AUTH_LIMIT = "10 per minute;60 per hour"


def safe_next(target: str | None) -> str | None:
    """Only a path on this portal: never another host, scheme or protocol-relative URL."""
    if not target or len(target) > 500 or "\\" in target or any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


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
            send_template(account.email, "welcome", account.locale,
                          _l("Welcome to the National Week portal"), account=account)
        else:
            send_template(account.email, "already_registered", account.locale,
                          _l("Someone tried to register with your address"), account=account)
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


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(AUTH_LIMIT, methods=["POST"])
def login():
    form = LoginForm()
    next_url = safe_next(request.args.get("next"))
    failed = False
    if form.validate_on_submit():
        account = authenticate(form.email.data, form.password.data)
        if account is not None:
            language = session.get("lang")
            session.clear()  # a fresh session at sign-in
            if language:
                session["lang"] = language
            login_user(account, remember=form.remember.data)
            flash(_l("You are signed in."), "success")
            return redirect(next_url or url_for("catalog.home"))
        failed = True
    status = 400 if (failed or form.errors) else 200
    return render_template("auth/login.html", form=form, failed=failed, next_url=next_url), status


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    flash(_l("You are signed out."), "success")
    return redirect(url_for("catalog.home"))
