"""The staff home: what waits for staff (organizations to approve, materials due for
review, kits lacking a language, scheduled publications)."""
from __future__ import annotations

from flask import render_template
from sqlalchemy import select

from portal.clock import naive_utc_now, today_in_montreal
from portal.extensions import db
from portal.models import Account
from portal.publishing import services
from portal.reference import ROLE_ORGANIZATION
from portal.staff import bp


@bp.get("/")
def home():
    now = naive_utc_now()
    pending = db.session.scalar(select(db.func.count()).select_from(Account).where(
        Account.role == ROLE_ORGANIZATION, Account.approval == "pending"))
    return render_template(
        "staff/home.html", due=services.due_for_review(today_in_montreal()),
        missing=services.kits_missing_a_language(), upcoming=services.upcoming_publications(now),
        pending_organizations=pending, today=today_in_montreal())
