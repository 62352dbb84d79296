"""Ministry staff: the campaign dashboard, campaigns, exports, background jobs."""
from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")

from portal.staff import jobs, routes  # noqa: E402,F401
