"""Configuration: the one module that reads the environment.

Every setting comes from a ``PORTAL_*`` variable, with embedded defaults that run the
portal on one machine (SQLite and a storage folder in the instance folder, mail to the
console). ``load_config`` is called by the app factory; tests pass overrides instead.
"""
from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigurationError(RuntimeError):
    """A setting is missing or wrong; the portal refuses to start rather than guess."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(f"PORTAL_{name}")
    return value if value not in (None, "") else default


def _int_env(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"PORTAL_{name} must be a whole number, got {raw!r}") from exc


# Downloads per account (the session's account, else the address): far above what a
# person does (a whole kit is one ZIP, or a dozen files), low enough that a script
# cannot make thousands. The load test raises it (bench/load.py).
DOWNLOAD_RATE_LIMIT = "60 per minute;600 per hour"
# QR scans per address: a class behind one school address still gets through; past
# it, scans are not recorded and the help page is answered with 429.
QR_SCAN_LIMIT = "30 per minute"
# Uploads (logos, photos, staff files) per account: decoding and checking them is work.
UPLOAD_RATE_LIMIT = "10 per minute;60 per hour"


def _check_limit(name: str, value: str) -> None:
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError as exc:
        raise ConfigurationError(
            f"PORTAL_{name} must be a rate such as '60 per minute', got {value!r}") from exc


def normalize_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever spelling the operator used."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _instance_secret_key(instance_path: Path) -> str:
    """A development secret generated once and kept in the instance folder."""
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def environment_settings(instance_path: Path) -> dict:
    """Read every PORTAL_* variable into Flask settings."""
    instance_path.mkdir(parents=True, exist_ok=True)
    env = _env("ENV", "development")
    if env not in ("development", "production"):
        raise ConfigurationError("PORTAL_ENV must be 'development' or 'production'")
    secret_key = _env("SECRET_KEY")
    if secret_key is None:
        if env != "development":
            raise ConfigurationError("PORTAL_SECRET_KEY is required outside development")
        secret_key = _instance_secret_key(instance_path)
    clock_start, clock_anchor = _env("CLOCK_START"), _env("CLOCK_ANCHOR")
    if clock_start is not None:
        if env == "production":
            raise ConfigurationError("PORTAL_CLOCK_START is for demonstrations and tests only")
        for name, value in (("PORTAL_CLOCK_START", clock_start),
                            ("PORTAL_CLOCK_ANCHOR", clock_anchor)):
            try:
                if value is not None:
                    datetime.fromisoformat(value)
            except ValueError as exc:
                raise ConfigurationError(
                    f"{name} must be an ISO 8601 time, got {value!r}") from exc
    if _int_env("TRUSTED_PROXIES", 0) < 0:
        raise ConfigurationError("PORTAL_TRUSTED_PROXIES is a number of proxies (0 or more)")
    limits = {name: _env(name, default) for name, default in (
        ("DOWNLOAD_RATE_LIMIT", DOWNLOAD_RATE_LIMIT), ("QR_SCAN_LIMIT", QR_SCAN_LIMIT),
        ("UPLOAD_RATE_LIMIT", UPLOAD_RATE_LIMIT))}
    for name, value in limits.items():
        _check_limit(name, value)
    if 0 < _int_env("WORK_MEMORY_MB", 768) < 256:
        # WeasyPrint and its fonts alone take about 250 MB of address space.
        raise ConfigurationError("PORTAL_WORK_MEMORY_MB is at least 256 (or 0: no limit)")
    database_url = _env("DATABASE_URL", f"sqlite:///{instance_path / 'portal.db'}")
    return {
        "PORTAL_ENV": env,
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": normalize_database_url(database_url),
        "PUBLIC_URL": _env("PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/"),
        "STORAGE_BACKEND": _env("STORAGE", "local"),
        "STORAGE_PATH": _env("STORAGE_PATH", str(instance_path / "storage")),
        "S3_BUCKET": _env("S3_BUCKET"),
        "S3_ENDPOINT_URL": _env("S3_ENDPOINT_URL"),
        "S3_REGION": _env("S3_REGION"),
        "S3_PRESIGN_SECONDS": _int_env("S3_PRESIGN_SECONDS", 300),
        "SMTP_URL": _env("SMTP_URL"),
        "MAIL_FROM": _env("MAIL_FROM", "Semaine nationale <no-reply@localhost>"),
        "MAIL_FOLDER": _env("MAIL_FOLDER", str(instance_path / "mail")),
        "REDIS_URL": _env("REDIS_URL"),
        "TRUSTED_PROXIES": _int_env("TRUSTED_PROXIES", 0),
        "CLOCK_START": clock_start,
        "CLOCK_ANCHOR": clock_anchor if clock_start is not None else None,
        "JOB_TIMEOUT": _int_env("JOB_TIMEOUT", 1800),
        # Threads of each server process for mail (without Redis) and jobs (without a
        # worker): bounded, so a burst of mail queues up instead of starting threads.
        **limits,
        "MAIL_THREADS": _int_env("MAIL_THREADS", 4),
        "JOB_THREADS": _int_env("JOB_THREADS", 2),
        "MATERIALS_PATH": _env("MATERIALS_PATH", str(PROJECT_ROOT / "materials")),
        "MAX_CONTENT_LENGTH": _int_env("MAX_UPLOAD_BYTES", 8 * 1024 * 1024),
        "PDF_RENDER_TIMEOUT": _int_env("PDF_RENDER_TIMEOUT", 20),
        # Limits of the work processes (portal/pdf/worker.py): address space of each, in
        # MB, and the time an uploaded image may take to decode.
        "WORK_MEMORY_MB": _int_env("WORK_MEMORY_MB", 768),
        "IMAGE_TIMEOUT": _int_env("IMAGE_TIMEOUT", 10),
        "DOCUMENT_RETENTION_DAYS": _int_env("DOCUMENT_RETENTION_DAYS", 90),
        "UNVERIFIED_RETENTION_DAYS": _int_env("UNVERIFIED_RETENTION_DAYS", 14),
        "AUDIT_RETENTION_DAYS": _int_env("AUDIT_RETENTION_DAYS", 1095),
        "PRIVACY_CONTACT": _env("PRIVACY_CONTACT"),
        "SESSION_COOKIE_SECURE": _env("PUBLIC_URL", "").startswith("https://"),
        "REMEMBER_COOKIE_SECURE": _env("PUBLIC_URL", "").startswith("https://"),
    }


DEFAULTS = {
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_DURATION": 60 * 60 * 24 * 30,
    "BABEL_DEFAULT_LOCALE": "fr_CA",
    "BABEL_DEFAULT_TIMEZONE": "America/Montreal",
    "BABEL_TRANSLATION_DIRECTORIES": str(Path(__file__).parent / "translations"),
    "LANGUAGES": ("fr", "en"),
    "RATELIMIT_HEADERS_ENABLED": False,
    "RATELIMIT_STRATEGY": "moving-window",
    "WTF_CSRF_TIME_LIMIT": None,
    "FROZEN_NOW": None,
    "RATELIMIT_STORAGE_URI": "memory://",
}
