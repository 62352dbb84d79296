"""Hostile personalization: nothing outside the portal's assets is ever read or fetched,
typed text is printed literally, and bad uploads are refused with a clear message."""
from __future__ import annotations

import http.server
import io
import re
import threading

import pytest
from PIL import Image
from sqlalchemy import select

from portal.extensions import db
from portal.images import ImageRejected, process_logo
from portal.models import CobrandProfile, PersonalizedDocument
from portal.pdf.render import render_pdf
from portal.personalize.documents import document_html
from tests.test_personalize import document_ids, pdf_text, png_logo, save_profile


class RecordingHandler(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802
        RecordingHandler.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b"body { background: red }")

    def log_message(self, *args):
        pass


@pytest.fixture
def local_http_server():
    RecordingHandler.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RecordingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def organization_client(client, signed_in):
    signed_in("organization")
    return client


def hostile_values(server: str) -> dict[str, str]:
    return {
        "organization_name": f'<img src="{server}/x.png"><link rel="attachment" '
                             'href="file:///etc/passwd">',
        "phone": "514 555-0100",
        "email": "info@example.org",
        "event_title": f'</p><style>@import url("{server}/import.css");</style>',
        "event_place": f'<img src="file:///etc/passwd"> x"); background: url({server}/bg.png)',
        "website": "www.example.org",
    }


def test_hostile_fields_are_printed_as_text_and_nothing_is_fetched(
        organization_client, local_http_server, app):
    client = organization_client
    values = hostile_values(local_http_server)
    response = save_profile(client, **values)
    assert response.status_code == 302, re.findall(r"error-message[^<]*<", response.get_data(as_text=True))
    ids = document_ids(client)
    for public_id in ids[:2]:
        pdf = client.get(f"/documents/{public_id}/download")
        assert pdf.status_code == 200
        text = pdf_text(pdf.data).replace("\n", "")
        assert "file:///etc/passwd" in text  # shown literally, as typed
        assert "root:x:0:0" not in text
    # Render one again in this process to read the fetcher's log.
    document = db.session.scalars(select(PersonalizedDocument).where(
        PersonalizedDocument.public_id == ids[0])).one()
    html, assets = document_html(document)
    from pathlib import Path

    rendered = render_pdf(html, Path(app.config["MATERIALS_PATH"]) / "assets", assets)
    assert rendered.refused_urls == []
    assert rendered.fetched_urls and all(url.startswith("asset:") for url in rendered.fetched_urls)
    assert RecordingHandler.requests == []
    assert "&lt;img src=" in html and '<img src="file:' not in html


def test_the_fetcher_refuses_everything_but_assets(app, local_http_server, tmp_path):
    from pathlib import Path

    html = f"""<html lang="fr"><head><title>t</title>
      <link rel="stylesheet" href="{local_http_server}/a.css">
      <link rel="stylesheet" href="file:///etc/passwd">
      <style>@import url("{local_http_server}/b.css");
        body {{ background: url("file:///etc/hostname"); }}</style></head>
      <body><img src="{local_http_server}/c.png"><img src="file:///etc/passwd">
      <img src="ftp://127.0.0.1/x"><img src="data:image/png;base64,iVBORw0KGgo=">
      <img src="../../etc/passwd"><img src="asset:../../../../etc/passwd">
      <a rel="attachment" href="file:///etc/passwd">a</a>
      <img src="asset:fonts/OFL.txt"></body></html>"""
    rendered = render_pdf(html, Path(app.config["MATERIALS_PATH"]) / "assets")
    assert RecordingHandler.requests == []
    assert all(url.startswith("asset:") for url in rendered.fetched_urls)
    refused = " ".join(rendered.refused_urls)
    for fragment in ("/a.css", "/b.css", "/c.png", "file:///etc/passwd", "ftp://", "data:",
                     "asset:../../../../etc/passwd"):
        assert fragment in refused
    assert b"root:x:0:0" not in rendered.data


