"""Orders of printed kits, callable without a request.

Every change of an order is one conditional UPDATE on its id, status and revision (the
revision the page showed): two tabs, a double click or two staff members acting at once
cannot both succeed, and the one that loses gets an ``OrderError`` that says why. The
basket is one row per account, held by the unique ``basket_of`` column.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from portal.auth.access import cobrand_refusal
from portal.catalog.services import current_campaign
from portal.clock import MONTREAL, naive_utc_now, today_in_montreal
from portal.extensions import db
from portal.models import Account, Campaign, Kit, Material, PrintOrder, PrintOrderLine
from portal.models.orders import (
    APPROVED,
    BASKET,
    CANCELLED,
    REJECTED,
    SHIPPED,
    SUBMITTED,
)

# Orders that use up an organization's allowance for a campaign.
COUNTED_STATUSES = (SUBMITTED, APPROVED, SHIPPED)
# A quantity nobody orders by mistake less than: the form's bound when no limit is set.
MAX_QUANTITY = 100_000


class OrderError(Exception):
    """An order request that cannot be carried out. ``code`` says why (the views turn it
    into a translated message); ``details`` carries what the message needs."""

    def __init__(self, code: str, **details):
        super().__init__(code)
        self.code = code
        self.details = details


# --- Who may order ------------------------------------------------------------------

def order_refusal(account, change: bool = False) -> str | None:
    """Why this account may not order printed kits (``None`` if it may). Staff may look
    at the pages but not order (``change``)."""
    if account.is_staff:
        return "audience" if change else None
    # The same rule as co-branding: a verified, approved organization.
    return cobrand_refusal(account)


# --- Québec postal codes -----------------------------------------------------------

_POSTAL = re.compile(r"^([A-Z]\d[A-Z])(\d[A-Z]\d)$")


def normalize_postal_code(raw: str | None) -> str:
    """A Canadian postal code as ``A1A 1A1``; ``OrderError`` ``postal_code_format`` if it
    is not one, ``postal_code_outside_quebec`` if it is not in Québec (G, H or J)."""
    compact = re.sub(r"[\s-]", "", (raw or "")).upper()
    match = _POSTAL.match(compact)
    if match is None or re.search(r"[DFIOQU]", compact) or compact[0] in "WZ":
        raise OrderError("postal_code_format")
    if compact[0] not in "GHJ":
        raise OrderError("postal_code_outside_quebec")
    return f"{match.group(1)} {match.group(2)}"


# --- What may be ordered ------------------------------------------------------------

def ordering_campaign() -> Campaign | None:
    return current_campaign()


def orderable_materials(campaign: Campaign | None) -> list[Material]:
    """The campaign's public materials marked orderable, in catalog order."""
    if campaign is None:
        return []
    now = naive_utc_now()
    return list(db.session.scalars(
        select(Material).join(Kit).where(Kit.campaign_id == campaign.id,
                                         Material.orderable.is_(True),
                                         Material.public_clause(now))
        .order_by(Kit.position, Kit.slug, Material.position, Material.language.desc())))


def already_ordered(account_id: int, campaign_id: int,
                    exclude_order_id: int | None = None) -> dict[int, int]:
    """Copies of each material the account's orders of the campaign take from its
    allowance: submitted orders count what was asked, decided ones what was approved."""
    counted = func.coalesce(PrintOrderLine.approved_quantity, PrintOrderLine.quantity)
    query = (select(PrintOrderLine.material_id, func.sum(counted))
             .join(PrintOrder, PrintOrder.id == PrintOrderLine.order_id)
             .where(PrintOrder.account_id == account_id, PrintOrder.campaign_id == campaign_id,
                    PrintOrder.status.in_(COUNTED_STATUSES))
             .group_by(PrintOrderLine.material_id))
    if exclude_order_id is not None:
        query = query.where(PrintOrder.id != exclude_order_id)
    return {material_id: int(total or 0) for material_id, total in db.session.execute(query)}


@dataclass
class Allowance:
    material: Material
    per_order: int
    left_this_campaign: int

    @property
    def most(self) -> int:
        """The largest quantity this basket may hold of the material now."""
        return max(0, min(self.per_order, self.left_this_campaign))


