"""What the load test (`bench/load.py`) relies on: `/livez`, which touches no database,
and `bench/load_sessions.py`, which mints signed-in sessions without the sign-in form."""
from __future__ import annotations

from sqlalchemy import event, select

from bench.load_sessions import DEFAULT_USER_AGENT, make_sessions
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


def test_load_sessions_mints_working_sessions(app):
    cookies = make_sessions(app, 2, "citizen")
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


def test_load_sessions_refuses_production(tmp_path):
    import subprocess
    import sys

    from portal.config import PROJECT_ROOT

    env = {"PATH": "/usr/bin:/bin", "PORTAL_ENV": "production", "PORTAL_SECRET_KEY": "k" * 40,
           "PORTAL_DATABASE_URL": f"sqlite:///{tmp_path}/none.db",
           "PORTAL_STORAGE_PATH": str(tmp_path / "storage")}
    done = subprocess.run([sys.executable, "bench/load_sessions.py", "--count", "1"],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "--allow-production" in done.stderr + done.stdout
