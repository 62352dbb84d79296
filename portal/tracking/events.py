"""The one function that records a download. Nothing else writes download events.

An event is committed before the file (or its redirect) is sent: if it cannot be
written, the download fails with ``TrackingError`` rather than going out uncounted.
"""
from __future__ import annotations

import logging
from functools import cache

from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError

from portal.clock import naive_utc_now
from portal.database import DirectStatement, loaded
from portal.extensions import db
from portal.models import Account, DownloadEvent, Kit, MaterialVersion
from portal.tracking.robots import is_robot

log = logging.getLogger(__name__)


class TrackingError(RuntimeError):
    """The download event could not be recorded; the download must not go out."""


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
