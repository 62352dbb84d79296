"""Load test of the download path under gunicorn: prints `key: value` lines.

    .venv/bin/python bench/load.py [--backend both|sqlite|postgresql] [--requests 5000]
                                   [--clients 64] [--rounds 5]

For each database (SQLite in a temporary folder; PostgreSQL in a fresh database
`portal_load` on the server of PORTAL_DATABASE_URL, by default
postgresql://postgres@127.0.0.1:5432/test, dropped afterwards) it starts moto's S3 server
(its own process) and the portal under gunicorn with `gunicorn.conf.py` but 2 workers, on
a free loopback port, with S3 storage, so a download answers with a redirect to its
presigned URL (which the clients do not follow). It builds the database with
`flask db upgrade` and `flask import-materials`, makes its signed-in accounts with
`bench/load_sessions.py` (half organizations, half citizens; no sign-in form, so no sign-in
rate limit), warms both workers up (first ZIP of each kit, the S3 client), deletes the
warm-up's events, then measures, in rounds that alternate (5 by default, so other work on
the machine weighs on both alike):

- `load.bare_rps`: the clients asking N times in all for `/livez`, which touches no
  database;
- `load.download_rps`: the clients asking N times for a download (every material the
  account's role may have, in both languages, and each kit's ZIP), all expected to be 302
  redirects to the bucket;
- `load.events`: download events in the database right after the last answer (counted,
  like every check, before the server stops), which must equal `load.requests`, item by
  item; `load.lost` = answered downloads without their event (must be 0);
- `load.errors_5xx` (must be 0) and `load.ratio` = download_rps / bare_rps.

The portal's per-account download limit (PORTAL_DOWNLOAD_RATE_LIMIT, 60 a minute by
default) is raised to a million a minute for the run: the simulated accounts download far
more than a person may. The limiter's check still runs on every download, so its cost is
measured.

The clients are asyncio connections speaking HTTP/1.1 with keep-alive from this one
process, light enough not to be the bottleneck; each keeps one request in flight. The
PostgreSQL figures carry a `_pg` suffix. Target: `load.ratio_pg` >= 0.3. The exit status
is 1 when a check fails (the server's log is kept and named on stderr).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
LOAD_DATABASE = "portal_load"
BUCKET = "portal-load"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, seconds: float, process: subprocess.Popen | None = None) -> None:
    """Until ``url`` answers 200 (any answer at all when ``process`` is moto)."""
    deadline = time.monotonic() + seconds
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {seconds} s")
        time.sleep(0.2)


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=35)  # gunicorn's graceful_timeout is 30 s
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_moto(workdir: Path) -> tuple[subprocess.Popen, str]:
    """moto's S3 server in its own process, so it takes no time from the clients' GIL."""
    port = free_port()
    log = (workdir / "moto.log").open("wb")
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    wait_for(endpoint + "/moto-api/", 30, process)
    return process, endpoint


def portal_environment(database_url: str, s3_endpoint: str, workdir: Path) -> dict:
    """The environment of the portal's commands and server: nothing inherited that counts."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PORTAL_", "AWS_", "GUNICORN_"))}
    env.update({
        "PORTAL_ENV": "development",
        # The same key for `load_sessions.py` and the server: it signs the session cookies.
        "PORTAL_SECRET_KEY": secrets.token_urlsafe(32),
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_STORAGE": "s3",
        "PORTAL_S3_BUCKET": BUCKET,
        "PORTAL_S3_ENDPOINT_URL": s3_endpoint,
        "PORTAL_S3_REGION": "us-east-1",
        "PORTAL_STORAGE_PATH": str(workdir / "storage"),
        "PORTAL_MAIL_FOLDER": str(workdir / "mail"),
        # Each simulated account downloads far more than a person may (60 a minute by
        # default): the per-account download limit is raised here, or the run would
        # measure 429 answers. The daily cap on counted downloads does not matter here:
        # the test checks the recorded events, not the figures.
        "PORTAL_DOWNLOAD_RATE_LIMIT": "1000000 per minute",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        # No shared AWS files from the home folder: the two variables above are the chain.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    })
    return env


def create_bucket(endpoint: str) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    try:
        client.create_bucket(Bucket=BUCKET)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass


def flask(env: dict, *args: str) -> str:
    return command(env, "-m", "flask", "--app", "wsgi", *args)


def command(env: dict, *args: str) -> str:
    """What ``python ARGS`` prints, run in the portal's folder with ``env``."""
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def download_paths() -> dict[str, list[str]]:
    """Every download each role may make: each material in each language, each kit's ZIP."""
    import yaml

    from portal.reference import ROLE_CITIZEN, ROLE_ORGANIZATION, roles_in

    manifest = yaml.safe_load((ROOT / "materials" / "manifest.yaml").read_text("utf-8"))
    paths = {ROLE_ORGANIZATION: [], ROLE_CITIZEN: []}
    for kit in manifest["kits"]:
        for role, listed in paths.items():
            if role not in roles_in(kit["audience"]):
                continue
            for material in kit["materials"]:
                for language in sorted(material["source"]):
                    listed.append(f"/kits/{kit['slug']}/{material['slug']}/{language}/download")
            listed.append(f"/kits/{kit['slug']}/download.zip")
    return paths


# -- The clients ------------------------------------------------------------------------


class Tally:
    """What a phase's answers were."""

    def __init__(self, total: int, expected_status: int, location_prefix: bytes | None):
        self.remaining = total
        self.expected_status = expected_status
        self.location_prefix = location_prefix
        self.statuses: Counter = Counter()
        self.answered_paths: Counter = Counter()  # answered as expected, by path
        self.unexpected = 0  # wrong status or wrong redirect target
        self.broken = 0  # connection lost with a request in flight: its fate is unknown
        self.running = 0
        self.finished = asyncio.get_running_loop().create_future()

    def connection_done(self) -> None:
        self.running -= 1
        if self.running == 0 and not self.finished.done():
            self.finished.set_result(None)


class Client(asyncio.Protocol):
    """One keep-alive connection with one request in flight; the next when it is answered."""

    def __init__(self, tally: Tally, requests: list[tuple[str, bytes]], offset: int):
        self.tally = tally
        self.requests = requests
        self.index = offset
        self.buffer = bytearray()
        self.in_flight: str | None = None
        self.transport = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def start(self) -> None:
        self.tally.running += 1
        self.send_next()

    def send_next(self) -> None:
        if self.tally.remaining <= 0:
            self.in_flight = None
            self.tally.connection_done()
            self.transport.close()
            return
        self.tally.remaining -= 1
        path, raw = self.requests[self.index % len(self.requests)]
        self.index += 1
        self.in_flight = path
        self.transport.write(raw)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end]).lower()
            start = head.find(b"\r\ncontent-length:")
            length = 0
            if start >= 0:
                stop_at = head.find(b"\r\n", start + 2)
                length = int(head[start + 17:stop_at if stop_at > 0 else None])
            if len(buffer) < end + 4 + length:
                return
            del buffer[:end + 4 + length]
            self.answered(int(head[9:12]), head)

    def answered(self, status: int, head: bytes) -> None:
        tally = self.tally
        tally.statuses[status] += 1
        ok = status == tally.expected_status
        if ok and tally.location_prefix is not None:
            at = head.find(b"\r\nlocation: ")
            ok = (at >= 0 and head.startswith(tally.location_prefix, at + 12)
                  and b"x-amz-signature=" in head)
        if ok:
            tally.answered_paths[self.in_flight] += 1
        else:
            tally.unexpected += 1
        if b"\r\nconnection: close" in head:
            # The server ends this connection after this answer: the rest goes on a new one.
            self.in_flight = None
            self.tally.connection_done()
            self.transport.close()
            return
        self.send_next()

    def connection_lost(self, exc) -> None:
        if self.in_flight is not None:
            self.tally.broken += 1
            self.in_flight = None
            self.tally.connection_done()
        if not self.closed.done():
            self.closed.set_result(None)


