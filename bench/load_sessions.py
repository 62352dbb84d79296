"""Signed-in test accounts for the load test (`bench/load.py`); not part of the portal.

    .venv/bin/python bench/load_sessions.py --count 64 --role organization

Run with the portal's environment (PORTAL_DATABASE_URL, PORTAL_SECRET_KEY, ...): it
prints one session cookie value per line, for the `session` cookie.

A load test needs many signed-in clients, and signing in through `/account/login` would
hit the sign-in rate limits (10 a minute per address) and spend an Argon2 verification
per client. This command creates the accounts through the registration service, signs
each in with Flask-Login inside a request context and prints the session cookie Flask's
own session interface would set, so the cookies stay right whatever the session holds.
The accounts are verified (and organizations approved) through the same services as the
mail link and the staff decision, so they may download what their role allows.

It is a back door by design (a session without a password), so it refuses to run when
PORTAL_ENV=production unless ``--allow-production`` is given. The accounts use the
reserved ``.invalid`` domain (RFC 2606): no mail can ever reach anyone.
"""
from __future__ import annotations

import secrets
import sys
from http.cookies import SimpleCookie
from pathlib import Path

import click
from flask import Flask, session
from flask_login import login_user

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal import create_app  # noqa: E402
from portal.auth.services import (  # noqa: E402
    AccountError,
    decide_organization,
    register,
    verification_token,
    verify_email,
)
from portal.reference import (  # noqa: E402
    ORGANIZATION_TYPES,
    REGIONS,
    ROLE_CITIZEN,
    ROLE_ORGANIZATION,
)

# Flask-Login binds a session to the client's address and user agent ("basic" session
# protection); a client that differs gets its session marked non-fresh and a new cookie
# on every response. The load clients connect from this address with this agent.
DEFAULT_CLIENT_ADDRESS = "127.0.0.1"
DEFAULT_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) PortalLoadTest/1.0"


def session_cookie(app: Flask, account, client_address: str, user_agent: str) -> str:
    """The value of the session cookie of ``account`` signed in, as the app would set it."""
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": client_address},
                                  headers={"User-Agent": user_agent}):
        login_user(account)
        response = app.response_class()
        app.session_interface.save_session(app, session._get_current_object(), response)
    cookies = SimpleCookie()
    for header in response.headers.getlist("Set-Cookie"):
        cookies.load(header)
    name = app.config["SESSION_COOKIE_NAME"]
    if name not in cookies:
        raise click.ClickException("the session interface set no session cookie")
    return cookies[name].value


def make_sessions(app: Flask, count: int, role: str, client_address: str = DEFAULT_CLIENT_ADDRESS,
                  user_agent: str = DEFAULT_USER_AGENT) -> list[str]:
    """Create ``count`` accounts of ``role`` (address confirmed, organizations approved)
    and return one session cookie value for each. Call inside the app's context."""
    batch = secrets.token_hex(4)
    regions = sorted(REGIONS)
    organization_types = sorted(ORGANIZATION_TYPES)
    cookies = []
    for number in range(count):
        extra = {"region": regions[number % len(regions)]}
        if role == ROLE_ORGANIZATION:
            extra["organization_type"] = organization_types[number % len(organization_types)]
        try:
            account, created = register(
                role, f"load-{batch}-{number}@load-test.invalid",
                # Nobody signs in with it: a random password, never shown.
                secrets.token_urlsafe(24),
                display_name=f"Load test {batch} {number}", **extra)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from exc
        if not created:
            raise click.ClickException("a load-test account already exists; run again")
        # Downloads need a confirmed address (and, for the professionals' kit, an approved
        # organization): done the way a mail link and a staff decision do it.
        if verify_email(verification_token(account)) is None:
            raise click.ClickException("the test account's address could not be verified")
        if role == ROLE_ORGANIZATION:
            decide_organization(account, approve=True)
        cookies.append(session_cookie(app, account, client_address, user_agent))
    return cookies


@click.command()
@click.option("--count", type=click.IntRange(1, 10_000), default=64, show_default=True,
              help="How many accounts to create.")
@click.option("--role", type=click.Choice([ROLE_ORGANIZATION, ROLE_CITIZEN]),
              default=ROLE_ORGANIZATION, show_default=True)
@click.option("--client-address", default=DEFAULT_CLIENT_ADDRESS, show_default=True,
              help="The address the load clients connect from (bound into the session).")
@click.option("--user-agent", default=DEFAULT_USER_AGENT, show_default=True,
              help="The User-Agent the load clients send (bound into the session).")
@click.option("--allow-production", is_flag=True,
              help="Run even when PORTAL_ENV=production.")
def main(count: int, role: str, client_address: str, user_agent: str,
         allow_production: bool):
    """Create COUNT test accounts and print one signed session cookie value per line."""
    app = create_app()
    if app.config.get("PORTAL_ENV") == "production" and not allow_production:
        raise click.ClickException(
            "refusing to mint sessions with PORTAL_ENV=production (--allow-production)")
    with app.app_context():
        for cookie in make_sessions(app, count, role, client_address, user_agent):
            click.echo(cookie)


if __name__ == "__main__":
    main()
