"""Orders of printed kits: an approved organization's basket, its orders and their history.

Staff work through the queue in ``portal/staff/orders.py``; shipped copies are counted
apart from downloads (``portal/tracking/printed.py``)."""
from flask import Blueprint

bp = Blueprint("orders", __name__, url_prefix="/orders")

from portal.orders import routes  # noqa: E402,F401
