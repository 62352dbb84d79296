"""Smaller ways around the rules, each closed: a typed name in mails to unconfirmed
addresses, a cross-site ?lang= changing an account, direction-control characters in
printed and account fields."""
from __future__ import annotations

import pytest

from portal.extensions import db
from portal.models import Account
from tests.conftest import PASSWORD, page_text
from tests.test_personalize import save_profile
from tests.test_trust import follow_verification, link_in

LURE = "Gagnez un iPhone sur evil.example"


def body(mail) -> str:
    return mail.get_body(("plain",)).get_content()


def test_a_name_typed_at_registration_stays_out_of_the_verification_mail(client, outbox):
    client.post("/account/register/citizen", data={
        "display_name": LURE, "region": "", "email": "stranger@example.org",
        "password": PASSWORD, "confirm": PASSWORD})
    assert len(outbox) == 1 and outbox[0]["To"] == "stranger@example.org"
    assert LURE not in body(outbox[0]) and "Bonjour," in body(outbox[0])
    # Once the address is confirmed, mails to it greet its holder by name.
    follow_verification(client, link_in(outbox[0], "/account/verify/"))
    outbox.clear()
    client.post("/account/reset", data={"email": "stranger@example.org"})
    assert LURE in body(outbox[0])


def test_a_new_address_gets_no_name_until_it_is_confirmed(client, outbox, make_account,
                                                          login):
    account = make_account("citizen", display_name=LURE)
    login(account)
    outbox.clear()
    client.post("/account/email", data={"email-new_email": "new@example.org",
                                        "email-current": PASSWORD})
    to_new = [mail for mail in outbox if mail["To"] == "new@example.org"]
    assert to_new and all(LURE not in body(mail) for mail in to_new)


def test_lang_in_a_link_switches_the_page_but_not_the_account(client, citizen, login):
    login(citizen)
    assert citizen.locale == "fr"
    page = client.get("/?lang=en")
    assert page.status_code == 200 and 'lang="en-CA"' in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Account, citizen.id).locale == "fr"  # a GET changes no account
    assert 'lang="en-CA"' in client.get("/kits").get_data(as_text=True)  # the session keeps it
    # The account's own POST (here, signing out) makes the choice its stored language.
    client.post("/account/logout")
    db.session.expire_all()
    assert db.session.get(Account, citizen.id).locale == "en"


BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
        "\u2069"]


@pytest.mark.parametrize("control", BIDI)
def test_direction_controls_are_refused_in_account_fields(client, control):
    answer = client.post("/account/register/citizen", data={
        "display_name": control + "evil", "region": "", "email": "bidi@example.org",
        "password": PASSWORD, "confirm": PASSWORD})
    assert answer.status_code == 400
    assert "direction" in page_text(answer) or "sens" in page_text(answer)
    assert db.session.query(Account).filter_by(email="bidi@example.org").first() is None


@pytest.mark.parametrize("field", ["organization_name", "event_title", "event_place",
                                   "website"])
def test_direction_controls_are_refused_in_personalized_fields(client, signed_in, field):
    signed_in("organization")
    answer = save_profile(client, **{field: "Maison \u202eevil"})
    assert answer.status_code == 400


def test_direction_controls_are_refused_on_the_certificate(client, signed_in):
    signed_in("citizen")
    answer = client.post("/certificate", data={"display_name": "\u2067Camille", "region": "",
                                               "language": "fr"})
    assert answer.status_code == 400


@pytest.mark.parametrize("name", ["مركز الأمل للشباب", "מרכז הנוער", "Maison des jeunes"])
def test_arabic_and_hebrew_names_still_print(client, signed_in, name):
    signed_in("organization")
    assert save_profile(client, organization_name=name).status_code == 302
