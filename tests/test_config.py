"""Configuration: embedded defaults, environment variables, refusals."""
from __future__ import annotations

import pytest

from portal import create_app
from portal.config import ConfigurationError, normalize_database_url


@pytest.fixture
def clean_env(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith("PORTAL_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_embedded_defaults(clean_env, tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'portal.db'}"
    assert app.config["STORAGE_BACKEND"] == "local"
    assert app.config["STORAGE_PATH"] == str(tmp_path / "storage")
    assert app.config["SMTP_URL"] is None
    assert app.config["PUBLIC_URL"] == "http://127.0.0.1:5000"
    assert app.config["PORTAL_ENV"] == "development"


def test_secret_key_is_generated_once_into_the_instance_folder(clean_env, tmp_path):
    first = create_app({"INSTANCE_PATH": str(tmp_path)}).config["SECRET_KEY"]
    second = create_app({"INSTANCE_PATH": str(tmp_path)}).config["SECRET_KEY"]
    assert first == second and len(first) >= 40
    key_file = tmp_path / "secret_key"
    assert key_file.read_text().strip() == first
    assert key_file.stat().st_mode & 0o077 == 0


def test_production_requires_a_secret_key(clean_env, tmp_path):
    clean_env.setenv("PORTAL_ENV", "production")
    with pytest.raises(ConfigurationError, match="PORTAL_SECRET_KEY"):
        create_app({"INSTANCE_PATH": str(tmp_path)})
    clean_env.setenv("PORTAL_SECRET_KEY", "a-long-random-production-secret")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SECRET_KEY"] == "a-long-random-production-secret"
    assert not (tmp_path / "secret_key").exists()


def test_environment_variables_are_read(clean_env, tmp_path):
    clean_env.setenv("PORTAL_DATABASE_URL", "postgresql://portal@db.internal/portal")
    clean_env.setenv("PORTAL_PUBLIC_URL", "https://trousses.example.gouv.qc.ca/")
    clean_env.setenv("PORTAL_SMTP_URL", "smtp://mail.internal:587?starttls=1")
    clean_env.setenv("PORTAL_STORAGE_PATH", str(tmp_path / "files"))
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://portal@db.internal/portal"
    assert app.config["PUBLIC_URL"] == "https://trousses.example.gouv.qc.ca"
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SMTP_URL"] == "smtp://mail.internal:587?starttls=1"
    assert app.config["STORAGE_PATH"] == str(tmp_path / "files")


@pytest.mark.parametrize("name, value", [("PORTAL_ENV", "staging"), ("PORTAL_STORAGE", "ftp"),
                                         ("PORTAL_MAX_UPLOAD_BYTES", "lots"),
                                         ("PORTAL_WORK_MEMORY_MB", "100"),
                                         ("PORTAL_UPLOAD_RATE_LIMIT", "lots")])
def test_wrong_settings_are_refused(clean_env, tmp_path, name, value):
    clean_env.setenv(name, value)
    with pytest.raises((ConfigurationError, RuntimeError)):
        create_app({"INSTANCE_PATH": str(tmp_path)})


def test_database_url_spellings():
    assert normalize_database_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalize_database_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalize_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_default_mail_goes_to_the_console_and_instance_folder(clean_env, tmp_path, capsys):
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    from portal.mail import build_message, send_now

    with app.test_request_context("/"):
        send_now(build_message("someone@example.org", "Bonjour", "Le texte du message."))
    files = list((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 1
    assert b"Le texte du message." in files[0].read_bytes()
    assert "someone@example.org" in capsys.readouterr().err


def test_clock_start_runs_the_portal_clock_from_another_moment(clean_env, tmp_path):
    from datetime import UTC, datetime

    from portal.clock import now

    clean_env.setenv("PORTAL_CLOCK_START", "2027-03-04T09:00:00-05:00")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    with app.app_context():
        first = now()
        assert datetime(2027, 3, 4, 14, 0, tzinfo=UTC) <= first
        assert (first - datetime(2027, 3, 4, 14, 0, tzinfo=UTC)).total_seconds() < 5
        assert now() >= first  # and it runs on


def test_clock_anchor_gives_every_process_the_same_clock(clean_env, tmp_path):
    from datetime import UTC, datetime, timedelta

    from portal.clock import now

    anchor = datetime.now(UTC) - timedelta(hours=1)  # the portal's clock read START then
    clean_env.setenv("PORTAL_CLOCK_START", "2027-02-28T23:00:00-05:00")
    clean_env.setenv("PORTAL_CLOCK_ANCHOR", anchor.isoformat())
    first_process = create_app({"INSTANCE_PATH": str(tmp_path)})
    with first_process.app_context():
        first = now()
    second_process = create_app({"INSTANCE_PATH": str(tmp_path)})  # a worker started later
    with second_process.app_context():
        second = now()
    one_march = datetime(2027, 3, 1, 5, 0, tzinfo=UTC)  # 1 March 00:00 in Montréal
    assert timedelta(0) <= first - one_march < timedelta(seconds=5)
    assert timedelta(0) <= second - first < timedelta(seconds=5)


@pytest.mark.parametrize("env, value", [("development", "next tuesday"),
                                        ("production", "2027-03-04T09:00:00-05:00")])
def test_clock_start_refusals(clean_env, tmp_path, env, value):
    clean_env.setenv("PORTAL_ENV", env)
    clean_env.setenv("PORTAL_SECRET_KEY", "x" * 40)
    clean_env.setenv("PORTAL_CLOCK_START", value)
    with pytest.raises(ConfigurationError):
        create_app({"INSTANCE_PATH": str(tmp_path)})
