"""Hostile and malformed input: never a 500, never a half-created account, never echoed raw."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Account, DownloadEvent

NASTY = st.sampled_from([
    "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "' OR '1'='1' --",
    "'; DROP TABLE account; --", "{{ 7*7 }}", "{% raw %}", "${7*7}", "\x00", "\r\n\tX",
    "\u202eevil", "😀" * 50, "a" * 10_000, "%00", "../../etc/passwd", "-1", "1e309",
    "99999999999999999999999", "null", "[]", "{}", "\ud800".encode("utf-8", "surrogatepass").decode(
        "utf-8", "replace"),
])
TEXT = st.one_of(NASTY, st.text(max_size=300))
FORMS = {
    "/account/register/organization": ["organization_name", "organization_type", "region",
                                        "email", "password", "confirm"],
    "/account/register/citizen": ["display_name", "region", "email", "password", "confirm"],
    "/account/login": ["email", "password", "remember"],
    "/account/reset": ["email"],
    "/account/two-factor": ["code"],
}


def accounts() -> int:
    return db.session.scalar(select(func.count()).select_from(Account))


def assert_safe(response, sent: list[str]):
    assert response.status_code < 500, response.status_code
    body = response.get_data(as_text=True)
    for value in sent:
        if "<" in value and len(value) > 3:
            assert value not in body, "input echoed unescaped"


@given(path=st.sampled_from(sorted(FORMS)), data=st.data())
def test_forms_survive_hostile_values(client, path, data):
    before = accounts()
    values = {field: data.draw(TEXT, label=field) for field in FORMS[path]}
    response = client.post(path, data=values)
    assert_safe(response, list(values.values()))
    if response.status_code != 302:
        assert accounts() == before  # a refused form leaves nothing behind


@given(segment=TEXT, second=TEXT)
def test_urls_survive_hostile_segments(client, segment, second):
    from urllib.parse import quote

    for path in (f"/kits/{quote(segment, safe='')}",
                 f"/kits/trousse-organismes/{quote(segment, safe='')}/{quote(second, safe='')}/download",
                 f"/kits/{quote(segment, safe='')}/download.zip",
                 f"/account/verify/{quote(segment, safe='')}",
                 f"/account/reset/{quote(segment, safe='')}"):
        assert_safe(client.get(path), [segment, second])


@given(audience=TEXT, language=TEXT, kind=TEXT, lang=TEXT, next_=TEXT)
def test_query_parameters_survive_hostile_values(client, audience, language, kind, lang, next_):
    response = client.get("/kits", query_string={"audience": audience, "language": language,
                                                 "kind": kind, "lang": lang})
    assert_safe(response, [audience, language, kind, lang])
    assert_safe(client.get("/account/login", query_string={"next": next_}), [next_])


def test_invalid_utf8_in_form_and_query(client):
    response = client.post("/account/login", data=b"email=%ff%fe&password=%c3%28",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert client.get("/kits?audience=%ff%fe").status_code == 200
    assert client.get("/kits/%ff%fe").status_code == 404


def test_wrong_types_and_json_bodies(client):
    response = client.post("/account/login", json={"email": ["a"], "password": {"x": 1}})
    assert response.status_code == 400
    response = client.post("/account/register/citizen", data="not a form", content_type="text/plain")
    assert response.status_code == 400


def test_request_bodies_have_a_size_limit(client, app):
    big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post("/account/login", data={"email": big, "password": "x"})
    assert response.status_code == 413
    assert "1 888 933-9007" in response.get_data(as_text=True)


def test_over_long_fields_are_rejected_by_validation(client):
    response = client.post("/account/register/citizen", data={
        "display_name": "N" * 81, "email": "a" * 250 + "@example.org",
        "password": "p" * 201, "confirm": "p" * 201})
    assert response.status_code == 400
    assert accounts() == 0


def test_control_characters_in_names_are_refused(client):
    response = client.post("/account/register/organization", data={
        "organization_name": "Org\x07anisme", "organization_type": "community", "region": "06",
        "email": "ctrl@example.org", "password": "une phrase assez longue", "confirm":
        "une phrase assez longue"})
    assert response.status_code == 400
    assert accounts() == 0


def test_tampered_choices_are_refused(client):
    response = client.post("/account/register/organization", data={
        "organization_name": "Organisme", "organization_type": "government", "region": "99",
        "email": "org@example.org", "password": "une phrase assez longue",
        "confirm": "une phrase assez longue"})
    assert response.status_code == 400
    assert accounts() == 0


def test_no_download_event_comes_from_bad_requests(client, signed_in):
    signed_in("organization")
    for path in ("/kits/trousse-organismes/affiche/xx/download", "/kits/%00/download.zip",
                 "/kits/trousse-organismes/affiche/fr/download/../../x"):
        assert client.get(path).status_code in (400, 404, 308)
    assert db.session.scalar(select(func.count()).select_from(DownloadEvent)) == 0


def test_unexpected_errors_become_a_500_page_without_traceback(app, client, monkeypatch):
    def boom(*args, **kwargs):
        raise ZeroDivisionError("secret detail")

    monkeypatch.setattr("portal.catalog.routes.list_kits", boom)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    response = client.get("/kits")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and "secret detail" not in body
    assert "1 888 933-9007" in body


def test_nul_characters_are_refused_everywhere(client, citizen):
    assert client.get("/kits/%00").status_code == 400
    assert client.get("/kits?audience=%00").status_code == 400
    response = client.post("/account/login", data={"email": citizen.email + "\x00",
                                                   "password": "x"})
    assert response.status_code == 400


SIGNED_IN_FORMS = {
    "/account/email": ["email-new_email", "email-current"],
    "/account/password": ["password-current", "password-password", "password-confirm"],
    "/account/delete": ["delete-current", "delete-understood"],
}


@given(path=st.sampled_from(sorted(SIGNED_IN_FORMS)), data=st.data())
def test_account_forms_survive_hostile_values(client, make_account, login, path, data):
    from portal.models import Account

    account = db.session.scalars(select(Account).where(
        Account.email == "hostile@example.org")).first() or \
        make_account("citizen", email="hostile@example.org")
    login(account)
    values = {field: data.draw(TEXT, label=field) for field in SIGNED_IN_FORMS[path]}
    response = client.post(path, data=values)
    assert_safe(response, list(values.values()))
    # Without the right password nothing changes.
    db.session.expire_all()
    kept = db.session.get(Account, account.id)
    assert kept is not None and kept.email == "hostile@example.org"
    assert kept.pending_email is None


# --- Issue 15: the second factor's set-up link, Range headers, QR links, direction marks --

@given(segment=TEXT)
def test_setup_and_qr_links_survive_hostile_segments(client, segment):
    from urllib.parse import quote

    for path in (f"/account/two-factor/setup/{quote(segment, safe='')}",
                 f"/r/{quote(segment, safe='')}"):
        assert_safe(client.get(path), [segment])
        assert_safe(client.post(path, data={"code": segment}), [segment])


@given(code=TEXT)
def test_the_setup_form_survives_hostile_codes(client, make_account, code):
    from portal.auth.second_factor import issue_setup_link

    staff = make_account("staff", second_factor=False)
    link = f"/account/two-factor/setup/{issue_setup_link(staff)}"
    response = client.post(link, data={"code": code})
    assert_safe(response, [code])
    db.session.expire_all()
    assert db.session.get(Account, staff.id).totp_enabled_at is None  # no code was right


RANGE = st.one_of(st.sampled_from(["bytes=0-", "bytes=1-", "bytes=-1", "bytes=0-0,5-9",
                                   "bytes=5-9,0-1", "bytes=9999999999-", "bytes=", "bytes",
                                   "items=0-1", "bytes=-0", "bytes=1-0"]),
                  st.text(alphabet="bytes=0123456789-, ", max_size=30))


@given(header=RANGE)
def test_range_headers_never_fail_and_record_only_from_byte_0(client, signed_in, header):
    from werkzeug.http import parse_range_header

    if db.session.scalars(select(Account)).first() is None or \
            client.get_cookie("session") is None:
        signed_in("organization")
    before = db.session.scalar(select(func.count()).select_from(DownloadEvent))
    response = client.get("/kits/trousse-organismes/affiche/fr/download",
                          headers={"Range": header})
    assert response.status_code < 500
    recorded = db.session.scalar(select(func.count()).select_from(DownloadEvent)) - before
    parsed = parse_range_header(header)
    if parsed is not None and parsed.ranges and parsed.ranges[0][0] != 0:
        assert recorded == 0, header


BIDI_TEXT = st.builds(lambda before, mark, after: before + mark + after,
                      st.text(max_size=20), st.sampled_from(
                          [chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]]),
                      st.text(max_size=20))


@given(name=BIDI_TEXT)
def test_no_account_or_profile_keeps_a_direction_control(client, name):
    response = client.post("/account/register/citizen", data={
        "display_name": name, "region": "", "email": "bidi@example.org",
        "password": "une longue phrase secrète", "confirm": "une longue phrase secrète"})
    assert response.status_code == 400
    assert db.session.scalars(select(Account).where(
        Account.email == "bidi@example.org")).first() is None
