"""Outgoing mail: SMTP when ``PORTAL_SMTP_URL`` is set, else the console and instance folder.

``PORTAL_SMTP_URL`` looks like ``smtp://user:password@host:587?starttls=1`` (STARTTLS),
``smtps://user:password@host:465`` (TLS from the start) or ``smtp://127.0.0.1:1025``.
Every mail has a plain-text part; an HTML part is added when a template gives one.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
import sys
import threading
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app, render_template
from flask_babel import force_locale

from portal.i18n import BABEL_LOCALES

log = logging.getLogger(__name__)


class MailError(RuntimeError):
    """The mail could not be handed to the mail server."""


def build_message(to: str, subject: str, text: str, html: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="portal.local")
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def _send_smtp(url: str, message: EmailMessage) -> None:
    parts = urlsplit(url)
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    timeout = float(options.get("timeout", 10))
    context = ssl.create_default_context()
    if options.get("verify") == "0":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        if parts.scheme == "smtps":
            client = smtplib.SMTP_SSL(parts.hostname, parts.port or 465, timeout=timeout,
                                      context=context)
        else:
            client = smtplib.SMTP(parts.hostname, parts.port or 25, timeout=timeout)
        with client:
            if parts.scheme == "smtp" and options.get("starttls") == "1":
                client.starttls(context=context)
            if parts.username:
                client.login(unquote(parts.username), unquote(parts.password or ""))
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(type(exc).__name__) from exc


def _send_console(message: EmailMessage) -> None:
    """Print the mail and keep a copy in the instance folder (the embedded default)."""
    folder = Path(current_app.config["MAIL_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns()}.eml"
    (folder / name).write_bytes(bytes(message))
    text = message.get_body(("plain",)).get_content()
    print(f"--- mail to {message['To']}: {message['Subject']} ({folder / name})\n{text}\n---",
          file=sys.stderr)


def send_mail(to: str, subject: str, text: str, html: str | None = None) -> None:
    message = build_message(to, subject, text, html)
    url = current_app.config.get("SMTP_URL")
    if url:
        _send_smtp(url, message)
    else:
        _send_console(message)


def send_template(to: str, template: str, language: str, subject: str, **context) -> None:
    """Render ``templates/mail/<template>.txt`` in the recipient's language and send it.

    ``subject`` is a lazy string so it is translated in that language too. The mail is
    rendered here and handed to the mail server by a background thread, so a page that
    sends a mail only sometimes (a reset asked for a registered address) answers in the
    same time as one that does not.
    """
    with force_locale(BABEL_LOCALES.get(language, "fr_CA")):
        from portal.layout import help_lines

        text = render_template(f"mail/{template}.txt", language=language,
                               help_lines=help_lines(language), **context)
        subject_text = str(subject)
    message = build_message(to, subject_text, text)
    app = current_app._get_current_object()

    def deliver():
        with app.app_context():
            try:
                url = app.config.get("SMTP_URL")
                if url:
                    _send_smtp(url, message)
                else:
                    _send_console(message)
            except MailError as exc:
                # Never tell the person on the page whether a mail went out (it would
                # reveal whether an address is registered); the operator sees the log.
                log.error("mail %s not sent: %s", template, exc)

    thread = threading.Thread(target=deliver, name=f"mail-{template}", daemon=True)
    with _lock:
        _pending.append(thread)
    thread.start()


_pending: list[threading.Thread] = []
_lock = threading.Lock()


def wait_for_mail(timeout: float = 30) -> None:
    """Wait until the mails handed to background threads have gone (tests, shutdown)."""
    while True:
        with _lock:
            if not _pending:
                return
            thread = _pending.pop(0)
        thread.join(timeout)