@pytest.mark.parametrize("name", [
    "L" * 120,
    "מרכז הנוער בית חם",
    "جمعية الشباب في مونتريال",
])
def test_long_and_right_to_left_names_are_printed(organization_client, name):
    client = organization_client
    assert save_profile(client, organization_name=name).status_code == 302
    public_id = document_ids(client)[0]
    pdf = client.get(f"/documents/{public_id}/download")
    assert pdf.status_code == 200
    text = pdf_text(pdf.data)
    assert "1 888 933-9007" in text
    if name.startswith("L"):
        assert "L" * 20 in text.replace("\n", "")
    else:
        # Right-to-left words come out of a PDF reversed or reordered; every word is there.
        flat = text.replace("\n", " ")
        for word in name.split():
            assert word in flat or word[::-1] in flat


def test_emoji_are_refused_with_a_clear_message(organization_client):
    response = save_profile(organization_client, organization_name="Maison des jeunes 😀",
                            event_title="Fête 🎉")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "😀" in page and ("cannot be printed" in page or "ne peuvent pas être imprimés" in page)
    assert db.session.scalars(select(CobrandProfile)).first() is None


@pytest.mark.parametrize("field, value", [
    ("event_date", "2027-04-09"), ("event_date", "2026-03-04"), ("event_date", "n'importe"),
    ("event_time", "25:00"), ("phone", "appelez-nous"), ("email", "pas une adresse"),
    ("website", "javascript:alert(1)"), ("website", "www.example.org/<script>"),
    ("email", '"<img src=x>"@example.org'), ("organization_name", ""),
])
def test_invalid_fields_are_refused_and_leave_nothing(organization_client, field, value):
    response = save_profile(organization_client, **{field: value})
    assert response.status_code == 400
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert db.session.scalars(select(CobrandProfile)).first() is None


def image_bytes(fmt: str, size=(800, 400), **options) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "navy").save(buffer, fmt, **options)
    return buffer.getvalue()


def noisy_png() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((800, 400), 80).save(buffer, "PNG")
    return buffer.getvalue()


BAD_UPLOADS = {
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg"><image href="file:///etc/passwd"/></svg>',
    "renamed executable": b"\x7fELF\x02\x01\x01" + b"\x00" * 200,
    "polyglot": b"GIF89a/*" + b"\x00" * 50 + b"*/=1;alert(1)",
    "truncated png": (lambda data: data[: len(data) // 2])(noisy_png()),
    "gif": image_bytes("GIF"),
    "empty": b"",
    "oversized": image_bytes("PNG") + b"\x00" * (5 * 1024 * 1024),
}


@pytest.mark.parametrize("kind", sorted(BAD_UPLOADS))
def test_bad_logo_uploads_are_refused(organization_client, kind):
    response = save_profile(organization_client, logo=BAD_UPLOADS[kind])
    assert response.status_code == 400, kind
    assert 'id="logo-error"' in response.get_data(as_text=True)
    assert db.session.scalars(select(CobrandProfile)).first() is None


def test_decompression_bomb_is_refused():
    # A small file that claims 20000 x 20000 pixels.
    bomb = io.BytesIO()
    Image.new("1", (20000, 20000)).save(bomb, "PNG")
    assert len(bomb.getvalue()) < 5 * 1024 * 1024
    with pytest.raises(ImageRejected):
        process_logo(bomb.getvalue())


def test_too_many_pixels_is_refused():
    with pytest.raises(ImageRejected, match="6000"):
        process_logo(image_bytes("PNG", size=(6001, 10)))


def test_logos_are_re_encoded_and_shrunk_to_their_printed_size():
    logo = process_logo(png_logo(4000, 3000))
    image = Image.open(io.BytesIO(logo.png))
    assert image.format == "PNG"
    assert image.width <= 480 and image.height <= 285
    jpeg = process_logo(image_bytes("JPEG", size=(3000, 3000)))
    assert Image.open(io.BytesIO(jpeg.png)).size == (285, 285)


def test_bad_photo_for_the_frame_is_refused(client, signed_in):
    signed_in("citizen")
    response = client.post("/frame", data={"photo": (io.BytesIO(BAD_UPLOADS["svg"]), "a.png"),
                                           "language": "fr"}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert 'id="photo-error"' in response.get_data(as_text=True)


def test_good_logo_is_printed(organization_client):
    assert save_profile(organization_client, logo=png_logo()).status_code == 302
    profile = db.session.scalars(select(CobrandProfile)).one()
    assert profile.logo_key.startswith("logos/") and profile.logo_key.endswith(".png")
