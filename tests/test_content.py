"""Every kit document carries the help lines and no number outside the facts file."""
from __future__ import annotations

import io
import re

import pytest
import yaml
from pypdf import PdfReader
from sqlalchemy import select

from portal.catalog.content_checks import (
    known_numbers,
    missing_help_lines,
    placeholders,
    problems,
    unknown_phone_numbers,
)
from portal.catalog.importer import import_materials
from portal.catalog.material_files import ContentError, MaterialRenderer
from portal.config import PROJECT_ROOT
from portal.extensions import db
from portal.facts import load_facts
from portal.models import Material
from portal.storage import get_storage
from tests.test_import import materials_copy  # noqa: F401  (fixture)

FACTS = load_facts(PROJECT_ROOT / "materials")
MANIFEST = yaml.safe_load((PROJECT_ROOT / "materials" / "manifest.yaml").read_text())
SPACES = re.compile(r"[\u00a0\u202f\u2009]")


def pdf_reader_text(data: bytes) -> str:
    """Text as pypdf reads it back, non-breaking spaces normalized."""
    reader = PdfReader(io.BytesIO(data))
    return SPACES.sub(" ", "\n".join(page.extract_text() for page in reader.pages))


def test_the_facts_file_holds_exactly_the_sourced_help_lines():
    lines = {line["id"]: line for line in FACTS["help_lines"]}
    assert lines["emergency"]["phone"] == "911"
    assert lines["info_aide"]["phone"] == "1 888 933-9007"
    assert lines["info_social"]["phone"] == "811"
    assert known_numbers(FACTS) == {"911", "8889339007", "8006686868", "811", "686868"}
    for line in FACTS["help_lines"]:
        assert line.get("source"), line["id"]


def test_every_kit_has_both_languages_and_the_three_expected_kits_exist():
    slugs = {kit["slug"]: kit for kit in MANIFEST["kits"]}
    assert {"trousse-organismes", "trousse-citoyens", "guide-professionnels"} <= set(slugs)
    kinds = {slug: {m["kind"] for m in kit["materials"]} for slug, kit in slugs.items()}
    assert {"poster", "flyer", "social_image"} <= kinds["trousse-organismes"]
    assert {"info_sheet", "social_image"} <= kinds["trousse-citoyens"]
    assert "guide" in kinds["guide-professionnels"]
    for kit in MANIFEST["kits"]:
        for material in kit["materials"]:
            assert set(material["source"]) == {"fr", "en"}


def imported_materials():
    return list(db.session.scalars(select(Material).order_by(Material.id)))


def test_every_pdf_carries_the_help_lines_and_no_other_number(app):
    checked = 0
    for material in imported_materials():
        if material.format != "pdf":
            continue
        text = pdf_reader_text(get_storage().read_bytes(material.current_version.storage_key))
        label = f"{material.kit.slug}/{material.slug}/{material.language}"
        assert "1 888 933-9007" in text, label
        assert "911" in text, label
        assert unknown_phone_numbers(text, FACTS) == [], label
        assert placeholders(text) == [], label
        checked += 1
    assert checked >= 8


def test_the_language_check_recognizes_the_language_of_every_pdf_we_ship(app):
    """What an upload's language check (publishing.uploads) would say of our own files:
    each in its own language, none in the other."""
    from portal.catalog.content_checks import apparent_language, pdf_text

    found = {}
    for material in imported_materials():
        if material.format == "pdf":
            text = pdf_text(get_storage().read_bytes(material.current_version.storage_key))
            found[f"{material.kit.slug}/{material.slug}/{material.language}"] = (
                material.language, apparent_language(text))
    assert len(found) >= 8
    assert {label: pair for label, pair in found.items() if pair[0] != pair[1]} == {}


def test_every_pdf_is_tagged_with_title_and_language(app):
    for material in imported_materials():
        if material.format != "pdf":
            continue
        reader = PdfReader(io.BytesIO(get_storage().read_bytes(material.current_version.storage_key)))
        root = reader.trailer["/Root"]
        assert "/StructTreeRoot" in root, material.slug
        assert str(root["/Lang"]).startswith(material.language)
        assert reader.metadata.title


@pytest.mark.parametrize("kit", MANIFEST["kits"], ids=lambda kit: kit["slug"])
def test_every_source_in_both_languages_passes_the_content_checks(kit):
    renderer = MaterialRenderer(PROJECT_ROOT / "materials", FACTS)
    for material in kit["materials"]:
        for language in ("fr", "en"):
            html = renderer.html(kit, material, language)
            from portal.catalog.content_checks import html_text

            text = html_text(html)
            assert problems(text, FACTS) == [], (material["slug"], language)
            assert f'lang="{language}' in html
            # Numbers come from the facts file, never typed into a source.
            source = (PROJECT_ROOT / "materials" / "sources" / material["source"][language]).read_text()
            assert "933-9007" not in source and "668-6868" not in source


