"""File storage: one interface, two backends.

``LocalStorage`` keeps files in a folder (the embedded default); ``S3Storage`` keeps
them in a bucket through boto3 and answers downloads with short-lived presigned URLs.
Writes are atomic in both: a reader never sees a half-written file.
"""
from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from cachetools import TTLCache
from flask import Flask, Response, current_app, redirect, send_file


class StorageError(RuntimeError):
    """The storage could not be read or written."""


def _checked_key(key: str) -> str:
    """Refuse keys that could escape the storage root."""
    path = PurePosixPath(key)
    if path.is_absolute() or ".." in path.parts or not key or "\\" in key:
        raise StorageError(f"invalid storage key {key!r}")
    return key


class LocalStorage:
    """Files in a local folder."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / _checked_key(key)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def put_file(self, key: str, source: BinaryIO, content_type: str) -> None:
        """Copy a readable stream into storage atomically (temporary file, then rename)."""
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".part-")
            with os.fdopen(fd, "wb") as tmp:
                shutil.copyfileobj(source, tmp, 1024 * 1024)
            os.replace(tmp_name, target)
        except OSError as exc:
            raise StorageError(str(exc)) from exc

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.put_file(key, io.BytesIO(data), content_type)

    def open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except OSError as exc:
            raise StorageError(str(exc)) from exc

    def read_bytes(self, key: str) -> bytes:
        with self.open(key) as stream:
            return stream.read()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def send(self, key: str, filename: str, content_type: str) -> Response:
        """Answer a download with the file itself."""
        try:
            return send_file(
                self._path(key),
                mimetype=content_type,
                as_attachment=True,
                download_name=filename,
                max_age=0,
            )
        except OSError as exc:
            raise StorageError(str(exc)) from exc

    def send_inline(self, key: str, content_type: str, max_age: int = 3600) -> Response:
        try:
            return send_file(self._path(key), mimetype=content_type, max_age=max_age)
        except OSError as exc:
            raise StorageError(str(exc)) from exc

    def ping(self) -> bool:
        return self.root.is_dir() and os.access(self.root, os.W_OK)


class S3Storage:
    """Files in an S3 bucket (or an S3-compatible server), through one boto3 client."""

    def __init__(self, bucket: str, endpoint_url: str | None, region: str | None,
                 presign_seconds: int):
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.presign_seconds = presign_seconds
        # Presigned URLs handed out again for a fifth of their lifetime (see _presigned);
        # bounded, since personalized documents have a key each.
        self._urls = TTLCache(maxsize=4096, ttl=min(60.0, presign_seconds / 5))
        # The session's credentials are the client's own (botocore keeps one object).
        self._session = boto3.session.Session()
        self.client = self._session.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(signature_version="s3v4",
                          retries={"max_attempts": 2, "mode": "standard"},
                          connect_timeout=5, read_timeout=30),
        )

    def _call(self, method: str, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(Bucket=self.bucket, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(str(exc)) from exc

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=_checked_key(key))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise StorageError(str(exc)) from exc
        except Exception as exc:  # connection errors
            raise StorageError(str(exc)) from exc

    def put_file(self, key: str, source: BinaryIO, content_type: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            # upload_fileobj streams in parts; the object appears only once complete.
            self.client.upload_fileobj(source, self.bucket, _checked_key(key),
                                       ExtraArgs={"ContentType": content_type})
        except (BotoCoreError, ClientError, OSError) as exc:
            raise StorageError(str(exc)) from exc

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self._call("put_object", Key=_checked_key(key), Body=data, ContentType=content_type)

    def open(self, key: str) -> BinaryIO:
        return self._call("get_object", Key=_checked_key(key))["Body"]

    def read_bytes(self, key: str) -> bytes:
        return self.open(key).read()

    def delete(self, key: str) -> None:
        self._call("delete_object", Key=_checked_key(key))

    def _presigned(self, key: str, params: dict) -> str:
        # Signing is local (no round trip to the storage server) but costs botocore more CPU
        # than the rest of a download's answer, so a URL is handed out again for a fifth of
        # its lifetime (a minute at most): each still has four fifths of its life ahead.
        memo_key = (key, *sorted(params.items()))
        url = self._urls.get(memo_key)
        if url is not None:
            return url
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            url = self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": _checked_key(key), **params},
                ExpiresIn=self.presign_seconds,
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(str(exc)) from exc
        self._urls[memo_key] = url
        return url

    def send(self, key: str, filename: str, content_type: str) -> Response:
        disposition = content_disposition(filename)
        url = self._presigned(key, {"ResponseContentDisposition": disposition,
                                    "ResponseContentType": content_type})
        return redirect(url, code=302)

    def send_inline(self, key: str, content_type: str, max_age: int = 3600) -> Response:
        return redirect(self._presigned(key, {"ResponseContentType": content_type}), code=302)

    def ping(self) -> bool:
        self._call("head_bucket")
        return True


def content_disposition(filename: str) -> str:
    """An RFC 6266 attachment header keeping accents through RFC 5987's filename*."""
    import unicodedata
    from urllib.parse import quote

    ascii_name = (unicodedata.normalize("NFKD", filename).encode("ascii", "ignore")
                  .decode().replace('"', "").replace("\\", ""))
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def init_app(app: Flask) -> None:
    """Choose the backend once; the S3 client is made lazily, after any fork."""
    backend = app.config["STORAGE_BACKEND"]
    if backend not in ("local", "s3"):
        raise RuntimeError("PORTAL_STORAGE must be 'local' or 's3'")
    if backend == "s3" and not app.config.get("S3_BUCKET"):
        raise RuntimeError("PORTAL_S3_BUCKET is required when PORTAL_STORAGE=s3")
    app.extensions["portal_storage"] = None
    app.extensions["portal_storage_pid"] = None


def get_storage(app: Flask | None = None):
    """The storage of this process (one client per process, made after any fork)."""
    app = app or current_app._get_current_object()
    pid = os.getpid()
    if app.extensions.get("portal_storage") is None or app.extensions["portal_storage_pid"] != pid:
        config = app.config
        if config["STORAGE_BACKEND"] == "s3":
            storage = S3Storage(config["S3_BUCKET"], config["S3_ENDPOINT_URL"],
                                config["S3_REGION"], config["S3_PRESIGN_SECONDS"])
        else:
            storage = LocalStorage(config["STORAGE_PATH"])
        app.extensions["portal_storage"] = storage
        app.extensions["portal_storage_pid"] = pid
    return app.extensions["portal_storage"]
