"""Account logic, callable without a request: registration, verification links, password
reset and changes, authentication, organizations' approval, suspension, staff creation."""
from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.auth import tokens
from portal.auth.passwords import hash_password, needs_rehash, password_problem, verify_password
from portal.clock import naive_utc_now
from portal.extensions import db
from portal.models import Account
from portal.models.accounts import APPROVED, PENDING, REJECTED
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
        approval=PENDING if role == ROLE_ORGANIZATION else None,
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
    """The account if the password is right; ``None`` otherwise, in the same time.

    A suspended account is returned too: the sign-in page tells its owner (who knows the
    password) why they cannot go further.
    """
    account = find_account(email)
    if not verify_password(account.password_hash if account else None, password):
        return None
    if needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    if account.is_active:
        account.last_login_at = naive_utc_now()
    db.session.commit()
    return account


# --- Verification links -------------------------------------------------------------

def verification_token(account: Account, email: str | None = None) -> str:
    """A new verification link's token for ``email`` (the account's own address unless
    given); earlier links stop working. The caller mails it to that same address: a link
    only ever confirms the mailbox it was sent to."""
    tokens.void(account, "verify")
    return tokens.issue(account, "verify", email or account.email)


def verify_email(token: str) -> Account | None:
    """Follow a verification link: the address it names becomes the verified one."""
    row = tokens.redeem(token, "verify")
    if row is None:
        return None
    account = db.session.get(Account, row.account_id)
    if account is None:
        return None
    if row.email != account.email:
        # A changed address: it becomes the account's if it is still the one asked for
        # and no other account took it meanwhile.
        if row.email != account.pending_email or find_account(row.email) is not None:
            return None
        account.email = row.email
        account.pending_email = None
        tokens.void(account, "reset")  # links mailed to the old address stop working
    account.email_verified_at = naive_utc_now()
    try:
        db.session.commit()
    except IntegrityError:  # the address taken at the same instant
        db.session.rollback()
        return None
    return account


# --- Passwords -----------------------------------------------------------------------

def reset_token_for(email: str) -> tuple[Account, str] | None:
    """A reset link for the account of ``email``, if there is an active one.

    The caller answers the same either way; hashing a password here keeps the time the
    same too (as sign-in and registration do).
    """
    hash_password(secrets.token_hex(8))
    account = find_account(email)
    if account is None or not account.is_active:
        return None
    tokens.void(account, "reset")
    return account, tokens.issue(account, "reset")


def reset_password(token: str, password: str) -> Account | None:
    """Follow a reset link: a new password, and every session of the account ends."""
    row = tokens.peek(token, "reset")
    if row is None:
        return None
    account = db.session.get(Account, row.account_id)
    problem = password_problem(password, account.email)
    if problem:
        raise AccountError(str(problem))
    if tokens.redeem(token, "reset") is None:
        return None
    _set_password(account, password)
    # Whoever reset it reads the account's mail: the address is verified as well.
    account.email_verified_at = account.email_verified_at or naive_utc_now()
    db.session.commit()
    return account


def change_password(account: Account, current: str, new: str) -> None:
    if not verify_password(account.password_hash, current):
        raise AccountError("wrong_password")
    problem = password_problem(new, account.email)
    if problem:
        raise AccountError(str(problem))
    _set_password(account, new)
    db.session.commit()


def _set_password(account: Account, password: str) -> None:
    account.password_hash = hash_password(password)
    account.session_version += 1  # every session, remembered ones too, ends here
    tokens.void(account, "reset")


def request_email_change(account: Account, new_email: str, password: str) -> tuple[str, bool]:
    """Keep the new address pending; return the token of the link to mail to it, and
    whether that address is free. Both cases do the same work and look the same to the
    account holder (the link is refused when followed if the address is taken): nobody
    learns through this form which addresses are registered."""
    if not verify_password(account.password_hash, password):
        raise AccountError("wrong_password")
    new_email = normalize_email(new_email)
    if new_email == account.email:
        raise AccountError("same_email")
    free = find_account(new_email) is None
    account.pending_email = new_email
    db.session.commit()
    return verification_token(account, new_email), free


# --- Staff decisions -----------------------------------------------------------------

