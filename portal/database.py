"""Database setup: SQLAlchemy bound to the app, pooled connections checked before use
(SQLAlchemy's ``pool_pre_ping``: a restarted server is survived), SQLite tuned so that
several writers wait for each other instead of failing."""
from __future__ import annotations

from flask import Flask
from sqlalchemy import event

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


def init_app(app: Flask) -> None:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite"):
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
        options.setdefault("connect_args", {"timeout": 10})
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    db.init_app(app)
    if uri.startswith("sqlite"):
        with app.app_context():
            event.listen(db.engine, "connect", _sqlite_pragmas)
