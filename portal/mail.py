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


def _send_console(message: EmailMessage, folder: str) -> None:
    """Print the mail and keep a copy in the instance folder (the embedded default)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns()}.eml"
    (folder / name).write_bytes(bytes(message))
    text = message.get_body(("plain",)).get_content()
    print(f"--- mail to {message['To']}: {message['Subject']} ({folder / name})\n{text}\n---",
          file=sys.stderr)


def render_mail(to: str, template: str, language: str, subject: str,
                **context) -> EmailMessage:
    """``templates/mail/<template>.txt`` rendered in the recipient's language.

    ``subject`` is a lazy string so it is translated in that language too. A mail greets
    the account's holder by name only at the account's confirmed address: anyone can
    register any address with any "name", which must not reach a stranger's mailbox."""
    account = context.get("account")
    greeting_name = (account.display_name if account is not None and account.is_verified
                     and to == account.email else None)
    with force_locale(BABEL_LOCALES.get(language, "fr_CA")):
        from portal.layout import help_lines

        text = render_template(f"mail/{template}.txt", language=language,
                               help_lines=help_lines(language), greeting_name=greeting_name,
                               **context)
        subject_text = str(subject)
    return build_message(to, subject_text, text)


def send_template(to: str, template: str, language: str, subject: str, **context) -> None:
    """Render a mail in the request and hand it over for sending after the answer.

    A page that sends a mail only sometimes (a reset asked for a registered address)
    thus answers in the same time as one that does not. With ``PORTAL_REDIS_URL`` the
    mail goes through the job queue (retried, kept across a worker restart, deleted once
    sent); otherwise, or while Redis does not answer, through the server's bounded mail
    pool (``portal.background``). Nothing keeps the message once it is sent.
    """
    message = render_mail(to, template, language, subject, **context)
    if not _enqueue(message, template):
        from portal.background import pool

        app = current_app._get_current_object()
        pool("mail").submit(_deliver_logged, _transport(app), message, template)


def send_now(message: EmailMessage) -> None:
    """Hand the mail to the mail server before returning (the CLI: a command must not
    exit before its mail went); ``MailError`` says it could not."""
    _deliver(_transport(current_app), message)


def _transport(app) -> dict:
    # What delivering needs, read in the request: the pool's thread has no app context.
    return {"smtp_url": app.config.get("SMTP_URL"), "folder": app.config["MAIL_FOLDER"]}


def _deliver(transport: dict, message: EmailMessage) -> None:
    if transport["smtp_url"]:
        _send_smtp(transport["smtp_url"], message)
    else:
        _send_console(message, transport["folder"])


def _deliver_logged(transport: dict, message: EmailMessage, template: str) -> None:
    try:
        _deliver(transport, message)
    except MailError as exc:
        # Never tell the person on the page whether a mail went out (it would reveal
        # whether an address is registered); the operator sees the log.
        log.error("mail %s not sent: %s", template, exc)


MAIL_RETRIES = (30, 120, 600, 1800, 3600)  # seconds before each new try on the queue


def _enqueue(message: EmailMessage, template: str) -> bool:
    """Put the mail on the RQ queue; False without Redis or when it does not answer."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return False
    from redis.exceptions import RedisError
    from rq import Queue, Retry

    from portal.jobs.queue import QUEUE_NAME, redis_connection

    try:
        Queue(QUEUE_NAME, connection=redis_connection(url)).enqueue_call(
            "portal.mail.deliver_queued", args=(bytes(message), template),
            retry=Retry(max=len(MAIL_RETRIES), interval=list(MAIL_RETRIES)),
            timeout=120,
            # Deleted from Redis once sent; a mail that failed every try is kept a day
            # for the operator (its links expire anyway).
            result_ttl=0, failure_ttl=86400)
        return True
    except RedisError as exc:
        log.warning("job queue unreachable (%s); mail %s goes through the server's pool",
                    type(exc).__name__, template)
        return False


def deliver_queued(data: bytes, template: str) -> None:
    """What an RQ worker runs for a mail: a failure raises, so RQ tries again later."""
    from email import message_from_bytes
    from email import policy as email_policy

    from portal.jobs.runner import in_worker_app

    message = message_from_bytes(data, policy=email_policy.default)

    def deliver():
        try:
            _deliver(_transport(current_app), message)
        except MailError:
            log.error("mail %s not sent; the queue tries again", template)
            raise

    in_worker_app(deliver)


def wait_for_mail(timeout: float = 30) -> bool:
    """Wait until the mails handed to this app's pool have gone (commands, shutdown)."""
    from portal.background import pool

    return pool("mail").wait(timeout)
