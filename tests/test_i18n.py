"""Both languages are complete: every page rendered in French shows no English sentence
of the catalog, and in English no French one. (The catalog itself is checked complete by
scripts/i18n.sh; this catches text that skips it or a lazy string frozen in one language.)"""
from __future__ import annotations

import html
import re

import pytest
from babel.messages.pofile import read_po

from portal.config import PROJECT_ROOT

CATALOG = PROJECT_ROOT / "portal" / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
PAGES = {
    "visitor": ["/", "/kits", "/kits/trousse-organismes", "/help", "/about", "/privacy",
                "/counter", "/account/login", "/account/register",
                "/account/register/organization", "/account/register/citizen",
                "/account/reset", "/kits/no-such-kit"],
    "citizen": ["/certificate", "/frame", "/account/"],
    "organization": ["/personalize", "/account/", "/orders/", "/orders/basket"],
    "pending": ["/personalize", "/kits/guide-professionnels/guide/fr/download"],
    "unverified": ["/kits/trousse-citoyens/fiche-information/fr/download"],
    "staff": ["/staff/dashboard", "/staff/campaigns", "/staff/organizations", "/staff/accounts",
              "/staff/audit", "/staff/jobs", "/staff/orders", "/staff/", "/staff/kits",
              "/staff/kits/1", "/staff/materials/1", "/staff/materials/1/source",
              "/staff/materials/1/versions/1"],
}


def sentences() -> list[tuple[str, str]]:
    """(English, French) pairs long enough to be unmistakable, without placeholders."""
    with CATALOG.open("rb") as stream:
        catalog = read_po(stream, locale="fr_CA")
    pairs = []
    for message in catalog:
        if not message.id or isinstance(message.id, tuple) or not message.string:
            continue
        english, french = message.id, message.string
        if "%(" in english or english == french or len(english) < 18 or "{" in english:
            continue
        pairs.append((english, french))
    return pairs


def visible_text(response, language: str) -> str:
    """The page's text, without what is marked as being in the other language (a French
    material's title listed on an English page is content, and says so with ``lang``)."""
    body = response.get_data(as_text=True)
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", body, flags=re.S)
    other = "en" if language == "fr" else "fr"
    body = re.sub(rf'<(\w+)[^>]*\blang="{other}[^"]*"[^>]*>.*?</\1>', " ", body, flags=re.S)
    text = html.unescape(re.sub(r"<[^>]+>", " ", body))
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ").replace("\u202f", " "))


@pytest.fixture
def as_role(client, make_account, login):
    def become(role):
        if role == "visitor":
            return
        kinds = {"pending": ("organization", {"approval": "pending"}),
                 "unverified": ("citizen", {"verified": False})}
        kind, options = kinds.get(role, (role, {}))
        login(make_account(kind, **options))
    return become


@pytest.mark.parametrize("role", sorted(PAGES))
def test_every_page_is_in_one_language(client, as_role, role):
    pairs = sentences()
    as_role(role)
    for path in PAGES[role]:
        for language, wrong in (("fr", 0), ("en", 1)):
            response = client.get(f"{path}{'&' if '?' in path else '?'}lang={language}")
            page = visible_text(response, language)
            found = [pair[wrong] for pair in pairs
                     if re.sub(r"\s+", " ", pair[wrong]) in page]
            assert not found, f"{path} in {language} shows: {found[:5]}"
