"""Orders of printed kits: an organization's basket, its confirmed orders and their lines.

An order moves ``basket`` -> ``submitted`` -> ``approved`` -> ``shipped``, or to
``rejected`` (by staff) or ``cancelled`` (by the organization, before a decision).
Each change is one conditional UPDATE on (status, revision), so two tabs or two staff
members acting at once cannot both succeed.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import naive_utc_now
from portal.extensions import db

BASKET, SUBMITTED, APPROVED, REJECTED, SHIPPED, CANCELLED = (
    "basket", "submitted", "approved", "rejected", "shipped", "cancelled")
ORDER_STATUSES = (BASKET, SUBMITTED, APPROVED, REJECTED, SHIPPED, CANCELLED)


class PrintOrder(db.Model):
    __tablename__ = "print_order"
    __table_args__ = (
        Index("ix_print_order_campaign_status", "campaign_id", "status"),
        Index("ix_print_order_account", "account_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Empty once the organization deleted its account: the copies stay counted.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    status: Mapped[str] = mapped_column(String(12), default=BASKET)
    # The account's id while this is its basket, empty after: one basket per account,
    # held by the unique constraint even when two tabs create it at once.
    basket_of: Mapped[int | None] = mapped_column(unique=True)
    # Raised by every change of lines or status; a form carries the revision it showed.
    revision: Mapped[int] = mapped_column(default=0)
    # Where the copies go (an address in Québec), and who receives them.
    recipient: Mapped[str | None] = mapped_column(String(120))
    street: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(7))
    # Copied from the organization when it confirms, for the figures.
    organization_name: Mapped[str | None] = mapped_column(String(120))
    region: Mapped[str | None] = mapped_column(String(2))
    organization_type: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=naive_utc_now)
    submitted_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    # Staff's reason for a rejection or a reduced quantity, shown to the organization.
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    shipped_on: Mapped[date | None]

    lines: Mapped[list[PrintOrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="PrintOrderLine.id")


class PrintOrderLine(db.Model):
    __tablename__ = "print_order_line"
    __table_args__ = (
        UniqueConstraint("order_id", "material_id"),
        CheckConstraint("quantity > 0", name="quantity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("print_order.id"))
    material_id: Mapped[int] = mapped_column(ForeignKey("material.id"))
    quantity: Mapped[int]
    # What staff approved (at most the quantity asked for); empty until then.
    approved_quantity: Mapped[int | None]

    order: Mapped[PrintOrder] = relationship(back_populates="lines")
    material = relationship("Material")
