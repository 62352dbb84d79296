"""Mails to the organization at each change of its order's status, in its language."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from portal.extensions import db
from portal.mail import send_template
from portal.models import Account, PrintOrder

SUBJECTS = {
    "submitted": _l("We received your order of printed kits"),
    "approved": _l("Your order of printed kits is approved"),
    "rejected": _l("About your order of printed kits"),
    "shipped": _l("Your printed kits are on their way"),
    "cancelled": _l("Your order of printed kits is cancelled"),
}


def notify(order: PrintOrder) -> None:
    """Tell the organization its order's new status (nothing if the account is gone)."""
    if order.account_id is None or order.status not in SUBJECTS:
        return
    account = db.session.get(Account, order.account_id)
    if account is None:
        return
    reduced = [line for line in order.lines if line.approved_quantity is not None
               and line.approved_quantity < line.quantity]
    send_template(account.email, f"order_{order.status}", account.locale,
                  SUBJECTS[order.status], account=account, order=order, reduced=reduced)
