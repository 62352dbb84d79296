"""Recording staff actions in the audit log (who, what, when). Append-only."""
from __future__ import annotations

from flask import has_request_context
from flask_login import current_user

from portal.extensions import db
from portal.models import Account, AuditEntry

ACTIONS = (
    "organization_approved", "organization_rejected", "account_suspended",
    "account_reinstated", "document_revoked", "campaign_created", "campaign_edited",
    "figures_exported", "events_exported", "job_started", "second_factor_reset",
    "staff_created",
    # Publishing in the portal.
    "kit_created", "kit_audience_changed", "material_created", "version_created",
    "version_made_current",
    "material_published", "material_scheduled", "material_withdrawn", "material_reviewed",
    "print_limits_changed",
    # Orders of printed kits.
    "order_approved", "order_rejected", "order_shipped", "orders_exported",
    "printed_copies_exported",
)


def record(action: str, target: str = "", details: str = "",
           actor: Account | None = None) -> AuditEntry:
    """Write one entry; ``actor`` defaults to the signed-in account (the CLI passes none
    and is recorded as ``cli``)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = current_user
    entry = AuditEntry(actor_account_id=actor.id if actor else None,
                       actor_email=actor.email if actor else "cli", action=action,
                       target=target[:120], details=details[:500])
    db.session.add(entry)
    db.session.commit()
    return entry
