"""Plain pages: help resources and about; and the health check."""
from flask import Blueprint, render_template

bp = Blueprint("pages", __name__)


@bp.get("/help")
def help_resources():
    return render_template("pages/help.html")


@bp.get("/about")
def about():
    return render_template("pages/about.html")
