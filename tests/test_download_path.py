"""The one download path, end to end, as in production: on the database of the run
(SQLite, or PostgreSQL in the second pass) and with both storages (files from a local
folder, and presigned redirects to an S3-compatible server over HTTP).

A download is looked up, decided by the Python rules, its answer prepared, then its event
recorded and committed (``tracking.events.record_download``) before the answer leaves.
Nothing is recorded for a refusal, a session that no longer stands, a HEAD request or an
answer that could not be prepared; and no download ever updates or deletes an event.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask_login.utils import encode_cookie
from sqlalchemy import delete, event, func, select, text

from bench.load_sessions import session_cookie
from portal import create_app
from portal.clock import naive_utc_now
from portal.config import PROJECT_ROOT
from portal.extensions import db
from portal.models import Account, DownloadEvent, Kit, KitArchive, MaterialVersion
from portal.reference import ROLE_CITIZEN, ROLE_ORGANIZATION, ROLE_STAFF
from portal.storage import LocalStorage, S3Storage, StorageError, get_storage
from portal.tracking import events
from tests.conftest import settings_for_tests

pytestmark = pytest.mark.no_db_isolation

BUCKET = "portal-download-path"
AGENT = "Mozilla/5.0 (X11; Linux x86_64) DownloadPathTest/1.0"
ORGANIZATIONS_POSTER = "/kits/trousse-organismes/affiche/fr/download"
CITIZENS_SHEET = "/kits/trousse-citoyens/fiche-information/fr/download"
PROFESSIONALS_GUIDE = "/kits/guide-professionnels/guide/fr/download"
CITIZENS_ZIP = "/kits/trousse-citoyens/download.zip"


@pytest.fixture(params=["local", "s3"])
def portal(request, app, smtp_inbox, monkeypatch):
    """The portal as in production (the driver's own transactions, nothing rolled back
    by the tests), its files on disk or in the bucket. Accounts, events and ZIPs made
    here are deleted afterwards (the only deletion of events anywhere: a test's own)."""
    settings = settings_for_tests(Path(app.config["TEST_BASE"]),
                                  app.config["SQLALCHEMY_DATABASE_URI"], smtp_inbox[1])
    if request.param == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        settings.update({"STORAGE_BACKEND": "s3", "S3_BUCKET": BUCKET,
                         "S3_ENDPOINT_URL": endpoint, "S3_REGION": "us-east-1"})
    portal = create_app(settings)
    if request.param == "s3":
        _copy_citizens_kit_to_the_bucket(app, portal)
    with portal.app_context():
        before = db.session.scalar(select(func.max(Account.id))) or 0
        archives_before = db.session.scalar(select(func.max(KitArchive.id))) or 0
    yield portal
    with portal.app_context():
        made = select(Account.actor_id).where(Account.id > before).scalar_subquery()
        db.session.execute(delete(DownloadEvent).where(DownloadEvent.actor_id.in_(made)))
        db.session.execute(delete(Account).where(Account.id > before))
        db.session.execute(delete(KitArchive).where(KitArchive.id > archives_before))
        db.session.commit()
        db.engine.dispose()


def _copy_citizens_kit_to_the_bucket(app, portal) -> None:
    """The citizens' kit's files, for its ZIP (other downloads only sign a redirect)."""
    s3 = get_storage(portal)
    try:
        s3.client.create_bucket(Bucket=BUCKET)
    except s3.client.exceptions.BucketAlreadyOwnedByYou:
        pass
    local = get_storage(app)
    with portal.app_context():
        kit = db.session.scalars(select(Kit).where(Kit.slug == "trousse-citoyens")).one()
        keys = [m.current_version.storage_key for m in kit.materials if m.current_version]
    for key in keys:
        s3.put_bytes(key, local.read_bytes(key), "application/octet-stream")


def account_client(portal, role, **states):
    """A client signed in, with a new account of ``role`` (address confirmed and
    organization approved unless ``states`` say otherwise)."""
    with portal.app_context():
        number = (db.session.scalar(select(func.max(Account.id))) or 0) + 1
        account = Account(
            email=f"download-path{number}@example.org", password_hash="-", role=role,
            display_name="Maison des jeunes", region="06",
            organization_type="community" if role == ROLE_ORGANIZATION else None,
            email_verified_at=naive_utc_now(),
            approval="approved" if role == ROLE_ORGANIZATION else None)
        for name, value in states.items():
            setattr(account, name, value)
        db.session.add(account)
        db.session.commit()
        cookie = session_cookie(portal, account, "127.0.0.1", AGENT)
        client = portal.test_client()
        client.set_cookie(portal.config["SESSION_COOKIE_NAME"], cookie)
        client.account_id, client.actor_id = account.id, account.actor_id
    return client


def events_of(portal, client) -> list[DownloadEvent]:
    with portal.app_context():
        return db.session.scalars(select(DownloadEvent).where(
            DownloadEvent.actor_id == client.actor_id)).all()


def answered_with_the_file(portal, answer) -> bool:
    if portal.config["STORAGE_BACKEND"] == "s3":
        return answer.status_code == 302 and f"/{BUCKET}/" in answer.headers["Location"]
    return answer.status_code == 200 and answer.data[:4] in (b"%PDF", b"PK\x03\x04")


@pytest.fixture
def writes_to_events(portal):
    """Every UPDATE or DELETE sent to the download events while the test runs."""
    seen = []

    def watch(conn, cursor, statement, *args):
        if re.match(r"\s*(UPDATE|DELETE)\b.*\bdownload_event\b", statement, re.I | re.S):
            seen.append(statement)

    with portal.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", watch)
    yield seen
    event.remove(engine, "before_cursor_execute", watch)


@pytest.mark.parametrize("agent, robot", [(AGENT, False), ("Googlebot/2.1", True)])
def test_an_allowed_download_records_one_committed_event(portal, writes_to_events,
                                                         agent, robot):
    client = account_client(portal, ROLE_ORGANIZATION)
    answer = client.get(ORGANIZATIONS_POSTER, headers={"User-Agent": agent})
    assert answered_with_the_file(portal, answer)
    with portal.app_context(), db.engine.connect() as other:  # committed: seen elsewhere
        [event_row] = other.execute(select(DownloadEvent).where(
            DownloadEvent.actor_id == client.actor_id)).all()
        kit = db.session.scalars(select(Kit).where(Kit.slug == "trousse-organismes")).one()
        version = db.session.get(MaterialVersion, event_row.material_version_id)
        assert (version.material.slug, version.material.language) == ("affiche", "fr")
        assert version.id == version.material.current_version_id
        assert (event_row.kit_id, event_row.campaign_id) == (kit.id, kit.campaign_id)
    assert (event_row.account_type, event_row.region, event_row.organization_type) == (
        ROLE_ORGANIZATION, "06", "community")
    assert (event_row.personalized, event_row.is_zip, event_row.is_robot) == (
        False, False, robot)
    assert writes_to_events == []


@pytest.mark.parametrize("role, states, path", [
    (ROLE_CITIZEN, {}, ORGANIZATIONS_POSTER),  # not the kit's audience
    (ROLE_CITIZEN, {"email_verified_at": None}, CITIZENS_SHEET),
    (ROLE_ORGANIZATION, {"approval": "pending"}, PROFESSIONALS_GUIDE),
    (ROLE_ORGANIZATION, {"approval": "rejected"}, PROFESSIONALS_GUIDE),
], ids=["audience", "address-not-confirmed", "approval-pending", "approval-rejected"])
def test_a_refused_download_records_nothing(portal, writes_to_events, role, states, path):
    client = account_client(portal, role, **states)
    answer = client.get(path, headers={"User-Agent": AGENT})
    assert answer.status_code == 403 and "Location" not in answer.headers
    assert events_of(portal, client) == [] and writes_to_events == []


@pytest.mark.parametrize("change", ["suspended", "new session version", "deleted"])
def test_a_session_that_no_longer_stands_records_nothing(portal, change):
    client = account_client(portal, ROLE_ORGANIZATION)
    with portal.app_context():
        account = db.session.get(Account, client.account_id)
        if change == "suspended":  # alone, without the version the suspension also raises
            account.suspended_at = naive_utc_now()
        elif change == "deleted":
            db.session.delete(account)
        else:  # a password changed elsewhere
            account.session_version += 1
        db.session.commit()
    answer = client.get(ORGANIZATIONS_POSTER, headers={"User-Agent": AGENT})
    assert answer.status_code == 302 and "/account/login" in answer.headers["Location"]
    assert events_of(portal, client) == []


def test_a_stale_session_with_a_valid_remember_cookie_is_recorded_once(portal):
    """Flask-Login signs the account in again from its remember-me cookie, which names
    the account's current session id: the download goes out and counts once."""
    client = account_client(portal, ROLE_ORGANIZATION)
    with portal.app_context():
        account = db.session.get(Account, client.account_id)
        account.session_version += 1
        db.session.commit()
        with portal.test_request_context():
            remember = encode_cookie(account.get_id())
    client.set_cookie(portal.config.get("REMEMBER_COOKIE_NAME", "remember_token"), remember)
    answer = client.get(ORGANIZATIONS_POSTER, headers={"User-Agent": AGENT})
    assert answered_with_the_file(portal, answer)
    assert len(events_of(portal, client)) == 1


def test_visitors_are_sent_to_sign_in(portal):
    answer = portal.test_client().get(ORGANIZATIONS_POSTER, headers={"User-Agent": AGENT})
    assert answer.status_code == 302 and "/account/login" in answer.headers["Location"]


def test_staff_download_professional_materials(portal):
    client = account_client(portal, ROLE_STAFF)
    assert answered_with_the_file(portal, client.get(PROFESSIONALS_GUIDE,
                                                     headers={"User-Agent": AGENT}))
    [recorded] = events_of(portal, client)
    assert recorded.account_type == ROLE_STAFF


def test_a_head_request_records_nothing(portal):
    client = account_client(portal, ROLE_CITIZEN)
    for path in (CITIZENS_SHEET, CITIZENS_ZIP):
        assert client.head(path, headers={"User-Agent": AGENT}).status_code in (200, 302)
    assert events_of(portal, client) == []


def test_an_answer_that_cannot_be_prepared_records_nothing(portal, monkeypatch):
    """A missing file, a storage that does not answer, a redirect that cannot be signed:
    a 503, and no event for a download that did not go out."""
    def fail(*args, **kwargs):
        raise StorageError("the storage failed")

    monkeypatch.setattr(S3Storage, "send", fail)
    monkeypatch.setattr(LocalStorage, "send", fail)
    client = account_client(portal, ROLE_CITIZEN)
    for path in (CITIZENS_SHEET, CITIZENS_ZIP):
        answer = client.get(path, headers={"User-Agent": AGENT})
        assert answer.status_code == 503 and "Location" not in answer.headers
    assert events_of(portal, client) == []


def test_an_event_that_cannot_be_recorded_sends_no_file(portal, monkeypatch):
    """The database refuses the event: a 503, no file and no redirect; the next download
    goes out and counts, on a connection the pool still trusts."""
    client = account_client(portal, ROLE_CITIZEN)
    monkeypatch.setattr(events, "_insert_statement",
                        lambda: text("INSERT INTO no_such_table (id) VALUES (1) RETURNING id"))
    answer = client.get(CITIZENS_SHEET, headers={"User-Agent": AGENT})
    monkeypatch.undo()
    assert answer.status_code == 503 and "Location" not in answer.headers
    assert answer.data[:4] != b"%PDF"
    assert answered_with_the_file(portal, client.get(CITIZENS_SHEET,
                                                     headers={"User-Agent": AGENT}))
    assert len(events_of(portal, client)) == 1


def test_a_kit_zip_is_built_once_and_each_download_counts(portal, writes_to_events):
    first, second = (account_client(portal, ROLE_CITIZEN) for _ in range(2))
    for client in (first, second):
        answer = client.get(CITIZENS_ZIP, headers={"User-Agent": AGENT})
        assert answered_with_the_file(portal, answer)
        [recorded] = events_of(portal, client)
        assert recorded.is_zip and recorded.material_version_id is None
    with portal.app_context():
        kit = db.session.scalars(select(Kit).where(Kit.slug == "trousse-citoyens")).one()
        assert db.session.scalar(select(func.count()).select_from(KitArchive).where(
            KitArchive.kit_id == kit.id)) == 1
    assert writes_to_events == []


def test_only_account_deletion_rewrites_download_events():
    """Events are never updated or deleted once written (``tracking/events.py``): the
    portal's code names the table in an UPDATE or DELETE in one place, the account's
    deletion, which re-points its events to an anonymous id."""
    writers = []
    # An UPDATE or DELETE naming the model or the table, or a loop over models that
    # includes it (as the account's deletion re-points several tables).
    pattern = re.compile(r"(update|delete)\(\s*DownloadEvent\b|"
                         r"(UPDATE|DELETE FROM)\s+download_event\b|"
                         r"for \w+ in \([^)]*\bDownloadEvent\b")
    for path in sorted((PROJECT_ROOT / "portal").rglob("*.py")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if pattern.search(line):
                writers.append(f"{path.relative_to(PROJECT_ROOT)}:{line.strip()}")
    [writer] = writers
    assert writer.startswith("portal/auth/account_data.py:for model in (DownloadEvent, ")
