"""What the background jobs do. Each task takes its job row and a ``Progress``.

A task returns the columns of its result (or nothing).

- ``prepare_posters``: render and store the co-branded documents of every organization
  that has a co-branding profile, so the first downloads of the week wait for nothing.
  A document whose render or storing fails is reported by its public id and left
  ``failed``: the next request for it, or the next run of the job, prepares it again.
- ``export_events``: the campaign's download events as a CSV file in storage, for
  exports too large to stream while a person waits.
"""
from __future__ import annotations

import os
import tempfile

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Account, BackgroundJob, Campaign, CobrandProfile, DownloadEvent
from portal.models.accounts import APPROVED
from portal.personalize.documents import DocumentUnavailable, document_for, ensure_ready
from portal.personalize.services import cobrand_data, personalizable_materials
from portal.reference import ROLE_ORGANIZATION
from portal.storage import get_storage


def organizations_to_prepare() -> list[tuple[Account, CobrandProfile]]:
    """Organizations that may print co-branded documents (verified, approved, not
    suspended) and have said what to print."""
    return list(db.session.execute(
        select(Account, CobrandProfile).join(CobrandProfile,
                                             CobrandProfile.account_id == Account.id)
        .where(Account.role == ROLE_ORGANIZATION, Account.approval == APPROVED,
               Account.email_verified_at.is_not(None), Account.suspended_at.is_(None))
        .order_by(Account.id)))


def prepare_posters(job: BackgroundJob, progress) -> None:
    organizations = organizations_to_prepare()
    materials = personalizable_materials(None)
    progress.start(len(organizations) * len(materials))
    for account, profile in organizations:
        for material in materials:
            document = document_for(account, material, cobrand_data(profile, material.language))
            try:
                ensure_ready(document)
            except DocumentUnavailable:
                progress.item_done(failed_item=document.public_id)
                continue
            progress.item_done()


def export_events(job: BackgroundJob, progress) -> dict:
    from portal.tracking.dashboard import csv_lines, event_rows

    campaign = db.session.get(Campaign, job.campaign_id)
    total = db.session.scalar(select(func.count()).select_from(DownloadEvent)
                              .where(DownloadEvent.campaign_id == campaign.id))
    progress.start(total)
    key = f"exports/{job.public_id}.csv"
    # Written to a temporary file first: storage receives the whole file or nothing.
    fd, path = tempfile.mkstemp(prefix="portal-export-", suffix=".csv")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            for number, line in enumerate(csv_lines(event_rows(campaign))):
                out.write(line)
                if number > 1:  # the BOM and the header are not events
                    progress.item_done()
        with open(path, "rb") as source:
            get_storage().put_file(key, source, "text/csv")
    finally:
        os.unlink(path)
    return {"result_key": key, "result_name": f"download-events-{campaign.year}.csv"}


TASKS = {"prepare_posters": prepare_posters, "export_events": export_events}
