"""Background jobs: bulk poster preparation and large exports, on RQ (real Redis) or in a
server thread without it; progress, time limit, failures reported and retried."""
from __future__ import annotations

import csv
import io
import json
import os
import socket
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.jobs import queue as job_queue
from portal.jobs.queue import submit, wait_for_threads
from portal.jobs.runner import reap_stale_jobs
from portal.models import BackgroundJob, Campaign, PersonalizedDocument
from portal.personalize.services import personalizable_materials, save_profile
from portal.storage import StorageError, get_storage

REDIS_URL = "redis://127.0.0.1:6379/15"  # a database of its own: tests empty its queue


def redis_is_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


needs_redis = pytest.mark.skipif(not redis_is_up() and os.environ.get("CI") != "true",
                                 reason="Redis is not running on 127.0.0.1:6379")


@pytest.fixture
def campaign():
    return db.session.scalars(select(Campaign).order_by(Campaign.year.desc())).first()


@pytest.fixture
def organizations(make_account):
    """Two organizations with a co-branding profile, one without."""
    made = []
    for number in range(2):
        account = make_account("organization", display_name=f"Organisme {number}")
        save_profile(account, {"organization_name": f"Organisme {number}"}, None)
        made.append(account)
    make_account("organization", display_name="Sans profil")
    return made


def job(public_id: str) -> BackgroundJob:
    db.session.expire_all()
    return db.session.scalars(select(BackgroundJob)
                              .where(BackgroundJob.public_id == public_id)).one()


def run_in_thread(kind, campaign, account=None) -> BackgroundJob:
    started = submit(kind, campaign=campaign, account=account)
    assert started.runner == "thread"
    wait_for_threads()
    return job(started.public_id)


def test_prepare_posters_renders_every_organizations_documents(organizations, campaign):
    finished = run_in_thread("prepare_posters", campaign)
    materials = personalizable_materials(None)
    assert finished.status == "done" and finished.error is None
    assert finished.total == finished.done == 2 * len(materials) > 0
    documents = list(db.session.scalars(select(PersonalizedDocument)))
    assert len(documents) == 2 * len(materials)
    assert {d.account_id for d in documents} == {a.id for a in organizations}
    storage = get_storage()
    assert all(d.status == "ready" and storage.exists(d.storage_key) for d in documents)
    # Run again: nothing is rendered twice.
    again = run_in_thread("prepare_posters", campaign)
    assert again.status == "done"
    assert len(list(db.session.scalars(select(PersonalizedDocument)))) == len(documents)


def test_storage_failures_are_reported_and_prepared_again(organizations, campaign, monkeypatch):
    storage = get_storage()
    real_put = storage.put_bytes
    calls = []

    def flaky_put(key, data, content_type):
        calls.append(key)
        if len(calls) in (2, 3):  # the storage is down for the second and third document
            raise StorageError("connection refused")
        return real_put(key, data, content_type)

    monkeypatch.setattr(storage, "put_bytes", flaky_put)
    first = run_in_thread("prepare_posters", campaign)
    assert first.status == "done" and first.failed_items == 2
    failed = json.loads(first.failures)
    assert len(failed) == 2
    for document in db.session.scalars(select(PersonalizedDocument)):
        if document.public_id in failed:
            assert document.status == "failed" and document.storage_key is None
        else:
            assert document.status == "ready" and storage.exists(document.storage_key)
    retry = run_in_thread("prepare_posters", campaign)
    assert retry.status == "done" and retry.failed_items == 0
    assert {d.status for d in db.session.scalars(select(PersonalizedDocument))} == {"ready"}


def test_a_job_stops_at_its_time_limit(app, organizations, campaign, monkeypatch):
    monkeypatch.setitem(app.config, "JOB_TIMEOUT", 0)
    finished = run_in_thread("prepare_posters", campaign)
    assert finished.status == "failed" and finished.error == "time_limit"
    assert finished.done == 1 < finished.total


def test_export_job_writes_the_events_file(client, signed_in, make_account, login, campaign):
    signed_in("organization")
    for path in ("/kits/trousse-organismes/affiche/fr/download",
                 "/kits/trousse-organismes/download.zip"):
        assert client.get(path).status_code in (200, 302)
    staff = make_account("staff")
    login(staff)
    response = client.post("/staff/jobs", data={"kind": "export_events",
                                                "campaign": campaign.id})
    assert response.status_code == 302
    wait_for_threads()
    exported = db.session.scalars(select(BackgroundJob)).one()
    assert exported.status == "done" and exported.total == exported.done == 2
    status = client.get(f"/staff/jobs/{exported.public_id}.json").get_json()
    assert status["percent"] == 100 and status["status"] == "done"
    page = client.get("/staff/jobs").get_data(as_text=True)
    assert f"/staff/jobs/{exported.public_id}/result" in page
    result = client.get(f"/staff/jobs/{exported.public_id}/result")
    assert result.status_code == 200 and result.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(result.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "event_id" and len(rows) == 3
    assert "@" not in result.get_data(as_text=True)  # no email in the export


def test_job_pages_are_for_staff_only(client, signed_in):
    assert client.get("/staff/jobs").status_code == 302  # visitors sign in first
    signed_in("organization")
    assert client.get("/staff/jobs").status_code == 403
    assert client.post("/staff/jobs", data={"kind": "export_events",
                                            "campaign": 1}).status_code == 403


@pytest.mark.parametrize("data", [{"kind": "rm -rf", "campaign": "1"},
                                  {"kind": "export_events", "campaign": "x"},
                                  {"kind": "export_events", "campaign": "99999"}, {}])
def test_bad_job_requests_start_nothing(client, signed_in, data):
    signed_in("staff")
    response = client.post("/staff/jobs", data=data)
    assert response.status_code == 302
    assert db.session.scalars(select(BackgroundJob)).first() is None
    assert client.get("/staff/jobs/0123456789abcdef0123456789abcdef.json").status_code == 404


def test_a_job_whose_runner_died_is_marked_failed(app, campaign):
    from portal.clock import naive_utc_now

    stuck = BackgroundJob(public_id="f" * 32, kind="export_events", campaign_id=campaign.id,
                          status="running",
                          started_at=naive_utc_now() - timedelta(
                              seconds=app.config["JOB_TIMEOUT"] + 600))
    db.session.add(stuck)
    db.session.commit()
    reap_stale_jobs()
    assert job("f" * 32).status == "failed" and job("f" * 32).error == "time_limit"


@needs_redis
def test_with_redis_jobs_go_through_the_rq_queue(app, organizations, campaign, monkeypatch):
    from rq import Queue, SimpleWorker

    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    connection = job_queue.redis_connection(REDIS_URL)
    queue = Queue(job_queue.QUEUE_NAME, connection=connection)
    queue.empty()
    queued = submit("prepare_posters", campaign=campaign)
    assert queued.runner == "rq" and queued.status == "queued"
    assert queue.count == 1
    # What `flask --app wsgi worker --burst` runs, inside this test's app and transaction.
    SimpleWorker([queue], connection=connection).work(burst=True)
    finished = job(queued.public_id)
    assert finished.status == "done" and finished.done == finished.total > 0
    assert queue.count == 0


def test_redis_unreachable_falls_back_to_a_thread(app, organizations, campaign, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:9/0")
    finished = run_in_thread("prepare_posters", campaign)
    assert finished.status == "done"


def test_worker_command_needs_redis(runner, app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    result = runner.invoke(args=["worker", "--burst"])
    assert result.exit_code != 0 and "PORTAL_REDIS_URL" in result.output
