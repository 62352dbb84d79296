"""Submitting a job: the row first, then an RQ queue (Redis) or the job pool.

With PORTAL_REDIS_URL set, jobs go to the RQ queue ``portal`` and run on a worker
(``flask --app wsgi worker``). Without Redis, or if Redis does not answer, the same job
runs in the bounded job pool of the server that received the request
(``portal.background``), so the embedded defaults keep working. Either way the request
only writes the job's row and returns.
"""
from __future__ import annotations

import logging
import os
import secrets

from flask import Flask, current_app

from portal.extensions import db
from portal.models import Account, BackgroundJob, Campaign

log = logging.getLogger(__name__)

QUEUE_NAME = "portal"
KINDS = ("prepare_posters", "export_events")
_connections: dict = {}


def redis_connection(url: str):
    """One Redis client per process and URL, made after any fork."""
    from redis import Redis

    key = (os.getpid(), url)
    if key not in _connections:
        _connections[key] = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10)
    return _connections[key]


def submit(kind: str, *, campaign: Campaign | None = None,
           account: Account | None = None) -> BackgroundJob:
    """Record a job and hand it to a runner; returns at once."""
    if kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r}")
    job = BackgroundJob(public_id=secrets.token_hex(16), kind=kind,
                        campaign_id=campaign.id if campaign else None,
                        requested_by=account.id if account else None)
    db.session.add(job)
    db.session.commit()
    app = current_app._get_current_object()
    if not _enqueue(app, job):
        job.runner = "thread"
        db.session.commit()
        _start_thread(app, job.id)
    return job


def _enqueue(app: Flask, job: BackgroundJob) -> bool:
    """Put the job on the RQ queue; False when there is no Redis or it does not answer."""
    url = app.config.get("REDIS_URL")
    if not url:
        return False
    from redis.exceptions import RedisError
    from rq import Queue

    job.runner = "rq"
    db.session.commit()
    try:
        queue = Queue(QUEUE_NAME, connection=redis_connection(url))
        # RQ's own limit is the backstop: the job stops itself at JOB_TIMEOUT.
        queue.enqueue_call("portal.jobs.runner.run_queued_job", args=(job.id,),
                           timeout=app.config["JOB_TIMEOUT"] + 60, result_ttl=3600,
                           failure_ttl=7 * 86400, job_id=f"portal-{job.public_id}")
        return True
    except RedisError as exc:
        log.warning("job queue unreachable (%s); job %s runs in a thread",
                    type(exc).__name__, job.public_id)
        return False


def _start_thread(app: Flask, job_id: int) -> None:
    from portal.background import pool

    pool("jobs", app).submit(_run_in_thread, app, job_id)


def _run_in_thread(app: Flask, job_id: int) -> None:
    from portal.jobs.runner import execute

    with app.app_context():
        try:
            execute(job_id)
        finally:
            db.session.remove()


def wait_for_threads(timeout: float = 60) -> bool:
    """Wait for the jobs handed to this app's job pool (commands, clean shutdown)."""
    from portal.background import pool

    return pool("jobs").wait(timeout)
