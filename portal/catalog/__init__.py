"""The kit catalog: home page, kit pages, downloads."""
from flask import Blueprint

bp = Blueprint("catalog", __name__)

from portal.catalog import routes  # noqa: E402,F401