def allowances(account: Account, campaign: Campaign,
               materials: list[Material] | None = None) -> dict[int, Allowance]:
    materials = orderable_materials(campaign) if materials is None else materials
    ordered = already_ordered(account.id, campaign.id)
    result = {}
    for material in materials:
        per_order = material.max_per_order or MAX_QUANTITY
        left = (material.max_per_campaign - ordered.get(material.id, 0)
                if material.max_per_campaign else MAX_QUANTITY)
        result[material.id] = Allowance(material, per_order, max(0, left))
    return result


def check_quantity(allowance: Allowance, quantity: int) -> None:
    """``OrderError`` ``quantity_negative``, ``over_order_limit`` or
    ``over_campaign_limit`` (with the limit) when the quantity does not fit."""
    if quantity < 0:
        raise OrderError("quantity_negative")
    if quantity > allowance.per_order:
        raise OrderError("over_order_limit", limit=allowance.per_order,
                         material=allowance.material)
    if quantity > allowance.left_this_campaign:
        raise OrderError("over_campaign_limit", left=allowance.left_this_campaign,
                         material=allowance.material)


def ordering_closed(campaign: Campaign | None) -> bool:
    return campaign is None or not campaign.ordering_open


def _require_open(campaign: Campaign | None) -> None:
    if ordering_closed(campaign):
        raise OrderError("ordering_closed")


# --- The basket ---------------------------------------------------------------------

def find_basket(account: Account) -> PrintOrder | None:
    return db.session.scalars(select(PrintOrder).where(PrintOrder.basket_of == account.id)).first()


def get_basket(account: Account, campaign: Campaign) -> PrintOrder:
    """The account's basket, made if it has none. Two tabs making it at once end with
    the same one: the unique ``basket_of`` refuses the second, which then reads the first."""
    basket = find_basket(account)
    if basket is None:
        try:
            with db.session.begin_nested():
                basket = PrintOrder(account_id=account.id, campaign_id=campaign.id,
                                    status=BASKET, basket_of=account.id, revision=0)
                db.session.add(basket)
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            basket = find_basket(account)
            if basket is None:  # pragma: no cover - deleted again at once
                raise
    if basket.campaign_id != campaign.id:
        # A basket left from an earlier campaign: its lines no longer apply.
        _bump(basket, basket.revision)
        basket.lines.clear()
        basket.campaign_id = campaign.id
        db.session.commit()
    return basket


