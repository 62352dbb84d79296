"""Several app servers: rate limits shared through Redis, client addresses through the
trusted proxies only (PORTAL_TRUSTED_PROXIES)."""
from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from portal import create_app
from portal.config import PROJECT_ROOT
from tests.conftest import settings_for_tests
from tests.test_jobs import needs_redis

SIGN_IN_LIMIT = 10  # per minute, AUTH_LIMIT in portal/auth/routes.py


@pytest.fixture(autouse=True)
def restore_the_limiter():
    """Flask-Limiter keeps its state on the one Limiter object, and the servers made here
    enable it: the test session's app gets its own state back afterwards."""
    from portal.extensions import limiter

    saved = dict(vars(limiter))
    yield
    vars(limiter).clear()
    vars(limiter).update(saved)


def server_settings(app, smtp_inbox, **overrides) -> dict:
    settings = settings_for_tests(Path(app.config["TEST_BASE"]),
                                  app.config["SQLALCHEMY_DATABASE_URI"], smtp_inbox[1])
    settings.update({"RATELIMIT_ENABLED": True}, **overrides)
    return settings


def server(app, smtp_inbox, **overrides):
    return create_app(server_settings(app, smtp_inbox, **overrides))


# Another server: a separate process with its own app and its own rate limiter.
OTHER_SERVER = """
import json, sys
from portal import create_app
portal = create_app(json.loads(sys.argv[1]))
answer = portal.test_client().post(
    "/account/login", data={"email": "nobody@example.org", "password": "wrong password"},
    environ_base={"REMOTE_ADDR": sys.argv[2]})
print(answer.status_code)
"""


def sign_in_on_another_server(settings: dict, address="203.0.113.7") -> int:
    settings = {key: value for key, value in settings.items()
                if isinstance(value, (str, int, bool, type(None)))}
    result = subprocess.run([sys.executable, "-c", OTHER_SERVER, json.dumps(settings), address],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return int(result.stdout.strip().splitlines()[-1])


def sign_in_attempt(portal, address="203.0.113.7", forwarded_for=None):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return portal.test_client().post(
        "/account/login", data={"email": "nobody@example.org", "password": "wrong password"},
        headers=headers, environ_base={"REMOTE_ADDR": address})


@needs_redis
def test_sign_in_limits_hold_across_servers_sharing_redis(app, smtp_inbox):
    settings = server_settings(app, smtp_inbox,
                               RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/15",
                               RATELIMIT_KEY_PREFIX=f"test-{secrets.token_hex(4)}")
    first = create_app(settings)
    for _ in range(SIGN_IN_LIMIT):
        assert sign_in_attempt(first).status_code == 400  # wrong password
    refused = sign_in_attempt(first)
    assert refused.status_code == 429
    assert "Trop de tentatives" in refused.get_data(as_text=True)
    # Another server process, the same client: refused too; another client is not.
    assert sign_in_on_another_server(settings) == 429
    assert sign_in_on_another_server(settings, address="198.51.100.1") == 400


def test_without_a_shared_store_each_server_counts_alone(app, smtp_inbox):
    settings = server_settings(app, smtp_inbox)
    first = create_app(settings)
    for _ in range(SIGN_IN_LIMIT):
        sign_in_attempt(first)
    assert sign_in_attempt(first).status_code == 429
    assert sign_in_on_another_server(settings) == 400


def test_the_client_address_comes_from_trusted_proxies_only(app, smtp_inbox):
    # Behind one proxy: its X-Forwarded-For names the client.
    proxied = server(app, smtp_inbox, TRUSTED_PROXIES=1)
    for _ in range(SIGN_IN_LIMIT):
        sign_in_attempt(proxied, address="10.0.0.2", forwarded_for="203.0.113.7")
    assert sign_in_attempt(proxied, address="10.0.0.2",
                           forwarded_for="203.0.113.7").status_code == 429
    assert sign_in_attempt(proxied, address="10.0.0.2",
                           forwarded_for="198.51.100.1").status_code == 400
    # A client adding its own header does not get a new address: one hop is trusted.
    assert sign_in_attempt(proxied, address="10.0.0.2",
                           forwarded_for="192.0.2.99, 203.0.113.7").status_code == 429
    # With no trusted proxy, the header is ignored.
    direct = server(app, smtp_inbox)
    for number in range(SIGN_IN_LIMIT):
        sign_in_attempt(direct, forwarded_for=f"192.0.2.{number}")
    assert sign_in_attempt(direct, forwarded_for="192.0.2.200").status_code == 429


@pytest.mark.parametrize("value", ["-1", "two"])
def test_trusted_proxies_must_be_a_whole_number(monkeypatch, tmp_path, value):
    from portal.config import ConfigurationError

    monkeypatch.setenv("PORTAL_TRUSTED_PROXIES", value)
    with pytest.raises(ConfigurationError):
        create_app({"INSTANCE_PATH": str(tmp_path)})


def test_the_rollup_loop_keeps_going_through_a_database_error(runner, monkeypatch):
    """`flask rollup --every N`, the figures' service loop: a failed round is reported and
    the next one runs (here the loop is stopped after its second sleep)."""
    import time

    from sqlalchemy.exc import OperationalError

    from portal.tracking import rollup

    rounds = []

    def flaky_catch_up(max_batches=None):
        rounds.append(1)
        if len(rounds) == 1:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        return 3

    def sleep(seconds):
        if len(rounds) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(rollup, "catch_up", flaky_catch_up)
    monkeypatch.setattr(time, "sleep", sleep)
    result = runner.invoke(args=["rollup", "--every", "1"])
    assert len(rounds) == 2
    assert "Database unavailable" in result.output and "3 event(s)" in result.output


def test_mails_a_client_can_trigger_are_limited(app, smtp_inbox):
    """Password-reset mails: 5 an hour per client address, then a translated refusal."""
    portal = server(app, smtp_inbox)
    client = portal.test_client()
    for _ in range(5):
        answer = client.post("/account/reset", data={"email": "nobody@example.org"},
                             environ_base={"REMOTE_ADDR": "203.0.113.9"})
        assert answer.status_code == 302
    refused = client.post("/account/reset?lang=en", data={"email": "nobody@example.org"},
                          environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert refused.status_code == 429
    assert "Too many attempts" in refused.get_data(as_text=True)
