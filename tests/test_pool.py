"""Pooled database connections are checked before use (``pool_pre_ping``): one the
server closed is replaced, and the request that would have had it is served."""
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


def test_a_connection_the_server_closed_is_replaced_before_use(portal_with_pool):
    portal, engine = portal_with_pool()
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
