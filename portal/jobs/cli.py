"""``flask --app wsgi worker``: run the RQ jobs of the queue ``portal`` (needs Redis)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@with_appcontext
def worker_command(burst: bool):
    """Run background jobs from Redis (bulk poster preparation, large exports)."""
    from rq import SimpleWorker

    from portal.jobs.queue import QUEUE_NAME, redis_connection

    url = current_app.config.get("REDIS_URL")
    if not url:
        raise click.ClickException(
            "PORTAL_REDIS_URL is not set: jobs run in the app server's threads, "
            "no worker is needed.")
    # SimpleWorker runs each job in this process, inside this app: one database pool
    # and one storage client, no fork; PDF renders already run in their own process.
    worker = SimpleWorker([QUEUE_NAME], connection=redis_connection(url))
    worker.work(burst=burst)
