"""CPU time of one download in one process, against `/livez`: prints `key: value` lines.

    .venv/bin/python bench/download_cpu.py [--requests 3000] [--rounds 3]

The load test (`bench/load.py`) measures the whole server, and its ratio moves with
whatever else the machine runs; this measures what a download itself costs the portal's
process. It sets up as the load test does (moto's S3 server in its own process, a fresh
PostgreSQL database `portal_cpu` on the server of PORTAL_DATABASE_URL, by default
postgresql://postgres@127.0.0.1:5432/test, dropped afterwards; `db upgrade`,
`import-materials`, one organization's session from `bench/load_sessions.py`), then calls the WSGI
app directly, with no server, for every material of the organizations' kit in turn, and
for `/livez`, in alternating rounds. It prints, per request, the process's CPU time and
the wall time (which adds the database's answer): `cpu.download_ms`, `cpu.bare_ms`,
`wall.download_ms`, `wall.bare_ms` (medians of the rounds), and `cpu.statements` (the
SQL statements one download sends to PostgreSQL, transaction control included).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import load  # noqa: E402  (the load test's set-up helpers)

DATABASE = "portal_cpu"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from sqlalchemy import create_engine, text

    from portal.config import normalize_database_url

    server = os.environ.get("PORTAL_DATABASE_URL", "")
    server = normalize_database_url(server if server.startswith("postgres")
                                    else load.DEFAULT_SERVER)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {DATABASE}"))
    workdir = Path(tempfile.mkdtemp(prefix="portal-cpu-"))
    moto, endpoint = load.start_moto(workdir)
    try:
        load.create_bucket(endpoint)
        figures = measure(server.rsplit("/", 1)[0] + "/" + DATABASE, endpoint, workdir,
                          args.requests, args.rounds)
    finally:
        load.stop(moto)
        shutil.rmtree(workdir, ignore_errors=True)
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        admin.dispose()
    for key, value in figures.items():
        print(f"{key}: {value}", flush=True)


def measure(database_url: str, endpoint: str, workdir: Path, requests: int,
            rounds: int) -> dict:
    env = load.portal_environment(database_url, endpoint, workdir)
    load.flask(env, "db", "upgrade")
    load.flask(env, "import-materials")
    cookie = load.command(env, "bench/load_sessions.py", "--role", "organization",
                          "--count", "1").split()[0]
    os.environ.update(env)
    from sqlalchemy import event
    from werkzeug.test import EnvironBuilder

    from bench.load_sessions import DEFAULT_USER_AGENT
    from portal.extensions import db
    from wsgi import app

    def environ(path: str) -> dict:
        return EnvironBuilder(path=path, environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers={
            "Cookie": f"session={cookie}", "User-Agent": DEFAULT_USER_AGENT}).get_environ()

    def call(prepared: dict) -> str:
        answered = []
        body = app(dict(prepared), lambda status, headers, exc=None: answered.append(status))
        for _ in body:
            pass
        body.close()
        return answered[0]

    downloads = [environ(path) for path in load.download_paths()["organization"]
                 if not path.endswith(".zip")]
    bare = environ("/livez")
    if {call(prepared) for prepared in downloads} != {"302 FOUND"}:
        raise SystemExit("a download did not answer with a redirect to the bucket")
    ran = []

    def seen(conn, cursor, statement, *args):
        ran.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", seen)
    call(downloads[0])
    event.remove(engine, "before_cursor_execute", seen)
    statements = len(ran) + 1  # and the COMMIT, which is no cursor statement

    def timed(prepared_list: list) -> tuple[float, float]:
        cpu, wall = time.process_time(), time.perf_counter()
        for number in range(requests):
            call(prepared_list[number % len(prepared_list)])
        return ((time.process_time() - cpu) / requests * 1000,
                (time.perf_counter() - wall) / requests * 1000)

    timed(downloads)  # warm-up: compiled statements, prepared on the server, signed URLs
    samples = {"download": [], "bare": []}
    for _ in range(rounds):
        samples["bare"].append(timed([bare]))
        samples["download"].append(timed(downloads))
    figures = {}
    for index, measure_name in enumerate(("cpu", "wall")):
        for kind in ("download", "bare"):
            figures[f"{measure_name}.{kind}_ms"] = round(
                statistics.median(sample[index] for sample in samples[kind]), 3)
    figures["cpu.statements"] = statements
    return figures


if __name__ == "__main__":
    main()
