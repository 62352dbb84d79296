"""Account logic, callable without a request: registration, authentication, staff creation."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.auth.passwords import hash_password, needs_rehash, password_problem, verify_password
from portal.clock import naive_utc_now
from portal.extensions import db
from portal.models import Account
from portal.reference import (
    ORGANIZATION_TYPES,
    REGIONS,
    ROLE_CITIZEN,
    ROLE_ORGANIZATION,
    ROLE_STAFF,
)


class AccountError(ValueError):
    """A request about an account that cannot be carried out; the message says why."""


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def find_account(email: str) -> Account | None:
    return db.session.scalars(select(Account).where(Account.email == normalize_email(email))).first()


def register(role: str, email: str, password: str, display_name: str,
             organization_type: str | None = None, region: str | None = None,
             locale: str = "fr") -> tuple[Account, bool]:
    """Create an account; return it and whether it is new.

    When the email already has an account nothing is created and the existing account
    is returned with ``False``: the caller answers exactly as for a new one and tells
    the owner by mail, so nobody learns who is registered.
    """
    if role not in (ROLE_CITIZEN, ROLE_ORGANIZATION):
        raise AccountError("only citizens and organizations register")
    if role == ROLE_ORGANIZATION and organization_type not in ORGANIZATION_TYPES:
        raise AccountError("unknown organization type")
    if region is not None and region not in REGIONS:
        raise AccountError("unknown region")
    password_hash = hash_password(password)  # hashed in both cases: equal timing
    existing = find_account(email)
    if existing is not None:
        return existing, False
    account = Account(
        email=normalize_email(email), password_hash=password_hash, role=role,
        display_name=display_name.strip(), organization_type=organization_type,
        region=region or None, locale=locale,
    )
    db.session.add(account)
    try:
        db.session.commit()
    except IntegrityError:
        # The same email registered at the same instant by another request.
        db.session.rollback()
        return find_account(email), False
    return account, True


def authenticate(email: str, password: str) -> Account | None:
    """The account if the password is right; ``None`` otherwise, in the same time."""
    account = find_account(email)
    if not verify_password(account.password_hash if account else None, password):
        return None
    if needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    account.last_login_at = naive_utc_now()
    db.session.commit()
    return account


def create_staff(email: str, password: str, display_name: str = "") -> Account:
    """A staff account (only the CLI calls this)."""
    email = normalize_email(email)
    if not email or "@" not in email or len(email) > 254:
        raise AccountError("a valid email address is required")
    problem = password_problem(password, email)
    if problem:
        raise AccountError(str(problem))
    if find_account(email) is not None:
        raise AccountError(f"an account already exists for {email}")
    account = Account(email=email, password_hash=hash_password(password), role=ROLE_STAFF,
                      display_name=display_name or email.split("@")[0])
    db.session.add(account)
    db.session.commit()
    return account
