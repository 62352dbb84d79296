"""Database setup: SQLAlchemy bound to the app, with SQLite tuned for several writers;
pooled connections pinged after they sat idle (``pool_pre_ping``), not at every checkout;
statements that commit themselves for the download path."""
from __future__ import annotations

import time

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

from portal.extensions import db


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers and one writer work together; the busy timeout makes a second
    # writer wait for the lock instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _explicit_transactions(engine: Engine) -> None:
    """Let SQLAlchemy, not pysqlite, start transactions, so SAVEPOINTs work (tests use them)."""

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN")


# How long a connection may sit in the pool and still be handed out without a ping.
PING_AFTER_IDLE_SECONDS = 5.0


def _ping_idle_connections(engine: Engine, idle_seconds: float) -> None:
    """``pool_pre_ping`` for connections that waited in the pool a while, not for one a
    request gave back a moment ago: under load every request would otherwise pay a round
    trip to the database for a connection that just answered (as PgBouncer's
    server_check_delay). A connection that fails its ping is replaced before use."""

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection, record):
        record.info["portal_returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, proxy):
        returned = record.info.get("portal_returned_at")
        if returned is None or time.monotonic() - returned < idle_seconds:
            return  # a new connection, or one in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and hands out a new one.
            raise DisconnectionError("the connection failed its ping") from exc


def init_app(app: Flask) -> None:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
    # Applied by _ping_idle_connections instead of at every checkout.
    ping = options.pop("pool_pre_ping", False)
    if uri.startswith("sqlite"):
        options.setdefault("connect_args", {"timeout": 10})
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    db.init_app(app)
    with app.app_context():
        if ping:
            _ping_idle_connections(db.engine, app.config.get("DATABASE_PING_AFTER_IDLE",
                                                             PING_AFTER_IDLE_SECONDS))
        if uri.startswith("sqlite"):
            event.listen(db.engine, "connect", _sqlite_pragmas)
            if app.config.get("SQLITE_EXPLICIT_TRANSACTIONS"):
                _explicit_transactions(db.engine)


def autocommit_statements() -> None:
    """Let each of this request's statements be its own transaction, committed when the
    database answers it (on PostgreSQL, after the commit is flushed to disk).

    For downloads, which read (the account, the catalog) and then write one event that must
    be committed before the answer: a lone INSERT needs no BEGIN and no COMMIT, two round
    trips out of six. Only when the request has not used the database yet and the session
    takes its connections from the engine's pool (a test session joined to one outer
    transaction keeps it); the pool restores the usual transactions when the connection
    goes back to it.
    """
    session = db.session()  # the request's own Session behind the scoped proxy
    if session.in_transaction() or not isinstance(session.get_bind(), Engine):
        return
    session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
