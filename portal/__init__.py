"""The national-week awareness portal: the app factory."""
from __future__ import annotations

from pathlib import Path

from flask import Flask

from portal.config import DEFAULTS, PROJECT_ROOT, environment_settings


def create_app(config: dict | None = None) -> Flask:
    """Build the portal; ``config`` overrides the environment (tests use it)."""
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        instance_path=(config or {}).get("INSTANCE_PATH") or str(PROJECT_ROOT / "instance"),
    )
    app.config.from_mapping(DEFAULTS)
    app.config.from_mapping(environment_settings(Path(app.instance_path)))
    if config:
        app.config.from_mapping(config)
    register_extensions(app)
    register_security(app)  # before the blueprints: it adds the URL converters they use
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    trust_proxies(app)
    return app


def trust_proxies(app: Flask) -> None:
    """Behind PORTAL_TRUSTED_PROXIES proxies, take the client address and scheme from
    their X-Forwarded-* headers, so rate limits and QR counts see real clients. Only that
    many hops are trusted: a client cannot forge its address by adding headers."""
    hops = app.config.get("TRUSTED_PROXIES", 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0)


def register_extensions(app: Flask) -> None:
    """Bind the database, migrations, sign-in, CSRF, languages, rate limits and storage."""
    from portal import background, database, i18n, layout, storage
    from portal.extensions import csrf, db, limiter, login_manager, migrate
    from portal.models import Account

    database.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    i18n.init_app(app)
    layout.init_app(app)
    if app.config.get("REDIS_URL") and app.config["RATELIMIT_STORAGE_URI"] == "memory://":
        app.config["RATELIMIT_STORAGE_URI"] = app.config["REDIS_URL"]
    limiter.init_app(app)
    storage.init_app(app)
    background.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"

    from flask_babel import lazy_gettext as _l

    login_manager.login_message = _l("Please sign in to continue.")

    @app.before_request
    def forget_the_previous_requests_account():
        # Flask-Login caches the account on g, which lives as long as the app context;
        # when one spans several requests (tests, CLI contexts), each request must load
        # its own account from its own session.
        from flask import g

        g.pop("_login_user", None)

    @login_manager.user_loader
    def load_account(value: str):
        """The account a session names, if the session still stands (auth.sessions)."""
        from portal.auth.sessions import SessionId, session_stands
        from portal.extensions import db

        session_id = SessionId.parse(value)
        if session_id is None:
            return None
        account = db.session.get(Account, session_id.account_id)
        return account if session_stands(account, session_id) else None


def register_blueprints(app: Flask) -> None:
    """One blueprint per feature."""
    from portal.account import bp as account_bp
    from portal.auth import bp as auth_bp
    from portal.catalog import bp as catalog_bp
    from portal.health import bp as health_bp
    from portal.orders import bp as orders_bp
    from portal.pages import bp as pages_bp
    from portal.personalize import bp as personalize_bp
    from portal.staff import bp as staff_bp

    app.register_blueprint(catalog_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(pages_bp)
    app.register_blueprint(personalize_bp)
    app.register_blueprint(orders_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(health_bp)


def register_errorhandlers(app: Flask) -> None:
    """Error pages in the portal's layout; no traceback ever reaches a page."""
    from portal import errors

    errors.init_app(app)


def register_security(app: Flask) -> None:
    """Security headers on every response; URL converters and input guards."""
    from portal import security

    security.init_app(app)


def register_commands(app: Flask) -> None:
    """The ``flask`` commands."""
    from portal import cli

    cli.init_app(app)
