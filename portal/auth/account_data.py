"""An account holder's own data: what the portal keeps about them (to download as JSON)
and the deletion of their account (Québec's Law 25: access and erasure).

Deleting an account keeps the campaign's figures exact without keeping the person:
their download events (and the rollups' first-seen rows) are re-pointed to a new random
anonymous id, so distinct counts do not change; their logo and personalized documents
are deleted, and QR codes already printed keep leading to the help page, without the
organization's name. Its orders of printed kits stay (shipped copies are in the figures)
without the account, the address or the name; its basket is deleted.
"""
from __future__ import annotations

import json
import secrets

from sqlalchemy import delete, func, select, update

from portal.clock import naive_utc_now
from portal.extensions import db
from portal.models import (
    Account,
    AccountToken,
    ActorDay,
    AuditEntry,
    BackgroundJob,
    CobrandProfile,
    DownloadEvent,
    FetchState,
    FirstKit,
    FirstOrganization,
    Kit,
    PersonalizedDocument,
)
from portal.storage import StorageError, get_storage


def _iso(moment) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def export_data(account: Account) -> dict:
    """Everything the portal keeps about the account, readable by its holder."""
    from portal.orders.services import export_orders

    profile = db.session.scalars(select(CobrandProfile)
                                 .where(CobrandProfile.account_id == account.id)).first()
    downloads = db.session.execute(
        select(DownloadEvent.occurred_at, Kit.slug, DownloadEvent.material_version_id,
               DownloadEvent.is_zip, DownloadEvent.personalized)
        .join(Kit, Kit.id == DownloadEvent.kit_id)
        .where(DownloadEvent.actor_id == account.actor_id).order_by(DownloadEvent.id)).all()
    documents = db.session.scalars(select(PersonalizedDocument).where(
        PersonalizedDocument.account_id == account.id)).all()
    return {
        "account": {
            "email": account.email, "pending_email": account.pending_email,
            "role": account.role, "name": account.display_name,
            "organization_type": account.organization_type, "region": account.region,
            "language": account.locale, "created_at": _iso(account.created_at),
            "email_verified_at": _iso(account.email_verified_at),
            "last_sign_in_at": _iso(account.last_login_at),
            "approval": account.approval, "approval_reason": account.approval_reason,
            "suspended_at": _iso(account.suspended_at),
            "second_factor": bool(account.totp_enabled_at),
        },
        "co_branding_profile": None if profile is None else {
            "organization_name": profile.organization_name, "phone": profile.phone,
            "email": profile.email, "website": profile.website,
            "has_logo": bool(profile.logo_key), "event_title": profile.event_title,
            "event_date": profile.event_date.isoformat() if profile.event_date else None,
            "event_time": profile.event_time, "event_place": profile.event_place,
        },
        "downloads": [{"at_utc": _iso(at), "kit": slug, "material_version": version,
                       "zip": is_zip, "personalized": personalized}
                      for at, slug, version, is_zip, personalized in downloads],
        "personalized_documents": [{"id": d.public_id, "created_at": _iso(d.created_at),
                                    "data": json.loads(d.data_json or "{}")}
                                   for d in documents],
        "printed_kit_orders": export_orders(account),
        "not_kept": ["IP addresses", "passwords (only a salted hash)",
                     "who scanned a QR code (only a daily anonymous count)"],
    }


def delete_account(account: Account) -> None:
    """Erase the account and its personal data; the figures stay exact."""
    from portal.orders.services import forget_account

    storage = get_storage()
    anonymous = "anon-" + secrets.token_hex(11)
    actor = account.actor_id
    files: list[str] = []
    for model in (DownloadEvent, FetchState, FirstKit, FirstOrganization, ActorDay):
        db.session.execute(update(model).where(model.actor_id == actor)
                           .values(actor_id=anonymous))
    documents = db.session.scalars(select(PersonalizedDocument).where(
        PersonalizedDocument.account_id == account.id)).all()
    now = naive_utc_now()
    for document in documents:
        files += [key for key in (document.storage_key, document.preview_key) if key]
        # The row stays so a printed QR code still leads to the help page.
        document.account_id = None
        document.data_json = "{}"
        document.storage_key = document.preview_key = None
        document.status = "failed"
        document.revoked_at = document.revoked_at or now
    profile = db.session.scalars(select(CobrandProfile)
                                 .where(CobrandProfile.account_id == account.id)).first()
    if profile is not None:
        if profile.logo_key and not db.session.scalar(
                select(func.count()).select_from(CobrandProfile).where(
                    CobrandProfile.logo_key == profile.logo_key,
                    CobrandProfile.id != profile.id)):
            files.append(profile.logo_key)  # logos are stored by content: maybe shared
        db.session.delete(profile)
    db.session.execute(update(BackgroundJob).where(BackgroundJob.requested_by == account.id)
                       .values(requested_by=None))
    db.session.execute(update(AuditEntry).where(AuditEntry.actor_account_id == account.id)
                       .values(actor_account_id=None))
    db.session.execute(delete(AccountToken).where(AccountToken.account_id == account.id))
    forget_account(account)  # orders stay for the figures, without the person
    db.session.delete(account)
    db.session.commit()
    for key in files:  # after the commit: a storage hiccup leaves an orphan, not a person
        try:
            storage.delete(key)
        except StorageError:
            pass


def purge_expired(now=None) -> dict[str, int]:
    """What the privacy policy promises to delete after set times (``flask purge``)."""
    from datetime import timedelta

    from flask import current_app

    from portal.personalize.documents import purge_unused

    config = current_app.config
    now = now or naive_utc_now()
    counts = {}
    stale = db.session.scalars(select(Account).where(
        Account.email_verified_at.is_(None), Account.role != "staff",
        Account.created_at < now - timedelta(days=config["UNVERIFIED_RETENTION_DAYS"]))).all()
    for account in stale:
        delete_account(account)
    counts["unverified_accounts"] = len(stale)
    counts["links"] = db.session.execute(delete(AccountToken).where(
        AccountToken.expires_at < now - timedelta(days=30))).rowcount
    counts["audit_entries"] = db.session.execute(delete(AuditEntry).where(
        AuditEntry.occurred_at < now - timedelta(days=config["AUDIT_RETENTION_DAYS"]))).rowcount
    db.session.commit()
    counts["document_files"] = purge_unused(config["DOCUMENT_RETENTION_DAYS"])
    return counts
