"""The Alembic migrations build the schema the models describe, on SQLite and PostgreSQL:
from an empty database, and from a database left at each earlier revision."""
from __future__ import annotations

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from portal import create_app
from portal.config import normalize_database_url
from portal.extensions import db

pytestmark = pytest.mark.no_db_isolation


def revisions() -> list[str]:
    """Every revision, oldest first."""
    from alembic.script import ScriptDirectory

    from portal.config import PROJECT_ROOT

    script = ScriptDirectory(str(PROJECT_ROOT / "migrations"))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def upgrade_and_compare(url: str, tmp_path, start: str | None = None) -> list:
    """Upgrade to ``start`` (an earlier revision) first if given, then to the head."""
    app = create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": url})
    runner = app.test_cli_runner()
    if start is not None:
        result = runner.invoke(args=["db", "upgrade", start])
        assert result.exit_code == 0, result.output
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection)
            differences = compare_metadata(context, db.metadata)
        downgrade = runner.invoke(args=["db", "downgrade", "base"])
        assert downgrade.exit_code == 0, downgrade.output
        db.engine.dispose()
    return differences


def test_upgrade_builds_an_empty_sqlite_database(tmp_path):
    assert upgrade_and_compare(f"sqlite:///{tmp_path / 'fresh.db'}", tmp_path) == []


@pytest.mark.parametrize("start", revisions()[:-1])
def test_upgrade_from_each_earlier_revision_sqlite(tmp_path, start):
    assert upgrade_and_compare(f"sqlite:///{tmp_path / 'old.db'}", tmp_path, start) == []


needs_postgresql = pytest.mark.skipif(
    not os.environ.get("PORTAL_TEST_DATABASE_URL", "").startswith("postgres"),
    reason="PostgreSQL runs set PORTAL_TEST_DATABASE_URL")


@needs_postgresql
@pytest.mark.parametrize("start", [None, *revisions()[:-1]])
def test_upgrade_postgresql_from_empty_and_each_earlier_revision(tmp_path, start):
    server = normalize_database_url(os.environ["PORTAL_TEST_DATABASE_URL"])
    # Named after the test database: runs on other test databases of the same server
    # (several worktrees at once) each have their own.
    name = "portal_migration_check_" + server.rsplit("/", 1)[1].split("?")[0]
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        url = server.rsplit("/", 1)[0] + "/" + name
        assert upgrade_and_compare(url, tmp_path, start) == []
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()
