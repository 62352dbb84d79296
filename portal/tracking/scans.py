"""QR scans: counted per document, with nothing personal kept.

A visitor is a hash of (the day's salt, the address, the user agent): enough to count
distinct scanners of a document in one day, and nothing more, because each day's salt
is deleted once the day is over (Plausible's method). No address is stored.
"""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from portal.clock import naive_utc_now, today_in_montreal
from portal.extensions import db
from portal.models import DailySalt, PersonalizedDocument, QrScan
from portal.tracking.robots import is_robot


def _salt_of_today():
    day = today_in_montreal()
    salt = db.session.get(DailySalt, day)
    if salt is None:
        db.session.add(DailySalt(day=day, salt=secrets.token_hex(32)))
        # Yesterday's salts go: their hashes can no longer be linked to anyone.
        db.session.execute(delete(DailySalt).where(DailySalt.day < day))
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
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
