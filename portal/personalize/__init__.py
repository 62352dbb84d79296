"""Personalized documents: co-branded posters and flyers, certificates, profile frames."""
from flask import Blueprint

bp = Blueprint("personalize", __name__)

from portal.personalize import routes  # noqa: E402,F401
