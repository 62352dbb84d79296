"""The Alembic migrations build the schema the models describe, on SQLite and PostgreSQL:
from an empty database, and from a database left at each earlier revision."""
from __future__ import annotations

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from portal import create_app
from portal.extensions import db
from tests.conftest import own_database

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


@pytest.fixture
def scratch_postgresql(tmp_path_factory):
    """An empty PostgreSQL database beside the test database, dropped afterwards."""
    with own_database(tmp_path_factory, "migration_check") as url:
        yield url


@needs_postgresql
@pytest.mark.parametrize("start", [None, *revisions()[:-1]])
def test_upgrade_postgresql_from_empty_and_each_earlier_revision(tmp_path, start,
                                                                 scratch_postgresql):
    assert upgrade_and_compare(scratch_postgresql, tmp_path, start) == []


def upgrade_a_season(url: str, tmp_path) -> None:
    """Campaigns, kits and rollups left by the revision before the season: after the
    upgrade each campaign has its season, each kit its account kinds, and the rollups
    are empty (to be counted again from the events under the season's rule)."""
    app = create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": url})
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade", "d859a70b5143"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO campaign (id, year, starts_on, ends_on, national_day, timezone, "
                "ordering_open) VALUES (1, 2027, '2027-03-01', '2027-03-07', '2027-03-04', "
                "'America/Montreal', true), (2, 2028, '2028-01-25', '2028-04-03', "
                "'2028-03-04', 'America/Montreal', true)"))
            for number, audience in enumerate(("everyone", "citizens", "organizations",
                                               "professionals")):
                connection.execute(text(
                    "INSERT INTO kit (id, slug, campaign_id, audience, position, title_fr, "
                    "title_en, description_fr, description_en, created_at) VALUES "
                    f"({number + 1}, 'kit-{number}', 1, '{audience}', {number}, 't', 't', "
                    "'d', 'd', '2027-01-01 00:00:00')"))
            connection.execute(text("INSERT INTO rollup_state (name, last_id) "
                                    "VALUES ('downloads', 42)"))
        db.engine.dispose()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        with db.engine.connect() as connection:
            seasons = connection.execute(text(
                "SELECT year, opens_on, closes_on FROM campaign ORDER BY year")).all()
            audiences = connection.execute(text(
                "SELECT slug, audience FROM kit ORDER BY slug")).all()
            states = connection.execute(text("SELECT count(*) FROM rollup_state")).scalar()
        db.engine.dispose()
    assert [(year, str(opens), str(closes)) for year, opens, closes in seasons] == [
        (2027, "2027-02-01", "2027-03-31"),
        (2028, "2028-01-25", "2028-04-03")]  # a week outside the defaults widens its season
    assert [tuple(row) for row in audiences] == [
        ("kit-0", "citizen organization"), ("kit-1", "citizen organization"),
        ("kit-2", "organization"), ("kit-3", "approved_organization")]
    assert states == 0


def test_the_season_upgrade_keeps_campaigns_and_kits_sqlite(tmp_path):
    upgrade_a_season(f"sqlite:///{tmp_path / 'season.db'}", tmp_path)


@needs_postgresql
def test_the_season_upgrade_keeps_campaigns_and_kits_postgresql(tmp_path, scratch_postgresql):
    upgrade_a_season(scratch_postgresql, tmp_path)
