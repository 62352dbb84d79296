"""Registration, sign-in and sign-out for each role."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Account
from tests.conftest import PASSWORD


def org_form(**overrides):
    data = {
        "organization_name": "Centre de femmes l'Éclaircie",
        "organization_type": "community",
        "region": "03",
        "email": "direction@eclaircie.example.org",
        "password": PASSWORD,
        "confirm": PASSWORD,
    }
    data.update(overrides)
    return data


def citizen_form(**overrides):
    data = {"display_name": "Alexis", "region": "", "email": "alexis@example.org",
            "password": PASSWORD, "confirm": PASSWORD}
    data.update(overrides)
    return data


def count_accounts() -> int:
    return db.session.scalar(select(func.count()).select_from(Account))


def test_organization_registers_and_gets_a_verification_mail(client, outbox):
    response = client.post("/account/register/organization", data=org_form())
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/account/registered")
    account = db.session.scalars(select(Account).where(
        Account.email == "direction@eclaircie.example.org")).one()
    assert account.role == "organization"
    assert account.organization_type == "community"
    assert account.region == "03"
    assert account.display_name == "Centre de femmes l'Éclaircie"
    assert account.password_hash.startswith("$argon2id$")
    assert PASSWORD not in account.password_hash
    assert account.email_verified_at is None and account.approval == "pending"
    assert len(outbox) == 1
    mail = outbox[0]
    assert mail["To"] == "direction@eclaircie.example.org"
    body = mail.get_body(("plain",)).get_content()
    assert "https://portail.example.test/account/verify/" in body
    assert "1 888 933-9007" in body


def test_citizen_registers_with_optional_region(client, outbox):
    response = client.post("/account/register/citizen", data=citizen_form())
    assert response.status_code == 302
    account = db.session.scalars(select(Account).where(Account.email == "alexis@example.org")).one()
    assert account.role == "citizen"
    assert account.region is None
    assert account.organization_type is None


def test_registration_cannot_choose_a_role(client):
    client.post("/account/register/citizen", data=citizen_form(role="staff"))
    account = db.session.scalars(select(Account).where(Account.email == "alexis@example.org")).one()
    assert account.role == "citizen"


def test_email_is_normalized(client):
    client.post("/account/register/citizen", data=citizen_form(email="  Alexis@Example.ORG "))
    assert db.session.scalars(select(Account).where(Account.email == "alexis@example.org")).one()


@pytest.mark.parametrize("field", ["organization_name", "organization_type", "region", "email",
                                   "password", "confirm"])
def test_missing_field_gets_a_message_next_to_it(client, field):
    response = client.post("/account/register/organization", data=org_form(**{field: ""}))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f'id="{field}-error"' in page
    assert f'aria-describedby="{field}-error"' in page or f'{field}-error"' in page
    assert 'aria-invalid="true"' in page
    assert count_accounts() == 0


@pytest.mark.parametrize("password, message", [
    ("court", "at least 10 characters"),
    ("motdepasse", "too easy to guess"),
    ("password123", "too easy to guess"),
    ("aaaaaaaaaaaa", "too easy to guess"),
])
def test_weak_password_is_refused_with_a_reason(client, password, message):
    response = client.post("/account/register/citizen",
                           data=citizen_form(password=password, confirm=password),
                           headers={"Accept-Language": "en"}, query_string={"lang": "en"})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count_accounts() == 0


def test_password_containing_the_email_is_refused(client):
    password = "alexis-et-sa-phrase"
    response = client.post("/account/register/citizen?lang=en",
                           data=citizen_form(password=password, confirm=password))
    assert "must not contain your email" in response.get_data(as_text=True)


def test_passwords_must_match(client):
    response = client.post("/account/register/citizen?lang=en",
                           data=citizen_form(confirm=PASSWORD + "x"))
    assert "not the same" in response.get_data(as_text=True)


def test_registering_an_existing_email_answers_as_a_new_registration(client, outbox, citizen):
    fresh = client.post("/account/register/organization", data=org_form())
    outbox.clear()
    again = client.post("/account/register/organization",
                        data=org_form(email=citizen.email.upper(), organization_name="Autre"))
    assert again.status_code == fresh.status_code == 302
    assert again.headers["Location"] == fresh.headers["Location"]
    # The owner is told by mail; nothing else changes.
    assert len(outbox) == 1 and outbox[0]["To"] == citizen.email
    assert "already exists" in outbox[0].get_body(("plain",)).get_content() or \
        "existe déjà" in outbox[0].get_body(("plain",)).get_content()
    assert db.session.get(Account, citizen.id).role == "citizen"
    assert count_accounts() == 2


@pytest.mark.parametrize("role", ["citizen", "organization", "staff"])
def test_each_role_signs_in_and_out(client, make_account, login, role):
    account = make_account(role)
    assert login(account).status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert account.display_name in page
    response = client.post("/account/logout")
    assert response.status_code == 302
    assert account.display_name not in client.get("/").get_data(as_text=True)


def test_wrong_password_and_unknown_email_get_the_same_answer(client, citizen):
    wrong = client.post("/account/login?lang=en",
                        data={"email": citizen.email, "password": "pas le bon mot de passe"})
    unknown = client.post("/account/login?lang=en",
                          data={"email": "nobody@example.org", "password": "pas le bon mot de passe"})
    assert wrong.status_code == unknown.status_code == 400
    message = "Incorrect email address or password."
    assert message in wrong.get_data(as_text=True)
    assert message in unknown.get_data(as_text=True)
    assert wrong.get_data(as_text=True).replace(citizen.email, "X") == \
        unknown.get_data(as_text=True).replace("nobody@example.org", "X")


def test_remember_me_sets_a_lasting_cookie(client, citizen, login):
    login(citizen, remember=True)
    cookie = client.get_cookie("remember_token")
    assert cookie is not None and cookie.http_only and cookie.expires is not None


def test_without_remember_me_no_lasting_cookie(client, citizen, login):
    login(citizen)
    assert client.get_cookie("remember_token") is None


def test_session_cookie_flags(client, citizen, login):
    login(citizen)
    cookie = client.get_cookie("session")
    assert cookie.http_only
    assert cookie.same_site == "Lax"


@pytest.mark.parametrize("target, expected", [
    ("/kits/trousse-organismes", "/kits/trousse-organismes"),
    ("https://evil.example.com/", "/"),
    ("//evil.example.com/", "/"),
    ("/\\evil.example.com", "/"),
    ("javascript:alert(1)", "/"),
])
def test_next_redirects_only_inside_the_portal(client, citizen, target, expected):
    response = client.post("/account/login", query_string={"next": target},
                           data={"email": citizen.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_logout_needs_post(client, citizen, login):
    login(citizen)
    assert client.get("/account/logout").status_code == 405


def test_create_staff_cli_with_password_stdin(runner):
    result = runner.invoke(args=["create-staff", "agent@msp.example.gouv.qc.ca", "--password-stdin"],
                           input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    account = db.session.scalars(select(Account).where(
        Account.email == "agent@msp.example.gouv.qc.ca")).one()
    assert account.role == "staff"


def test_create_staff_cli_with_prompt(runner):
    result = runner.invoke(args=["create-staff", "agente@msp.example.gouv.qc.ca"],
                           input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert db.session.scalars(select(Account).where(Account.role == "staff")).one()


def test_create_staff_cli_refuses_weak_password_and_duplicates(runner, staff):
    weak = runner.invoke(args=["create-staff", "x@msp.example.gouv.qc.ca", "--password-stdin"],
                         input="court\n")
    assert weak.exit_code != 0 and "10" in weak.output
    duplicate = runner.invoke(args=["create-staff", staff.email, "--password-stdin"],
                              input=PASSWORD + "\n")
    assert duplicate.exit_code != 0 and staff.email in duplicate.output


def test_create_staff_cli_generated_password_is_printed_once(runner):
    result = runner.invoke(args=["create-staff", "demo@msp.example.gouv.qc.ca", "--generate"])
    assert result.exit_code == 0
    password = result.output.strip().rsplit(": ", 1)[1]
    assert len(password) >= 16
    again = runner.invoke(args=["create-staff", "demo@msp.example.gouv.qc.ca", "--generate",
                                "--if-missing"])
    assert again.exit_code == 0 and password not in again.output


def test_no_page_registers_staff(client):
    assert client.get("/account/register/staff").status_code == 404
