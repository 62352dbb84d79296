"""What the load test (`bench/load.py`) relies on: `/livez`, which touches no database,
and `flask load-sessions`, which mints signed-in sessions without the sign-in form."""
from __future__ import annotations

from sqlalchemy import event, select

from portal.cli_load import DEFAULT_USER_AGENT
from portal.extensions import db
from portal.models import Account, DownloadEvent


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
