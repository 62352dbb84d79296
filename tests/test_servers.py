"""Two gunicorn instances on different ports, one database (PostgreSQL in the PostgreSQL
run), one S3 bucket (moto's server over HTTP) and one Redis: they serve the same users and
the same figures (a session signed by one is honoured by the other; a download on one,
answered by a presigned URL, shows on the other's dashboard)."""
from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import time
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import requests

from portal.config import PROJECT_ROOT
from tests.conftest import PASSWORD, free_port, own_database
from tests.test_jobs import redis_is_up

pytestmark = pytest.mark.no_db_isolation  # the servers see only what is committed

GUNICORN = str(PROJECT_ROOT / ".venv" / "bin" / "gunicorn")
FLASK = str(PROJECT_ROOT / ".venv" / "bin" / "flask")
WEEK_TIME = "2027-03-04T14:30:00-05:00"  # the national day, for both servers' clocks


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    with own_database(tmp_path_factory, "two_servers") as url:
        yield url


class Servers:
    urls: list[str]
    clock_started: float  # when both servers' clocks read WEEK_TIME (PORTAL_CLOCK_ANCHOR)
    mail_folder: Path
    s3_endpoint: str


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server in a process of its own, on a free loopback port."""
    port = free_port()
    server = subprocess.Popen([str(PROJECT_ROOT / ".venv" / "bin" / "moto_server"), "-H",
                               "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(endpoint, timeout=2)
            break
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    requests.put(f"{endpoint}/portal-servers", timeout=10)  # the bucket
    yield endpoint
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope="module")
def servers(tmp_path_factory, database_url, s3_endpoint):
    servers = Servers()
    base = tmp_path_factory.mktemp("two-servers")
    anchor = datetime.now(UTC)
    servers.clock_started = anchor.timestamp()
    env = {**os.environ, "PORTAL_DATABASE_URL": database_url,
           "PORTAL_STORAGE": "s3", "PORTAL_S3_BUCKET": "portal-servers",
           "PORTAL_S3_ENDPOINT_URL": s3_endpoint, "PORTAL_S3_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "PORTAL_MAIL_FOLDER": str(base / "mail"),
           "PORTAL_SECRET_KEY": "the-same-secret-on-every-server", "PORTAL_CLOCK_START": WEEK_TIME,
           # One clock for both servers (and the commands), as one deployment would have.
           "PORTAL_CLOCK_ANCHOR": anchor.isoformat(),
           "PORTAL_WORKERS": "1", "PORTAL_THREADS": "2"}
    env.pop("PORTAL_SMTP_URL", None)
    if redis_is_up():
        # A Redis database of its own: the worker started below must take no other
        # test's jobs (tests/test_jobs.py uses 15).
        env["PORTAL_REDIS_URL"] = "redis://127.0.0.1:6379/12"
    for command in (["db", "upgrade"], ["import-materials"]):
        subprocess.run([FLASK, "--app", "wsgi", *command], cwd=PROJECT_ROOT, env=env,
                       check=True, capture_output=True, timeout=300)
    staff = subprocess.run([FLASK, "--app", "wsgi", "create-staff", "staff@example.org",
                            "--password-stdin"], input=PASSWORD + "\n", text=True,
                           cwd=PROJECT_ROOT, env=env, check=True, capture_output=True)
    assert "created" in staff.stdout
    processes, urls = [], []
    if "PORTAL_REDIS_URL" in env:
        # With Redis, mail and jobs wait on its queue for a worker, as in production.
        import redis

        redis.Redis.from_url(env["PORTAL_REDIS_URL"]).flushdb()
        processes.append(subprocess.Popen(
            [FLASK, "--app", "wsgi", "worker"], cwd=PROJECT_ROOT, env=env,
            stdout=subprocess.DEVNULL, stderr=(base / "worker.log").open("wb")))
    servers.mail_folder = base / "mail"
    servers.s3_endpoint = s3_endpoint
    for _ in range(2):
        port = free_port()
        processes.append(subprocess.Popen(
            [GUNICORN, "wsgi:app", "--bind", f"127.0.0.1:{port}", "--access-logfile", "/dev/null"],
            cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL,
            stderr=(base / f"server-{port}.log").open("wb")))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url in urls:
            wait_until_healthy(url)
        servers.urls = urls
        yield servers
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


def wait_until_healthy(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or still starting
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


def last_mail_link(folder: Path) -> str:
    return mail_link(folder, "/account/verify/")


def server_totp(page: str) -> str:
    """The code for the key the set-up page shows: codes follow real time, whatever the
    servers' demonstration clock says."""
    import pyotp

    secret = re.search(r'<code class="totp-key">([A-Z2-7]+)</code>', page).group(1)
    return pyotp.TOTP(secret).now()


