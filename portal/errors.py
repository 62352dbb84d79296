"""Error pages in the portal's layout and language. No traceback ever reaches a page."""
from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from portal.storage import StorageError
from portal.tracking.events import TrackingError

log = logging.getLogger(__name__)

MESSAGES = {
    400: (_l("Request not understood"), _l("The request could not be understood. Check what you entered and try again.")),
    403: (_l("Access denied"), _l("Your account does not give access to this page or file.")),
    404: (_l("Page not found"), _l("This page does not exist or is no longer available.")),
    405: (_l("Method not allowed"), _l("This address does not accept this kind of request.")),
    413: (_l("File too large"), _l("What you sent is larger than the portal accepts.")),
    429: (_l("Too many attempts"), _l("Too many attempts in a short time. Wait a few minutes, then try again.")),
    500: (_l("Something went wrong"), _l("An unexpected error occurred. It has been noted; please try again later.")),
    503: (_l("Service unavailable"), _l("The portal cannot complete this request right now. Nothing was recorded; please try again in a few minutes.")),
}


def render_error(status: int, message=None):
    title, default = MESSAGES.get(status, MESSAGES[500])
    if request.accept_mimetypes.best == "application/json" or request.path.startswith("/api/"):
        return {"error": str(title), "status": status}, status
    return render_template("errors/error.html", status=status, title=title,
                           message=message or default), status


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if isinstance(exc, RequestEntityTooLarge):
            return render_error(413)
        if exc.code is None or exc.code < 400:
            return exc
        return render_error(exc.code if exc.code in MESSAGES else 400)

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return render_error(400, _l("The form expired or was sent from elsewhere. Reload the page and try again."))

    @app.errorhandler(TrackingError)
    @app.errorhandler(StorageError)
    @app.errorhandler(OperationalError)
    def unavailable(exc):
        log.error("service unavailable: %s", type(exc).__name__)
        _rollback()
        return render_error(503)

    @app.errorhandler(Exception)
    def unexpected(exc):
        log.exception("unhandled error on %s %s", request.method, request.path)
        _rollback()
        return render_error(500)


def _rollback():
    from portal.extensions import db

    try:
        db.session.rollback()
    except Exception:  # the database itself may be what failed
        pass
