"""The storage interface against an S3-compatible server over real HTTP (moto's server
mode on 127.0.0.1, a free port), and the portal's downloads with S3 storage."""
from __future__ import annotations

import io
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest

from portal.storage import LocalStorage, S3Storage, StorageError


@pytest.fixture
def s3(s3_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    storage = S3Storage("portal-test", s3_endpoint, "us-east-1", presign_seconds=60)
    try:
        storage.client.create_bucket(Bucket="portal-test")
    except storage.client.exceptions.BucketAlreadyOwnedByYou:
        pass
    return storage


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "files")
    return request.getfixturevalue("s3")


def test_put_read_exists_delete(storage):
    assert not storage.exists("materials/a/b.pdf")
    storage.put_bytes("materials/a/b.pdf", b"%PDF-1.7 test", "application/pdf")
    assert storage.exists("materials/a/b.pdf")
    assert storage.read_bytes("materials/a/b.pdf") == b"%PDF-1.7 test"
    storage.put_file("zips/k.zip", io.BytesIO(b"PK" + b"\x00" * 2_000_000), "application/zip")
    with storage.open("zips/k.zip") as stream:
        assert stream.read(2) == b"PK"
    storage.delete("materials/a/b.pdf")
    assert not storage.exists("materials/a/b.pdf")


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs/path", "a/../../b", "", "a\\b"])
def test_keys_cannot_escape(storage, key):
    with pytest.raises(StorageError):
        storage.exists(key)


def test_s3_download_is_a_presigned_redirect_with_name_and_type(app, s3):
    s3.put_bytes("materials/x/affiche.pdf", b"%PDF-1.7 affiche", "application/pdf")
    with app.test_request_context("/"):
        response = s3.send("materials/x/affiche.pdf", "Affiche « Je m'engage » (FR).pdf",
                           "application/pdf")
    assert response.status_code == 302
    url = response.headers["Location"]
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=60" in url
    # S3 answers with these response headers as the URL asks (moto's server serves the
    # object but does not apply response-* overrides, so they are checked in the URL).
    query = parse_qs(urlsplit(url).query)
    assert query["response-content-type"] == ["application/pdf"]
    disposition = query["response-content-disposition"][0]
    assert disposition.startswith("attachment; filename=")
    assert "filename*=UTF-8''Affiche%20%C2%AB%20Je%20m%27engage%20%C2%BB%20%28FR%29.pdf" in disposition
    with urllib.request.urlopen(url) as answer:  # the presigned URL, over real HTTP
        assert answer.read() == b"%PDF-1.7 affiche"


def test_s3_unreachable_is_a_storage_error(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    storage = S3Storage("portal-test", "http://127.0.0.1:9", "us-east-1", presign_seconds=60)
    with pytest.raises(StorageError):
        storage.put_bytes("a.txt", b"x", "text/plain")
    with pytest.raises(StorageError):
        storage.exists("a.txt")


@pytest.fixture
def s3_app(app, s3, s3_endpoint, smtp_inbox):
    """The portal on the same database, with its files in the S3 bucket."""
    from pathlib import Path

    from portal import create_app
    from tests.conftest import settings_for_tests

    settings = settings_for_tests(Path(app.config["TEST_BASE"]),
                                  app.config["SQLALCHEMY_DATABASE_URI"], smtp_inbox[1])
    settings.update({"STORAGE_BACKEND": "s3", "S3_BUCKET": "portal-test",
                     "S3_ENDPOINT_URL": s3_endpoint, "S3_REGION": "us-east-1"})
    s3_portal = create_app(settings)
    # The files the session's import rendered, copied under the same keys.
    local_root = Path(app.config["STORAGE_PATH"])
    for path in local_root.rglob("*"):
        if path.is_file() and not path.name.startswith(".part-") and "materials" in path.parts:
            key = path.relative_to(local_root).as_posix()
            if not s3.exists(key):
                s3.put_bytes(key, path.read_bytes(), "application/octet-stream")
    return s3_portal


def test_downloads_with_s3_storage_redirect_and_are_counted(s3_app, make_account):
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import DownloadEvent
    from tests.conftest import PASSWORD

    account = make_account("organization")
    client = s3_app.test_client()
    client.post("/account/login", data={"email": account.email, "password": PASSWORD})
    response = client.get("/kits/trousse-organismes/affiche/fr/download")
    assert response.status_code == 302
    assert "X-Amz-Signature=" in response.headers["Location"]
    with urllib.request.urlopen(response.headers["Location"]) as answer:
        assert answer.read(5) == b"%PDF-"
    zipped = client.get("/kits/trousse-organismes/download.zip")
    assert zipped.status_code == 302
    with urllib.request.urlopen(zipped.headers["Location"]) as answer:
        assert answer.read(2) == b"PK"
    events = list(db.session.scalars(select(DownloadEvent)))
    assert len(events) == 2 and {e.is_zip for e in events} == {True, False}


def test_healthz(client, s3_app, monkeypatch):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"database": "ok", "storage": "ok", "redis": "off",
                                   "worker": "off"}
    assert s3_app.test_client().get("/healthz").get_json()["storage"] == "ok"
    monkeypatch.setitem(s3_app.config, "S3_ENDPOINT_URL", "http://127.0.0.1:9")
    s3_app.extensions["portal_storage"] = None
    down = s3_app.test_client().get("/healthz")
    assert down.status_code == 503 and down.get_json()["storage"] == "down"
    monkeypatch.setitem(s3_app.config, "REDIS_URL", "redis://127.0.0.1:9")
    assert s3_app.test_client().get("/healthz").get_json()["redis"] == "degraded"
