"""What each ``OrderError`` tells the person, in the page's (or mail's) language."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import ngettext, pgettext

from portal.i18n import long_date, number
from portal.models.orders import BASKET, CANCELLED


def status_label(status: str) -> str:
    return {
        "basket": _("Basket (not sent)"),
        "submitted": _("Sent, waiting for the ministry"),
        "approved": _("Approved, being printed"),
        "rejected": pgettext("order status", "Not approved"),
        "shipped": _("Shipped"),
        "cancelled": _("Cancelled"),
    }.get(status, status)


def copies_per_order(limit: int) -> str:
    """The limit per order, as the basket's hint says it."""
    return ngettext("At most %(n)s copy per order.", "At most %(n)s copies per order.", limit,
                    n=number(limit))


def copies_left(left: int) -> str:
    """What the organization may still order this campaign, as the basket's hint says it."""
    return ngettext("%(n)s copy left for your organization this campaign.",
                    "%(n)s copies left for your organization this campaign.", left,
                    n=number(left))


def order_error_message(exc, *, titled: bool = True) -> str:
    """The message of an order error; ``titled=False`` leaves out the material's title,
    for an error shown beside that material's own field."""
    code, details = exc.code, exc.details
    material = details.get("material")
    title = material.title if material is not None else ""
    # Beside the field, whose hint already states the limit: say what to do instead.
    if not titled and code == "over_order_limit":
        limit = details.get("limit", 0)
        return ngettext("Enter at most %(n)s copy: the limit per order.",
                        "Enter at most %(n)s copies: the limit per order.", limit,
                        n=number(limit))
    if not titled and code == "over_campaign_limit":
        left = details.get("left", 0)
        return ngettext("Enter at most %(n)s copy: what your organization may still order "
                        "this campaign.",
                        "Enter at most %(n)s copies: what your organization may still order "
                        "this campaign.", left, n=number(left))
    if code == "changed":
        if details.get("status") == BASKET:
            return _("Your basket changed in another tab or window. Review it again, "
                     "then confirm.")
        return _("This basket was already confirmed (perhaps in another tab): your order "
                 "is in your order history.")
    if code == "already_decided":
        if details.get("status") == CANCELLED:
            return _("The organization cancelled this order meanwhile; nothing was changed.")
        return _("Someone else already decided on this order (it is now: %(status)s); "
                 "nothing was changed.", status=status_label(details.get("status", "")))
    messages = {
        "ordering_closed": _("Orders of printed kits are closed for this campaign."),
        "empty": _("Your basket is empty: enter the copies you need."),
        "address_missing": _("Give the delivery address."),
        "address_incomplete": _("Give the recipient, the street address and the city."),
        "not_orderable": _("%(title)s can no longer be ordered: save the basket again to "
                           "take it out.", title=title) if title else _("This material cannot be ordered."),
        "quantity_negative": _("A quantity cannot be negative."),
        "over_order_limit": ngettext(
            "%(title)s: at most %(limit)s copy per order.",
            "%(title)s: at most %(limit)s copies per order.", details.get("limit", 0),
            title=title, limit=number(details.get("limit", 0))),
        "over_campaign_limit": ngettext(
            "%(title)s: %(left)s copy left for your organization this campaign.",
            "%(title)s: %(left)s copies left for your organization this campaign.",
            details.get("left", 0), title=title, left=number(details.get("left", 0))),
        "postal_code_format": _("Enter a postal code such as H2X 1Y4."),
        "postal_code_outside_quebec": _("This postal code is outside Québec: printed kits "
                                        "are delivered in Québec only."),
        "approved_out_of_range": _("Approve from 0 to the copies asked for, on each line."),
        "approved_nothing": _("Approve at least one copy, or reject the order with a reason."),
        "reason_required": _("Give the reason (3 to 500 characters): it is sent to the "
                             "organization."),
        "shipped_in_future": _("The shipping date cannot be in the future."),
        "shipped_before_order": _("The shipping date cannot come before the order (%(day)s).",
                                  day=long_date(details["placed"]) if details.get("placed") else ""),
    }
    return messages.get(code, _("This order cannot be changed that way."))
