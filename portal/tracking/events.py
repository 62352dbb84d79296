"""The one module that writes download events.

An event is committed before the file (or its redirect) is sent: if it cannot be
written, the download fails with ``TrackingError`` rather than going out uncounted.
``record_download`` records a download that was decided; ``recording_insert`` is the
same event as an INSERT a lookup can carry (on PostgreSQL, a material's download reads
its catalog entry and records its event in one statement, ``catalog.downloads``), and
``withdraw_download`` takes back such an event if the portal then refuses the download.
"""
from __future__ import annotations

import logging
from functools import cache

from sqlalchemy import Boolean, DateTime, bindparam, delete, false, insert, select
from sqlalchemy.exc import SQLAlchemyError

from portal.clock import naive_utc_now
from portal.database import DirectStatement, loaded
from portal.extensions import db
from portal.models import Account, DownloadEvent, Kit, MaterialVersion
from portal.tracking.robots import is_robot

log = logging.getLogger(__name__)


class TrackingError(RuntimeError):
    """The download event could not be recorded; the download must not go out."""


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
) -> DownloadEvent:
    """Write and commit exactly one download event for an answered download; return it.

    ``kit`` and ``material_version`` are the models or the plain facts a download reads
    (``catalog.downloads``): only their ids and the kit's campaign id are used.
    """
    if is_zip == (material_version is not None) and not personalized:
        raise ValueError("a download is either a kit ZIP or one material")
    values = _event_values(account, kit, material_version.id if material_version else None,
                           occurred_at=naive_utc_now(), personalized=personalized,
                           is_zip=is_zip, is_robot=is_robot(user_agent))
    try:
        # Alone in autocommit when the request's session has nothing under way (the
        # downloads); otherwise in the session's transaction, committed with it.
        rows, committed = _INSERT.execute(values)
        if not committed:
            db.session.commit()
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.error("download event not recorded: %s", type(exc).__name__)
        raise TrackingError("download event not recorded") from exc
    # The committed row, as an object outside the session (there is nothing left to flush).
    return loaded(DownloadEvent, {"id": rows[0][0], **values})


def _event_values(account, kit, material_version_id, *, occurred_at, personalized, is_zip,
                  is_robot) -> dict:
    """An event's columns: what it keeps of the account (never its id or address) and of
    the kit. ``account`` and ``kit`` are objects, or their columns in a query."""
    return {
        "occurred_at": occurred_at,
        "campaign_id": kit.campaign_id,
        "kit_id": kit.id,
        "material_version_id": material_version_id,
        "actor_id": account.actor_id,
        "account_type": account.role,
        "region": account.region,
        "organization_type": account.organization_type,
        "personalized": personalized,
        "is_zip": is_zip,
        "is_robot": is_robot,
    }


_COLUMNS = ("occurred_at", "campaign_id", "kit_id", "material_version_id", "actor_id",
            "account_type", "region", "organization_type", "personalized", "is_zip",
            "is_robot")


@cache
def _insert_statement():
    # One plain INSERT, built once per process: the ORM's unit of work (a flush per event)
    # and composing the statement anew would cost more CPU than the INSERT itself.
    table = DownloadEvent.__table__
    return insert(table).returning(table.c.id)


_INSERT = DirectStatement(_insert_statement, column_keys=_COLUMNS)


def recording_insert(account, kit, material_version_id, allowed):
    """The event of one material's download as ``INSERT ... SELECT ... WHERE allowed
    RETURNING id``, from a lookup's columns: ``account`` and ``kit`` carry them as
    attributes, as ``record_download``'s objects do. The statement's parameters are the
    lookup's ``now`` (the event's moment) and those of ``recording_parameters``; a row,
    and so an event, is made only where ``allowed`` holds."""
    table = DownloadEvent.__table__
    values = _event_values(account, kit, material_version_id,
                           occurred_at=bindparam("now", type_=DateTime()),
                           personalized=false(), is_zip=false(),
                           is_robot=bindparam("is_robot", type_=Boolean()))
    return (insert(table)
            .from_select(list(_COLUMNS), select(*(values[name] for name in _COLUMNS))
                         .where(allowed))
            .returning(table.c.id))


def recording_parameters(user_agent: str | None) -> dict:
    """What ``recording_insert`` needs besides the lookup's own parameters."""
    return {"is_robot": is_robot(user_agent)}


def withdraw_download(event_id: int, why: str) -> None:
    """Delete an event a lookup recorded for a download that then did not go out: the
    portal refused it (its rules and the statement's are held to one answer by
    ``tests/test_download_rules.py``, so this should never be), or its answer failed."""
    log.error("download event %s withdrawn: %s", event_id, why)
    _, committed = _WITHDRAW.execute({"event_id": event_id})
    if not committed:
        db.session.commit()


_WITHDRAW = DirectStatement(lambda: delete(DownloadEvent.__table__).where(
    DownloadEvent.__table__.c.id == bindparam("event_id")))
