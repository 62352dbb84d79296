"""Work that accounts make the portal do, done as an attacker would, against gunicorn
(PostgreSQL in the PostgreSQL run): a staff template that loops or fills the memory once
an organization co-brands it, a 6000 x 6000 picture, a PDF with JavaScript that runs on
opening, a PDF page 10 x 14,400 pt. Each is refused or stopped within its limit, with a
translated message, nothing half-made is stored, and all the while another client keeps
downloading a kit without waiting on any of it."""
from __future__ import annotations

import io
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pyotp
import pytest
import requests
from PIL import Image
from sqlalchemy import select

from portal import create_app
from portal.config import PROJECT_ROOT, normalize_database_url
from tests.conftest import PASSWORD, free_port, own_database
from tests.test_servers import browser, csrf_token, wait_until_healthy

pytestmark = pytest.mark.no_db_isolation  # the server has its own database

GUNICORN = str(PROJECT_ROOT / ".venv" / "bin" / "gunicorn")
FLASK = str(PROJECT_ROOT / ".venv" / "bin" / "flask")
TIME_LIMIT = 8  # seconds, the server's PORTAL_PDF_RENDER_TIMEOUT and PORTAL_IMAGE_TIMEOUT
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
LOOPING = ('{% if org %}{% for i in range(100000) %}{% for j in range(100000) %}'
           '{% endfor %}{% endfor %}{% endif %}')
FILLING = ("{% if org %}{% set s = 'x' * 1000000 %}{% for i in range(100000) %}{{ s }}"
           "{% endfor %}{% endif %}")


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    with own_database(tmp_path_factory, "hostile") as url:
        yield url


class Live:
    url: str
    storage: Path
    app: object  # an app on the server's database, to prepare accounts and check rows
    sessions: dict


@pytest.fixture(scope="module")
def live(tmp_path_factory, database_url):
    base = tmp_path_factory.mktemp("hostile-server")
    env = {**os.environ, "PORTAL_DATABASE_URL": database_url,
           "PORTAL_STORAGE_PATH": str(base / "storage"), "PORTAL_MAIL_FOLDER": str(base / "mail"),
           "PORTAL_SECRET_KEY": "hostile-work-secret", "PORTAL_WORKERS": "1",
           "PORTAL_THREADS": "4", "PORTAL_PDF_RENDER_TIMEOUT": str(TIME_LIMIT),
           "PORTAL_IMAGE_TIMEOUT": str(TIME_LIMIT), "PORTAL_UPLOAD_RATE_LIMIT": "100 per minute",
           # The downloader fetches kits as fast as it can, far past a person's pace.
           "PORTAL_DOWNLOAD_RATE_LIMIT": "100000 per minute"}
    for name in ("PORTAL_SMTP_URL", "PORTAL_REDIS_URL", "PORTAL_STORAGE", "PORTAL_CLOCK_START"):
        env.pop(name, None)
    for command in (["db", "upgrade"], ["import-materials"]):
        subprocess.run([FLASK, "--app", "wsgi", *command], cwd=PROJECT_ROOT, env=env,
                       check=True, capture_output=True, timeout=300)
    state = Live()
    state.storage, state.sessions = base / "storage", {}
    state.app = create_app({"SQLALCHEMY_DATABASE_URI": normalize_database_url(database_url),
                            "STORAGE_PATH": str(base / "storage"), "SECRET_KEY": "x",
                            "INSTANCE_PATH": str(base / "instance"), "TESTING": True})
    _accounts(state.app)
    port = free_port()
    server = subprocess.Popen([GUNICORN, "wsgi:app", "--bind", f"127.0.0.1:{port}",
                               "--access-logfile", "/dev/null"], cwd=PROJECT_ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=(base / "server.log").open("wb"))
    state.url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(state.url)
        yield state
    finally:
        server.terminate()
        server.wait(timeout=30)
        with state.app.app_context():
            from portal.extensions import db

            db.engine.dispose()


def _accounts(app) -> None:
    from portal.auth.services import create_staff, register
    from portal.clock import naive_utc_now
    from portal.extensions import db

    with app.app_context():
        staff = create_staff("staff@example.org", PASSWORD)
        staff.totp_secret, staff.totp_enabled_at = TOTP_SECRET, naive_utc_now()
        for email in ("mdj@example.org", "downloader@example.org"):
            account, _ = register("organization", email, PASSWORD, "Maison des jeunes",
                                  organization_type="community", region="06")
            account.email_verified_at, account.approval = naive_utc_now(), "approved"
        db.session.commit()


