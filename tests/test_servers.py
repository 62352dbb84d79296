"""Two gunicorn instances on different ports, one database, one storage and one Redis:
they serve the same users and the same figures (a session signed by one is honoured by
the other; a download on one shows on the other's dashboard)."""
from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import time

import pytest
import requests
from sqlalchemy import create_engine, text

from portal.config import PROJECT_ROOT, normalize_database_url
from tests.conftest import PASSWORD, TEST_DATABASE_URL, free_port
from tests.test_jobs import redis_is_up

pytestmark = pytest.mark.no_db_isolation  # the servers see only what is committed

GUNICORN = str(PROJECT_ROOT / ".venv" / "bin" / "gunicorn")
FLASK = str(PROJECT_ROOT / ".venv" / "bin" / "flask")
WEEK_TIME = "2027-03-04T14:30:00-05:00"  # the national day, for both servers' clocks


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    """A database of its own: SQLite in a temporary folder, or a fresh PostgreSQL one."""
    if not (TEST_DATABASE_URL or "").startswith("postgres"):
        yield f"sqlite:///{tmp_path_factory.mktemp('servers') / 'portal.db'}"
        return
    server = normalize_database_url(TEST_DATABASE_URL)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("DROP DATABASE IF EXISTS portal_two_servers WITH (FORCE)"))
        connection.execute(text("CREATE DATABASE portal_two_servers"))
    yield server.rsplit("/", 1)[0] + "/portal_two_servers"
    with admin.connect() as connection:
        connection.execute(text("DROP DATABASE IF EXISTS portal_two_servers WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(scope="module")
def servers(tmp_path_factory, database_url):
    base = tmp_path_factory.mktemp("two-servers")
    env = {**os.environ, "PORTAL_DATABASE_URL": database_url,
           "PORTAL_STORAGE_PATH": str(base / "storage"), "PORTAL_MAIL_FOLDER": str(base / "mail"),
           "PORTAL_SECRET_KEY": "the-same-secret-on-every-server", "PORTAL_CLOCK_START": WEEK_TIME,
           "PORTAL_WORKERS": "1", "PORTAL_THREADS": "2"}
    env.pop("PORTAL_SMTP_URL", None)
    if redis_is_up():
        env["PORTAL_REDIS_URL"] = "redis://127.0.0.1:6379/15"
    for command in (["db", "upgrade"], ["import-materials"]):
        subprocess.run([FLASK, "--app", "wsgi", *command], cwd=PROJECT_ROOT, env=env,
                       check=True, capture_output=True, timeout=300)
    staff = subprocess.run([FLASK, "--app", "wsgi", "create-staff", "staff@example.org",
                            "--password-stdin"], input=PASSWORD + "\n", text=True,
                           cwd=PROJECT_ROOT, env=env, check=True, capture_output=True)
    assert "created" in staff.stdout
    processes, urls = [], []
    for _ in range(2):
        port = free_port()
        processes.append(subprocess.Popen(
            [GUNICORN, "wsgi:app", "--bind", f"127.0.0.1:{port}", "--access-logfile", "/dev/null"],
            cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url in urls:
            wait_until_healthy(url)
        yield urls
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


def wait_until_healthy(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not become healthy")


BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/156.0 Safari/537.36"


def browser() -> requests.Session:
    """A client that says it is a browser (python-requests is on the robots list, and
    robots are recorded but not counted)."""
    session = requests.Session()
    session.headers["User-Agent"] = BROWSER
    return session


def csrf_token(session: requests.Session, url: str) -> str:
    page = session.get(url, timeout=10).text
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def test_two_servers_serve_the_same_users_and_figures(servers):
    first, second = servers
    # An organization registers on the first server...
    organization = browser()
    token = csrf_token(organization, f"{first}/account/register/organization")
    registered = organization.post(f"{first}/account/register/organization", data={
        "csrf_token": token, "email": "mdj@example.org", "password": PASSWORD,
        "confirm": PASSWORD, "organization_name": "Maison des jeunes", "region": "06",
        "organization_type": "community"}, timeout=30)
    assert registered.status_code == 200, registered.text[:500]
    token = csrf_token(organization, f"{first}/account/login")
    signed_in = organization.post(f"{first}/account/login", data={
        "csrf_token": token, "email": "mdj@example.org", "password": PASSWORD},
        allow_redirects=False, timeout=30)
    assert signed_in.status_code == 302
    # ...and downloads on the second, with the session the first one signed.
    download = organization.get(f"{second}/kits/trousse-organismes/affiche/fr/download",
                                timeout=30)
    assert download.status_code == 200 and download.content[:5] == b"%PDF-"
    zipped = organization.get(f"{second}/kits/trousse-organismes/download.zip", timeout=60)
    assert zipped.status_code == 200 and zipped.content[:2] == b"PK"
    # Staff sign in on the second server and read the figures on the first.
    staff = browser()
    token = csrf_token(staff, f"{second}/account/login")
    assert staff.post(f"{second}/account/login", data={
        "csrf_token": token, "email": "staff@example.org", "password": PASSWORD},
        allow_redirects=False, timeout=30).status_code == 302
    # The figures lag the downloads by a few seconds (events still committing are left for
    # the next catch-up), never more.
    deadline = time.monotonic() + 15
    while True:
        exported = staff.get(f"{first}/staff/exports/figures.csv", timeout=30)
        assert exported.status_code == 200
        totals = {row[1]: row[3] for row in csv.reader(
            io.StringIO(exported.text.lstrip("\ufeff"))) if row and row[0] == "totals"}
        if totals["downloads"] == "2" or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert totals["downloads"] == "2"
    assert totals["kits_distributed"] == "1" and totals["organizations_reached"] == "1"
    assert totals["zip_downloads"] == "1"
