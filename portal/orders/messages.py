"""What each ``OrderError`` tells the person, in the page's (or mail's) language."""
from __future__ import annotations

from flask_babel import gettext as _

from portal.i18n import long_date
from portal.models.orders import BASKET, CANCELLED


def status_label(status: str) -> str:
    return {
        "basket": _("Basket (not sent)"),
        "submitted": _("Sent, waiting for the ministry"),
        "approved": _("Approved, being printed"),
        "rejected": _("Not approved"),
        "shipped": _("Shipped"),
        "cancelled": _("Cancelled"),
    }.get(status, status)


def order_error_message(exc) -> str:
    code, details = exc.code, exc.details
    material = details.get("material")
    title = material.title if material is not None else ""
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
        "not_orderable": _("%(title)s can no longer be ordered; take it out of the basket.",
                           title=title) if title else _("This material cannot be ordered."),
        "quantity_negative": _("A quantity cannot be negative."),
        "over_order_limit": _("%(title)s: at most %(limit)d copies per order.", title=title,
                              limit=details.get("limit", 0)),
        "over_campaign_limit": _("%(title)s: %(left)d copies left for your organization "
                                 "this campaign.", title=title, left=details.get("left", 0)),
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