def sign_in(live, email: str, second_factor: bool = False) -> requests.Session:
    """A signed-in client; staff sign in once per run (a second-factor code works once)."""
    if second_factor and email in live.sessions:
        return live.sessions[email]
    session = browser()
    token = csrf_token(session, f"{live.url}/account/login")
    answer = session.post(f"{live.url}/account/login", data={
        "csrf_token": token, "email": email, "password": PASSWORD},
        allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text[:500]
    if second_factor:
        token = csrf_token(session, f"{live.url}/account/two-factor")
        answer = session.post(f"{live.url}/account/two-factor", data={
            "csrf_token": token, "code": pyotp.TOTP(TOTP_SECRET).now()},
            allow_redirects=False, timeout=30)
        assert answer.status_code == 302, answer.text[:500]
        live.sessions[email] = session
    return session


class Downloader:
    """Another client downloading a kit, again and again, while an attack runs."""

    def __init__(self, live):
        self.session = sign_in(live, "downloader@example.org")
        self.url = f"{live.url}/kits/trousse-organismes/download.zip"
        self.times: list[float] = []
        self.finished: list[float] = []  # when each download ended (time.monotonic())
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            start = time.monotonic()
            try:
                answer = self.session.get(self.url, timeout=30)
                if answer.status_code != 200 or answer.content[:2] != b"PK":
                    self.failures.append(str(answer.status_code))
            except requests.RequestException as exc:
                self.failures.append(type(exc).__name__)
            self.times.append(time.monotonic() - start)
            self.finished.append(time.monotonic())
            time.sleep(0.05)

    def served_between(self, start: float, end: float) -> int:
        return sum(start < finished < end for finished in self.finished)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(60)
        # Served all along, never waiting on the attack's time limit (a few seconds more
        # allowed: the suites share a small machine).
        assert not self.failures, self.failures
        assert len(self.times) >= 3, self.times
        assert max(self.times) < TIME_LIMIT + 4, self.times


def _form_token(session, url: str) -> str:
    return csrf_token(session, url)


def _material(live, slug: str, language: str = "fr"):
    from portal.extensions import db
    from portal.models import Material

    with live.app.app_context():
        material = db.session.scalars(select(Material).where(
            Material.slug == slug, Material.language == language)).one()
        return material.id, len(material.versions)


def _stored(live, folder: str) -> set[str]:
    root = live.storage / folder
    return {str(path) for path in root.rglob("*") if path.is_file()} if root.exists() else set()


def _error_text(answer) -> str:
    import html

    found = re.search(r'class="error-summary".*?</div>', answer.text, re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(0))) if found else answer.text[:300]