def _transition(order: PrintOrder, from_status: str, revision: int | None, error: str,
                **values) -> None:
    """One conditional UPDATE: raise the order's revision (and set ``values``) if it is
    still in ``from_status`` at ``revision`` (any revision if ``None``); else roll back
    and raise ``OrderError(error)`` with the status it has now (another tab or another
    staff member got there first). On PostgreSQL the UPDATE holds the row until the
    commit, so what follows in the same transaction cannot interleave with another
    change; the caller commits."""
    conditions = [PrintOrder.id == order.id, PrintOrder.status == from_status]
    if revision is not None:
        conditions.append(PrintOrder.revision == revision)
    done = db.session.execute(update(PrintOrder).where(*conditions)
                              .values(revision=PrintOrder.revision + 1, **values)
                              .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        db.session.rollback()
        db.session.refresh(order)
        raise OrderError(error, status=order.status)
    db.session.refresh(order)


def _bump(basket: PrintOrder, revision: int, **values) -> None:
    """A change of the basket shown at ``revision``."""
    _transition(basket, BASKET, revision, "changed", **values)


def set_quantities(account: Account, basket: PrintOrder, revision: int,
                   quantities: dict[int, int]) -> PrintOrder:
    """Put these quantities (material id -> copies; 0 takes the line out) in the basket
    shown at ``revision``, and take out the lines no longer orderable. All or nothing: one
    quantity outside its limits changes none."""
    campaign = db.session.get(Campaign, basket.campaign_id)
    _require_open(campaign)
    limits = allowances(account, campaign)
    for material_id, quantity in quantities.items():
        if material_id not in limits:
            raise OrderError("not_orderable")
        check_quantity(limits[material_id], quantity)
    _bump(basket, revision)
    # A line whose material was withdrawn or made unorderable since it went in the basket
    # is no longer on the form: saving the basket takes it out.
    for line in [line for line in basket.lines if line.material_id not in limits]:
        basket.lines.remove(line)
    lines = {line.material_id: line for line in basket.lines}
    for material_id, quantity in quantities.items():
        line = lines.get(material_id)
        if quantity == 0 and line is not None:
            basket.lines.remove(line)
        elif quantity and line is not None:
            line.quantity = quantity
        elif quantity:
            basket.lines.append(PrintOrderLine(material_id=material_id, quantity=quantity))
    db.session.commit()
    return basket


def set_address(basket: PrintOrder, revision: int, recipient: str, street: str, city: str,
                postal_code: str) -> PrintOrder:
    """Where the copies go: an address in Québec (the postal code says so)."""
    code = normalize_postal_code(postal_code)
    recipient, street, city = (" ".join((value or "").split()) for value in (recipient, street, city))
    if not (recipient and street and city):
        raise OrderError("address_incomplete")
    _require_open(db.session.get(Campaign, basket.campaign_id))
    _bump(basket, revision, recipient=recipient[:120], street=street[:200], city=city[:100],
          postal_code=code)
    db.session.commit()
    return basket


def previous_address(account: Account) -> dict:
    """The address of the account's latest order, to start from."""
    order = db.session.scalars(select(PrintOrder).where(
        PrintOrder.account_id == account.id, PrintOrder.status != BASKET,
        PrintOrder.street.is_not(None)).order_by(PrintOrder.id.desc())).first()
    if order is None:
        return {}
    return {"recipient": order.recipient, "street": order.street, "city": order.city,
            "postal_code": order.postal_code}


def stale_lines(basket: PrintOrder | None, materials: list[Material]) -> list[PrintOrderLine]:
    """The basket's lines whose material can no longer be ordered (withdrawn, or no longer
    orderable): saving the basket takes them out."""
    orderable = {material.id for material in materials}
    return [line for line in (basket.lines if basket else []) if line.material_id not in orderable]


def review_problems(account: Account, basket: PrintOrder) -> list[OrderError]:
    """What stops this basket from being confirmed now (empty when nothing does)."""
    campaign = db.session.get(Campaign, basket.campaign_id)
    problems = []
    if ordering_closed(campaign):
        problems.append(OrderError("ordering_closed"))
    if not basket.lines:
        problems.append(OrderError("empty"))
    if not basket.street:
        problems.append(OrderError("address_missing"))
    limits = allowances(account, campaign) if campaign else {}
    for line in basket.lines:
        if line.material_id not in limits:
            problems.append(OrderError("not_orderable", material=line.material))
            continue
        try:
            check_quantity(limits[line.material_id], line.quantity)
        except OrderError as exc:
            problems.append(exc)
    return problems


def confirm(account: Account, basket: PrintOrder, revision: int) -> PrintOrder:
    """Turn the basket shown at ``revision`` into a submitted order. A basket changed
    since (another tab) or already confirmed (a double click) raises ``changed``: one
    basket makes at most one order."""
    if basket.basket_of != account.id:
        raise OrderError("changed", status=basket.status)
    if basket.revision != revision:
        raise OrderError("changed", status=basket.status)
    problems = review_problems(account, basket)
    if problems:
        raise problems[0]
    _transition(basket, BASKET, revision, "changed", status=SUBMITTED, basket_of=None,
                submitted_at=naive_utc_now(), organization_name=account.display_name,
                region=account.region, organization_type=account.organization_type)
    db.session.commit()
    db.session.refresh(basket)
    return basket


def cancel(account: Account, order: PrintOrder) -> PrintOrder:
    """The organization withdraws an order staff have not decided on yet."""
    if order.account_id != account.id or order.status != SUBMITTED:
        raise OrderError("changed", status=order.status)
    _transition(order, SUBMITTED, None, "changed", status=CANCELLED,
                decided_at=naive_utc_now())
    db.session.commit()
    db.session.refresh(order)
    return order


def orders_of(account: Account) -> list[PrintOrder]:
    """The account's orders, newest first (not its basket)."""
    return list(db.session.scalars(select(PrintOrder).where(
        PrintOrder.account_id == account.id, PrintOrder.status != BASKET)
        .order_by(PrintOrder.id.desc())))


def own_order(account: Account, order_id: int) -> PrintOrder | None:
    order = db.session.get(PrintOrder, order_id)
    if order is None or order.status == BASKET:
        return None
    if order.account_id != account.id and not account.is_staff:
        return None
    return order


# --- Staff decisions ----------------------------------------------------------------

def _decide(order: PrintOrder, revision: int, from_status: str, **values) -> None:
    _transition(order, from_status, revision, "already_decided", **values)


def approve(order: PrintOrder, revision: int, approved: dict[int, int], staff: Account,
            reason: str = "") -> PrintOrder:
    """Approve a submitted order, maybe with fewer copies (line id -> copies, each from
    0 to what was asked, at least one line above 0; missing lines keep what was asked).
    Two staff members approving at once: the second gets ``already_decided``."""
    quantities = {}
    for line in order.lines:
        quantity = approved.get(line.id, line.quantity)
        if quantity is None or quantity < 0 or quantity > line.quantity:
            raise OrderError("approved_out_of_range", line=line)
        quantities[line.id] = quantity
    if not any(quantities.values()):
        raise OrderError("approved_nothing")
    reason = (reason or "").strip()[:500] or None
    _decide(order, revision, SUBMITTED, status=APPROVED, decided_at=naive_utc_now(),
            decided_by_id=staff.id, decision_reason=reason)
    for line in order.lines:
        line.approved_quantity = quantities[line.id]
    db.session.commit()
    db.session.refresh(order)
    return order


def reject(order: PrintOrder, revision: int, reason: str, staff: Account) -> PrintOrder:
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise OrderError("reason_required")
    _decide(order, revision, SUBMITTED, status=REJECTED, decided_at=naive_utc_now(),
            decided_by_id=staff.id, decision_reason=reason[:500])
    db.session.commit()
    db.session.refresh(order)
    return order


def submitted_on(order: PrintOrder) -> date | None:
    if order.submitted_at is None:
        return None
    return order.submitted_at.replace(tzinfo=UTC).astimezone(MONTREAL).date()


def mark_shipped(order: PrintOrder, revision: int, shipped_on: date, staff: Account) -> PrintOrder:
    """An approved order left for the organization on ``shipped_on`` (Montréal day): not
    in the future, not before the order was placed."""
    if shipped_on > today_in_montreal():
        raise OrderError("shipped_in_future")
    placed = submitted_on(order)
    if placed is not None and shipped_on < placed:
        raise OrderError("shipped_before_order", placed=placed)
    _decide(order, revision, APPROVED, status=SHIPPED, shipped_on=shipped_on)
    db.session.commit()
    db.session.refresh(order)
    return order


def copies(order: PrintOrder) -> int:
    """Copies the order stands for: approved ones once decided, else those asked for."""
    return sum((line.approved_quantity if line.approved_quantity is not None
                else line.quantity) for line in order.lines)


# --- Privacy ------------------------------------------------------------------------

def export_orders(account: Account) -> list[dict]:
    """The account's orders, for the copy of its data."""
    def iso(moment):
        return moment.isoformat(timespec="seconds") if moment else None

    result = []
    orders = db.session.scalars(select(PrintOrder).where(PrintOrder.account_id == account.id)
                                .order_by(PrintOrder.id)).all()
    for order in orders:
        result.append({
            "id": order.id, "status": order.status, "created_at": iso(order.created_at),
            "submitted_at": iso(order.submitted_at), "decided_at": iso(order.decided_at),
            "decision_reason": order.decision_reason,
            "shipped_on": order.shipped_on.isoformat() if order.shipped_on else None,
            "recipient": order.recipient, "street": order.street, "city": order.city,
            "postal_code": order.postal_code, "organization_name": order.organization_name,
            "lines": [{"material": line.material.slug, "language": line.material.language,
                       "title": line.material.title, "quantity": line.quantity,
                       "approved_quantity": line.approved_quantity} for line in order.lines],
        })
    return result


def forget_account(account: Account) -> None:
    """Before an account is deleted: its basket goes; its orders stay for the figures
    without the person (no account, address, recipient or name). Orders not shipped yet
    can no longer be delivered and are cancelled. The caller commits."""
    basket = find_basket(account)
    if basket is not None:
        db.session.delete(basket)
        db.session.flush()
    db.session.execute(update(PrintOrder).where(
        PrintOrder.account_id == account.id, PrintOrder.status.in_((SUBMITTED, APPROVED)))
        .values(status=CANCELLED, revision=PrintOrder.revision + 1)
        .execution_options(synchronize_session=False))
    db.session.execute(update(PrintOrder).where(PrintOrder.account_id == account.id)
                       .values(account_id=None, recipient=None, street=None, city=None,
                               postal_code=None, organization_name=None, basket_of=None)
                       .execution_options(synchronize_session=False))
