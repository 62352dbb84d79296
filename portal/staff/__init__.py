"""Ministry staff: the staff home, publishing kits, the campaign dashboard, campaigns,
exports, background jobs, accounts (organizations to approve, suspensions, revoked
documents), the queue of orders of printed kits and the audit log."""
from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")

from portal.staff import accounts, jobs, orders, publishing, routes  # noqa: E402,F401
