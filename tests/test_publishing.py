"""Staff publishing: kits and materials made in the portal, sandboxed sources, uploads,
versions, scheduling on the portal's clock, withdrawal, reviews and import conflicts."""
from __future__ import annotations

import re
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from portal.catalog.importer import ensure_campaign, import_materials
from portal.catalog.services import list_kits
from portal.extensions import db
from portal.facts import facts
from portal.models import AuditEntry, Kit, Material, MaterialVersion
from portal.pdf.render import render_pdf
from portal.storage import get_storage
from portal.tracking.events import record_download
from tests.conftest import page_text

SIMPLE_SOURCE = """{% extends "_layouts/print.html" %}
{% import "_partials/ui.html" as ui %}
{% block body %}
<main>
  <h1>{{ material.title[lang] }}</h1>
  <p>{{ facts.campaign.dates_text[lang] }} {{ year }}</p>
  {{ ui.helplines_grid(facts, lang) }}
</main>
{% endblock %}
"""


@pytest.fixture
def staff_client(client, login, staff):
    login(staff)
    return client


@pytest.fixture
def next_campaign(app):
    campaign = ensure_campaign(2028, facts())
    db.session.commit()
    return campaign


def _new_kit(staff_client, campaign, slug="trousse-ecoles"):
    response = staff_client.post("/staff/kits?lang=en", data={
        "campaign": campaign.id, "slug": slug, "audience": ["citizen", "organization"],
        "title_fr": "Trousse des écoles", "title_en": "Schools' kit",
        "description_fr": "Pour les écoles.", "description_en": "For schools."})
    assert response.status_code == 302, page_text(response)[:2000]
    return db.session.scalars(select(Kit).where(Kit.slug == slug)).one()


def _new_material(staff_client, kit, slug="affiche-ecoles", fmt="pdf"):
    response = staff_client.post(f"/staff/kits/{kit.id}?lang=en", data={
        "slug": slug, "kind": "poster", "format": fmt,
        "title_fr": "Affiche des écoles", "title_en": "Schools' poster"})
    assert response.status_code == 302, page_text(response)[:2000]
    return {m.language: m for m in db.session.scalars(
        select(Material).where(Material.kit_id == kit.id, Material.slug == slug))}


def _send_source(staff_client, material, html, css=""):
    return staff_client.post(f"/staff/materials/{material.id}/source?lang=en",
                             data={"html": html, "css": css})


def _versions(material):
    return list(db.session.scalars(select(MaterialVersion)
                                   .where(MaterialVersion.material_id == material.id)))


def test_a_material_made_in_the_portal_appears_at_its_scheduled_moment(
        app, staff_client, next_campaign, monkeypatch):
    kit = _new_kit(staff_client, next_campaign)
    materials = _new_material(staff_client, kit)
    for material in materials.values():
        response = _send_source(staff_client, material, SIMPLE_SOURCE,
                                "h1 { color: #5b2a86; }")
        assert response.status_code == 302, page_text(response)[:3000]
        version = _versions(material)[0]
        assert version.origin == "portal" and version.source_css == "h1 { color: #5b2a86; }"
        assert material.current_version_id is None  # a draft until staff make it current
        # The preview is an image of the rendered page, not the source as HTML.
        page = staff_client.get(f"/staff/materials/{material.id}/versions/1?lang=en")
        assert "<h1>{{" not in page.get_data(as_text=True)
        image = staff_client.get(f"/staff/materials/{material.id}/versions/1/pages/1.png")
        assert image.status_code == 200 and image.mimetype == "image/png"
        assert image.data.startswith(b"\x89PNG")
        assert staff_client.post(
            f"/staff/materials/{material.id}/versions/1/current").status_code == 302
        response = staff_client.post(f"/staff/materials/{material.id}/schedule?lang=en",
                                     data={"day": "2028-03-01", "at": "00:00"})
        assert response.status_code == 302, page_text(response)[:3000]
    # 1 March 2028 00:00 in Montréal is 05:00 UTC (standard time).
    assert materials["fr"].published_at == datetime(2028, 3, 1, 5, 0)
    kit_page = f"/kits/{kit.slug}"

    monkeypatch.setitem(app.config, "FROZEN_NOW", datetime(2028, 3, 1, 4, 59, 59, tzinfo=UTC))
    assert app.test_client().get(kit_page).status_code == 404
    assert kit.slug not in {k.slug for k, _ in list_kits(next_campaign)}

    monkeypatch.setitem(app.config, "FROZEN_NOW", datetime(2028, 3, 1, 5, 0, tzinfo=UTC))
    response = app.test_client().get(kit_page + "?lang=en")
    assert response.status_code == 200
    assert "Schools' poster" in page_text(response)
    assert kit.slug in {k.slug for k, _ in list_kits(next_campaign)}
    actions = set(db.session.scalars(select(AuditEntry.action)))
    assert {"kit_created", "material_created", "version_created", "version_made_current",
            "material_scheduled"} <= actions