def request_bytes(port: int, path: str, cookie: str, user_agent: str) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: {user_agent}\r\n"
            f"Accept: */*\r\nCookie: session={cookie}\r\n\r\n").encode("ascii")


async def _phase(port: int, plans: list[list[tuple[str, bytes]]], total: int,
                 expected_status: int, location_prefix: bytes | None) -> tuple[Tally, float]:
    loop = asyncio.get_running_loop()
    tally = Tally(total, expected_status, location_prefix)
    clients = []
    for number, plan in enumerate(plans):
        _, client = await loop.create_connection(
            lambda plan=plan, number=number: Client(tally, plan, number), "127.0.0.1", port)
        clients.append(client)
    start = time.perf_counter()
    for client in clients:
        client.start()
    await asyncio.wait_for(tally.finished, timeout=600)
    elapsed = time.perf_counter() - start
    for client in clients:
        client.transport.close()
    await asyncio.gather(*(client.closed for client in clients))
    return tally, elapsed


def phase(port: int, plans, total: int, expected_status: int,
          location_prefix: bytes | None = None) -> tuple[Tally, float, float]:
    """Run ``total`` requests over one connection per plan: the answers, the seconds they
    took and the CPU seconds this process (the clients) spent meanwhile."""
    cpu = time.process_time()
    tally, elapsed = asyncio.run(_phase(port, plans, total, expected_status, location_prefix))
    return tally, elapsed, time.process_time() - cpu


