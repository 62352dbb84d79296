"""The Alembic migrations build the schema the models describe, on SQLite and PostgreSQL."""
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


def upgrade_and_compare(url: str, tmp_path) -> list:
    app = create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": url})
    runner = app.test_cli_runner()
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


@pytest.mark.skipif(not (os.environ.get("PORTAL_TEST_DATABASE_URL", "").startswith("postgres")),
                    reason="PostgreSQL runs set PORTAL_TEST_DATABASE_URL")
def test_upgrade_builds_an_empty_postgresql_database(tmp_path):
    server = normalize_database_url(os.environ["PORTAL_TEST_DATABASE_URL"])
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("DROP DATABASE IF EXISTS portal_migration_check"))
        connection.execute(text("CREATE DATABASE portal_migration_check"))
    try:
        url = server.rsplit("/", 1)[0] + "/portal_migration_check"
        assert upgrade_and_compare(url, tmp_path) == []
    finally:
        with admin.connect() as connection:
            connection.execute(text("DROP DATABASE IF EXISTS portal_migration_check"))
        admin.dispose()