def test_the_rendered_source_uses_the_facts_and_passes_the_content_checks(
        app, staff_client, next_campaign):
    kit = _new_kit(staff_client, next_campaign)
    material = _new_material(staff_client, kit)["fr"]
    assert _send_source(staff_client, material, SIMPLE_SOURCE).status_code == 302
    version = _versions(material)[0]
    from portal.catalog.content_checks import pdf_text

    text = pdf_text(get_storage().read_bytes(version.storage_key))
    assert "1 888 933-9007" in text and "911" in text
    assert "du 1er au 7 mars 2028" in " ".join(text.split())


HOSTILE = [
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "not allow"),
    ("{{ facts.__init__.__globals__ }}", "not allow"),
    ("{% set x = facts.help_lines.append(1) %}", "not allow"),
    ('<p>Hi</p><script>alert(1)</script>', "Scripts"),
    ('<img src="x" onerror="alert(1)">', "Scripts"),
    ('<a href="javascript:alert(1)">x</a>', "Scripts"),
    ('<iframe src="https://example.com"></iframe>', "Scripts"),
    ("{% if %}", "error on line 1"),
    ("{{ no_such_name.field }}", "does not exist"),
    ("{{ facts.nope.x }}", "does not exist"),
    ('{% include "/etc/passwd" %}', "is not one of the materials"),
    ('<img src="https://tracker.example.com/pixel.png">' + SIMPLE_SOURCE.split("<main>")[1]
     .split("</main>")[0], "outside the portal"),
    ('<link rel="stylesheet" href="file:///etc/passwd"><p>x</p>', "outside the portal"),
    ("<p>Appelez le 514 555-0199</p>{% import '_partials/ui.html' as ui %}"
     "{{ ui.helplines_grid(facts, lang) }}", "not in the facts file: 514 555-0199"),
    ("<p>Sans lignes d'aide</p>", "help line is missing"),
]


@pytest.mark.parametrize("source, expected", HOSTILE)
def test_hostile_sources_get_a_clear_answer_and_make_no_version(
        app, staff_client, next_campaign, source, expected):
    kit = _new_kit(staff_client, next_campaign)
    material = _new_material(staff_client, kit)["en"]
    response = _send_source(staff_client, material, source)
    assert response.status_code == 400
    assert expected in page_text(response)
    assert _versions(material) == []
    assert "Traceback" not in page_text(response)
    assert str(app.config["MATERIALS_PATH"]) not in page_text(response)  # no server folder
    assert "unsafe" not in page_text(response)  # Jinja's wording stays out of the page


def test_hostile_css_is_refused(app, staff_client, next_campaign):
    kit = _new_kit(staff_client, next_campaign)
    material = _new_material(staff_client, kit)["en"]
    response = _send_source(staff_client, material, SIMPLE_SOURCE,
                            "</style><script>alert(1)</script>")
    assert response.status_code == 400 and _versions(material) == []
    response = _send_source(staff_client, material, SIMPLE_SOURCE,
                            "body { background: url(https://tracker.example.com/a.png) }")
    assert response.status_code == 400 and "outside the portal" in page_text(response)
    assert _versions(material) == []