def mail_link(folder: Path, path: str, seconds: float = 30) -> str:
    """The link to ``path`` in the mail folder's newest mail that has one (waiting for
    the worker or the server's mail pool to write it)."""
    deadline = time.monotonic() + seconds
    while True:
        for mail in sorted(folder.glob("*.eml"), key=lambda item: item.stat().st_mtime,
                           reverse=True):
            body = message_from_bytes(mail.read_bytes(), policy=policy.default) \
                .get_body(("plain",)).get_content()
            found = re.search(rf"https?://\S+{path}\S+", body)
            if found:
                return found.group(0)
        if time.monotonic() > deadline:
            raise AssertionError(f"no mail with a link to {path}")
        time.sleep(0.2)


def test_two_servers_serve_the_same_users_and_figures(servers):
    first, second = servers.urls
    # An organization registers on the first server...
    organization = browser()
    token = csrf_token(organization, f"{first}/account/register/organization")
    registered = organization.post(f"{first}/account/register/organization", data={
        "csrf_token": token, "email": "mdj@example.org", "password": PASSWORD,
        "confirm": PASSWORD, "organization_name": "Maison des jeunes", "region": "06",
        "organization_type": "community"}, timeout=30)
    assert registered.status_code == 200, registered.text[:500]
    # The verification link (the mail is in the servers' mail folder) opened on the second.
    link = last_mail_link(servers.mail_folder).replace("https://portail.example.test", second)
    link = re.sub(r"^http://127\.0\.0\.1:5000", second, link)
    token = csrf_token(organization, link)
    assert organization.post(link, data={"csrf_token": token}, timeout=30).status_code == 200
    token = csrf_token(organization, f"{first}/account/login")
    signed_in = organization.post(f"{first}/account/login", data={
        "csrf_token": token, "email": "mdj@example.org", "password": PASSWORD},
        allow_redirects=False, timeout=30)
    assert signed_in.status_code == 302
    # ...and downloads on the second, with the session the first one signed.
    download = organization.get(f"{second}/kits/trousse-organismes/affiche/fr/download",
                                timeout=30, allow_redirects=False)
    assert download.status_code == 302  # to a presigned URL of the bucket
    assert download.headers["Location"].startswith(servers.s3_endpoint)
    assert requests.get(download.headers["Location"], timeout=30).content[:5] == b"%PDF-"
    zipped = organization.get(f"{first}/kits/trousse-organismes/download.zip", timeout=60,
                              allow_redirects=False)
    assert zipped.status_code == 302
    assert requests.get(zipped.headers["Location"], timeout=30).content[:2] == b"PK"
    # Staff sign in on the second server and read the figures on the first.
    staff = browser()
    token = csrf_token(staff, f"{second}/account/login")
    assert staff.post(f"{second}/account/login", data={
        "csrf_token": token, "email": "staff@example.org", "password": PASSWORD},
        allow_redirects=False, timeout=30).status_code == 302
    mailed = staff.get(f"{second}/account/two-factor", timeout=30).text
    assert "totp-key" not in mailed  # the password alone shows no key
    # The set-up link create-staff mailed, opened on the first server, in the same browser.
    link = mail_link(servers.mail_folder, "/account/two-factor/setup/")
    link = re.sub(r"^https?://[^/]+", first, link)
    setup = staff.get(link, timeout=30).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', setup).group(1)
    assert staff.post(link, data={"csrf_token": token, "code": server_totp(setup)},
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


def test_each_server_has_its_own_control_socket(servers):
    import runpy

    settings = runpy.run_path(str(PROJECT_ROOT / "gunicorn.conf.py"))
    sockets = {settings["control_socket_for"]([url.removeprefix("http://")])
               for url in servers.urls}
    assert len(sockets) == 2
    deadline = time.monotonic() + 10  # made once the first workers run
    while not all(os.path.exists(path) for path in sockets) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(os.path.exists(path) for path in sockets), sockets
