"""The kit catalog: home page, kit pages, filters and the audience table."""
from __future__ import annotations

import pytest

from tests.conftest import page_text

KITS = ("trousse-organismes", "trousse-citoyens", "guide-professionnels")


def test_home_presents_the_current_week_and_its_kits(client):
    page = page_text(client.get("/"))
    assert "Semaine nationale de la lutte contre l'exploitation sexuelle des mineurs" in page
    assert "1 mars 2027" in page or "1er mars 2027" in page
    assert "7 mars 2027" in page and "4 mars 2027" in page
    for slug in KITS:
        assert f"/kits/{slug}" in page
    assert "1 888 933-9007" in page and "911" in page


def test_home_in_english(client):
    page = page_text(client.get("/?lang=en"))
    assert '<html lang="en-CA">' in page
    assert "March 1, 2027" in page
    assert "Organizations' kit" in page


def test_kit_page_lists_materials_with_details_and_thumbnails(client):
    response = client.get("/kits/trousse-organismes?lang=en")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for slug in ("affiche", "depliant", "image-reseaux-sociaux"):
        for language in ("fr", "en"):
            assert f"/kits/trousse-organismes/{slug}/{language}/thumbnail.png" in page
    assert "PDF" in page and "PNG" in page
    assert "1,080 × 1,080 pixels" in page or "1080 × 1080 pixels" in page
    assert "\u00a0KB" in page or "\u00a0MB" in page
    assert 'alt="Preview of the first page' in page
    # Visitors see the kit but are asked to sign in.
    assert "Sign in to download" in page
    assert "/download\"" not in page


def test_thumbnail_is_a_png(client):
    response = client.get("/kits/trousse-organismes/affiche/fr/thumbnail.png")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.data[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("query, present, absent", [
    # Kits an account of that kind may download.
    ({"audience": "citizen"}, ["trousse-citoyens"], ["trousse-organismes", "guide-professionnels"]),
    ({"audience": "organization"}, ["trousse-organismes", "trousse-citoyens"],
     ["guide-professionnels"]),
    ({"audience": "approved_organization"},
     ["guide-professionnels", "trousse-organismes", "trousse-citoyens"], []),
    ({"kind": "guide"}, ["guide-professionnels"], ["trousse-organismes", "trousse-citoyens"]),
    ({"kind": "poster"}, ["trousse-organismes"], ["guide-professionnels"]),
])
def test_catalog_filters(client, query, present, absent):
    page = client.get("/kits", query_string=query).get_data(as_text=True)
    for slug in present:
        assert f'id="kit-{slug}"' in page
    for slug in absent:
        assert f'id="kit-{slug}"' not in page


def test_language_filter_keeps_only_that_language(client):
    page = client.get("/kits/trousse-organismes", query_string={"language": "en"}).get_data(as_text=True)
    assert "/affiche/en/thumbnail.png" in page
    assert "/affiche/fr/thumbnail.png" not in page


def test_unknown_filter_values_are_ignored_with_a_message(client):
    response = client.get("/kits?audience=robots&kind=%3Cscript%3E&lang=en")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "were not recognized" in page
    assert "<script>" not in page
    for slug in KITS:
        assert f'id="kit-{slug}"' in page


def test_unknown_kit_is_a_404_in_the_layout(client):
    response = client.get("/kits/n-existe-pas")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "Page introuvable" in page or "Page not found" in page
    assert "1 888 933-9007" in page  # the layout, with its help lines


@pytest.mark.parametrize("path", [
    "/kits/trousse-organismes/affiche/de/download",
    "/kits/trousse-organismes/inexistant/fr/download",
    "/kits/trousse-organismes/affiche/fr/thumbnail.jpg",
    "/kits/" + "x" * 200,
])
def test_tampered_material_paths_are_404(client, path):
    assert client.get(path).status_code == 404


# Every combination of account and audience: tests/test_access.py.
@pytest.mark.parametrize("role, kit, status", [
    ("citizen", "trousse-citoyens", 200),
    ("citizen", "trousse-organismes", 403),
    ("citizen", "guide-professionnels", 403),
    ("organization", "trousse-organismes", 200),
    ("organization", "guide-professionnels", 200),
    ("organization", "trousse-citoyens", 200),  # schools hand the sheet out first
    ("staff", "trousse-organismes", 200),
    ("staff", "trousse-citoyens", 200),
    ("staff", "guide-professionnels", 200),
])
def test_audience_table_through_the_pages(client, signed_in, role, kit, status):
    signed_in(role)
    response = client.get(f"/kits/{kit}/download.zip")
    assert response.status_code == status


def test_the_catalogs_audience_filter_in_sql_agrees_with_the_python_sets(app):
    """``kits_open_to_sql`` (the catalog's filter by kind of account) reads a kit's
    audience text in the database: for every set of kinds, an unknown kind and look-alikes
    (``_`` is a LIKE wildcard), it finds exactly the kits the Python sets say."""
    import itertools

    from sqlalchemy import select

    from portal.catalog.services import kits_open_to_sql
    from portal.extensions import db
    from portal.models import Campaign, Kit
    from portal.reference import (
        ACCOUNT_KINDS,
        KIND_APPROVED_ORGANIZATION,
        KIND_ORGANIZATION,
        audience_kinds,
        audience_text,
    )

    audiences = [audience_text(kinds) for size in range(len(ACCOUNT_KINDS) + 1)
                 for kinds in itertools.combinations(ACCOUNT_KINDS, size)]
    audiences += ["unknown", "approvedXorganization", "citizens organizations"]
    campaign = db.session.scalars(select(Campaign)).first()
    kits = [Kit(slug=f"audience-{number}", campaign_id=campaign.id, audience=audience,
                title_fr="t", title_en="t", description_fr="d", description_en="d")
            for number, audience in enumerate(audiences)]
    db.session.add_all(kits)
    db.session.flush()
    ids = [kit.id for kit in kits]
    for kind in ACCOUNT_KINDS:
        found = set(db.session.scalars(select(Kit.slug).where(Kit.id.in_(ids),
                                                               kits_open_to_sql(kind))))
        expected = {kit.slug for kit in kits
                    if kind in audience_kinds(kit.audience)
                    or (kind == KIND_APPROVED_ORGANIZATION
                        and KIND_ORGANIZATION in audience_kinds(kit.audience))}
        assert found == expected, kind
