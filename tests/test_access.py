"""The access table: for each route and each kind of visitor, the expected answer.

302 = sent to sign in; 403 = refused (with a page saying what to do where there is
something to do); 200 = served. Another account's personalized document is a 404."""
from __future__ import annotations

import itertools

import pytest

from portal.auth.services import suspend
from portal.extensions import db
from portal.models import Kit
from portal.reference import ACCOUNT_KINDS, audience_text

ROLES = ("visitor", "unverified", "citizen", "pending_org", "verified_org", "suspended",
         "staff")

# route: answers in the order of ROLES
TABLE = {
    "/": (200, 200, 200, 200, 200, 200, 200),
    "/kits": (200, 200, 200, 200, 200, 200, 200),
    "/privacy": (200, 200, 200, 200, 200, 200, 200),
    "/help": (200, 200, 200, 200, 200, 200, 200),
    "/api/stats/public": (200, 200, 200, 200, 200, 200, 200),
    # The citizens' kit: citizens and every organization (schools hand its sheet out first).
    "/kits/trousse-citoyens/fiche-information/fr/download": (302, 403, 200, 200, 200, 302, 200),
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


# A kit's audience is a set of account kinds (portal/reference.py). Which kinds admit each
# kind of account, once its address is confirmed: the README's table, stated apart from
# the code. Staff may download every kit, whatever its audience.
ADMITTED_BY = {
    "citizen": {"citizen"},
    "pending_org": {"organization"},
    "rejected_org": {"organization"},
    "approved_org": {"organization", "approved_organization"},
}
ACCOUNTS = ("visitor", "unverified_citizen", "citizen", "unverified_org", "pending_org",
            "rejected_org", "approved_org", "suspended_org", "staff")
AUDIENCES = [frozenset(kinds) for size in range(len(ACCOUNT_KINDS) + 1)
             for kinds in itertools.combinations(ACCOUNT_KINDS, size)]


def expected_answer(who: str, kinds: frozenset) -> str:
    """``ok``, ``sign_in``, ``verify``, ``approval`` or ``refused``, from the table: an
    account no kind of the audience could ever admit is refused; otherwise it is asked to
    confirm its address first, then (an organization) to wait for approval."""
    if who in ("visitor", "suspended_org"):
        return "sign_in"
    if who == "staff":
        return "ok"
    citizen = "citizen" in who
    could_be = {"citizen"} if citizen else {"organization", "approved_organization"}
    if not kinds & could_be:
        return "refused"
    if who.startswith("unverified_"):
        return "verify"
    return "ok" if kinds & ADMITTED_BY[who] else "approval"


COMBINATIONS = [(who, kinds) for who in ACCOUNTS for kinds in AUDIENCES]


@pytest.mark.parametrize("who, kinds", COMBINATIONS,
                         ids=[f"{who}:{'+'.join(sorted(kinds)) or 'staff-only'}"
                              for who, kinds in COMBINATIONS])
def test_every_kind_of_account_against_every_audience(client, make_account, login, who, kinds):
    kit = db.session.query(Kit).filter_by(slug="trousse-organismes").one()
    kit.audience = audience_text(kinds)
    db.session.commit()
    if who != "visitor":
        role = "staff" if who == "staff" else ("citizen" if "citizen" in who else "organization")
        approval = {"pending_org": "pending", "rejected_org": "rejected",
                    "unverified_org": "pending"}.get(who, "approved")
        account = make_account(role, verified=not who.startswith("unverified"),
                               approval=approval)
        login(account)
        if who == "suspended_org":
            suspend(account)
    response = client.get("/kits/trousse-organismes/affiche/fr/download?lang=en")
    answer = expected_answer(who, kinds)
    if answer == "ok":
        assert response.status_code == 200
    elif answer == "sign_in":
        assert response.status_code == 302 and "/account/login" in response.headers["Location"]
    else:
        assert response.status_code == 403
        page = response.get_data(as_text=True)
        assert ("Confirm your email address first" in page) == (answer == "verify")
        assert ("Your organization is not approved yet" in page) == (answer == "approval")