def test_a_source_that_never_ends_is_stopped(app, staff_client, next_campaign, monkeypatch):
    monkeypatch.setitem(app.config, "PDF_RENDER_TIMEOUT", 2)
    kit = _new_kit(staff_client, next_campaign)
    material = _new_material(staff_client, kit)["en"]
    source = ("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}"
              "{% endfor %}")
    response = _send_source(staff_client, material, source)
    assert response.status_code == 400
    assert "took too long" in page_text(response)
    assert _versions(material) == []
    # The render process was replaced: the next source renders.
    monkeypatch.setitem(app.config, "PDF_RENDER_TIMEOUT", 20)
    assert _send_source(staff_client, material, SIMPLE_SOURCE).status_code == 302


def _poster_pdf(language="en"):
    poster = db.session.scalars(select(Material).where(
        Material.slug == "affiche", Material.language == language)).one()
    return get_storage().read_bytes(poster.current_version.storage_key)


def _upload(staff_client, material, data, name="file.pdf"):
    import io

    return staff_client.post(f"/staff/materials/{material.id}/upload?lang=en",
                             data={"file": (io.BytesIO(data), name)},
                             content_type="multipart/form-data")


def test_uploads_are_checked_like_personalization_uploads(app, staff_client, next_campaign):
    kit = _new_kit(staff_client, next_campaign)
    material = _new_material(staff_client, kit)["en"]
    cases = [
        (b"", "The file is empty"),
        (b"GIF89a not a pdf", "not a PDF"),
        (b"%PDF-1.7\nbroken", "cannot be read"),
        (b"\x89PNG\r\n\x1a\n" + b"0" * 100, "not a PDF"),
    ]
    for data, expected in cases:
        response = _upload(staff_client, material, data)
        assert response.status_code == 400, expected
        assert expected in page_text(response), expected
    too_many = render_pdf("<p>1 888 933-9007 911</p>" + '<p style="break-after: page">x</p>' * 41,
                          Path(app.config["MATERIALS_PATH"]) / "assets").data
    assert "more than 40 pages" in page_text(_upload(staff_client, material, too_many))
    wrong_number = render_pdf("<p>911 1 888 933-9007 et 418 555-0100</p>",
                              Path(app.config["MATERIALS_PATH"]) / "assets").data
    assert "418 555-0100" in page_text(_upload(staff_client, material, wrong_number))
    assert _versions(material) == []

    response = _upload(staff_client, material, _poster_pdf())
    assert response.status_code == 302
    (version,) = _versions(material)
    assert version.pages == 1 and version.source_html is None
    png = staff_client.get(f"/staff/materials/{material.id}/versions/1/pages/1.png")
    assert png.data.startswith(b"\x89PNG")


def test_a_pdf_plainly_in_the_other_language_is_refused(app, staff_client, next_campaign):
    kit = _new_kit(staff_client, next_campaign)
    materials = _new_material(staff_client, kit)
    response = _upload(staff_client, materials["en"], _poster_pdf("fr"))
    assert response.status_code == 400
    assert ("This file seems to be in French, but this is the English version of the "
            "material. Upload it as the French version.") in page_text(response)
    response = _upload(staff_client, materials["fr"], _poster_pdf("en"))
    assert "This file seems to be in English" in page_text(response)
    assert _versions(materials["en"]) == _versions(materials["fr"]) == []
    # A bilingual file (both languages in about equal measure) fits either version.
    bilingual = render_pdf(
        "<p>1 888 933-9007 911</p>" + "<p>Ce n'est jamais la faute des jeunes : pour vous, "
        "avec nous, dans la cité et sur le terrain.</p><p>It is never the fault of the "
        "young: for you and your friends, with them, from the start to the end.</p>" * 3,
        Path(app.config["MATERIALS_PATH"]) / "assets").data
    assert _upload(staff_client, materials["fr"], bilingual).status_code == 302
    assert len(_versions(materials["fr"])) == 1


