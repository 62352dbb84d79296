"""Staff enrol their second factor only through a single-use link mailed by the CLI; the
pending secret stays on the server; codes follow real time, not the demonstration clock."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Account, AuditEntry
from tests.conftest import PASSWORD

SETUP = "/account/two-factor/setup/"


def setup_link(mail) -> str:
    body = mail.get_body(("plain",)).get_content()
    found = re.search(rf"https://portail\.example\.test({SETUP}\S+)", body)
    assert found, body
    return found.group(1)


def key_on(page: str) -> str:
    return re.search(r'<code class="totp-key">([A-Z2-7]+)</code>', page).group(1)


def new_staff(runner, outbox, email="agent@msp.example.gouv.qc.ca") -> tuple[Account, str]:
    result = runner.invoke(args=["create-staff", email, "--password-stdin"],
                           input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    # The command returned with its mail already handed to the mail server.
    mails = [mail for mail in outbox._messages if mail["To"] == email]
    assert len(mails) == 1
    account = db.session.scalars(select(Account).where(Account.email == email)).one()
    return account, setup_link(mails[0])


def sign_in_password(client, account):
    return client.post("/account/login", data={"email": account.email, "password": PASSWORD})


def test_a_password_alone_shows_no_key_and_the_mailed_link_enrols(client, runner, outbox):
    account, link = new_staff(runner, outbox)
    assert account.totp_enabled_at is None
    assert sign_in_password(client, account).status_code == 302
    mailed = client.get("/account/two-factor")
    page = mailed.get_data(as_text=True)
    assert mailed.status_code == 200 and "totp-key" not in page
    assert 'name="code"' not in page
    assert account.totp_secret not in page
    # Nothing in the session cookie carries the secret either.
    assert account.totp_secret not in str(client.get_cookie("session").value)
    # A code posted without the link enrols nothing.
    code = pyotp.TOTP(account.totp_secret).now()
    client.post("/account/two-factor", data={"code": code})
    assert db.session.get(Account, account.id).totp_enabled_at is None
    assert client.get("/staff/dashboard").status_code == 302
    # The link shows the key and the code field; a right code signs in.
    setup = client.get(link)
    secret = key_on(setup.get_data(as_text=True))
    assert setup.status_code == 200 and 'name="code"' in setup.get_data(as_text=True)
    assert secret not in str(client.get_cookie("session").value)
    assert client.post(link, data={"code": "000000"}).status_code == 400
    done = client.post(link, data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 302 and done.headers["Location"] == "/staff/dashboard"
    assert client.get("/staff/dashboard").status_code == 200
    db.session.expire_all()
    assert db.session.get(Account, account.id).totp_enabled_at is not None
    # The link worked once.
    assert client.get(link).status_code == 400


def test_the_link_opened_in_another_browser_enrols_then_sign_in_asks_a_code(
        app, client, runner, outbox):
    account, link = new_staff(runner, outbox)
    phone = app.test_client()
    secret = key_on(phone.get(link).get_data(as_text=True))
    answer = phone.post(link, data={"code": pyotp.TOTP(secret).now()})
    assert answer.status_code == 302 and "/account/login" in answer.headers["Location"]
    assert phone.get("/staff/dashboard").status_code == 302  # no password: not signed in
    sign_in_password(client, account)
    db.session.expire_all()
    db.session.get(Account, account.id).totp_last_step = None
    db.session.commit()
    assert client.post("/account/two-factor",
                       data={"code": pyotp.TOTP(secret).now()}).status_code == 302
    assert client.get("/staff/dashboard").status_code == 200


def test_links_expire_are_bound_to_their_account_and_a_new_one_voids_the_old(
        app, client, runner, outbox, monkeypatch):
    first, first_link = new_staff(runner, outbox, "un@msp.example.gouv.qc.ca")
    result = runner.invoke(args=["reset-second-factor", first.email])
    assert result.exit_code == 0, result.output
    newer = setup_link([m for m in outbox._messages if m["To"] == first.email][-1])
    assert client.get(first_link).status_code == 400  # voided by the new one
    assert client.get(newer).status_code == 200
    # A forged or altered link names nothing.
    assert client.get(newer[:-3] + "abc").status_code == 400
    assert client.get(SETUP + "x" * 40).status_code == 400
    # After its lifetime, the link is refused.
    later = datetime.now(UTC) + timedelta(hours=25)
    monkeypatch.setitem(app.config, "FROZEN_NOW", later)
    assert client.get(newer).status_code == 400


def test_reset_second_factor_mails_a_link_and_ends_sessions(client, runner, outbox,
                                                            make_account, login):
    staff = make_account("staff")
    login(staff)
    result = runner.invoke(args=["reset-second-factor", staff.email])
    assert result.exit_code == 0, result.output
    assert "mailed" in result.output
    mails = [m for m in outbox._messages if m["To"] == staff.email]
    assert len(mails) == 1 and SETUP in mails[0].get_body(("plain",)).get_content()
    account = db.session.get(Account, staff.id)
    assert account.totp_enabled_at is None and account.totp_secret  # pending, on the server
    assert client.get("/staff/dashboard").status_code == 302  # sessions ended
    assert db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "second_factor_reset")).one().actor_email == "cli"
    assert runner.invoke(args=["reset-second-factor", "nobody@example.org"]).exit_code != 0


def test_a_command_whose_mail_cannot_be_sent_says_so(app, runner, monkeypatch, outbox):
    monkeypatch.setitem(app.config, "SMTP_URL", "smtp://127.0.0.1:9?timeout=2")
    result = runner.invoke(args=["create-staff", "x@msp.example.gouv.qc.ca",
                                 "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code != 0 and "reset-second-factor" in result.output


def test_wrong_codes_on_the_link_are_counted_and_lock(client, runner, outbox):
    account, link = new_staff(runner, outbox)
    for _ in range(5):
        client.post(link, data={"code": "000000"})
    db.session.expire_all()
    assert db.session.get(Account, account.id).totp_locked_until is not None
    secret = db.session.get(Account, account.id).totp_secret
    client.post(link, data={"code": pyotp.TOTP(secret).now()})
    assert db.session.get(Account, account.id).totp_enabled_at is None


def test_codes_follow_real_time_even_with_a_demonstration_clock(app, client, make_account,
                                                                monkeypatch):
    staff = make_account("staff")
    monkeypatch.setitem(app.config, "CLOCK_START", "2027-03-04T09:00:00-05:00")
    monkeypatch.setitem(app.config, "_CLOCK_OFFSET", None)
    sign_in_password(client, staff)
    code = pyotp.TOTP(staff.totp_secret).now()  # what the phone shows
    assert client.post("/account/two-factor", data={"code": code}).status_code == 302
    assert client.get("/staff/dashboard").status_code == 200


@pytest.mark.parametrize("token", ["", "a", "x" * 400, "..%2F..", "ü" * 10])
def test_odd_setup_links_are_refused_cleanly(client, token):
    assert client.get(SETUP + token).status_code in (400, 404)


def test_once_the_link_is_opened_the_code_may_be_posted_to_the_sign_in_step(client, runner,
                                                                              outbox):
    account, link = new_staff(runner, outbox)
    sign_in_password(client, account)
    secret = key_on(client.get(link).get_data(as_text=True))
    # The session names the link's row, never the link or the key.
    assert secret not in str(client.get_cookie("session").value)
    assert link.rsplit("/", 1)[1] not in str(client.get_cookie("session").value)
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert key_on(page) == secret and 'name="code"' in page
    done = client.post("/account/two-factor", data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 302 and client.get("/staff/dashboard").status_code == 200
    assert client.get(link).status_code == 400  # used up


def test_a_link_row_in_another_accounts_session_sets_nothing_up(app, client, runner, outbox):
    first, first_link = new_staff(runner, outbox, "un@msp.example.gouv.qc.ca")
    second, _ = new_staff(runner, outbox, "deux@msp.example.gouv.qc.ca")
    sign_in_password(client, second)
    client.get(first_link)  # another account's link: not remembered for this sign-in
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert "totp-key" not in page
