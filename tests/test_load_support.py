"""What the load test (`bench/load.py`) relies on: `/livez`, which touches no database,
and `flask load-sessions`, which mints signed-in sessions without the sign-in form."""
from __future__ import annotations

import pytest
from sqlalchemy import delete, event, func, select, update

from portal.cli_load import DEFAULT_USER_AGENT
from portal.extensions import db
from portal.models import Account, DownloadEvent, KitArchive


def test_livez_answers_without_touching_the_database(client, signed_in):
    signed_in("organization")  # a session cookie, as the load clients send
    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        response = client.get("/livez")
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert statements == []


def test_load_sessions_mints_working_sessions(app, runner):
    result = runner.invoke(args=["load-sessions", "--count", "2", "--role", "citizen"])
    assert result.exit_code == 0, result.output
    cookies = result.output.split()
    assert len(cookies) == 2 and len(set(cookies)) == 2
    accounts = list(db.session.scalars(select(Account).where(
        Account.email.like("load-%@load-test.invalid"))))
    assert {a.role for a in accounts} == {"citizen"} and all(a.region for a in accounts)
    client = app.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], cookies[0])
    response = client.get("/kits/trousse-citoyens/fiche-information/fr/download",
                          headers={"User-Agent": DEFAULT_USER_AGENT})
    assert response.status_code == 200
    # The session matches the client it was made for: it is not rewritten.
    assert "Set-Cookie" not in response.headers
    assert len(list(db.session.scalars(select(DownloadEvent)))) == 1


def test_load_sessions_refuses_production(app, runner, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_ENV", "production")
    result = runner.invoke(args=["load-sessions", "--count", "1"])
    assert result.exit_code != 0 and "--allow-production" in result.output
    assert db.session.scalars(select(Account).where(
        Account.email.like("load-%@load-test.invalid"))).first() is None


@pytest.mark.no_db_isolation
def test_a_download_commits_its_event_without_a_transaction_of_its_own(production_like_app):
    """Downloads run their statements in autocommit (no BEGIN, no COMMIT round trips): the
    event is committed when the answer leaves, and the connection goes back to the pool
    with ordinary transactions."""
    app = production_like_app
    with app.app_context():
        before = db.session.scalar(select(func.max(Account.id))) or 0
        archives_before = db.session.scalar(select(func.max(KitArchive.id))) or 0
        result = app.test_cli_runner().invoke(args=["load-sessions", "--count", "1",
                                                    "--role", "organization"])
    assert result.exit_code == 0, result.output
    client = app.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], result.output.split()[0])
    try:
        for path in ("/kits/trousse-organismes/affiche/fr/download",
                     "/kits/guide-professionnels/download.zip"):
            assert client.get(path, headers={"User-Agent": DEFAULT_USER_AGENT}).status_code \
                == 200
        with app.app_context():
            account = db.session.scalars(select(Account).where(Account.id > before)).one()
            with db.engine.connect() as other:  # committed: another connection sees them
                assert other.scalar(select(func.count()).select_from(DownloadEvent).where(
                    DownloadEvent.actor_id == account.actor_id)) == 2
            # Back in the pool, the connection has transactions again: this is undone.
            db.session.execute(update(Account).where(Account.id == account.id)
                               .values(display_name="changed"))
            db.session.rollback()
            assert db.session.get(Account, account.id).display_name != "changed"
    finally:
        with app.app_context():
            for account in db.session.scalars(select(Account).where(Account.id > before)):
                db.session.execute(delete(DownloadEvent).where(
                    DownloadEvent.actor_id == account.actor_id))
                db.session.delete(account)
            # The ZIP built here (first download of those versions) was committed too.
            db.session.execute(delete(KitArchive).where(KitArchive.id > archives_before))
            db.session.commit()


@pytest.mark.no_db_isolation
def test_a_download_whose_event_fails_in_autocommit_answers_503(production_like_app,
                                                                 monkeypatch):
    """The autocommit path runs on the DBAPI connection: a database error there still
    becomes the usual SQLAlchemy error, so no file goes out uncounted, and the pool's
    connection stays usable."""
    from sqlalchemy import text

    from portal.database import DirectStatement
    from portal.tracking import events

    app = production_like_app
    with app.app_context():
        before = db.session.scalar(select(func.max(Account.id))) or 0
        result = app.test_cli_runner().invoke(args=["load-sessions", "--count", "1",
                                                    "--role", "citizen"])
    assert result.exit_code == 0, result.output
    client = app.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], result.output.split()[0])
    path = "/kits/trousse-citoyens/fiche-information/fr/download"
    try:
        monkeypatch.setattr(events, "_INSERT", DirectStatement(
            lambda: text("INSERT INTO no_such_table (id) VALUES (1)")))
        answer = client.get(path, headers={"User-Agent": DEFAULT_USER_AGENT})
        assert answer.status_code == 503 and "Location" not in answer.headers
        monkeypatch.undo()
        assert client.get(path, headers={"User-Agent": DEFAULT_USER_AGENT}).status_code == 200
        with app.app_context():
            account = db.session.scalars(select(Account).where(Account.id > before)).one()
            assert db.session.scalar(select(func.count()).select_from(DownloadEvent).where(
                DownloadEvent.actor_id == account.actor_id)) == 1
    finally:
        with app.app_context():
            for account in db.session.scalars(select(Account).where(Account.id > before)):
                db.session.execute(delete(DownloadEvent).where(
                    DownloadEvent.actor_id == account.actor_id))
                db.session.delete(account)
            db.session.commit()
