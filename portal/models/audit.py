"""The audit log: every staff action, with who, what and when. Append-only: the portal
has no page or function that edits or deletes an entry."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import naive_utc_now
from portal.extensions import db


class AuditEntry(db.Model):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=naive_utc_now, index=True)
    # The staff account, and its address at the time (kept if the account goes away).
    actor_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"))
    actor_email: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(40), index=True)
    # What it acted on, e.g. "account:42", "campaign:2027", "document:<public id>".
    target: Mapped[str] = mapped_column(String(120), default="")
    details: Mapped[str] = mapped_column(String(500), default="")
