"""The access table: for each route and each kind of visitor, the expected answer.

302 = sent to sign in; 403 = refused (with a page saying what to do where there is
something to do); 200 = served. Another account's personalized document is a 404."""
from __future__ import annotations

import pytest

from portal.auth.services import suspend

ROLES = ("visitor", "unverified", "citizen", "pending_org", "verified_org", "suspended",
         "staff")

# route: answers in the order of ROLES
TABLE = {
    "/": (200, 200, 200, 200, 200, 200, 200),
    "/kits": (200, 200, 200, 200, 200, 200, 200),
    "/privacy": (200, 200, 200, 200, 200, 200, 200),
    "/help": (200, 200, 200, 200, 200, 200, 200),
    "/api/stats/public": (200, 200, 200, 200, 200, 200, 200),
    "/kits/trousse-citoyens/fiche-information/fr/download": (302, 403, 200, 403, 403, 302, 200),
    "/kits/trousse-organismes/affiche/fr/download": (302, 403, 403, 200, 200, 302, 200),
    "/kits/trousse-organismes/download.zip": (302, 403, 403, 200, 200, 302, 200),
    "/kits/guide-professionnels/guide/fr/download": (302, 403, 403, 403, 200, 302, 200),
    "/personalize": (302, 403, 403, 403, 200, 302, 200),
    "/certificate": (302, 403, 200, 403, 403, 302, 200),
    "/frame": (302, 403, 200, 403, 403, 302, 200),
    "/account/": (302, 200, 200, 200, 200, 302, 200),
    "/account/data.json": (302, 200, 200, 200, 200, 302, 200),
    "/staff/dashboard": (302, 403, 403, 403, 403, 302, 200),
    "/staff/campaigns": (302, 403, 403, 403, 403, 302, 200),
    "/staff/organizations": (302, 403, 403, 403, 403, 302, 200),
    "/staff/accounts": (302, 403, 403, 403, 403, 302, 200),
    "/staff/audit": (302, 403, 403, 403, 403, 302, 200),
    "/staff/jobs": (302, 403, 403, 403, 403, 302, 200),
    "/staff/": (302, 403, 403, 403, 403, 302, 200),
    "/staff/kits": (302, 403, 403, 403, 403, 302, 200),
    "/staff/exports/events.csv": (302, 403, 403, 403, 403, 302, 200),
    "/staff/exports/figures.csv": (302, 403, 403, 403, 403, 302, 200),
    "/staff/exports/printed.csv": (302, 403, 403, 403, 403, 302, 200),
    "/staff/orders": (302, 403, 403, 403, 403, 302, 200),
    "/staff/orders/export.csv": (302, 403, 403, 403, 403, 302, 200),
    # Orders of printed kits: verified, approved organizations; staff may look.
    "/orders/": (302, 403, 403, 403, 200, 302, 200),
    "/orders/basket": (302, 403, 403, 403, 200, 302, 200),
}

CASES = [(route, role, answers[index]) for route, answers in TABLE.items()
         for index, role in enumerate(ROLES)]


@pytest.fixture
def as_role(client, make_account, login):
    def become(role):
        if role == "visitor":
            return None
        if role == "unverified":
            account = make_account("citizen", verified=False)
        elif role == "pending_org":
            account = make_account("organization", approval="pending")
        elif role == "verified_org":
            account = make_account("organization")
        elif role == "suspended":
            account = make_account("organization")
        else:
            account = make_account(role)
        login(account)
        if role == "suspended":
            suspend(account)  # after signing in: the session it had must end
        return account
    return become


@pytest.mark.parametrize("route, role, expected", CASES,
                         ids=[f"{role}:{route}" for route, role, _ in CASES])
def test_access_table(client, as_role, route, role, expected):
    as_role(role)
    response = client.get(route)
    assert response.status_code == expected, response.get_data(as_text=True)[:300]
    # Every answer, whatever it is, carries the security headers.
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    if expected == 302:
        assert "/account/login" in response.headers["Location"]


def test_the_table_covers_every_staff_page(app):
    """A new staff page must be added to the table (GET pages without parameters)."""
    staff_pages = {rule.rule for rule in app.url_map.iter_rules()
                   if rule.rule.startswith("/staff") and "GET" in rule.methods
                   and not rule.arguments}
    missing = staff_pages - set(TABLE) - {"/staff/", "/staff/dashboard/live"}
    assert not missing, f"add these staff pages to the access table: {sorted(missing)}"