def decide_organization(account: Account, approve: bool, reason: str = "") -> bool:
    """Approve or reject a pending organization; False if it was no longer pending (two
    staff members deciding at once: only the first decision counts)."""
    from sqlalchemy import update

    if account.role != ROLE_ORGANIZATION:
        raise AccountError("not_an_organization")
    decided = db.session.execute(update(Account).where(
        Account.id == account.id, Account.approval == PENDING).values(
        approval=APPROVED if approve else REJECTED,
        approval_reason=None if approve else reason.strip()[:500]))
    db.session.commit()
    db.session.refresh(account)
    return decided.rowcount == 1


def end_sessions(account: Account) -> None:
    """Sign-out: every session of the account, remembered ones included, ends on the
    server, so a session or remember cookie copied before it (a shared computer) no
    longer signs anyone in."""
    from sqlalchemy import update

    db.session.execute(update(Account).where(Account.id == account.id)
                       .values(session_version=Account.session_version + 1))
    db.session.commit()


def suspend(account: Account) -> None:
    if account.is_staff:
        raise AccountError("staff_accounts_are_not_suspended_here")
    account.suspended_at = naive_utc_now()
    account.session_version += 1
    db.session.commit()


def reinstate(account: Account) -> None:
    account.suspended_at = None
    db.session.commit()


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
    # The CLI's operator vouches for the address; the second factor is set up through
    # the link the CLI mails (auth.second_factor).
    account = Account(email=email, password_hash=hash_password(password), role=ROLE_STAFF,
                      display_name=display_name or email.split("@")[0],
                      email_verified_at=naive_utc_now())
    db.session.add(account)
    db.session.commit()
    return account


def reset_second_factor(account: Account) -> None:
    """The staff member sets up a new second factor through a mailed link (CLI only)."""
    account.totp_secret = None
    account.totp_enabled_at = None
    account.totp_last_step = None
    account.session_version += 1
    db.session.commit()


# --- Second factor (staff) -------------------------------------------------------------

TOTP_ISSUER = "Portail Semaine nationale"


def new_totp_secret() -> str:
    import pyotp

    return pyotp.random_base32()


def totp_uri(secret: str, email: str) -> str:
    import pyotp

    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)


def check_totp(secret: str | None, code: str, last_step: int | None) -> int | None:
    """The time step the code belongs to (now, or one step either side for clock drift),
    if it is right and later than the last one used; ``None`` otherwise (no replay).

    Against real time, never the portal's clock: a phone's app follows real time, and a
    demonstration clock (PORTAL_CLOCK_START) would refuse every right code."""
    import hmac
    import time

    import pyotp

    if not secret or not code or not code.isascii():
        return None
    totp = pyotp.TOTP(secret)
    current = int(time.time()) // totp.interval
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and \
                (last_step is None or step > last_step):
            return step
    return None


TOTP_MAX_FAILURES = 5
TOTP_LOCK = timedelta(minutes=15)


def totp_locked(account: Account) -> bool:
    return account.totp_locked_until is not None and account.totp_locked_until > naive_utc_now()


def totp_failed(account: Account) -> bool:
    """Count a wrong code (on the server: replaying an old cookie does not reset it);
    True when this one locks the second step for a while."""
    from sqlalchemy import update

    db.session.execute(update(Account).where(Account.id == account.id)
                       .values(totp_failures=Account.totp_failures + 1))
    db.session.commit()
    db.session.refresh(account)
    if account.totp_failures >= TOTP_MAX_FAILURES:
        account.totp_failures = 0
        account.totp_locked_until = naive_utc_now() + TOTP_LOCK
        db.session.commit()
        return True
    return False


def enable_totp(account: Account, secret: str, step: int) -> bool:
    """Record a right code; False if its time step was used meanwhile (the same code sent
    twice at once: only one sign-in gets through)."""
    from sqlalchemy import or_, update

    used = db.session.execute(update(Account).where(
        Account.id == account.id,
        or_(Account.totp_last_step.is_(None), Account.totp_last_step < step)).values(
        totp_last_step=step, totp_failures=0, totp_locked_until=None))
    if used.rowcount != 1:
        db.session.rollback()
        return False
    if account.totp_enabled_at is None:
        db.session.execute(update(Account).where(Account.id == account.id).values(
            totp_secret=secret, totp_enabled_at=naive_utc_now()))
    db.session.commit()
    db.session.refresh(account)
    return True
