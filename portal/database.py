"""Database setup: SQLAlchemy bound to the app, with SQLite tuned for several writers;
pooled connections pinged after they sat idle (``pool_pre_ping``), not at every checkout;
statements run on the DBAPI connection, in autocommit, for the download path."""
from __future__ import annotations

import time

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import make_transient_to_detached

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


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def engine_for_a_statement_alone() -> Engine | None:
    """The engine a ``DirectStatement`` would run on alone, in autocommit, now: when the
    request's session holds no transaction and takes its connections from the engine's
    pool. ``None`` otherwise (a transaction under way, a test session joined to an outer
    transaction): the statement then runs in the session's transaction."""
    session = db.session()
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) and not session.in_transaction() else None


class DirectStatement:
    """A Core statement compiled once per engine and run on the DBAPI connection itself.

    For the download path, where SQLAlchemy's execution machinery (and the ORM's above it)
    costs several times the database's own work for a statement. The statement's column
    types still convert what goes in (bind processors) and what comes out (result
    processors), as SQLAlchemy would; rows are plain tuples, one value per selected column.
    ``column_keys`` names the columns an INSERT sets (the others take their defaults).
    """

    def __init__(self, build, column_keys: tuple[str, ...] | None = None):
        self._build = build
        self._column_keys = list(column_keys) if column_keys else None
        self._statement = None
        self._forms: dict = {}  # dialect -> _CompiledForm

    @property
    def statement(self):
        if self._statement is None:
            self._statement = self._build()
        return self._statement

    def form(self, dialect) -> _CompiledForm:
        form = self._forms.get(dialect)
        if form is None:
            form = self._forms[dialect] = _CompiledForm(self.statement, dialect,
                                                        self._column_keys)
        return form

    def execute(self, params: dict) -> tuple[list[tuple], bool]:
        """Run the statement with ``params``; its rows (empty without any) and whether it
        was committed already.

        When the request's session holds no transaction and takes its connections from
        the engine's pool, a pooled connection runs the statement alone in autocommit:
        committed when the database answers it (on PostgreSQL, once the commit is flushed
        to disk), without the round trips of BEGIN and COMMIT, and back in the pool at
        once with ordinary transactions. Otherwise (a transaction under way, a test
        session joined to an outer transaction) it runs in the session's transaction,
        through SQLAlchemy, and the caller commits.
        """
        engine = engine_for_a_statement_alone()
        if engine is not None:
            return self.form(engine.dialect).run_autocommit(engine, params), True
        result = db.session.connection().execute(self.statement, params)
        return (result.all() if result.returns_rows else []), False


class _CompiledForm:
    """A statement's SQL for one dialect, with what converts its parameters and rows."""

    def __init__(self, statement, dialect, column_keys):
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        if compiled.escaped_bind_names:
            raise ValueError("bind parameter names that need escaping are not supported")
        sql = compiled.string
        rendered = compiled.literal_execute_params
        binds = {}  # the parameters sent with the SQL
        for bind, name in compiled.bind_names.items():
            if bind in rendered:  # a constant rendered into the SQL (a separator, say)
                if bind.required or bind.expanding:
                    raise ValueError("only constant literal-execute parameters are supported")
                render = bind.type.dialect_impl(dialect).literal_processor(dialect)
                sql = sql.replace(f"__[POSTCOMPILE_{name}]", render(bind.effective_value))
            else:
                binds[bind] = name
        if "__[POSTCOMPILE_" in sql:
            raise ValueError("a parameter left to render at execution")
        self.sql = sql
        self.dialect = dialect
        sent = set(binds.values())
        self.order = (tuple(name for name in compiled.positiontup or () if name in sent)
                      if compiled.positional else None)
        self.defaults, self.bind_processors = {}, []
        for bind, name in binds.items():
            if not bind.required:  # a literal of the statement
                self.defaults[name] = bind.effective_value
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.bind_processors.append((name, processor))
        self.keys = {bind.key: name for bind, name in binds.items()}
        self.result_processors = None
        selects = getattr(statement, "is_select", False)
        self.returns_rows = bool(selects or compiled.effective_returning)
        if self.returns_rows:
            columns = statement.selected_columns if selects else compiled.effective_returning
            processors = [column.type.dialect_impl(dialect).result_processor(dialect, None)
                          for column in columns]
            if any(processors):
                self.result_processors = processors

    def parameters(self, params: dict):
        values = dict(self.defaults)
        keys = self.keys
        for key, value in params.items():
            name = keys.get(key)
            if name is not None:  # others are ignored, as SQLAlchemy does
                values[name] = value
        for name, processor in self.bind_processors:
            values[name] = processor(values[name])
        return values if self.order is None else tuple(values[name] for name in self.order)

    def run_autocommit(self, engine: Engine, params: dict) -> list[tuple]:
        dialect = self.dialect
        parameters = self.parameters(params)
        connection = engine.raw_connection()  # the pool's checkout (and idle ping) as usual
        dbapi_connection = connection.driver_connection
        try:
            dialect.set_isolation_level(dbapi_connection, "AUTOCOMMIT")
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(self.sql, parameters)
                # (not cursor.description: psycopg makes an object per column for it)
                rows = cursor.fetchall() if self.returns_rows else []
            finally:
                cursor.close()
        except dialect.loaded_dbapi.Error as error:
            disconnected = dialect.is_disconnect(error, dbapi_connection, None)
            if disconnected:
                connection.invalidate(error)
            connection.close()
            # The error SQLAlchemy would raise (OperationalError, IntegrityError...).
            raise DBAPIError.instance(self.sql, parameters, error, dialect.loaded_dbapi.Error,
                                      dialect=dialect,
                                      connection_invalidated=disconnected) from error
        except BaseException:
            connection.invalidate()
            connection.close()
            raise
        # Back to the pool with the engine's usual transactions.
        dialect.reset_isolation_level(dbapi_connection)
        connection.close()
        processors = self.result_processors
        if processors is not None:
            rows = [tuple(value if processor is None else processor(value)
                          for processor, value in zip(processors, row, strict=True))
                    for row in rows]
        return rows


def loaded(model, values: dict):
    """An instance of ``model`` for a row read outside the ORM, as the ORM would load it
    (every column's value set, nothing pending) but in no session: detached, so it runs
    no query. Filling its state directly costs a fraction of the constructor, whose
    attribute events record changes there is no use for here."""
    instance = model.__mapper__.class_manager.new_instance()
    instance.__dict__.update(values)
    make_transient_to_detached(instance)
    return instance
