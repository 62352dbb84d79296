"""QR scans: counted per document, with nothing personal kept.

A visitor is a hash of (the day's salt, the address, the user agent): enough to count
distinct scanners of a document in one day, and nothing more, because each day's salt
is deleted once the day is over (Plausible's method). No address is stored.
"""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from portal.clock import naive_utc_now, today_in_montreal
from portal.extensions import db
from portal.models import Account, DailySalt, PersonalizedDocument, QrScan
from portal.tracking.robots import is_robot


def _salt_of_today():
    """Today's salt, made by the first scan of the day. Two first scans at the same
    instant both insert with ON CONFLICT DO NOTHING and read back the one that won (an
    INSERT that failed on the key would abort the transaction and answer 500)."""
    day = today_in_montreal()
    salt = db.session.get(DailySalt, day)
    if salt is None:
        insert = (pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert)
        db.session.execute(insert(DailySalt).values(day=day, salt=secrets.token_hex(32))
                           .on_conflict_do_nothing(index_elements=["day"]))
        # Yesterday's salts go: their hashes can no longer be linked to anyone.
        db.session.execute(delete(DailySalt).where(DailySalt.day < day))
        db.session.commit()
        salt = db.session.get(DailySalt, day)
    return day, salt.salt


def record_scan(document: PersonalizedDocument, address: str | None,
                user_agent: str | None) -> QrScan:
    day, salt = _salt_of_today()
    visitor = hashlib.sha256(
        f"{salt}|{address or ''}|{user_agent or ''}".encode("utf-8", "replace")).hexdigest()
    scan = QrScan(document_id=document.id, occurred_at=naive_utc_now(), day=day,
                  visitor_hash=visitor, is_robot=is_robot(user_agent))
    db.session.add(scan)
    db.session.commit()
    return scan


def document_by_qr_token(token: str) -> PersonalizedDocument | None:
    return db.session.scalars(
        select(PersonalizedDocument).where(PersonalizedDocument.qr_token == token)).first()


def organization_shown(document: PersonalizedDocument) -> str | None:
    """The organization a QR landing page names: the one on the printed document, unless
    the document was revoked, its account deleted, or the account suspended (staff
    suspend an organization they no longer vouch for: its name must stop showing)."""
    import json

    if document.revoked_at is not None or document.account_id is None:
        return None
    account = db.session.get(Account, document.account_id)
    if account is None or not account.is_active:
        return None
    return json.loads(document.data_json).get("name")
