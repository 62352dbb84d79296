"""Single-use links sent by mail: verify an address, reset a password, set up a staff
member's second factor.

A link's token is signed and timed (itsdangerous, salted by purpose) and names a row of
``account_token`` with a random secret whose SHA-256 only is stored. It is good once:
redeeming marks the row used in the same UPDATE that checks it was not, so two clicks at
the same instant cannot both succeed. Expiry follows the portal's clock.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import update

from portal.clock import naive_utc_now
from portal.extensions import db
from portal.models import Account, AccountToken

LIFETIMES = {"verify": timedelta(days=3), "reset": timedelta(hours=2),
             "second_factor": timedelta(hours=24)}


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"portal-{purpose}")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue(account: Account, purpose: str, email: str | None = None) -> str:
    """A new link token for ``account``; ``email`` is the address a verify link confirms."""
    secret = secrets.token_urlsafe(24)
    row = AccountToken(account_id=account.id, purpose=purpose, secret_hash=_digest(secret),
                       email=email or account.email,
                       expires_at=naive_utc_now() + LIFETIMES[purpose])
    db.session.add(row)
    db.session.commit()
    return _serializer(purpose).dumps([row.id, secret])


def peek(token: str, purpose: str) -> AccountToken | None:
    """The token's row if it is good now, without using it (a form shown before use)."""
    row = _row(token, purpose)
    if row is None or row.used_at is not None or row.expires_at <= naive_utc_now():
        return None
    return row


def _row(token: str, purpose: str) -> AccountToken | None:
    if not token or len(token) > 300:
        return None
    try:
        row_id, secret = _serializer(purpose).loads(
            token, max_age=int(LIFETIMES[purpose].total_seconds()))
    except (BadData, ValueError, TypeError):
        return None
    if not isinstance(row_id, int) or not isinstance(secret, str):
        return None
    row = db.session.get(AccountToken, row_id)
    if row is None or row.purpose != purpose or \
            not hmac.compare_digest(row.secret_hash, _digest(secret)):
        return None
    return row


def redeem(token: str, purpose: str) -> AccountToken | None:
    """The token's row, now used; ``None`` if the token is forged, expired or used."""
    row = _row(token, purpose)
    if row is None or not redeem_row(row.id, purpose):
        return None
    db.session.refresh(row)
    return row


def peek_row(row_id: int, purpose: str) -> AccountToken | None:
    """A row the server itself remembered (never one named by a client alone), if its
    link is good now."""
    row = db.session.get(AccountToken, row_id) if isinstance(row_id, int) else None
    if row is None or row.purpose != purpose or row.used_at is not None or \
            row.expires_at <= naive_utc_now():
        return None
    return row


def redeem_row(row_id: int, purpose: str) -> bool:
    """Mark the row used, once: False if it was used, expired or is another purpose's."""
    now = naive_utc_now()
    used = db.session.execute(update(AccountToken).where(
        AccountToken.id == row_id, AccountToken.purpose == purpose,
        AccountToken.used_at.is_(None), AccountToken.expires_at > now).values(used_at=now))
    db.session.commit()
    return used.rowcount == 1


def void(account: Account, purpose: str) -> None:
    """Earlier links of this purpose stop working (a new one was sent, or no longer needed)."""
    db.session.execute(update(AccountToken).where(
        AccountToken.account_id == account.id, AccountToken.purpose == purpose,
        AccountToken.used_at.is_(None)).values(used_at=naive_utc_now()))
    db.session.commit()
