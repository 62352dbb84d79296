"""Sign-out ends the session on the server: cookies copied before it no longer work."""
from __future__ import annotations

import pytest

from tests.conftest import PASSWORD

PROTECTED = {"citizen": ["/account/", "/account/data.json"],
             "organization": ["/account/", "/account/data.json"],
             "staff": ["/account/", "/staff/dashboard", "/staff/accounts"]}


@pytest.mark.parametrize("role", ["citizen", "organization", "staff"])
def test_cookies_copied_before_sign_out_are_refused(app, client, make_account, login, role):
    account = make_account(role)
    login(account, remember=True)
    for path in PROTECTED[role]:
        assert client.get(path).status_code == 200, path
    session_cookie = client.get_cookie("session").value
    remember_cookie = client.get_cookie("remember_token").value

    response = client.post("/account/logout")
    assert response.status_code == 302
    # The browser is told to drop the remember cookie.
    assert any(header.startswith("remember_token=;") for header in
               response.headers.getlist("Set-Cookie"))
    assert client.get_cookie("remember_token") is None
    for path in PROTECTED[role]:
        assert client.get(path).status_code in (302, 401), path

    # Someone who copied the cookies before the sign-out replays them.
    for cookies in ({"session": session_cookie, "remember_token": remember_cookie},
                    {"remember_token": remember_cookie}, {"session": session_cookie}):
        replay = app.test_client()
        for name, value in cookies.items():
            replay.set_cookie(name, value)
        for path in PROTECTED[role]:
            answer = replay.get(path)
            assert answer.status_code in (302, 401), (cookies.keys(), path)


def test_signing_in_again_after_sign_out_works(client, citizen, login):
    login(citizen, remember=True)
    client.post("/account/logout")
    login(citizen, remember=True)
    assert client.get("/account/").status_code == 200
    assert client.post("/account/login", data={"email": citizen.email,
                                               "password": PASSWORD}).status_code == 302
