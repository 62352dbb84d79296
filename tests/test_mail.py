"""Mail neither leaks nor gets lost: a bounded pool without Redis (nothing kept once
sent), the job queue with Redis (retried, deleted once sent), /healthz says whether a
worker takes the queue, and the product code has no switch for tests."""
from __future__ import annotations

import subprocess
import threading
import time

from rq import Queue, SimpleWorker

from portal.background import pool
from portal.config import PROJECT_ROOT
from portal.jobs import queue as job_queue
from tests.test_jobs import REDIS_URL, needs_redis


def reset_requests(client, account, count):
    for _ in range(count):
        assert client.post("/account/reset", data={"email": account.email}).status_code == 302


def test_mail_goes_through_a_bounded_pool_and_nothing_is_kept(app, client, citizen, outbox):
    import portal.mail

    reset_requests(client, citizen, 25)
    mail_threads = [t for t in threading.enumerate() if "mail" in t.name]
    assert len(mail_threads) <= app.config["MAIL_THREADS"]
    assert len(outbox) == 25  # every one sent
    assert pool("mail", app).wait(1)
    # No module-level list of threads or messages grows with every mail.
    assert not [name for name, value in vars(portal.mail).items()
                if isinstance(value, (list, dict, set)) and value
                and not name.startswith("__") and name != "BABEL_LOCALES"]


@needs_redis
def test_with_redis_mail_goes_through_the_queue_and_is_deleted_once_sent(
        app, client, citizen, outbox, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    connection = job_queue.redis_connection(REDIS_URL)
    queue = Queue(job_queue.QUEUE_NAME, connection=connection)
    queue.empty()
    reset_requests(client, citizen, 1)
    assert queue.count == 1 and len(outbox) == 0  # waiting for a worker
    job_id = queue.job_ids[0]
    SimpleWorker([queue], connection=connection).work(burst=True)
    assert len(outbox) == 1 and outbox[0]["To"] == citizen.email
    assert "/account/reset/" in outbox[0].get_body(("plain",)).get_content()
    assert queue.count == 0 and not connection.exists(f"rq:job:{job_id}")  # nothing kept


@needs_redis
def test_a_mail_that_fails_is_tried_again_by_the_queue(app, client, citizen, outbox,
                                                        monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    connection = job_queue.redis_connection(REDIS_URL)
    queue = Queue(job_queue.QUEUE_NAME, connection=connection)
    queue.empty()
    monkeypatch.setitem(app.config, "SMTP_URL", "smtp://127.0.0.1:9")  # the server is down
    reset_requests(client, citizen, 1)
    job = queue.jobs[0]
    SimpleWorker([queue], connection=connection).work(burst=True)
    job.refresh()
    assert job.retries_left == 4 and len(outbox) == 0  # scheduled again, not lost
    job.delete()


@needs_redis
def test_healthz_says_whether_a_worker_takes_the_queue(app, client, monkeypatch):
    assert client.get("/healthz").get_json()["worker"] == "off"
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    connection = job_queue.redis_connection(REDIS_URL)
    queue = Queue(job_queue.QUEUE_NAME, connection=connection)
    assert client.get("/healthz").get_json()["worker"] == "missing"
    worker = SimpleWorker([queue], connection=connection)
    worker.register_birth()
    try:
        assert client.get("/healthz").get_json()["worker"] == "ok"
    finally:
        worker.register_death()
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:9/0")
    assert client.get("/healthz").get_json()["worker"] == "unknown"


def test_the_product_code_has_no_switch_for_tests():
    found = subprocess.run(["grep", "-rnE", "JOBS_DEFER_THREADS|config\\.get\\(.TESTING",
                            "portal"], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert found.stdout == ""


def test_a_pool_waits_for_what_it_was_handed():
    from portal.background import Pool

    done = []
    bounded = Pool("test", 2)
    for number in range(6):
        bounded.submit(lambda n=number: (time.sleep(0.01), done.append(n)))
    assert bounded.wait(10) and sorted(done) == list(range(6))
    bounded.submit(lambda: 1 / 0)  # a failing task is logged, and the pool goes on
    assert bounded.wait(10)
