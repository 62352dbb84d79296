"""Test fixtures: one app and one schema per run, each test inside a rolled-back transaction.

The database is SQLite in a temporary folder, or PostgreSQL when
``PORTAL_TEST_DATABASE_URL`` is set (CI sets it to the machine's server). The schema is
built once by the Alembic migrations and the kits imported once (their materials
rendered once); every test then runs in a transaction that is rolled back after it, so
commits made by the code under test are SAVEPOINT releases that never reach the disk.
Mail goes through a real SMTP server on loopback (aiosmtpd).
"""
from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from email import message_from_bytes, policy
from pathlib import Path

import flask_migrate
import pytest
from aiosmtpd.controller import Controller
from flask_sqlalchemy.session import _app_ctx_id
from sqlalchemy import text
from sqlalchemy.orm import scoped_session, sessionmaker

from portal import create_app
from portal.auth.services import create_staff, register
from portal.catalog.importer import import_materials
from portal.config import PROJECT_ROOT, normalize_database_url
from portal.extensions import db
from portal.storage import get_storage

PASSWORD = "une longue phrase secrète"


def _cheaper_password_hashing() -> None:
    """Argon2id still, with small costs: the suite signs in thousands of times, and the
    production cost (about 0.1 s a hash, by design) would dominate its run time."""
    from argon2 import PasswordHasher

    from portal.auth import passwords

    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    passwords._DUMMY_HASH = passwords._hasher.hash("not a real password, only for equal timing")


_cheaper_password_hashing()
TEST_DATABASE_URL = os.environ.get("PORTAL_TEST_DATABASE_URL")


