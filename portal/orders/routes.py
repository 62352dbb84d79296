"""Pages of an organization's orders of printed kits. Views stay thin: forms validate,
``services`` decide (and raise ``OrderError``), ``messages`` say why in words."""
from __future__ import annotations

from functools import wraps

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup

from portal.auth.access import refusal_page
from portal.extensions import db
from portal.i18n import current_language
from portal.models import PrintOrder
from portal.orders import bp
from portal.orders import services as orders
from portal.orders.forms import AddressForm, CancelForm, ConfirmForm, basket_form
from portal.orders.mails import notify
from portal.orders.messages import (
    copies_left,
    copies_per_order,
    order_error_message,
    status_label,
)
from portal.orders.services import OrderError
from portal.reference import LANGUAGES


def organization_required(change: bool = False):
    """A verified, approved organization; staff may look (``change=False``)."""
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            refusal = orders.order_refusal(current_user, change=change)
            if refusal is not None:
                return refusal_page(refusal)
            return view(*args, **kwargs)
        return wrapped
    return decorator


def _closed_message(campaign) -> str:
    written = campaign.ordering_message(current_language()) if campaign else None
    return written or _("Orders of printed kits are closed for now.")


def _basket_context(status=200, form=None, errors=()):
    account = current_user._get_current_object()
    campaign = orders.ordering_campaign()
    if campaign is None:
        abort(404)
    materials = orders.orderable_materials(campaign)
    if account.is_staff:
        basket = None  # staff see what organizations may order, and order nothing
    elif orders.ordering_closed(campaign):
        basket = orders.find_basket(account)
    else:
        basket = orders.get_basket(account, campaign)
    limits = orders.allowances(account, campaign, materials) if not account.is_staff else {}
    in_basket = {line.material_id: line.quantity for line in (basket.lines if basket else [])}
    if form is None:
        form = basket_form(materials, _labels(materials), data={
            "order": str(basket.id) if basket else "",
            "revision": str(basket.revision) if basket else "",
            **{f"quantity_{m.id}": in_basket.get(m.id) for m in materials}})
    for material in materials:
        allowance = limits.get(material.id)
        field = form[f"quantity_{material.id}"]
        if allowance is None:
            continue
        parts = []
        if material.max_per_order:
            parts.append(copies_per_order(material.max_per_order))
        if material.max_per_campaign:
            parts.append(copies_left(allowance.left_this_campaign))
        field.description = " ".join(parts)
        field.render_kw = {"min": 0, "max": allowance.most, "inputmode": "numeric"}
    return render_template("orders/basket.html", campaign=campaign, materials=materials,
                           basket=basket, form=form, errors=errors,
                           stale=orders.stale_lines(basket, materials),
                           closed=orders.ordering_closed(campaign),
                           closed_message=_closed_message(campaign)), status


def _labels(materials) -> dict[int, Markup]:
    # The title is in the material's language, which may not be the page's (WCAG 3.1.2).
    return {m.id: Markup('<span lang="{}">{}</span> ({})').format(
        m.language, m.title, LANGUAGES.get(m.language, m.language)) for m in materials}


def _posted_basket(form) -> PrintOrder | None:
    """The basket the form was made from, if it is this account's (any status now)."""
    shown = form.shown()
    if shown is None:
        return None
    order = db.session.get(PrintOrder, shown[0])
    if order is None or order.account_id != current_user.id:
        return None
    return order


@bp.get("/")
@organization_required()
def history():
    campaign = orders.ordering_campaign()
    return render_template("orders/history.html", orders=orders.orders_of(current_user),
                           campaign=campaign, closed=orders.ordering_closed(campaign),
                           closed_message=_closed_message(campaign),
                           basket=orders.find_basket(current_user), status_label=status_label,
                           copies=orders.copies)


@bp.get("/basket")
@organization_required()
def basket():
    return _basket_context()


@bp.post("/basket")
@organization_required(change=True)
def update_basket():
    campaign = orders.ordering_campaign()
    if campaign is None:
        abort(404)
    materials = orders.orderable_materials(campaign)
    form = basket_form(materials, _labels(materials))
    if not form.validate_on_submit():
        return _basket_context(400, form)
    basket = _posted_basket(form)
    try:
        if basket is None:
            raise OrderError("changed", status="basket")
        orders.set_quantities(current_user, basket, form.shown()[1], form.quantities())
    except OrderError as exc:
        status = 409 if exc.code in ("changed", "ordering_closed") else 400
        if exc.code == "changed" and exc.details.get("status") != "basket":
            flash(order_error_message(exc), "error")
            return redirect(url_for("orders.history"))
        material = exc.details.get("material")
        if material is not None and f"quantity_{material.id}" in form:
            form[f"quantity_{material.id}"].errors = [order_error_message(exc, titled=False)]
            return _basket_context(status, form)
        return _basket_context(status, None if exc.code == "changed" else form,
                               errors=[order_error_message(exc)])
    flash(_("Your basket is saved."), "success")
    return redirect(url_for("orders.address") if basket.lines else url_for("orders.basket"))


