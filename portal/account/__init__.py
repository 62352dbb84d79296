"""The account holder's own page: their data, address and password changes, a copy of
their data (JSON) and the deletion of their account."""
from flask import Blueprint

bp = Blueprint("account", __name__, url_prefix="/account")

from portal.account import routes  # noqa: E402,F401