class Totals:
    """The answers and times of several rounds of one kind of request."""

    def __init__(self):
        self.statuses, self.answered_paths = Counter(), Counter()
        self.unexpected = self.broken = 0
        self.seconds = self.cpu = 0.0

    def add(self, tally: Tally, seconds: float, cpu: float) -> None:
        self.statuses += tally.statuses
        self.answered_paths += tally.answered_paths
        self.unexpected += tally.unexpected
        self.broken += tally.broken
        self.seconds += seconds
        self.cpu += cpu


# -- One backend ------------------------------------------------------------------------


def count_events(url: str) -> Counter:
    """The download events in the database, by the path that asked for them."""
    from sqlalchemy import create_engine, text

    from portal.config import normalize_database_url

    engine = create_engine(normalize_database_url(url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT k.slug, m.slug, m.language, e.is_zip, count(*) FROM download_event e"
                " JOIN kit k ON k.id = e.kit_id"
                " LEFT JOIN material_version v ON v.id = e.material_version_id"
                " LEFT JOIN material m ON m.id = v.material_id"
                " GROUP BY k.slug, m.slug, m.language, e.is_zip")).all()
    finally:
        engine.dispose()
    counted = Counter()
    for kit, material, language, is_zip, count in rows:
        path = (f"/kits/{kit}/download.zip" if is_zip
                else f"/kits/{kit}/{material}/{language}/download")
        counted[path] += count
    return counted


def delete_events(url: str) -> None:
    """Delete the warm-up's events, then let the database settle (no autovacuum of those
    rows or checkpoint of their pages in the middle of the measurement)."""
    from sqlalchemy import create_engine, text

    from portal.config import normalize_database_url

    engine = create_engine(normalize_database_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("DELETE FROM download_event"))
            if engine.dialect.name == "postgresql":
                connection.execute(text("VACUUM ANALYZE download_event"))
                try:
                    connection.execute(text("CHECKPOINT"))
                except Exception:  # not a superuser: autovacuum did the rest
                    pass
            else:
                connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    finally:
        engine.dispose()


