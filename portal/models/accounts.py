"""Accounts: citizens, organizations and ministry staff."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import naive_utc_now
from portal.extensions import db
from portal.reference import ROLE_ORGANIZATION, ROLE_STAFF

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"


def new_actor_id() -> str:
    """An opaque, random id that stands for an account in events and exports."""
    return secrets.token_hex(16)


class Account(UserMixin, db.Model):
    __tablename__ = "account"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Events and exports carry this instead of the account id or email.
    actor_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_actor_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    # Citizens: the name they choose to show. Organizations: the organization's name.
    display_name: Mapped[str] = mapped_column(String(120))
    organization_type: Mapped[str | None] = mapped_column(String(20))
    region: Mapped[str | None] = mapped_column(String(2))
    locale: Mapped[str] = mapped_column(String(5), default="fr")
    created_at: Mapped[datetime] = mapped_column(default=naive_utc_now)
    last_login_at: Mapped[datetime | None]
    # Set when the owner follows the verification link; until then no download.
    email_verified_at: Mapped[datetime | None]
    # A new address waiting for its own verification link (the old one stays until then).
    pending_email: Mapped[str | None] = mapped_column(String(254))
    # Organizations only: pending until staff approve (or reject, with a reason).
    approval: Mapped[str | None] = mapped_column(String(12))
    approval_reason: Mapped[str | None] = mapped_column(String(500))
    suspended_at: Mapped[datetime | None]
    # Part of every session's id: raising it ends every session of the account at once
    # (password changed, account suspended).
    session_version: Mapped[int] = mapped_column(default=1)
    # Staff: the TOTP secret, set up at first sign-in; the last time step used (no replay).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None]
    # Wrong codes in a row; at five, the second step is locked for a while.
    totp_failures: Mapped[int] = mapped_column(default=0)
    totp_locked_until: Mapped[datetime | None]

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}:{self.session_nonce}"

    @property
    def session_nonce(self) -> str:
        """Part of the session id that belongs to this account alone: a session of a
        deleted account never fits a new one given the same id (SQLite reuses ids)."""
        return hashlib.sha256(f"session:{self.actor_id}".encode()).hexdigest()[:16]

    @property
    def is_active(self) -> bool:
        return self.suspended_at is None

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def is_approved_organization(self) -> bool:
        return self.role == ROLE_ORGANIZATION and self.approval == APPROVED

    @property
    def is_staff(self) -> bool:
        return self.role == ROLE_STAFF

    @property
    def is_organization(self) -> bool:
        return self.role == ROLE_ORGANIZATION

    def __repr__(self) -> str:
        return f"<Account {self.id} {self.role}>"


class AccountToken(db.Model):
    """A single-use link sent by mail (verify an address, reset a password).

    The link carries a signed, timed token naming this row and a random secret whose
    hash only is stored; it works once (``used_at``) and until ``expires_at``.
    """

    __tablename__ = "account_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                            index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # verify, reset
    secret_hash: Mapped[str] = mapped_column(String(64))
    # The address a verification link confirms (a changed email is confirmed this way).
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(default=naive_utc_now)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
