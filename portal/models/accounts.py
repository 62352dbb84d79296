"""Accounts: citizens, organizations and ministry staff."""
from __future__ import annotations

import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import naive_utc_now
from portal.extensions import db
from portal.reference import ROLE_ORGANIZATION, ROLE_STAFF


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

    @property
    def is_staff(self) -> bool:
        return self.role == ROLE_STAFF

    @property
    def is_organization(self) -> bool:
        return self.role == ROLE_ORGANIZATION

    def __repr__(self) -> str:
        return f"<Account {self.id} {self.role}>"
