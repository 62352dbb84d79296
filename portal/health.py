"""Health checks: `GET /healthz` (what the portal depends on) and `GET /livez` (the process).

`/healthz` gives the status word of the database, the storage and Redis, and whether an
RQ worker is seen on the queue, nothing more: 200 when the database and the storage
answer; 503 otherwise. Redis is optional (the portal works without it), so Redis down is
reported as "degraded", not as a failure. With Redis set, mail and jobs wait on its queue
for a worker (``flask --app wsgi worker``): ``worker`` is "ok" when one is registered,
"missing" when none is (mail is then not sent: alert on it), "off" without Redis.
No versions, hosts or error texts are shown.

`/livez` says only that the app process answers: it touches no database, storage or
Redis (a liveness probe must not fail because a dependency is down), which also makes
it the load test's bare endpoint (`bench/load.py`).
"""
from __future__ import annotations

import socket
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from portal.extensions import db
from portal.storage import get_storage

bp = Blueprint("health", __name__)


def _database() -> str:
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
        return "ok"
    except Exception:
        db.session.rollback()
        return "down"


def _storage() -> str:
    try:
        return "ok" if get_storage().ping() else "down"
    except Exception:
        return "down"


def _redis() -> str:
    url = current_app.config.get("REDIS_URL")
    if not url:
        return "off"
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379),
                                      timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            answer = connection.recv(64)
        return "ok" if answer.startswith((b"+PONG", b"-NOAUTH")) else "degraded"
    except OSError:
        return "degraded"


def _worker(redis_status: str) -> str:
    if redis_status == "off":
        return "off"
    if redis_status != "ok":
        return "unknown"
    from redis.exceptions import RedisError
    from rq import Queue, Worker

    from portal.jobs.queue import QUEUE_NAME, redis_connection

    connection = redis_connection(current_app.config["REDIS_URL"])
    try:
        seen = Worker.count(connection=connection,
                            queue=Queue(QUEUE_NAME, connection=connection))
    except RedisError:
        return "unknown"
    return "ok" if seen else "missing"


@bp.get("/healthz")
def healthz():
    status = {"database": _database(), "storage": _storage(), "redis": _redis()}
    status["worker"] = _worker(status["redis"])
    response = jsonify(status)
    response.status_code = 200 if status["database"] == status["storage"] == "ok" else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/livez")
def livez():
    response = jsonify(status="ok")
    response.headers["Cache-Control"] = "no-store"
    return response
