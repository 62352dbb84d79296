"""The limits of the work processes (portal/pdf/worker.py) and what they stop: a template
that fills the memory, a huge repetition, a picture that needs more memory than one
upload may take, active content in a PDF, a page too large to draw, too many uploads
from one account. Each answer is a clear, translated message, and the next job works."""
from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfWriter
from pypdf.actions import JavaScript
from pypdf.generic import DictionaryObject, NameObject, TextStringObject
from sqlalchemy import select

from portal import create_app
from portal.extensions import db
from portal.models import CobrandProfile, Material
from portal.pdf.active import active_content
from portal.pdf.render import MAX_RASTER_PIXELS, render_pdf
from portal.pdf.worker import _WORKERS, Refused, RenderTooLarge, run_job
from tests.conftest import PASSWORD, page_text, settings_for_tests
from tests.test_hostile_work import FILLING, TALL_PAGE
from tests.test_personalize import profile_form
from tests.test_scaling import restore_the_limiter  # noqa: F401 (a fixture)

MATERIALS = Path(__file__).resolve().parent.parent / "materials"


def _source_job(template: str, memory_mb: int = 768):
    return run_job("source", template, "", MATERIALS / "sources", {"org": {"name": "x"}},
                   MATERIALS / "assets", "pdf", 0, 0, timeout=60, memory_mb=memory_mb)


def test_a_template_that_fills_the_memory_is_stopped_and_the_next_render_works():
    with pytest.raises(RenderTooLarge):
        _source_job(FILLING)
    pdf, _html, files = _source_job("<p>Bonjour</p>")
    assert pdf.pages == 1 and files.thumbnail[:4] == b"\x89PNG"


def test_a_huge_repetition_is_refused_before_it_is_built():
    start = time.monotonic()
    with pytest.raises(Refused) as refused:
        _source_job("{{ 'x' * 300000000 }}")
    assert refused.value.kind == "security"
    with pytest.raises(Refused):
        _source_job("{{ 10 ** 10000000 }}")
    assert time.monotonic() - start < 30


def test_a_huge_repetition_in_a_source_gets_the_staff_a_clear_message(client, login, staff):
    login(staff)
    material = db.session.scalars(select(Material).where(
        Material.slug == "guide", Material.language == "en")).one()
    response = client.post(f"/staff/materials/{material.id}/source?lang=en", data={
        "html": "{% extends '_layouts/print.html' %}{% block body %}{{ 'x' * 300000000 }}"
                "{% endblock %}", "css": ""})
    assert response.status_code == 400
    assert "something the portal does not allow" in page_text(response)


def _png(size, mode="RGBA") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (10, 20, 30, 40) if mode == "RGBA" else (10, 20, 30)).save(
        buffer, "PNG")
    return buffer.getvalue()


def test_a_picture_that_needs_more_memory_than_an_upload_may_take_is_a_413(
        client, signed_in, app, monkeypatch):
    signed_in("organization")
    monkeypatch.setitem(app.config, "WORK_MEMORY_MB", 150)
    data = profile_form()
    data["logo"] = (io.BytesIO(_png((4000, 4000))), "logo.png")
    response = client.post("/personalize", data=data, content_type="multipart/form-data")
    assert response.status_code == 413
    assert "plus de mémoire" in page_text(response)
    assert db.session.scalars(select(CobrandProfile)).first() is None  # nothing stored
    monkeypatch.setitem(app.config, "WORK_MEMORY_MB", 768)
    data = profile_form()
    data["logo"] = (io.BytesIO(_png((4000, 4000))), "logo.png")
    response = client.post("/personalize", data=data, content_type="multipart/form-data")
    assert response.status_code == 302  # the same picture, within the usual limit


