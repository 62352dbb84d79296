"""Ministry staff: the campaign dashboard, campaigns, exports, background jobs, accounts
(organizations to approve, suspensions, revoked documents) and the audit log."""
from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")

from portal.staff import accounts, jobs, routes  # noqa: E402,F401
