"""The one module that writes download events.

A download is recorded here, through ``record_download``, once its answer is ready (the
file opened, or its redirect signed), and the event is committed before the answer
leaves: if it cannot be written, the download fails with ``TrackingError`` rather than
going out uncounted.

Events are never updated or deleted afterwards. The rollups catch up from the last event
id they read, a rebuilt rollup and last year's figures are counted again from these rows,
so an event changed or removed after it was written would make the figures lie. The one
exception is an account's deletion (``auth.account_data``), which re-points its events to
a new anonymous actor id: the downloads stay counted, the person is no longer named.
There is no purge of events, and none is to be added; ``tests/test_download_path.py`` checks
that no other code issues an UPDATE or DELETE on this table.
"""
from __future__ import annotations

import logging
from functools import cache

from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError

from portal.clock import naive_utc_now
from portal.extensions import db
from portal.models import Account, DownloadEvent, Kit, MaterialVersion
from portal.tracking.robots import is_robot

log = logging.getLogger(__name__)


class TrackingError(RuntimeError):
    """The download event could not be recorded; the download must not go out."""


@cache
def _insert_statement():
    # A Core INSERT on the table, built once: nothing is loaded back, so the ORM's unit of
    # work and its bulk-insert machinery (most of a download's CPU when used) add nothing.
    table = DownloadEvent.__table__
    return insert(table).returning(table.c.id)


def request_records_a_download(request) -> bool:
    """Whether this request for a file, if answered, is a download to record: a GET (HEAD
    sends no file) that asks for the whole file or for a part starting at byte 0. A
    ``Range`` starting further on (a resumed download, or a script asking for one byte
    again and again) is answered but not recorded: the download it continues already
    was. A ``Range`` header that cannot be read is ignored by the answer too (the whole
    file goes out), so it is recorded."""
    if request.method != "GET":
        return False
    if "Range" not in request.headers or request.range is None:
        return True
    first_start = request.range.ranges[0][0] if request.range.ranges else 0
    return first_start == 0


def record_download(
    account: Account,
    kit: Kit,
    *,
    material_version: MaterialVersion | None = None,
    personalized: bool = False,
    is_zip: bool = False,
    user_agent: str | None = None,
) -> int:
    """Write and commit exactly one download event for an answered download; its id.

    The event keeps what the figures need of the account (its opaque actor id, kind,
    region and organization type: never its id or address) and of the kit.
    """
    if is_zip == (material_version is not None) and not personalized:
        raise ValueError("a download is either a kit ZIP or one material")
    values = {
        "occurred_at": naive_utc_now(),
        "campaign_id": kit.campaign_id,
        "kit_id": kit.id,
        "material_version_id": material_version.id if material_version else None,
        "actor_id": account.actor_id,
        "account_type": account.role,
        "region": account.region,
        "organization_type": account.organization_type,
        "personalized": personalized,
        "is_zip": is_zip,
        "is_robot": is_robot(user_agent),
    }
    try:
        event_id = db.session.execute(_insert_statement(), values).scalar_one()
        db.session.commit()
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.error("download event not recorded: %s", type(exc).__name__)
        raise TrackingError("download event not recorded") from exc
    return event_id
