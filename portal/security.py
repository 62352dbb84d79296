"""Security headers: a strict Content-Security-Policy (no inline script or style) and friends."""
from flask import Flask, abort, request
from werkzeug.routing import BaseConverter

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)


class SlugConverter(BaseConverter):
    """URL slugs: lowercase letters, digits and single hyphens, at most 80 characters.

    Anything else never reaches a view or the database (PostgreSQL, for one, refuses
    NUL characters in text and would turn a hostile URL into an error).
    """

    regex = r"[a-z0-9]{1,80}(?:-[a-z0-9]{1,80}){0,20}"


def _has_nul(values) -> bool:
    return any("\x00" in value for value in values if isinstance(value, str))


def refuse_nul_characters():
    """No text a person sends may carry a NUL character: refuse the request outright."""
    if "\x00" in request.path or _has_nul(request.args.values()):
        abort(400)
    if request.method in ("POST", "PUT", "PATCH") and _has_nul(request.form.values()):
        abort(400)


def init_app(app: Flask) -> None:
    app.url_map.converters["slug"] = SlugConverter
    app.before_request(refuse_nul_characters)

    @app.after_request
    def add_security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response


def upload_limit():
    """Decorator of the views that take uploads (logos, photos, staff files): each account
    may send ``PORTAL_UPLOAD_RATE_LIMIT`` of them across all those views; a request
    without a file does not count."""
    from portal.extensions import limiter
    from portal.privacy import account_or_address, sends_a_file, upload_rate_limit

    return limiter.shared_limit(upload_rate_limit, "uploads", key_func=account_or_address,
                                methods=["POST"], exempt_when=lambda: not sends_a_file())
