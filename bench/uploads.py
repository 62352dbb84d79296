"""Memory of the gunicorn workers around concurrent logo uploads: prints `key: value` lines.

    .venv/bin/python bench/uploads.py --database postgresql://postgres@127.0.0.1:5432/NAME
        [--workers 2] [--uploads 16] [--concurrency 8] [--side 6000] [--project PATH]

The database is emptied first. Makes ``--uploads`` verified organizations (one upload
each, so the per-account upload limit does not refuse any), serves the portal with
gunicorn (``--workers`` workers, 4 threads), signs every organization in and sends each a
``--side`` x ``--side`` PNG logo (flat colour: a small file), ``--concurrency`` at a
time. Reports the resident memory (RSS) of the gunicorn workers, and of their work
processes (portal/pdf/worker.py), before the uploads, at their peak (sampled every 20 ms)
and 2 s after the last answer, with the answers' status codes. ``--project`` serves
another checkout of the portal (an older commit, to compare) with this one's venv.
"""
from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from PIL import Image

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))
PASSWORD = "une phrase de passe pour le banc d'essai"


def children(pid: int) -> list[int]:
    found = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                found += [int(child) for child in (task / "children").read_text().split()]
            except OSError:  # a thread that just ended
                pass
    except OSError:  # a process that just ended
        pass
    return found


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0


def memory(master: int) -> tuple[float, float, list[float]]:
    """(gunicorn workers' RSS, their work processes' RSS, each worker's RSS), in MB."""
    workers = children(master)
    each = [rss_mb(worker) for worker in workers]
    work = sum(rss_mb(child) for worker in workers for child in children(worker))
    return sum(each), work, each


def png(side: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (30, 110, 170)).save(buffer, "PNG")
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--uploads", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--side", type=int, default=6000)
    parser.add_argument("--project", default=str(HERE))
    args = parser.parse_args()
    project = Path(args.project).resolve()
    base = Path(tempfile.mkdtemp(prefix="portal-uploads-"))
    env = {**os.environ, "PORTAL_DATABASE_URL": args.database,
           "PORTAL_STORAGE_PATH": str(base / "storage"), "PORTAL_MAIL_FOLDER": str(base / "mail"),
           "PORTAL_SECRET_KEY": "bench-uploads", "PORTAL_WORKERS": str(args.workers),
           "PORTAL_THREADS": "4", "PYTHONPATH": str(project),
           # Each organization from its own address (the sign-in limit is per address).
           "PORTAL_TRUSTED_PROXIES": "1"}
    for name in ("PORTAL_SMTP_URL", "PORTAL_REDIS_URL", "PORTAL_STORAGE", "PORTAL_CLOCK_START"):
        env.pop(name, None)
    bin_dir = Path(sys.executable).parent
    from sqlalchemy import create_engine, text

    from portal.config import normalize_database_url

    engine = create_engine(normalize_database_url(args.database))
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    subprocess.run([str(bin_dir / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=project,
                   env=env, check=True, capture_output=True, timeout=300)
    emails = [f"org{number}@example.org" for number in range(args.uploads)]
    script = (
        "import sys\nfrom portal import create_app\nfrom portal.auth.services import register\n"
        "from portal.clock import naive_utc_now\nfrom portal.extensions import db\n"
        "app = create_app()\nwith app.app_context():\n"
        "    for email in sys.argv[2:]:\n"
        "        account, _ = register('organization', email, sys.argv[1], 'Organisme',"
        " organization_type='community', region='06')\n"
        "        account.email_verified_at, account.approval = naive_utc_now(), 'approved'\n"
        "    db.session.commit()\n")
    subprocess.run([sys.executable, "-c", script, PASSWORD, *emails], cwd=project, env=env,
                   check=True, timeout=300)
    port = 18000 + os.getpid() % 1000
    server = subprocess.Popen([str(bin_dir / "gunicorn"), "wsgi:app", "--bind",
                               f"127.0.0.1:{port}", "--access-logfile", "/dev/null"],
                              cwd=project, env=env, stdout=subprocess.DEVNULL,
                              stderr=(base / "server.log").open("wb"))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        sessions = []
        for number, email in enumerate(emails):
            session = requests.Session()
            session.headers["User-Agent"] = "Mozilla/5.0 Chrome/156.0 bench"
            session.headers["X-Forwarded-For"] = f"198.51.100.{number + 1}"
            page = session.get(f"{url}/account/login", timeout=30).text
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
            answer = session.post(f"{url}/account/login", data={
                "csrf_token": token, "email": email, "password": PASSWORD},
                allow_redirects=False, timeout=30)
            assert answer.status_code == 302, answer.status_code
            sessions.append(session)
        tokens = []
        for session in sessions:  # every worker has served pages: warm, as in production
            page = session.get(f"{url}/personalize", timeout=30).text
            tokens.append(re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1))
        time.sleep(1)
        master = server.pid
        before = memory(master)
        logo = png(args.side)
        peak = [0.0, 0.0]
        done = threading.Event()

        def sample():
            while not done.is_set():
                workers, work, _ = memory(master)
                peak[0], peak[1] = max(peak[0], workers), max(peak[1], workers + work)
                time.sleep(0.02)

        def upload(index: int) -> tuple[int, float]:
            start = time.monotonic()
            try:
                answer = sessions[index].post(f"{url}/personalize", data={
                    "csrf_token": tokens[index], "organization_name": "Organisme"},
                    files={"logo": ("logo.png", logo, "image/png")}, allow_redirects=False,
                    timeout=120)
            except requests.RequestException as exc:
                return type(exc).__name__, time.monotonic() - start
            return answer.status_code, time.monotonic() - start

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start = time.monotonic()
        with ThreadPoolExecutor(args.concurrency) as pool:
            results = list(pool.map(upload, range(args.uploads)))
        elapsed = time.monotonic() - start
        done.set()
        sampler.join()
        time.sleep(2)
        after = memory(master)
    finally:
        server.terminate()
        server.wait(timeout=30)
    statuses = {}
    for status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    figures = {
        "uploads.file_bytes": len(logo),
        "uploads.statuses": statuses,
        "uploads.seconds": round(elapsed, 2),
        "uploads.slowest_s": round(max(seconds for _, seconds in results), 2),
        "uploads.workers_rss_before_mb": round(before[0], 1),
        "uploads.workers_rss_peak_mb": round(peak[0], 1),
        "uploads.workers_rss_after_mb": round(after[0], 1),
        "uploads.workers_growth_mb": round(after[0] - before[0], 1),
        "uploads.each_worker_before_after_mb": [
            (round(b, 1), round(a, 1)) for b, a in zip(before[2], after[2], strict=False)],
        "uploads.work_processes_rss_before_mb": round(before[1], 1),
        "uploads.work_processes_rss_after_mb": round(after[1], 1),
        "uploads.all_peak_mb": round(peak[1], 1),
    }
    for key, value in figures.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