@pytest.mark.parametrize("text, expected", [
    ("Ce n'est jamais la faute des jeunes. " * 5, "fr"),
    ("It is never the fault of the young person, and it is not theirs to carry. " * 3, "en"),
    ("Affiche 911", None),  # too few words to tell
    ("Ce n'est jamais la faute des jeunes. It is never the fault of the young. " * 4, None),
])
def test_the_apparent_language_of_a_text(text, expected):
    from portal.catalog.content_checks import apparent_language

    assert apparent_language(text) == expected


def test_a_co_branded_material_is_changed_through_its_source_only(app, staff_client):
    poster = db.session.scalars(select(Material).where(
        Material.slug == "affiche", Material.language == "fr")).one()
    response = _upload(staff_client, poster, _poster_pdf())
    assert response.status_code == 400 and "editing its source" in page_text(response)


def test_new_versions_keep_the_earlier_ones_and_their_figures(
        app, staff_client, make_account):
    material = db.session.scalars(select(Material).where(
        Material.slug == "image-reseaux-sociaux", Material.language == "en")).one()
    first = material.current_version
    organization = make_account("organization")
    record_download(organization, material.kit, material_version=first,
                    user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")
    db.session.commit()
    page = staff_client.get(f"/staff/materials/{material.id}/source?lang=en")
    assert "{% extends" in page.get_data(as_text=True) or "extends" in page_text(page)
    source = page_text(page).split('name="html"', 1)[1].split(">", 1)[1].split("</textarea>")[0]
    response = _send_source(staff_client, material, source.replace("\n", "\n", 1),
                            "body { outline: 1px solid #000; }")
    assert response.status_code == 302, page_text(response)[:3000]
    number = max(v.number for v in _versions(material))
    assert staff_client.post(
        f"/staff/materials/{material.id}/versions/{number}/current").status_code == 302
    db.session.refresh(material)
    assert material.current_version.number == number and material.current_version_id != first.id
    old = staff_client.get(f"/staff/materials/{material.id}/versions/{first.number}/file")
    assert old.status_code == 200 and old.data == get_storage().read_bytes(first.storage_key)
    page = page_text(staff_client.get(f"/staff/materials/{material.id}?lang=en"))
    row = re.search(rf"version {first.number}</a>.*?</tr>", page, re.S).group(0)
    assert "<td class=\"num\">1</td>" in row, row


def test_import_never_replaces_a_version_made_in_the_portal(app, staff_client, tmp_path):
    material = db.session.scalars(select(Material).where(
        Material.slug == "fiche-information", Material.language == "en")).one()
    original = _send_source(staff_client, material, SIMPLE_SOURCE)
    assert original.status_code == 302
    number = max(v.number for v in _versions(material))
    staff_client.post(f"/staff/materials/{material.id}/versions/{number}/current")
    db.session.refresh(material)
    portal_version = material.current_version_id

    materials = tmp_path / "materials"
    shutil.copytree(app.config["MATERIALS_PATH"], materials)
    report = import_materials(materials, get_storage())
    assert report.conflicts == [] and report.new_versions == []  # the manifest is unchanged
    source = materials / "sources" / "citoyens" / "info-sheet.en.html"
    source.write_text(source.read_text(encoding="utf-8").replace("</main>",
                      "<p>A new line.</p></main>", 1), encoding="utf-8")
    report = import_materials(materials, get_storage())
    assert any("trousse-citoyens/fiche-information/en" in line for line in report.conflicts)
    db.session.refresh(material)
    assert material.current_version_id == portal_version
    assert not any("fiche-information/en" in line for line in report.new_versions)


def test_withdrawn_materials_are_no_longer_offered(app, staff_client, make_account, client):
    material = db.session.scalars(select(Material).where(
        Material.slug == "image-reseaux-sociaux", Material.language == "fr")).one()
    kit = material.kit
    assert staff_client.post(f"/staff/materials/{material.id}/withdraw").status_code == 302
    assert material.withdrawn_at is not None
    assert "material_withdrawn" in set(db.session.scalars(select(AuditEntry.action)))
    visitor = app.test_client()
    assert f"{material.slug}/fr" not in visitor.get(f"/kits/{kit.slug}").get_data(as_text=True)
    organization = make_account("organization")
    from tests.conftest import PASSWORD

    other = app.test_client()
    other.post("/account/login", data={"email": organization.email, "password": PASSWORD})
    response = other.get(f"/kits/{kit.slug}/{material.slug}/fr/download")
    assert response.status_code == 404
    # Published again, it is offered again.
    assert staff_client.post(f"/staff/materials/{material.id}/publish").status_code == 302
    assert other.get(f"/kits/{kit.slug}/{material.slug}/fr/download").status_code in (200, 302)


def test_the_staff_home_lists_reviews_due_and_missing_languages(
        app, staff_client, next_campaign):
    poster = db.session.scalars(select(Material).where(
        Material.slug == "affiche", Material.language == "en")).one()
    poster.next_review_on = date.today() - timedelta(days=3)
    db.session.commit()
    kit = _new_kit(staff_client, next_campaign)
    materials = _new_material(staff_client, kit)
    assert _send_source(staff_client, materials["fr"], SIMPLE_SOURCE).status_code == 302
    staff_client.post(f"/staff/materials/{materials['fr'].id}/versions/1/current")
    page = page_text(staff_client.get("/staff/?lang=en"))
    due = page.split('id="due-title"')[1].split('id="missing-title"')[0]
    assert poster.title in due and "overdue" in due
    missing = page.split('id="missing-title"')[1].split('id="upcoming-title"')[0]
    assert "Schools' kit" in missing and "no current version in English" in missing
    assert "in French" not in missing and materials["fr"].title in missing
    # Marking it reviewed takes it off the list.
    response = staff_client.post(f"/staff/materials/{poster.id}/review", data={
        "last_reviewed_on": date.today().isoformat(),
        "next_review_on": (date.today() + timedelta(days=200)).isoformat()})
    assert response.status_code == 302
    due = page_text(staff_client.get("/staff/?lang=en")).split('id="due-title"')[1] \
        .split('id="missing-title"')[0]
    assert poster.title not in due
    bad = staff_client.post(f"/staff/materials/{poster.id}/review?lang=en", data={
        "last_reviewed_on": "2027-05-01", "next_review_on": "2027-01-01"})
    assert bad.status_code == 400 and "comes after" in page_text(bad)


def test_print_limits_are_checked(app, staff_client):
    poster = db.session.scalars(select(Material).where(
        Material.slug == "affiche", Material.language == "fr")).one()
    assert poster.orderable and (poster.max_per_order, poster.max_per_campaign) == (100, 300)
    bad = staff_client.post(f"/staff/materials/{poster.id}/print?lang=en", data={
        "orderable": "y", "max_per_order": "500", "max_per_campaign": "100"})
    assert bad.status_code == 400 and "cannot exceed" in page_text(bad)
    ok = staff_client.post(f"/staff/materials/{poster.id}/print", data={
        "orderable": "y", "max_per_order": "50", "max_per_campaign": "200"})
    assert ok.status_code == 302 and poster.max_per_order == 50


def test_publishing_pages_are_for_staff_only(app, client, login, make_account):
    material = db.session.scalars(select(Material)).first()
    paths = ["/staff/", "/staff/kits", f"/staff/kits/{material.kit_id}",
             f"/staff/materials/{material.id}", f"/staff/materials/{material.id}/source",
             f"/staff/materials/{material.id}/versions/1",
             f"/staff/materials/{material.id}/versions/1/pages/1.png",
             f"/staff/materials/{material.id}/versions/1/file"]
    for path in paths:
        assert client.get(path).status_code == 302  # to sign in
    login(make_account("organization"))
    for path in paths:
        assert client.get(path).status_code == 403, path
    assert client.post(f"/staff/materials/{material.id}/withdraw").status_code == 403


def test_organizations_co_brand_the_version_made_from_the_edited_source(
        app, staff_client, client, login, organization):
    poster = db.session.scalars(select(Material).where(
        Material.slug == "affiche", Material.language == "en")).one()
    page = staff_client.get(f"/staff/materials/{poster.id}/source?lang=en")
    source = page_text(page).split('name="html"', 1)[1].split(">", 1)[1].split("</textarea>")[0]
    edited = source.replace("</main>", "<p>Edited in the portal.</p></main>", 1)
    assert edited != source
    assert _send_source(staff_client, poster, edited, "h1 { color: #123456; }").status_code == 302
    number = max(v.number for v in _versions(poster))
    staff_client.post(f"/staff/materials/{poster.id}/versions/{number}/current")
    from portal.personalize.documents import document_for, document_html

    db.session.refresh(poster)
    document = document_for(organization, poster, {
        "name": "Maison des jeunes", "phone": None, "email": "info@example.org",
        "website": None, "logo_key": None, "event": None})
    html, _ = document_html(document)
    assert "Edited in the portal." in html and "#123456" in html
    assert "Maison des jeunes" in html


def test_a_campaign_in_preparation_does_not_empty_the_catalog(
        app, staff_client, next_campaign, monkeypatch):
    from portal.catalog.services import current_campaign

    kit = _new_kit(staff_client, next_campaign)
    material = _new_material(staff_client, kit)["fr"]
    assert _send_source(staff_client, material, SIMPLE_SOURCE).status_code == 302
    staff_client.post(f"/staff/materials/{material.id}/versions/1/current")
    staff_client.post(f"/staff/materials/{material.id}/schedule",
                      data={"day": "2028-03-01", "at": "00:00"})
    # After the 2027 week, before 1 March 2028: still the 2027 kits.
    monkeypatch.setitem(app.config, "FROZEN_NOW", datetime(2027, 6, 1, tzinfo=UTC))
    assert current_campaign().year == 2027
    assert app.test_client().get("/kits/trousse-organismes").status_code == 200
    monkeypatch.setitem(app.config, "FROZEN_NOW", datetime(2028, 3, 1, 5, 0, tzinfo=UTC))
    assert current_campaign().year == 2028


def test_staff_choose_who_may_download_a_kit(app, client, staff_client, staff, make_account,
                                             login):
    from portal.models import AuditEntry

    kit = db.session.scalars(select(Kit).where(Kit.slug == "trousse-organismes")).one()
    page = page_text(staff_client.get(f"/staff/kits/{kit.id}?lang=en"))
    assert "Who may download this kit" in page
    boxes = {re.search(r'value="([a-z_]+)"', tag).group(1): "checked" in tag
             for tag in re.findall(r'<input[^>]*name="audience"[^>]*>', page)}
    assert boxes == {"citizen": False, "organization": True, "approved_organization": False}
    response = staff_client.post(f"/staff/kits/{kit.id}/audience?lang=en",
                                 data={"audience": ["citizen", "approved_organization"]})
    assert response.status_code == 302
    db.session.refresh(kit)
    assert kit.audience == "citizen approved_organization"
    entry = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "kit_audience_changed")).one()
    assert entry.details == "organization -> citizen approved_organization"
    # The next download follows it: a pending organization now waits for approval,
    # a citizen may download.
    login(make_account("organization", approval="pending"))
    assert client.get("/kits/trousse-organismes/affiche/fr/download").status_code == 403
    login(make_account("citizen"))
    assert client.get("/kits/trousse-organismes/affiche/fr/download").status_code == 200
    # None ticked: refused with the reason beside the field.
    login(staff)
    response = client.post(f"/staff/kits/{kit.id}/audience?lang=en", data={})
    assert response.status_code == 400
    assert "Choose at least one kind of account." in page_text(response)