@pytest.mark.parametrize("text, expected", [
    ("Appelez le 1 888 933-9007 ou le 911.", []),
    ("Appelez le 1 800 555-0199 ou le 911.", ["1 800 555-0199"]),
    ("Call (514) 555-0100", ["(514) 555-0100"]),
    ("Info-aide : 1\u00a0888\u00a0933-9007", []),
    ("Kids Help Phone 1-800-668-6868", []),
    ("Info-aide 1 888 933-9070", ["1 888 933-9070"]),
])
def test_the_phone_check_catches_numbers_outside_the_facts(text, expected):
    assert unknown_phone_numbers(text, FACTS) == expected


def test_the_help_line_check_catches_a_missing_line():
    assert missing_help_lines("Urgence : 911", FACTS) == ["info_aide"]
    assert missing_help_lines("911 · 1 888 933-9007", FACTS) == []


def test_import_refuses_a_material_with_a_wrong_number(app, materials_copy):  # noqa: F811
    source = materials_copy / "sources" / MANIFEST["kits"][0]["materials"][0]["source"]["fr"]
    original = source.read_text()
    source.write_text(original.replace("</main>", "<p>Ligne : 1 888 933-9070</p></main>", 1))
    assert source.read_text() != original
    with pytest.raises(ContentError, match="933-9070"):
        import_materials(materials_copy, get_storage())


def test_import_refuses_a_material_without_the_help_lines(app, materials_copy):  # noqa: F811
    facts_path = materials_copy / "facts.yaml"
    facts = yaml.safe_load(facts_path.read_text())
    # A campaign update that drops Info-aide from the printed lines must not go out.
    facts["help_lines"] = [line for line in facts["help_lines"] if line["id"] != "info_aide"]
    facts_path.write_text(yaml.safe_dump(facts, allow_unicode=True))
    with pytest.raises(ContentError, match="help line missing: info_aide"):
        import_materials(materials_copy, get_storage())


# Dated facts were true on the day of their source (CONTENT.md): a kit for a later campaign
# prints each with its date. (what marks the fact in print, the date that must stand near it)
DATED_FACTS = {
    "fr": [("34 des 37", "février 2023"), ("5 213 896", "2022-2023"),
           ("176", "31 décembre 2022"), ("29 %", "février 2023")],
    "en": [("34 of the 37", "February 2023"), ("5,213,896", "2022-2023"),
           ("176", "December 31, 2022"), ("29%", "February 2023")],
}
# The action plan 2021-2026 ended before the 2027 week: spoken of in the past tense.
PLAN_IN_THE_PAST = {"fr": ("couvrait", "comptait", "arrivé à terme"),
                    "en": ("covered", "had 37", "ended in 2026")}


def rendered_texts():
    renderer = MaterialRenderer(PROJECT_ROOT / "materials", FACTS)
    from portal.catalog.content_checks import html_text, normalize

    for kit in MANIFEST["kits"]:
        for material in kit["materials"]:
            for language in ("fr", "en"):
                text = normalize(html_text(renderer.html(kit, material, language)))
                yield f"{kit['slug']}/{material['slug']}/{language}", language, text


@pytest.mark.parametrize("name, language, text", list(rendered_texts()),
                         ids=lambda value: value if "/" in str(value) else "")
def test_every_material_prints_dated_facts_with_their_date(name, language, text):
    for marker, when in DATED_FACTS[language]:
        for found in re.finditer(re.escape(marker), text):
            near = text[max(0, found.start() - 250):found.end() + 250]
            assert when in near, (name, marker, near)
    for found in re.finditer("2021-2026", text):
        after = text[found.start():found.end() + 250]
        assert any(word in after for word in PLAN_IN_THE_PAST[language]), (name, after)


@pytest.mark.parametrize("name, language, text", list(rendered_texts()),
                         ids=lambda value: value if "/" in str(value) else "")
def test_kids_help_phone_text_keyword_is_current(name, language, text):
    assert "TALK" not in text  # the 2018 launch keyword, out of date
    if "686868" in text:
        assert ("TEXTO au 686868" if language == "fr" else "CONNECT to 686868") in text, name


def test_the_facts_file_keeps_the_current_keyword_and_the_dates():
    line = next(line for line in FACTS["help_lines"] if line["id"] == "jeunesse_jecoute")
    assert line["sms"]["keyword"] == {"fr": "TEXTO", "en": "CONNECT"}
    assert line["text"]["en"] == "Text CONNECT to 686868"
    campaign = FACTS["campaign"]
    assert campaign["action_plan"]["status"]["fr"].startswith("En février 2023, 34 des 37")
    assert campaign["results"]["info_aide_calls"]["fr"].startswith("En février 2023")
    assert "2022-2023" in campaign["funding"]["text"]["fr"]
