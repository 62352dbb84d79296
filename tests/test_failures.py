"""Failures with nothing lost and nothing invented: the S3 server stopping (and starting
again), the database unreachable. A download that did not happen records no event; one
that did is counted; nothing is half-written."""
from __future__ import annotations

import io
import json
import urllib.request
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy import func, select

from portal import create_app
from portal.extensions import db
from portal.jobs.queue import submit, wait_for_threads
from portal.models import (
    BackgroundJob,
    CobrandProfile,
    DownloadEvent,
    KitArchive,
    MaterialVersion,
    PersonalizedDocument,
)
from portal.personalize import documents as documents_module
from portal.personalize.services import save_profile
from portal.storage import get_storage
from tests.conftest import PASSWORD, free_port, settings_for_tests, test_app
from tests.test_personalize import png_logo, profile_form

BUCKET = "portal-failures"


class S3Server:
    """moto's S3 server on a fixed loopback port, which a test can stop and start again
    (moto keeps its buckets in this process, so they are still there after a restart)."""

    def __init__(self):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.server = None

    def start(self):
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self):
        self.server.stop()
        self.server = None


@pytest.fixture(scope="module")
def s3_server():
    server = S3Server()
    server.start()
    yield server
    if server.server is not None:
        server.stop()


@pytest.fixture
def s3_portal(app, s3_server, smtp_inbox, monkeypatch):
    """The portal on the test database, its files in a bucket of the S3 server."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    if s3_server.server is None:
        s3_server.start()
    settings = settings_for_tests(Path(app.config["TEST_BASE"]),
                                  app.config["SQLALCHEMY_DATABASE_URI"], smtp_inbox[1])
    settings.update({"STORAGE_BACKEND": "s3", "S3_BUCKET": BUCKET,
                     "S3_ENDPOINT_URL": s3_server.endpoint, "S3_REGION": "us-east-1"})
    portal = test_app(settings)
    storage = get_storage(portal)
    try:
        storage.client.create_bucket(Bucket=BUCKET)
    except storage.client.exceptions.BucketAlreadyOwnedByYou:
        pass
    local_root = Path(app.config["STORAGE_PATH"])
    for path in local_root.rglob("*"):
        if path.is_file() and not path.name.startswith(".part-") and "materials" in path.parts:
            key = path.relative_to(local_root).as_posix()
            if not storage.exists(key):
                storage.put_bytes(key, path.read_bytes(), "application/octet-stream")
    for key in ("zips/", "personalized/", "logos/"):  # every test starts with none
        listing = storage.client.list_objects_v2(Bucket=BUCKET, Prefix=key)
        for item in listing.get("Contents", []):
            storage.client.delete_object(Bucket=BUCKET, Key=item["Key"])
    yield portal
    if s3_server.server is None:
        s3_server.start()


@pytest.fixture
def organization_client(s3_portal, make_account):
    account = make_account("organization")
    client = s3_portal.test_client()
    assert client.post("/account/login", data={"email": account.email,
                                               "password": PASSWORD}).status_code == 302
    client.account = account
    return client


def event_count() -> int:
    return db.session.scalar(select(func.count()).select_from(DownloadEvent))


def bucket_keys(portal, prefix: str) -> list[str]:
    listing = get_storage(portal).client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for item in listing.get("Contents", [])]


def test_kit_zip_with_storage_down_is_a_503_and_no_event(s3_portal, s3_server,
                                                         organization_client):
    s3_server.stop()
    response = organization_client.get("/kits/trousse-organismes/download.zip")
    assert response.status_code == 503
    assert "text/html" in response.content_type and b"Traceback" not in response.data
    assert event_count() == 0
    assert db.session.scalar(select(func.count()).select_from(KitArchive)) == 0
    s3_server.start()
    again = organization_client.get("/kits/trousse-organismes/download.zip")
    assert again.status_code == 302
    with urllib.request.urlopen(again.headers["Location"]) as answer:
        assert answer.read(2) == b"PK"
    assert event_count() == 1


def test_a_presigned_redirect_needs_no_storage_and_is_counted(s3_server, organization_client):
    s3_server.stop()
    response = organization_client.get("/kits/trousse-organismes/affiche/fr/download")
    assert response.status_code == 302 and "X-Amz-Signature=" in response.headers["Location"]
    assert event_count() == 1


def test_personalized_document_with_storage_down_is_a_503_and_no_event(
        s3_portal, s3_server, organization_client):
    account = organization_client.account
    save_profile(account, {"organization_name": "Organisme en panne"}, None)
    page = organization_client.get("/personalize").get_data(as_text=True)
    import re

    public_id = re.findall(r"/documents/([0-9a-f]{32})/download", page)[0]
    s3_server.stop()
    response = organization_client.get(f"/documents/{public_id}/download")
    assert response.status_code == 503 and event_count() == 0
    document = db.session.scalars(select(PersonalizedDocument)
                                  .where(PersonalizedDocument.public_id == public_id)).one()
    assert document.status == "failed" and document.storage_key is None
    s3_server.start()
    assert bucket_keys(s3_portal, "personalized/") == []  # nothing half-written
    served = organization_client.get(f"/documents/{public_id}/download")
    assert served.status_code in (200, 302) and event_count() == 1


def test_logo_upload_with_storage_down_is_a_503_and_changes_nothing(s3_server,
                                                                    organization_client):
    s3_server.stop()
    data = profile_form()
    data["logo"] = (io.BytesIO(png_logo()), "logo.png")
    response = organization_client.post("/personalize", data=data,
                                        content_type="multipart/form-data")
    assert response.status_code == 503
    assert db.session.scalar(select(func.count()).select_from(CobrandProfile)) == 0


def test_s3_stopping_and_starting_during_a_batch(s3_portal, s3_server, make_account,
                                                 monkeypatch):
    """The server stops after the first render and is back two renders later: the
    documents whose storing failed are reported, none is half-written, a retry makes
    them, and the events match the documents actually served."""
    organizations = []
    for number in range(2):
        account = make_account("organization", display_name=f"Organisme {number}")
        save_profile(account, {"organization_name": f"Organisme {number}"}, None)
        organizations.append(account)
    real_render = documents_module.run_job
    renders = []

    def render_while_the_server_flaps(*args, **kwargs):
        renders.append(1)
        if len(renders) == 2:
            s3_server.stop()
        if len(renders) == 4:
            s3_server.start()
        return real_render(*args, **kwargs)

    monkeypatch.setattr(documents_module, "run_job", render_while_the_server_flaps)
    with s3_portal.app_context():
        first = submit("prepare_posters")
        wait_for_threads()
        db.session.expire_all()
        first = db.session.get(BackgroundJob, first.id)
        failed = json.loads(first.failures)
        assert first.status == "done" and first.failed_items == 2 == len(failed)
        stored = bucket_keys(s3_portal, "personalized/")
        documents = list(db.session.scalars(select(PersonalizedDocument)))
        for document in documents:
            if document.public_id in failed:
                assert document.status == "failed" and document.storage_key is None
            else:
                assert document.status == "ready" and document.storage_key in stored
        assert len(stored) == len(documents) - 2
        retry = submit("prepare_posters")
        wait_for_threads()
        db.session.expire_all()
        assert db.session.get(BackgroundJob, retry.id).failed_items == 0
        assert len(bucket_keys(s3_portal, "personalized/")) == len(documents)
    # Each organization downloads its first document: exactly those are counted.
    for account in organizations:
        client = s3_portal.test_client()
        client.post("/account/login", data={"email": account.email, "password": PASSWORD})
        document = db.session.scalars(select(PersonalizedDocument).where(
            PersonalizedDocument.account_id == account.id)).first()
        assert client.get(f"/documents/{document.public_id}/download").status_code in (200, 302)
    assert event_count() == 2


@pytest.mark.no_db_isolation  # its own database: the session must not be the test's
def test_import_with_storage_down_fails_cleanly(s3_server, tmp_path, monkeypatch, app):
    """A fresh database importing into a stopped S3 server: a clear error, no version
    rows pointing at files that are not there."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    fresh = create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x",
                        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'fresh.db'}",
                        "STORAGE_BACKEND": "s3", "S3_BUCKET": BUCKET,
                        "S3_ENDPOINT_URL": s3_server.endpoint, "S3_REGION": "us-east-1",
                        "MATERIALS_PATH": app.config["MATERIALS_PATH"]})
    runner = fresh.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    s3_server.stop()
    try:
        with fresh.app_context():  # as `flask --app wsgi import-materials` has
            result = runner.invoke(args=["import-materials"])
    finally:
        s3_server.start()
    assert result.exit_code != 0 and "Error" in result.output
    with fresh.app_context():
        versions = db.session.scalar(select(func.count()).select_from(MaterialVersion))
        db.session.remove()
        db.engine.dispose()
    assert versions == 0


@pytest.mark.no_db_isolation  # its own (unreachable) database
def test_database_unreachable_is_a_503(tmp_path):
    down = create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x",
                       "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://portal@127.0.0.1:9/none",
                       "STORAGE_PATH": str(tmp_path / "storage")})
    client = down.test_client()
    page = client.get("/")
    assert page.status_code == 503 and b"Traceback" not in page.data
    health = client.get("/healthz")
    assert health.status_code == 503 and health.get_json()["database"] == "down"
