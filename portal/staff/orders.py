"""Staff's queue of orders of printed kits: list by status, an order's page, approve
(maybe fewer copies), reject with a reason, mark as shipped; the printer's CSV of the
approved orders and the CSV of printed copies. Every decision and export is audited,
and every decision is one conditional UPDATE: two staff members acting at once, one
wins and the other is told."""
from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional

from portal.audit import record
from portal.clock import today_in_montreal
from portal.extensions import db
from portal.forms import PortalForm
from portal.models import PrintOrder
from portal.models.orders import APPROVED, BASKET, ORDER_STATUSES, SUBMITTED
from portal.orders import services as orders
from portal.orders.forms import RejectOrderForm, ShipForm, approve_form
from portal.orders.mails import notify
from portal.orders.messages import order_error_message, status_label
from portal.orders.services import OrderError
from portal.reference import REGIONS
from portal.staff import bp
from portal.staff.dashboard import dashboard_state
from portal.tracking.dashboard import campaigns, chosen_campaign, csv_lines
from portal.tracking.printed import printed_rows

QUEUE_STATUSES = [s for s in ORDER_STATUSES if s != BASKET]


class OrderFilterForm(PortalForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    status = SelectField(_l("Status"), validators=[Optional()])
    campaign = SelectField(_l("Campaign"), validators=[Optional()])
    region = SelectField(_l("Region"), validators=[Optional()])
    q = StringField(_l("Organization (name contains)"), validators=[Optional(), Length(max=120)])


def _order_or_404(order_id: int) -> PrintOrder:
    order = db.session.get(PrintOrder, order_id)
    if order is None or order.status == BASKET:
        abort(404)
    return order


@bp.get("/orders")
def order_queue():
    form = OrderFilterForm(request.args)
    form.status.choices = [("", _("All statuses"))] + [(s, status_label(s))
                                                        for s in QUEUE_STATUSES]
    form.campaign.choices = [("", _("All campaigns"))] + [(str(c.id), str(c.year))
                                                          for c in campaigns()]
    form.region.choices = [("", _("All regions"))] + [(code, f"{code} {name}")
                                                      for code, name in REGIONS.items()]
    if "status" not in request.args:
        form.status.data = SUBMITTED  # the queue: what waits for a decision
    error = not form.validate()
    query = select(PrintOrder).where(PrintOrder.status != BASKET)
    if not error:
        if form.status.data:
            query = query.where(PrintOrder.status == form.status.data)
        if form.campaign.data:
            query = query.where(PrintOrder.campaign_id == int(form.campaign.data))
        if form.region.data:
            query = query.where(PrintOrder.region == form.region.data)
        if form.q.data:
            query = query.where(func.lower(PrintOrder.organization_name)
                                .contains(form.q.data.strip().lower(), autoescape=True))
    found = db.session.scalars(query.order_by(PrintOrder.submitted_at, PrintOrder.id)
                               .limit(500)).all()
    campaign = chosen_campaign(None)
    return render_template("staff/orders.html", form=form, orders=found, error=error,
                           status_label=status_label, copies=orders.copies,
                           campaign=campaign), 400 if error else 200


def _order_page(order, status=200, approve=None, reject=None, ship=None, errors=()):
    data = {"order": str(order.id), "revision": str(order.revision)}
    return render_template(
        "staff/order.html", order=order, status_label=status_label, errors=errors,
        approve_form=approve or approve_form(order, data=data),
        reject_form=reject or RejectOrderForm(data=data),
        ship_form=ship or ShipForm(data={**data, "shipped_on": today_in_montreal()}),
        today=today_in_montreal(), placed=orders.submitted_on(order)), status


def _shown_revision(form, order) -> int:
    shown = form.shown()
    if shown is None or shown[0] != order.id:
        abort(400)
    return shown[1]


def _decided(order, action: str, message: str):
    record(action, f"order:{order.id}", f"status:{order.status}")
    notify(order)
    flash(message, "success")
    return redirect(url_for("staff.order_detail", order_id=order.id))


def _refused(order, exc, **forms):
    if exc.code == "already_decided":
        flash(order_error_message(exc), "error")
        return redirect(url_for("staff.order_detail", order_id=order.id))
    return _order_page(order, 400, errors=[order_error_message(exc)], **forms)


@bp.get("/orders/<int:order_id>")
def order_detail(order_id):
    return _order_page(_order_or_404(order_id))


@bp.post("/orders/<int:order_id>/approve")
def approve_order(order_id):
    order = _order_or_404(order_id)
    form = approve_form(order)
    if not form.validate_on_submit():
        return _order_page(order, 400, approve=form)
    try:
        orders.approve(order, _shown_revision(form, order), form.approved(), current_user,
                       form.reason.data or "")
    except OrderError as exc:
        return _refused(order, exc, approve=form)
    return _decided(order, "order_approved", _("Order no. %(id)d is approved.", id=order.id))


@bp.post("/orders/<int:order_id>/reject")
def reject_order(order_id):
    order = _order_or_404(order_id)
    form = RejectOrderForm()
    if not form.validate_on_submit():
        return _order_page(order, 400, reject=form)
    try:
        orders.reject(order, _shown_revision(form, order), form.reason.data, current_user)
    except OrderError as exc:
        return _refused(order, exc, reject=form)
    return _decided(order, "order_rejected",
                    _("Order no. %(id)d is not approved; the reason was sent.", id=order.id))


@bp.post("/orders/<int:order_id>/ship")
def ship_order(order_id):
    order = _order_or_404(order_id)
    form = ShipForm()
    if not form.validate_on_submit():
        return _order_page(order, 400, ship=form)
    try:
        orders.mark_shipped(order, _shown_revision(form, order), form.shipped_on.data,
                            current_user)
    except OrderError as exc:
        if exc.code in ("shipped_in_future", "shipped_before_order"):
            form.shipped_on.errors = [order_error_message(exc)]
            return _order_page(order, 400, ship=form)
        return _refused(order, exc, ship=form)
    return _decided(order, "order_shipped",
                    _("Order no. %(id)d is marked as shipped.", id=order.id))


def printer_rows(campaign):
    """Approved orders not shipped yet, one row per material, for the printer."""
    yield ("order", "submitted_on", "organization", "recipient", "street", "city", "province",
           "postal_code", "material", "language", "title", "copies")
    found = db.session.scalars(select(PrintOrder).where(
        PrintOrder.campaign_id == campaign.id, PrintOrder.status == APPROVED)
        .order_by(PrintOrder.id)).all()
    for order in found:
        for line in order.lines:
            if not line.approved_quantity:
                continue
            placed = orders.submitted_on(order)
            yield (order.id, placed.isoformat() if placed else "", order.organization_name,
                   order.recipient, order.street, order.city, "QC", order.postal_code,
                   line.material.slug, line.material.language, line.material.title,
                   line.approved_quantity)


@bp.get("/orders/export.csv")
def export_orders():
    raw = request.args.get("campaign", "")
    campaign = chosen_campaign(int(raw) if raw.isdigit() and len(raw) < 10 else None)
    if campaign is None:
        abort(404)
    rows = list(printer_rows(campaign))  # made before the audit entry's commit
    record("orders_exported", f"campaign:{campaign.year}", f"{len(rows) - 1} lines")
    return Response(csv_lines(rows), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="printer-orders-{campaign.year}.csv"',
        "Cache-Control": "no-store"})


@bp.get("/exports/printed.csv")
def export_printed():
    campaign, form, filters, error = dashboard_state()
    if error:
        abort(400)
    rows = list(printed_rows(campaign, filters))
    record("printed_copies_exported", f"campaign:{campaign.year}",
           request.query_string.decode("utf-8", "replace"))
    return Response(csv_lines(rows), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="printed-copies-{campaign.year}.csv"'})
