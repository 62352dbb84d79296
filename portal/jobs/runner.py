"""Running a job: status, progress and time limit on its row, whatever runs it."""
from __future__ import annotations

import json
import logging
import time
from datetime import timedelta

from flask import current_app, has_app_context
from sqlalchemy import select, update

from portal.clock import naive_utc_now
from portal.extensions import db
from portal.models import BackgroundJob

log = logging.getLogger(__name__)
_worker_app = None


class JobTimeLimit(RuntimeError):
    """The job ran past PORTAL_JOB_TIMEOUT; it stops between two items."""


class Progress:
    """Given to a task: it says how many items there are and reports each one done.

    Counts are kept here and written at most every half second (a job of thousands of
    items does not write thousands of times), and the time limit is checked at each item.
    """

    def __init__(self, job: BackgroundJob, deadline: float):
        self.job = job
        self.deadline = deadline
        self.total = self.done = 0
        self.failures: list[str] = []
        self._written = 0.0

    def start(self, total: int) -> None:
        self.total = total
        self.save()

    def item_done(self, failed_item: str | None = None) -> None:
        self.done += 1
        if failed_item is not None:
            self.failures.append(failed_item)
        if time.monotonic() - self._written > 0.5:
            self.save()
        if time.monotonic() > self.deadline:
            raise JobTimeLimit()

    def save(self, **final) -> None:
        """Write the counts (and, at the end, the outcome) to the job's row."""
        self._written = time.monotonic()
        db.session.execute(update(BackgroundJob).where(BackgroundJob.id == self.job.id).values(
            total=self.total, done=self.done, failed_items=len(self.failures),
            failures=json.dumps(self.failures[:500]) if self.failures else None, **final))
        db.session.commit()


def execute(job_id: int) -> None:
    """Run one job to its end; every outcome is written to its row, nothing escapes."""
    from portal.jobs.tasks import TASKS

    claimed = db.session.execute(
        update(BackgroundJob).where(BackgroundJob.id == job_id,
                                    BackgroundJob.status == "queued")
        .values(status="running", started_at=naive_utc_now()))
    db.session.commit()
    if claimed.rowcount != 1:
        return  # already run (a job delivered twice runs once)
    job = db.session.get(BackgroundJob, job_id)
    progress = Progress(job, time.monotonic() + current_app.config["JOB_TIMEOUT"])
    result = {}
    try:
        result = TASKS[job.kind](job, progress) or {}
        status, error = "done", None
    except JobTimeLimit:
        status, error = "failed", "time_limit"
    except Exception as exc:  # the job's row says it failed; the log says why
        log.exception("job %s (%s) failed", job.public_id, job.kind)
        status, error = "failed", _error_code(exc)
    db.session.rollback()
    progress.save(status=status, error=error, finished_at=naive_utc_now(), **result)


def _error_code(exc: Exception) -> str:
    from sqlalchemy.exc import SQLAlchemyError

    from portal.storage import StorageError

    if isinstance(exc, StorageError):
        return "storage"
    if isinstance(exc, SQLAlchemyError):
        return "database"
    return "error"


def run_queued_job(job_id: int) -> None:
    """The function RQ workers call for a job."""
    in_worker_app(execute, job_id)


def in_worker_app(task, *args) -> None:
    """Run ``task`` inside the worker command's app, or a new one (a bare ``rq worker``)."""
    if has_app_context():
        task(*args)
        return
    global _worker_app
    if _worker_app is None:
        from portal import create_app

        _worker_app = create_app()
    with _worker_app.app_context():
        try:
            task(*args)
        finally:
            db.session.remove()


def reap_stale_jobs() -> None:
    """Jobs whose runner died (a server restarted, a worker killed at RQ's limit) would
    say "running" forever: past the time limit and a margin, they are marked failed."""
    limit = naive_utc_now() - timedelta(seconds=current_app.config["JOB_TIMEOUT"] + 120)
    db.session.execute(update(BackgroundJob).where(
        BackgroundJob.status == "running", BackgroundJob.started_at < limit)
        .values(status="failed", error="time_limit", finished_at=naive_utc_now()))
    queued_limit = naive_utc_now() - timedelta(days=1)
    db.session.execute(update(BackgroundJob).where(
        BackgroundJob.status == "queued", BackgroundJob.created_at < queued_limit)
        .values(status="failed", error="not_started", finished_at=naive_utc_now()))
    db.session.commit()


def recent_jobs(limit: int = 20) -> list[BackgroundJob]:
    reap_stale_jobs()
    return list(db.session.scalars(select(BackgroundJob)
                                   .order_by(BackgroundJob.id.desc()).limit(limit)))