def run(database_url: str, s3_endpoint: str, requests: int, clients: int, rounds: int,
        suffix: str, workdir: Path) -> tuple[dict, list[str]]:
    from bench.load_sessions import DEFAULT_USER_AGENT

    load_before = os.getloadavg()[0]
    env = portal_environment(database_url, s3_endpoint, workdir)
    flask(env, "db", "upgrade")
    flask(env, "import-materials")
    paths = download_paths()
    roles = sorted(paths)
    cookies = {role: command(env, "bench/load_sessions.py", "--role", role,
                             "--count", str(-(-clients // len(roles)))).split()
               for role in roles}
    port = free_port()
    log = (workdir / f"gunicorn{suffix}.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "-w", "2",
         "-b", f"127.0.0.1:{port}", "wsgi:app"], cwd=ROOT, env=env, stdout=log,
        stderr=subprocess.STDOUT)
    problems = []
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", 60, server)
        # Client i is the i-th account of its role; roles alternate over the clients.
        download_plans, bare_plans = [], []
        for number in range(clients):
            role = roles[number % len(roles)]
            cookie = cookies[role][number // len(roles)]
            download_plans.append([(p, request_bytes(port, p, cookie, DEFAULT_USER_AGENT))
                                   for p in paths[role]])
            bare_plans.append([("/livez", request_bytes(port, "/livez", cookie,
                                                        DEFAULT_USER_AGENT))])
        redirect_prefix = (s3_endpoint.lower() + "/" + BUCKET + "/").encode()
        # Warm-up: each kit's first ZIP on one connection (one build, no race), then both
        # workers busy for a while (their S3 client, compiled queries); its events are
        # then deleted, so the database holds only the measured downloads.
        warm = max(1000, clients * 10)
        for plans, total, status in (
                *(([plan], len(plan), 302) for plan in download_plans[:len(roles)]),
                (download_plans, warm, 302), (bare_plans, warm, 200)):
            tally, _, _ = phase(port, plans, total, status,
                                redirect_prefix if status == 302 else None)
            if tally.unexpected or tally.broken:
                raise RuntimeError(f"warm-up answers: {dict(tally.statuses)}; see {log.name}")
        delete_events(database_url)

        # Bare and download rounds alternate, so a change in what else the machine does
        # weighs on both figures alike rather than on one.
        bare, down = Totals(), Totals()
        for number in range(rounds):
            share = requests // rounds + (number < requests % rounds)
            bare.add(*phase(port, bare_plans, share, 200))
            down.add(*phase(port, download_plans, share, 302, redirect_prefix))
        counted = count_events(database_url)  # before the server stops: no grace period
    finally:
        stop(server)
        log.close()
    events = sum(counted.values())
    answered = sum(down.answered_paths.values())
    figures = {
        f"load.requests{suffix}": sum(down.statuses.values()),
        f"load.events{suffix}": events,
        # Answered downloads whose event is not in the database, path by path.
        f"load.lost{suffix}": sum((down.answered_paths - counted).values()),
        f"load.errors_5xx{suffix}": sum(n for s, n in (down.statuses + bare.statuses).items()
                                        if s >= 500),
        f"load.download_rps{suffix}": round(requests / down.seconds),
        f"load.bare_rps{suffix}": round(requests / bare.seconds),
        f"load.ratio{suffix}": round(bare.seconds / down.seconds, 3),
    }
    if events != requests or answered != requests or counted != down.answered_paths:
        extra = counted - down.answered_paths
        problems.append(f"{events} events for {answered} redirects out of {requests} "
                        f"downloads; events without an answer: {dict(extra)}")
    if down.unexpected or bare.unexpected or down.broken or bare.broken:
        problems.append(f"unexpected answers: downloads {dict(down.statuses)}, bare "
                        f"{dict(bare.statuses)}; connections lost mid-request: "
                        f"{down.broken + bare.broken}")
    print(f"# {'PostgreSQL' if suffix else 'SQLite'}: the clients used "
          f"{bare.cpu / bare.seconds:.0%} of a core on /livez and "
          f"{down.cpu / down.seconds:.0%} on downloads; load average before "
          f"{load_before:.1f}, after {os.getloadavg()[0]:.1f} (other work on the machine "
          f"makes the figures vary)", file=sys.stderr)
    return figures, problems


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=("both", "sqlite", "postgresql"), default="both",
                        help="both: PostgreSQL is skipped with a notice if no server answers.")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5,
                        help="Bare and download requests alternate in this many rounds.")
    args = parser.parse_args()
    if args.clients < 2 or not 1 <= args.rounds <= args.requests:
        parser.error("--clients >= 2 (organizations and citizens), 1 <= --rounds <= --requests")
    from sqlalchemy import create_engine, text

    from portal.config import normalize_database_url

    workdir = Path(tempfile.mkdtemp(prefix="portal-load-"))
    moto, endpoint = start_moto(workdir)
    failed = False
    try:
        create_bucket(endpoint)
        if args.backend != "postgresql":
            figures, problems = run(f"sqlite:///{workdir}/load.db", endpoint, args.requests,
                                    args.clients, args.rounds, "", workdir)
            for key, value in figures.items():
                print(f"{key}: {value}", flush=True)
            for problem in problems:
                print(f"FAILED (SQLite): {problem}", file=sys.stderr)
            failed |= bool(problems)
        if args.backend != "sqlite":
            server = os.environ.get("PORTAL_DATABASE_URL", "")
            server = normalize_database_url(server if server.startswith("postgres")
                                            else DEFAULT_SERVER)
            admin = create_engine(server, isolation_level="AUTOCOMMIT")
            try:
                with admin.connect() as connection:
                    connection.execute(text(f"DROP DATABASE IF EXISTS {LOAD_DATABASE} WITH (FORCE)"))
                    connection.execute(text(f"CREATE DATABASE {LOAD_DATABASE}"))
            except Exception as exc:
                if args.backend == "postgresql":
                    raise
                print(f"# PostgreSQL skipped: no server answers ({type(exc).__name__})",
                      file=sys.stderr)
            else:
                try:
                    figures, problems = run(server.rsplit("/", 1)[0] + "/" + LOAD_DATABASE,
                                            endpoint, args.requests, args.clients, args.rounds, "_pg",
                                            workdir)
                    for key, value in figures.items():
                        print(f"{key}: {value}", flush=True)
                    for problem in problems:
                        print(f"FAILED (PostgreSQL): {problem}", file=sys.stderr)
                    failed |= bool(problems)
                finally:
                    with admin.connect() as connection:
                        connection.execute(text(
                            f"DROP DATABASE IF EXISTS {LOAD_DATABASE} WITH (FORCE)"))
            finally:
                admin.dispose()
    finally:
        stop(moto)
        if failed:
            print(f"# logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
