"""Language: French (Québec) by default, English too; the choice is remembered.

A visitor's choice lives in the session; an account's in its ``locale``. Formatting
helpers give sizes and dates in ``fr_CA`` or ``en_CA`` style.
"""
from __future__ import annotations

from datetime import UTC, date

from flask import Flask, has_request_context, request, session
from flask_babel import (
    format_date,
    format_decimal,
    format_time,
    gettext,
    refresh,
    to_user_timezone,
)
from flask_login import current_user

from portal.extensions import babel

LANGUAGES = ("fr", "en")
BABEL_LOCALES = {"fr": "fr_CA", "en": "en_CA"}


def current_language() -> str:
    """'fr' or 'en' for the current request."""
    if not has_request_context():
        return "fr"
    # Cached on the request itself (an app context, and so g, can outlive one request).
    cached = request.environ.get("portal.language")
    if cached:
        return cached
    language = "fr"
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        language = asked
    elif session.get("lang") in LANGUAGES:
        language = session["lang"]
    elif getattr(current_user, "is_authenticated", False) and current_user.locale in LANGUAGES:
        language = current_user.locale
    request.environ["portal.language"] = language
    return language


def select_locale() -> str:
    return BABEL_LOCALES[current_language()]


def human_size(size_bytes: int) -> str:
    """'4,2 Mo' in French, '4.2 MB' in English."""
    french = current_language() == "fr"
    units = ("o", "ko", "Mo", "Go") if french else ("B", "KB", "MB", "GB")
    value = float(size_bytes)
    for unit in units:
        if value < 1000 or unit == units[-1]:
            break
        value /= 1000
    pattern = "#,##0" if unit in units[:1] else "#,##0.0"
    return f"{format_decimal(value, format=pattern)}\u00a0{unit}"


def number(value) -> str:
    """A whole number in the page's style: '12 345' in French, '12,345' in English."""
    return format_decimal(value or 0)


def long_date(value) -> str:
    """'1er mars 2027' in French (the ordinal of the first of the month), 'March 1, 2027'.
    A date, or a date in ISO form (the public figures' JSON)."""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    text = format_date(value, format="long")
    if current_language() == "fr" and value.day == 1:
        text = "1er" + text[1:]
    return text


def datetime_local(value) -> str:
    """A stored UTC time shown in Montréal time, to the minute, in the page's style:
    '1er mars 2027 à 0 h 00', 'March 1, 2027 at 12:00 AM'."""
    local = to_user_timezone(value.replace(tzinfo=UTC) if value.tzinfo is None else value)
    # Québec writes hours unpadded in running text ("0 h 00", "7 h 30").
    pattern = "H 'h' mm" if current_language() == "fr" else "short"
    return gettext("%(day)s at %(time)s", day=long_date(local),
                   time=format_time(local, format=pattern))


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals.update(current_language=current_language)
    app.jinja_env.filters.update(human_size=human_size, long_date=long_date, number=number,
                           datetime_local=datetime_local)

    @app.before_request
    def remember_language_choice():
        # Flask-Babel caches the locale on the app context, which can span requests
        # (tests, CLI contexts): each request decides its language afresh.
        refresh()
        asked = request.args.get("lang")
        if asked in LANGUAGES and session.get("lang") != asked:
            session["lang"] = asked  # this page and the session, whatever the method
        # The account's stored language (that of its mails) follows the session's only on
        # a POST: a link from another site (GET /?lang=en) changes what this browser shows,
        # never the account; a POST carries the CSRF token, checked before this runs.
        chosen = session.get("lang")
        if request.method == "POST" and chosen in LANGUAGES and \
                getattr(current_user, "is_authenticated", False) and \
                current_user.locale != chosen:
            from portal.extensions import db

            current_user.locale = chosen
            db.session.commit()