@bp.route("/basket/address", methods=["GET", "POST"])
@organization_required(change=True)
def address():
    campaign = orders.ordering_campaign()
    if campaign is None:
        abort(404)
    if orders.ordering_closed(campaign):
        flash(_closed_message(campaign), "error")
        return redirect(url_for("orders.basket"))
    basket = orders.get_basket(current_user, campaign)
    if not basket.lines:
        flash(_("Your basket is empty: enter the copies you need."), "error")
        return redirect(url_for("orders.basket"))
    known = ({"recipient": basket.recipient, "street": basket.street, "city": basket.city,
              "postal_code": basket.postal_code} if basket.street
             else orders.previous_address(current_user))
    form = AddressForm(data={"order": str(basket.id), "revision": str(basket.revision), **known})
    errors = []
    if form.validate_on_submit():
        posted = _posted_basket(form)
        try:
            if posted is None:
                raise OrderError("changed", status="basket")
            orders.set_address(posted, form.shown()[1], form.recipient.data, form.street.data,
                               form.city.data, form.postal_code.data)
            return redirect(url_for("orders.review"))
        except OrderError as exc:
            if exc.code == "changed" and exc.details.get("status") != "basket":
                flash(order_error_message(exc), "error")
                return redirect(url_for("orders.history"))
            errors.append(order_error_message(exc))
            form.revision.data = str(basket.revision)
            form.order.data = str(basket.id)
    status = 409 if errors else (400 if form.errors else 200)
    return render_template("orders/address.html", form=form, basket=basket,
                           errors=errors), status


@bp.get("/basket/review")
@organization_required(change=True)
def review():
    campaign = orders.ordering_campaign()
    if campaign is None:
        abort(404)
    basket = orders.find_basket(current_user)
    if basket is None or not basket.lines:
        return redirect(url_for("orders.basket"))
    return _review_page(basket)


def _review_page(basket, status=200, errors=()):
    problems = [order_error_message(p) for p in orders.review_problems(current_user, basket)]
    form = ConfirmForm(data={"order": str(basket.id), "revision": str(basket.revision)})
    return render_template("orders/review.html", basket=basket, form=form,
                           problems=problems, errors=errors), status


@bp.post("/basket/confirm")
@organization_required(change=True)
def confirm():
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    basket = _posted_basket(form)
    if basket is None:
        abort(404)
    try:
        order = orders.confirm(current_user, basket, form.shown()[1])
    except OrderError as exc:
        if exc.code == "changed" and basket.status != "basket":
            flash(order_error_message(exc), "error")
            return redirect(url_for("orders.history"))
        if exc.code == "ordering_closed":
            flash(_closed_message(orders.ordering_campaign()), "error")
            return redirect(url_for("orders.basket"))
        return _review_page(basket, 409, [order_error_message(exc)])
    notify(order)
    flash(_("Thank you: your order no. %(id)d is sent. We sent you a receipt by mail.",
            id=order.id), "success")
    return redirect(url_for("orders.detail", order_id=order.id))


@bp.get("/<int:order_id>")
@organization_required()
def detail(order_id):
    order = orders.own_order(current_user, order_id)
    if order is None:
        abort(404)
    return render_template("orders/detail.html", order=order, status_label=status_label,
                           form=CancelForm(data={"order": str(order.id),
                                                 "revision": str(order.revision)}))


@bp.post("/<int:order_id>/cancel")
@organization_required(change=True)
def cancel(order_id):
    order = orders.own_order(current_user, order_id)
    if order is None or order.account_id != current_user.id:
        abort(404)
    if not CancelForm().validate_on_submit():
        abort(400)
    try:
        orders.cancel(current_user, order)
    except OrderError as exc:
        flash(_("This order can no longer be cancelled: it is now %(status)s.",
                status=status_label(exc.details.get("status", ""))), "error")
        return redirect(url_for("orders.detail", order_id=order.id)), 302
    notify(order)
    flash(_("Your order no. %(id)d is cancelled.", id=order.id), "success")
    return redirect(url_for("orders.detail", order_id=order.id))
