"""Who may do what beyond their role: the address confirmed, the organization approved.

Views ask ``*_refusal(account)`` and show ``refusal_page`` (a page that says what to do
next, 403) instead of a bare error.
"""
from __future__ import annotations

from flask import abort, render_template

from portal.models import Account
from portal.reference import ROLE_CITIZEN, ROLE_ORGANIZATION


def cobrand_refusal(account: Account) -> str | None:
    """Co-branded documents carry the government's campaign beside the organization's
    logo: only a verified, approved organization (or staff) makes them."""
    if account.is_staff:
        return None
    if account.role != ROLE_ORGANIZATION:
        return "audience"
    if not account.is_verified:
        return "verify"
    if not account.is_approved_organization:
        return "approval"
    return None


def citizen_refusal(account: Account) -> str | None:
    """The certificate and the profile frame: citizens with a confirmed address, staff."""
    if account.is_staff:
        return None
    if account.role != ROLE_CITIZEN:
        return "audience"
    return None if account.is_verified else "verify"


def refusal_page(refusal: str):
    from portal.auth.forms import EmptyForm

    if refusal == "verify":
        return render_template("auth/verify_needed.html", resend_form=EmptyForm()), 403
    if refusal == "approval":
        return render_template("auth/not_approved.html"), 403
    abort(403)
