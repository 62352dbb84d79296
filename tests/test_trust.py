"""Trust: verification and reset links through a real SMTP server, organizations waiting
for approval, suspension, revoked documents, the staff's second factor, the audit log,
and the account holder's own data (copy and deletion)."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from portal.clock import now
from portal.extensions import db
from portal.models import (
    Account,
    AuditEntry,
    CobrandProfile,
    DownloadEvent,
    PersonalizedDocument,
)
from tests.conftest import PASSWORD, STAFF_TOTP_SECRET, totp_code
from tests.test_personalize import save_profile

ORG_KIT = "/kits/trousse-organismes/affiche/fr/download"
GUIDE = "/kits/guide-professionnels/guide/fr/download"
NEW_PASSWORD = "une autre phrase bien secrète"


def link_in(mail, path: str) -> str:
    body = mail.get_body(("plain",)).get_content()
    url = re.search(rf"https://portail\.example\.test({path}\S+)", body)
    assert url, body
    return url.group(1)


def follow_verification(client, link: str):
    assert client.get(link).status_code == 200  # opening the link uses nothing up
    return client.post(link)


def make_documents(client, **profile):
    """Save a co-branding profile; the personalization page then lists its documents."""
    save_profile(client, **profile)
    client.get("/personalize")


def register_citizen(client, email="camille@example.org"):
    return client.post("/account/register/citizen", data={
        "display_name": "Camille", "region": "", "email": email, "password": PASSWORD,
        "confirm": PASSWORD})


# --- Email flows ---------------------------------------------------------------------

def test_registration_verification_link_then_download(client, outbox, login):
    register_citizen(client)
    account = db.session.scalars(select(Account)).one()
    link = link_in(outbox[-1], "/account/verify/")
    login(account)
    refused = client.get("/kits/trousse-citoyens/fiche-information/fr/download")
    assert refused.status_code == 403 and "confirm" in refused.get_data(as_text=True).lower()
    assert follow_verification(client, link).status_code == 302
    assert db.session.get(Account, account.id).email_verified_at is not None
    assert client.get("/kits/trousse-citoyens/fiche-information/fr/download").status_code == 200
    # Single use.
    assert client.get(link).status_code == 400
    assert client.post(link).status_code == 400


def test_verification_link_expires_and_a_new_one_replaces_it(app, client, outbox, login,
                                                             monkeypatch):
    register_citizen(client)
    account = db.session.scalars(select(Account)).one()
    first = link_in(outbox[-1], "/account/verify/")
    login(account)
    client.post("/account/verify/resend")
    second = link_in(outbox[-1], "/account/verify/")
    assert first != second
    assert client.get(first).status_code == 400  # replaced by the new one
    monkeypatch.setitem(app.config, "FROZEN_NOW", now() + timedelta(days=4))
    assert client.post(second).status_code == 400  # expired
    assert db.session.get(Account, account.id).email_verified_at is None


@pytest.mark.parametrize("token", ["x", "a" * 400, "eyJ0eXAi.forged.token", "%00"])
def test_forged_links_are_refused(client, token):
    assert client.get(f"/account/verify/{token}").status_code in (400, 404)
    assert client.get(f"/account/reset/{token}").status_code in (400, 404)


def test_password_reset_by_mail_ends_every_session(client, app, outbox, citizen, login):
    login(citizen)
    other_device = app.test_client()
    other_device.post("/account/login", data={"email": citizen.email, "password": PASSWORD})
    assert other_device.get("/account/").status_code == 200
    outbox.clear()
    known = client.post("/account/reset", data={"email": citizen.email})
    unknown = client.post("/account/reset", data={"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 302
    assert known.headers["Location"] == unknown.headers["Location"]
    assert len(outbox) == 1 and outbox[0]["To"] == citizen.email
    link = link_in(outbox[0], "/account/reset/")
    assert client.get(link).status_code == 200
    weak = client.post(link, data={"password": "court", "confirm": "court"})
    assert weak.status_code == 400
    done = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302
    assert other_device.get("/account/").status_code == 302  # signed out everywhere
    assert client.post(link, data={"password": NEW_PASSWORD,
                                   "confirm": NEW_PASSWORD}).status_code == 400
    assert client.post("/account/login", data={"email": citizen.email,
                                                "password": NEW_PASSWORD}).status_code == 302


def test_changing_the_email_verifies_the_new_address(client, outbox, citizen, login):
    login(citizen)
    outbox.clear()
    wrong = client.post("/account/email", data={"email-new_email": "neuf@example.org",
                                                "email-current": "pas le bon"})
    assert wrong.status_code == 400 and not outbox
    client.post("/account/email", data={"email-new_email": "neuf@example.org",
                                        "email-current": PASSWORD})
    recipients = sorted(mail["To"] for mail in outbox)
    assert recipients == sorted([citizen.email, "neuf@example.org"])
    to_new = next(mail for mail in outbox if mail["To"] == "neuf@example.org")
    assert db.session.get(Account, citizen.id).email == citizen.email  # not yet
    follow_verification(client, link_in(to_new, "/account/verify/"))
    db.session.expire_all()
    assert db.session.get(Account, citizen.id).email == "neuf@example.org"


def test_changing_the_password_ends_other_sessions(client, app, citizen, login):
    login(citizen)
    other_device = app.test_client()
    other_device.post("/account/login", data={"email": citizen.email, "password": PASSWORD})
    response = client.post("/account/password", data={
        "password-current": PASSWORD, "password-password": NEW_PASSWORD,
        "password-confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert client.get("/account/").status_code == 200  # this session carries on
    assert other_device.get("/account/").status_code == 302


def test_mails_are_in_the_accounts_language(client, outbox):
    client.get("/?lang=en")
    register_citizen(client)
    body = outbox[-1].get_body(("plain",)).get_content()
    assert "confirm this email address" in body
    assert outbox[-1].get_body(("plain",))["Content-Type"].startswith("text/plain")


# --- Organizations: approval, suspension, revocation -------------------------------

def test_pending_organization_downloads_general_kits_only(client, make_account, login):
    login(make_account("organization", approval="pending"))
    assert client.get(ORG_KIT).status_code == 200
    guide = client.get(GUIDE)
    assert guide.status_code == 403 and "approved" in guide.get_data(as_text=True).lower() or \
        "approuv" in guide.get_data(as_text=True)
    assert client.get("/personalize").status_code == 403


def test_staff_approve_or_reject_with_a_reason_sent_by_mail(app, client, make_account,
                                                            outbox):
    pending = make_account("organization", approval="pending", display_name="Groupe A")
    other = make_account("organization", approval="pending", display_name="Groupe B")
    staff_client = app.test_client()
    staff = make_account("staff")
    staff_client.post("/account/login", data={"email": staff.email, "password": PASSWORD})
    staff_client.post("/account/two-factor", data={"code": totp_code()})
    queue = staff_client.get("/staff/organizations").get_data(as_text=True)
    assert "Groupe A" in queue and "Groupe B" in queue
    outbox.clear()
    staff_client.post(f"/staff/organizations/{pending.id}/approve")
    staff_client.post(f"/staff/organizations/{other.id}/reject",
                      data={"reason": "Organisme introuvable au registre"})
    db.session.expire_all()
    assert db.session.get(Account, pending.id).approval == "approved"
    assert db.session.get(Account, other.id).approval == "rejected"
    rejected_mail = next(m for m in outbox if m["To"] == other.email)
    assert "Organisme introuvable au registre" in rejected_mail.get_body(("plain",)).get_content()
    assert any(m["To"] == pending.email for m in outbox)
    actions = {e.action for e in db.session.scalars(select(AuditEntry))}
    assert {"organization_approved", "organization_rejected"} <= actions
    # A rejection needs a reason.
    third = make_account("organization", approval="pending")
    staff_client.post(f"/staff/organizations/{third.id}/reject", data={"reason": ""})
    assert db.session.get(Account, third.id).approval == "pending"


def test_suspension_ends_the_sessions_and_blocks_sign_in(app, client, organization, login,
                                                         make_account):
    login(organization)
    staff_client = app.test_client()
    staff = make_account("staff")
    staff_client.post("/account/login", data={"email": staff.email, "password": PASSWORD})
    staff_client.post("/account/two-factor", data={"code": totp_code()})
    assert staff_client.post(f"/staff/accounts/{organization.id}/suspend").status_code == 302
    assert client.get(ORG_KIT).status_code == 302  # signed out: sent to sign in
    again = client.post("/account/login", data={"email": organization.email,
                                                "password": PASSWORD})
    assert again.status_code == 403
    staff_client.post(f"/staff/accounts/{organization.id}/reinstate")
    assert client.post("/account/login", data={"email": organization.email,
                                                "password": PASSWORD}).status_code == 302


def test_revoked_document_stops_downloading_and_its_qr_hides_the_name(app, client,
                                                                      organization, login,
                                                                      make_account):
    login(organization)
    make_documents(client, organization_name="Maison Tournesol")
    document = db.session.scalars(select(PersonalizedDocument)).first()
    assert client.get(f"/documents/{document.public_id}/download").status_code == 200
    staff_client = app.test_client()
    staff = make_account("staff")
    staff_client.post("/account/login", data={"email": staff.email, "password": PASSWORD})
    staff_client.post("/account/two-factor", data={"code": totp_code()})
    page = staff_client.get(f"/staff/accounts/{organization.id}").get_data(as_text=True)
    assert document.public_id in page
    staff_client.post(f"/staff/documents/{document.public_id}/revoke")
    assert client.get(f"/documents/{document.public_id}/download").status_code == 404
    if document.qr_token:
        landing = client.get(f"/r/{document.qr_token}")
        assert landing.status_code == 200 and "Tournesol" not in landing.get_data(as_text=True)


# --- Staff second factor -----------------------------------------------------------

def test_a_code_works_once_and_wrong_codes_send_back_to_sign_in(app, client, make_account,
                                                                 monkeypatch):
    monkeypatch.setitem(app.config, "FROZEN_NOW", datetime(2027, 3, 4, 15, tzinfo=UTC))
    staff = make_account("staff")
    client.post("/account/login", data={"email": staff.email, "password": PASSWORD})
    code = totp_code()
    assert client.post("/account/two-factor", data={"code": code}).status_code == 302
    client.post("/account/logout")
    client.post("/account/login", data={"email": staff.email, "password": PASSWORD})
    replay = client.post("/account/two-factor", data={"code": code})
    assert replay.status_code == 400  # the same code again: refused
    for _ in range(4):
        client.post("/account/two-factor", data={"code": "123456"})
    assert client.get("/account/two-factor").status_code == 302  # back to sign-in


# --- Audit log ---------------------------------------------------------------------

def test_audit_log_lists_and_filters_staff_actions(client, signed_in, make_account):
    staff = signed_in("staff")
    client.get("/staff/exports/events.csv")
    client.get("/staff/exports/figures.csv")
    page = client.get("/staff/audit?action=events_exported").get_data(as_text=True)
    assert "events_exported" in page and "figures_exported" not in page.split("<tbody>")[1]
    assert staff.email in page
    assert client.get("/staff/audit?start=nonsense").status_code == 400
    assert client.post("/staff/audit").status_code == 405  # nothing edits the log


# --- Privacy: a copy of one's data, deletion, purge -------------------------------

def test_account_holder_downloads_their_data(client, organization, login):
    login(organization)
    make_documents(client)
    client.get(ORG_KIT)
    response = client.get("/account/data.json")
    data = json.loads(response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    assert data["account"]["email"] == organization.email
    assert data["co_branding_profile"]["organization_name"]
    assert len(data["downloads"]) == 1 and data["personalized_documents"]
    assert "password" not in json.dumps(data["account"])


def test_deleting_an_account_keeps_the_counts_exact(client, organization, login):
    login(organization)
    make_documents(client, organization_name="Maison Tournesol")
    client.get(ORG_KIT)
    document = db.session.scalars(select(PersonalizedDocument)).first()
    actor = organization.actor_id
    wrong = client.post("/account/delete", data={"delete-current": "pas le bon",
                                                 "delete-understood": "y"})
    assert wrong.status_code == 400
    response = client.post("/account/delete", data={"delete-current": PASSWORD,
                                                    "delete-understood": "y"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Account, organization.id) is None
    events = list(db.session.scalars(select(DownloadEvent)))
    assert len(events) == 1 and events[0].actor_id != actor
    assert events[0].actor_id.startswith("anon-")
    assert db.session.scalar(select(func.count()).select_from(CobrandProfile)) == 0
    kept = db.session.get(PersonalizedDocument, document.id)
    assert kept.account_id is None and kept.storage_key is None and kept.data_json == "{}"
    if kept.qr_token:
        landing = client.get(f"/r/{kept.qr_token}")
        assert landing.status_code == 200 and "Tournesol" not in landing.get_data(as_text=True)
    assert client.get("/account/").status_code == 302  # signed out


def test_purge_deletes_accounts_never_confirmed(app, runner, make_account, monkeypatch):
    old = make_account("citizen", verified=False)
    confirmed = make_account("citizen")
    monkeypatch.setitem(app.config, "FROZEN_NOW", now() + timedelta(days=15))
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0 and "unverified accounts: 1" in result.output
    assert db.session.get(Account, old.id) is None
    assert db.session.get(Account, confirmed.id) is not None


@pytest.mark.parametrize("language, title", [("fr", "Politique de confidentialité"),
                                             ("en", "Privacy policy")])
def test_privacy_policy_in_both_languages(client, language, title):
    page = client.get(f"/privacy?lang={language}").get_data(as_text=True)
    assert title in page and "IP" in page
    assert "14" in page and "90" in page  # the retention times, from the settings


def test_totp_secret_is_not_the_fixture_secret_for_new_staff(make_account):
    assert make_account("staff", second_factor=False).totp_secret != STAFF_TOTP_SECRET


# --- Found in review: each of these was a way around the rules ---------------------

def test_a_link_only_confirms_the_mailbox_it_was_sent_to(client, outbox, login, make_account):
    attacker = make_account("citizen", email="attacker@example.org", verified=False)
    login(attacker)
    client.post("/account/email", data={"email-new_email": "victim@example.com",
                                        "email-current": PASSWORD})
    outbox.clear()
    client.post("/account/verify/resend")  # the link goes to the attacker's own address
    mail = outbox[-1]
    assert mail["To"] == "attacker@example.org"
    follow_verification(client, link_in(mail, "/account/verify/"))
    db.session.expire_all()
    account = db.session.get(Account, attacker.id)
    assert account.email == "attacker@example.org"  # never the victim's


def test_email_change_answers_the_same_for_a_registered_address(client, outbox, login,
                                                                make_account):
    make_account("citizen", email="taken@example.org")
    first = make_account("citizen", email="first@example.org")
    login(first)
    client.get("/")  # the sign-in message is shown once, here
    taken = client.post("/account/email", data={"email-new_email": "taken@example.org",
                                                "email-current": PASSWORD})
    taken_page = client.get("/account/").get_data(as_text=True)
    taken_mails = len(outbox)
    outbox.clear()
    free = client.post("/account/email", data={"email-new_email": "free@example.org",
                                               "email-current": PASSWORD})
    free_page = client.get("/account/").get_data(as_text=True)
    assert taken.status_code == free.status_code == 302
    assert taken_mails == len(outbox) == 2
    assert taken_page.replace("taken@example.org", "X") == free_page.replace("free@example.org",
                                                                             "X")


def test_a_deleted_accounts_session_fits_no_new_account(client, app, make_account, login):
    first = make_account("citizen", email="first@example.org")
    login(first)
    other_device = app.test_client()
    other_device.post("/account/login", data={"email": first.email, "password": PASSWORD})
    client.post("/account/delete", data={"delete-current": PASSWORD, "delete-understood": "y"})
    make_account("citizen", email="second@example.org")  # may get the same id
    data = other_device.get("/account/data.json")
    assert data.status_code == 302  # signed out, not signed in as someone else


def test_wrong_codes_are_counted_on_the_server_and_the_step_expires(app, client,
                                                                   make_account, monkeypatch):
    staff = make_account("staff")
    client.post("/account/login", data={"email": staff.email, "password": PASSWORD})
    saved = client.get_cookie("session").value
    for _ in range(4):
        client.post("/account/two-factor", data={"code": "000000"})
    client.set_cookie("session", saved)  # replaying the cookie does not reset the count
    locked = client.post("/account/two-factor", data={"code": "000000"})
    assert locked.status_code == 302
    client.set_cookie("session", saved)
    assert client.post("/account/two-factor",
                       data={"code": totp_code()}).status_code == 302
    assert client.get("/staff/dashboard").status_code == 302  # still locked out
    db.session.expire_all()
    assert db.session.get(Account, staff.id).totp_locked_until is not None
    # A password step more than five minutes old is no longer good.
    fresh = app.test_client()
    other = make_account("staff")
    fresh.post("/account/login", data={"email": other.email, "password": PASSWORD})
    later = now() + timedelta(minutes=6)
    monkeypatch.setattr("portal.auth.routes.time.time", lambda: later.timestamp())
    assert fresh.post("/account/two-factor", data={"code": totp_code()}).status_code == 302
    assert fresh.get("/staff/dashboard").status_code == 302


@pytest.mark.parametrize("code", ["١٢٣٤٥٦", "12345", "abcdef", "1234567"])
def test_odd_codes_are_refused_cleanly(client, make_account, code):
    staff = make_account("staff")
    client.post("/account/login", data={"email": staff.email, "password": PASSWORD})
    assert client.post("/account/two-factor", data={"code": code}).status_code == 400


def test_an_organization_is_decided_once(client, signed_in, make_account):
    signed_in("staff")
    organization = make_account("organization", approval="pending")
    client.post(f"/staff/organizations/{organization.id}/approve")
    client.post(f"/staff/organizations/{organization.id}/reject", data={"reason": "Trop tard"})
    db.session.expire_all()
    assert db.session.get(Account, organization.id).approval == "approved"
