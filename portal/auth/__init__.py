"""Accounts: registration of organizations and citizens, sign-in and sign-out."""
from flask import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/account")

from portal.auth import routes  # noqa: E402,F401
