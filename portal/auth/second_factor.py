"""Staff second factor, set up out of band: a single-use link mailed by the CLI.

A password alone must not be enough to enrol a second factor: whoever stole it would
enrol their own phone. ``create-staff`` and ``reset-second-factor`` therefore give the
account a new pending secret, kept on the server only (``Account.totp_secret`` while
``totp_enabled_at`` is empty), and mail the staff member a link, bound to the account,
that works once and for ``LINK_LIFETIME``. Only that link shows the key; the sign-in page
of a staff member without a second factor says that the link was mailed, and nothing
more. Once the link is opened in the browser that has just given the password, that
browser's sign-in page also takes the first code (the session keeps the link's row id,
never the link or the secret). The command hands the mail to the mail server before it
returns.
"""
from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l

from portal.auth import tokens
from portal.auth.services import new_totp_secret
from portal.extensions import db
from portal.mail import render_mail, send_now
from portal.models import Account

PURPOSE = "second_factor"
LINK_LIFETIME = tokens.LIFETIMES[PURPOSE]


def issue_setup_link(account: Account) -> str:
    """A new pending secret and the token of the one link that shows it; the account's
    earlier links and any factor it had stop working."""
    if not account.is_staff:
        raise ValueError("only staff accounts have a second factor")
    tokens.void(account, PURPOSE)
    account.totp_secret = new_totp_secret()
    account.totp_enabled_at = None
    account.totp_last_step = None
    db.session.commit()
    return tokens.issue(account, PURPOSE)


def mail_setup_link(account: Account) -> None:
    """Issue a set-up link and hand its mail to the mail server now (``MailError`` if
    it could not be)."""
    token = issue_setup_link(account)
    path = current_app.url_map.bind("portal").build("auth.second_factor_setup",
                                                    {"token": token})
    hours = int(LINK_LIFETIME.total_seconds() // 3600)
    send_now(render_mail(account.email, "second_factor_setup", account.locale,
                         _l("Set up the second factor of your staff account"),
                         account=account, hours=hours,
                         link=current_app.config["PUBLIC_URL"] + path))


def pending_setup(token: str) -> tuple[Account, int] | None:
    """The staff account a good, unused set-up link names, while its factor is pending,
    and the id of the link's row."""
    row = tokens.peek(token, PURPOSE)
    account = _pending_account(row)
    return None if account is None else (account, row.id)


def pending_setup_by_row(row_id, account: Account) -> bool:
    """Whether the link row this browser opened (its id kept in the session, never the
    link or the secret) is still good for ``account``."""
    row = tokens.peek_row(row_id, PURPOSE)
    found = _pending_account(row)
    return found is not None and found.id == account.id


def _pending_account(row) -> Account | None:
    if row is None:
        return None
    account = db.session.get(Account, row.account_id)
    if account is None or not account.is_staff or not account.is_active or \
            account.totp_enabled_at is not None or not account.totp_secret:
        return None
    return account


def use_setup_link(row_id: int) -> bool:
    """The link is used up (once, even when two requests send it at the same instant)."""
    return tokens.redeem_row(row_id, PURPOSE)
