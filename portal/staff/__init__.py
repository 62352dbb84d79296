"""Ministry staff's pages, every one of them: the staff home, publishing kits, the
campaign dashboard, campaigns, exports, background jobs, accounts (organizations to
approve, suspensions, revoked documents), the queue of orders of printed kits and the
audit log. One module per topic; the logic they call lives in the feature packages'
services (``publishing``, ``orders``, ``tracking``...), which hold no staff views.

Access is declared once, here, for the whole blueprint: signed in, and staff.
"""
from flask import Blueprint, abort
from flask_login import current_user, login_required

bp = Blueprint("staff", __name__, url_prefix="/staff")


@bp.before_request
@login_required
def staff_only():
    """Visitors are sent to sign in; every other kind of account gets a 403."""
    if not current_user.is_staff:
        abort(403)


from portal.staff import accounts, dashboard, home, jobs, orders, publishing  # noqa: E402,F401