def test_decoding_gives_the_memory_back():
    """A 16-megapixel picture takes ~200 MB to decode and re-encode; afterwards the work
    process holds little more than it did before (glibc's freed blocks handed back)."""
    run_job("image", _png((400, 400)), "material", timeout=60, memory_mb=768)
    pid = _WORKERS["files"]._process.pid

    def resident_mb() -> float:
        fields = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status"))
        return int(fields["VmRSS"].split()[0]) / 1024

    before = resident_mb()
    for _ in range(3):
        processed = run_job("image", _png((4000, 4000)), "material", timeout=60,
                            memory_mb=768)
        assert (processed.width, processed.height) == (4000, 4000)
    assert _WORKERS["files"]._process.pid == pid
    assert resident_mb() < before + 30


def test_jpegs_are_decoded_at_the_reduced_size_their_use_needs():
    buffer = io.BytesIO()
    Image.new("RGB", (4000, 3000), (200, 30, 30)).save(buffer, "JPEG")
    logo = run_job("image", buffer.getvalue(), "logo", timeout=60, memory_mb=768)
    assert (logo.width, logo.height) == (380, 285)


def _pdf(change=None) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    if change:
        change(writer)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _page_action(writer):
    writer.pages[0][NameObject("/AA")] = DictionaryObject({NameObject("/O"): DictionaryObject({
        NameObject("/S"): NameObject("/Launch"), NameObject("/F"): TextStringObject("calc")})})


ACTIVE = {
    "document JavaScript": (lambda w: w.add_open_action(JavaScript("app.alert(1)")),
                            "JavaScript"),
    "attached file": (lambda w: w.add_attachment("notes.txt", b"hello"), "embedded files"),
    "page action launching a program": (_page_action, "Launch"),
}


@pytest.mark.parametrize("case", sorted(ACTIVE))
def test_active_content_is_found(case):
    change, expected = ACTIVE[case]
    assert expected in active_content(_pdf(change))


def test_active_content_hidden_behind_name_escapes_is_found():
    hidden = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R /Open#41ction << /S "
              b"/J#61vaScript /JS (app.alert(1)) >> >> endobj\n2 0 obj << /Type /Pages "
              b"/Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
    assert {"JavaScript", "OpenAction"} <= set(active_content(hidden))


def test_the_portals_own_pdfs_have_no_active_content():
    html = '<html lang="fr"><body><h1>Affiche</h1><a href="https://www.quebec.ca">Lien</a>'
    assert active_content(render_pdf(html, MATERIALS / "assets").data) == []
    assert active_content(_pdf()) == []


def test_a_page_too_large_to_draw_is_refused_and_drawing_is_bounded():
    with pytest.raises(Refused) as refused:
        run_job("pdf_upload", TALL_PAGE, timeout=60, memory_mb=768)
    assert refused.value.kind == "page_size"
    # Drawn anyway (a preview of a PDF made elsewhere), it stays within the pixel cap.
    image = Image.open(io.BytesIO(run_job("rasterize", TALL_PAGE, 0, 360, timeout=60,
                                          memory_mb=768)))
    assert image.width * image.height <= MAX_RASTER_PIXELS


def test_uploads_are_limited_per_account(app, smtp_inbox, make_account):
    settings = settings_for_tests(Path(app.config["TEST_BASE"]),
                                  app.config["SQLALCHEMY_DATABASE_URI"], smtp_inbox[1])
    settings.update(RATELIMIT_ENABLED=True, UPLOAD_RATE_LIMIT="2 per minute")
    limited = create_app(settings)

    def client_of(account):
        client = limited.test_client()
        assert client.post("/account/login", data={
            "email": account.email, "password": PASSWORD}).status_code == 302
        return client

    def upload(client, logo=True):
        data = profile_form()
        if logo:
            data["logo"] = (io.BytesIO(_png((600, 300), "RGB")), "logo.png")
        return client.post("/personalize", data=data, content_type="multipart/form-data")

    first = client_of(make_account("organization"))
    # From several addresses: the limit is the account's, not the address's.
    assert upload(first).status_code == 302
    first.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    assert upload(first).status_code == 302
    refused = upload(first)
    assert refused.status_code == 429 and "Trop de tentatives" in page_text(refused)
    assert upload(first, logo=False).status_code == 302  # details without a file: not counted
    assert upload(client_of(make_account("organization"))).status_code == 302
