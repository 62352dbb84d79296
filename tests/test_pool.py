"""Pooled database connections: pinged once they sat idle in the pool (``pool_pre_ping``),
not at every checkout, and replaced when the ping fails."""
from __future__ import annotations

from pathlib import Path

import pytest

from portal import create_app
from portal.extensions import db
from tests.conftest import settings_for_tests

# The apps here must use their own pools, not the test's shared connection (they only read).
pytestmark = pytest.mark.no_db_isolation


@pytest.fixture
def portal_with_pool(app, smtp_inbox):
    """A second app on the test database, with its own engine and pool."""
    made = []

    def make(**overrides):
        settings = settings_for_tests(Path(app.config["TEST_BASE"]),
                                      app.config["SQLALCHEMY_DATABASE_URI"], smtp_inbox[1])
        settings.update(overrides)
        portal = create_app(settings)
        made.append(portal)
        with portal.app_context():
            engine = db.engine
        return portal, engine

    yield make
    for portal in made:
        with portal.app_context():
            db.engine.dispose()


def count_pings(engine, monkeypatch, fail_first: bool = False) -> list:
    pings = []
    real_ping = engine.dialect.do_ping

    def ping(dbapi_connection):
        pings.append(dbapi_connection)
        if fail_first and len(pings) == 1:
            raise engine.dialect.loaded_dbapi.Error("server closed the connection")
        return real_ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", ping)
    return pings


def test_a_connection_back_from_a_request_a_moment_ago_is_not_pinged(portal_with_pool,
                                                                    monkeypatch):
    portal, engine = portal_with_pool()
    pings = count_pings(engine, monkeypatch)
    client = portal.test_client()
    for _ in range(3):
        assert client.get("/healthz").get_json()["database"] == "ok"
    assert pings == []


def test_an_idle_connection_is_pinged_and_replaced_when_its_ping_fails(portal_with_pool,
                                                                      monkeypatch):
    portal, engine = portal_with_pool(DATABASE_PING_AFTER_IDLE=0)
    client = portal.test_client()
    assert client.get("/healthz").status_code == 200  # the pool's first connection
    pings = count_pings(engine, monkeypatch, fail_first=True)
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.get_json()["database"] == "ok"
    # The connection that failed its ping was set aside; the request got another.
    assert len(pings) == 1
    assert client.get("/healthz").status_code == 200 and len(pings) == 2


def test_a_connection_the_server_closed_is_replaced_once_idle(portal_with_pool):
    portal, engine = portal_with_pool(DATABASE_PING_AFTER_IDLE=0)
    if engine.dialect.name != "postgresql":
        pytest.skip("needs a database server that can close a session")
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    with portal.app_context():
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
        db.session.rollback()
    admin = create_engine(engine.url, poolclass=NullPool)
    with admin.connect() as other:  # the server ends the pooled connection's session
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()
    answer = portal.test_client().get("/healthz")
    assert answer.status_code == 200 and answer.get_json()["database"] == "ok"