@contextmanager
def own_database(tmp_path_factory, purpose: str):
    """A database of a test module's own, for servers it starts: SQLite in a temporary
    folder, or a fresh PostgreSQL database on the run's server, named after the run's test
    database (engineers sharing a server do not collide) and dropped afterwards."""
    if not (TEST_DATABASE_URL or "").startswith("postgres"):
        yield f"sqlite:///{tmp_path_factory.mktemp(purpose) / 'portal.db'}"
        return
    from sqlalchemy import create_engine

    server = normalize_database_url(TEST_DATABASE_URL)
    name = f"portal_{purpose}_" + server.rsplit("/", 1)[1].split("?")[0]
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """Receives what the portal's SMTP client sends."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append(message)
        return "250 OK"


@pytest.fixture(scope="session")
def smtp_inbox():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def reset_database(url: str) -> None:
    """Start the run from an empty database (PostgreSQL: an empty public schema)."""
    if url.startswith("postgresql"):
        with db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
def app(tmp_path_factory, smtp_inbox):
    base = tmp_path_factory.mktemp("portal")
    url = normalize_database_url(TEST_DATABASE_URL or f"sqlite:///{base / 'test.db'}")
    app = test_app(settings_for_tests(base, url, smtp_inbox[1]))
    with app.app_context():
        reset_database(url)
        flask_migrate.upgrade()
        # The kits are rendered once per run; tests share them read-only.
        import_materials(Path(app.config["MATERIALS_PATH"]), get_storage())
    yield app
    with app.app_context():
        db.engine.dispose()


class JobsWhenWaitedFor:
    """A job pool for tests: a job's thread starts when the test waits for it, not while
    the request that submitted it still runs (every thread of a test shares the test's
    one database connection, rolled back afterwards)."""

    def __init__(self):
        self._waiting = []

    def submit(self, task, *args) -> None:
        self._waiting.append((task, args))

    def wait(self, timeout: float = 60) -> bool:
        import threading

        while self._waiting:
            task, args = self._waiting.pop(0)
            thread = threading.Thread(target=task, args=args)
            thread.start()
            thread.join(timeout)
        return True


def test_app(settings: dict, explicit_transactions: bool = True):
    """The portal configured for tests: its jobs run when a test waits for them and, on
    SQLite, SQLAlchemy rather than pysqlite starts transactions, so each test's outer
    transaction and the SAVEPOINTs inside it work (the ``isolated`` fixture)."""
    app = create_app(settings)
    app.extensions["portal.pools"]["jobs"] = JobsWhenWaitedFor()
    if explicit_transactions and settings["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        from sqlalchemy import event

        with app.app_context():
            engine = db.engine

            @event.listens_for(engine, "connect")
            def _no_implicit_begin(dbapi_connection, _record):
                dbapi_connection.isolation_level = None

            @event.listens_for(engine, "begin")
            def _begin(connection):
                connection.exec_driver_sql("BEGIN")

            engine.dispose()  # no connection made before these listeners stays
    return app


test_app.__test__ = False  # a helper, not a test


def settings_for_tests(base: Path, url: str, smtp_port: int) -> dict:
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(base / "instance"),
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": url,
        "STORAGE_BACKEND": "local",
        "STORAGE_PATH": str(base / "storage"),
        "MAIL_FOLDER": str(base / "mail"),
        "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "PUBLIC_URL": "https://portail.example.test",
        "MATERIALS_PATH": str(PROJECT_ROOT / "materials"),
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "TEST_BASE": str(base),
    }


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server on a free loopback port: an S3-compatible server over HTTP."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def production_like_app(app, smtp_inbox):
    """A second app on the same database and storage, with the database driver's own
    transaction handling (as in production): for tests where threads commit for real."""
    settings = settings_for_tests(Path(app.config["TEST_BASE"]), app.config["SQLALCHEMY_DATABASE_URI"],
                             smtp_inbox[1])
    second = create_app(settings)
    yield second
    with second.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def isolated(request, app):
    """Each test in a transaction rolled back afterwards."""
    if "no_db_isolation" in request.keywords:
        yield
        return
    with app.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
        original = db.session
        db.session = scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint"),
            scopefunc=_app_ctx_id,
        )
        try:
            yield
        finally:
            db.session.remove()
            db.session = original
            transaction.rollback()
            connection.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Outbox:
    """The mails received during a test; reading it first waits for the portal's mail
    pool to hand over what it holds."""

    def __init__(self, messages: list, app):
        self._messages = messages
        self._app = app

    def _wait(self) -> list:
        from portal.background import pool

        pool("mail", self._app).wait()  # the server files a mail before it answers DATA
        return self._messages

    def __len__(self):
        return len(self._wait())

    def __getitem__(self, index):
        return self._wait()[index]

    def __iter__(self):
        return iter(list(self._wait()))

    def __bool__(self):
        return bool(self._wait())

    def clear(self):
        self._wait().clear()


@pytest.fixture
def outbox(app, smtp_inbox):
    """The mails received by the loopback SMTP server during this test."""
    outbox = Outbox(smtp_inbox[0].messages, app)
    outbox.clear()  # once the mail an earlier test handed over has gone
    return outbox


STAFF_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def make_account(app):
    """Create an account the way the portal does; ``role`` is citizen, organization or
    staff. By default its address is confirmed, an organization is approved and a staff
    member has a second factor (``verified=False``, ``approval="pending"`` or
    ``second_factor=False`` make the other states)."""
    counter = iter(range(1, 10_000))

    def make(role="organization", email=None, password=PASSWORD, verified=True,
             approval="approved", second_factor=True, **fields):
        from portal.clock import naive_utc_now

        email = email or f"{role}{next(counter)}@example.org"
        if role == "staff":
            account = create_staff(email, password)
            if second_factor:
                account.totp_secret = STAFF_TOTP_SECRET
                account.totp_enabled_at = naive_utc_now()
                db.session.commit()
            return account
        defaults = {
            "organization": {"display_name": "Maison des jeunes du Plateau",
                             "organization_type": "community", "region": "06"},
            "citizen": {"display_name": "Camille", "region": "03"},
        }[role]
        account, created = register(role, email, password, **{**defaults, **fields})
        assert created
        if verified:
            account.email_verified_at = naive_utc_now()
        if role == "organization":
            account.approval = approval
        db.session.commit()
        return account

    return make


def totp_code(secret: str = STAFF_TOTP_SECRET) -> str:
    """The code an authentication app shows now (real time, as a phone's)."""
    import pyotp

    return pyotp.TOTP(secret).now()


@pytest.fixture
def login(client):
    def sign_in(account, password=PASSWORD, remember=False):
        response = client.post("/account/login", data={
            "email": account.email, "password": password, "remember": "y" if remember else "",
        })
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        if account.is_staff:
            # The second step; a code works once, so the last one used is forgotten.
            account.totp_last_step = None
            db.session.commit()
            response = client.post("/account/two-factor", data={"code": totp_code()})
            assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return response

    return sign_in


@pytest.fixture
def organization(make_account):
    return make_account("organization")


@pytest.fixture
def citizen(make_account):
    return make_account("citizen")


@pytest.fixture
def staff(make_account):
    return make_account("staff")


@pytest.fixture
def signed_in(client, login, make_account):
    """A client signed in with a new account of the given role."""

    def sign(role):
        account = make_account(role)
        login(account)
        return account

    return sign


def page_text(response) -> str:
    """A response's HTML with entities decoded, for assertions on visible text."""
    import html

    return html.unescape(response.get_data(as_text=True))


# Property-based tests: a bounded profile for every run, a long one on demand
# (HYPOTHESIS_PROFILE=long). The README states how many cases each runs.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "ci", max_examples=60, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "long", max_examples=2000, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