@pytest.mark.parametrize("template", [LOOPING, FILLING], ids=["loops", "fills-memory"])
def test_a_staff_template_that_runs_away_once_co_branded_is_stopped(live, template):
    staff = sign_in(live, "staff@example.org", second_factor=True)
    poster_id, _ = _material(live, "affiche")
    page = staff.get(f"{live.url}/staff/materials/{poster_id}/source", timeout=30).text
    source = re.search(r'name="html"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    import html as html_module

    hostile = html_module.unescape(source).replace("</main>", template + "</main>", 1)
    saved = staff.post(f"{live.url}/staff/materials/{poster_id}/source", data={
        "csrf_token": _form_token(staff, f"{live.url}/staff/materials/{poster_id}/source"),
        "html": hostile, "css": ""}, allow_redirects=False, timeout=60)
    assert saved.status_code == 302, _error_text(saved)  # passes every check: org is None
    number = int(saved.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    made = staff.post(f"{live.url}/staff/materials/{poster_id}/versions/{number}/current",
                      data={"csrf_token": _form_token(
                          staff, f"{live.url}/staff/materials/{poster_id}/versions/{number}")},
                      allow_redirects=False, timeout=30)
    assert made.status_code == 302
    organization = sign_in(live, "mdj@example.org")
    profile = f"{live.url}/personalize"
    assert organization.post(profile, data={
        "csrf_token": _form_token(organization, profile),
        "organization_name": f"Maison des jeunes {number}"},
        allow_redirects=False, timeout=30).status_code == 302
    ids = re.findall(r"/documents/([0-9a-f]{32})/download", organization.get(profile).text)
    before = _stored(live, "personalized")
    with Downloader(live) as downloader:
        start = time.monotonic()
        answers = [organization.get(f"{live.url}/documents/{public_id}/download", timeout=60)
                   for public_id in ids if public_id]
        elapsed = time.monotonic() - start
        # Kits went out while the hostile document was being stopped.
        assert downloader.served_between(start, start + elapsed) >= 2
    # The French poster is the hostile one: stopped within the time limit (or at once
    # when the memory runs out), with the translated page; the others are made.
    statuses = sorted(answer.status_code for answer in answers)
    assert 503 in statuses and statuses.count(200) == len(ids) - statuses.count(503)
    refused = next(answer for answer in answers if answer.status_code == 503)
    assert "Service non disponible" in refused.text
    assert elapsed < 4 * (TIME_LIMIT + 2) * max(1, statuses.count(503))
    new_files = _stored(live, "personalized") - before
    assert len(new_files) == statuses.count(200)  # nothing half-made stored


def _png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 110, 170)).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_6000_by_6000_picture_is_refused_before_it_is_decoded(live):
    organization = sign_in(live, "mdj@example.org")
    bomb = _png((6000, 6000))
    assert len(bomb) < 200_000  # a small file that would decode to 108 MB
    profile = f"{live.url}/personalize"
    before = _stored(live, "logos")
    with Downloader(live):
        for _ in range(4):
            answer = organization.post(profile, data={
                "csrf_token": _form_token(organization, profile),
                "organization_name": "Maison des jeunes"},
                files={"logo": ("logo.png", bomb, "image/png")}, timeout=30)
            assert answer.status_code == 400
            assert "16 mégapixels" in answer.text
            assert answer.elapsed.total_seconds() < TIME_LIMIT / 2
        # The largest picture accepted is decoded in the work process, and kept.
        accepted = organization.post(profile, data={
            "csrf_token": _form_token(organization, profile),
            "organization_name": "Maison des jeunes"},
            files={"logo": ("logo.png", _png((4000, 4000)), "image/png")},
            allow_redirects=False, timeout=30)
        assert accepted.status_code == 302
    assert len(_stored(live, "logos") - before) == 1


def _with_open_action(pdf: bytes) -> bytes:
    from pypdf import PdfWriter
    from pypdf.generic import DictionaryObject, NameObject, TextStringObject

    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    writer._root_object[NameObject("/OpenAction")] = DictionaryObject({
        NameObject("/S"): NameObject("/JavaScript"),
        NameObject("/JS"): TextStringObject("app.alert('hello');")})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


TALL_PAGE = b"""%PDF-1.4
1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj
3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 10 14400] >> endobj
trailer << /Root 1 0 R >>
%%EOF
"""


def test_staff_pdfs_with_active_content_or_huge_pages_are_refused(live):
    staff = sign_in(live, "staff@example.org", second_factor=True)
    material_id, versions = _material(live, "guide")
    current = staff.get(f"{live.url}/staff/materials/{material_id}/versions/{versions}/file",
                        timeout=30)
    assert current.status_code == 200 and current.content[:5] == b"%PDF-"
    upload = f"{live.url}/staff/materials/{material_id}/upload"
    page = f"{live.url}/staff/materials/{material_id}"
    with Downloader(live):
        scripted = staff.post(upload, data={"csrf_token": _form_token(staff, page)},
                              files={"file": ("guide.pdf", _with_open_action(current.content),
                                              "application/pdf")}, timeout=60)
        assert scripted.status_code == 400
        assert "contenu actif" in scripted.text and "JavaScript" in scripted.text
        tall = staff.post(upload, data={"csrf_token": _form_token(staff, page)},
                          files={"file": ("tall.pdf", TALL_PAGE, "application/pdf")},
                          timeout=60)
        assert tall.status_code == 400 and "100 pouces" in tall.text
        assert tall.elapsed.total_seconds() < TIME_LIMIT / 2
    assert _material(live, "guide")[1] == versions  # no version made
