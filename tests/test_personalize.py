"""Personalized documents: co-branded posters and flyers, certificates, frames, QR codes."""
from __future__ import annotations

import io
import re

import pypdfium2
import pytest
import zxingcpp
from PIL import Image, ImageDraw
from pypdf import PdfReader
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Account, DownloadEvent, PersonalizedDocument, QrScan
from portal.storage import get_storage

SPACES = re.compile(r"[\u00a0\u202f\u2009]")


def png_logo(width=1200, height=600) -> bytes:
    image = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(image).rectangle((40, 40, width - 40, height - 40), fill=(30, 110, 170))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def profile_form(**overrides):
    data = {"organization_name": "Maison des jeunes du Plateau", "phone": "514 555-0100",
            "email": "info@mdj.example.org", "website": "www.mdj.example.org",
            "event_title": "Soirée d'information", "event_date": "2027-03-04",
            "event_time": "19:00", "event_place": "Salle communautaire"}
    data.update(overrides)
    return data


def save_profile(client, logo: bytes | None = None, **overrides):
    data = profile_form(**overrides)
    if logo is not None:
        data["logo"] = (io.BytesIO(logo), "logo.png")
    return client.post("/personalize", data=data, content_type="multipart/form-data")


def document_ids(client) -> list[str]:
    page = client.get("/personalize").get_data(as_text=True)
    return re.findall(r"/documents/([0-9a-f]{32})/download", page)


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return SPACES.sub(" ", "\n".join(page.extract_text() for page in reader.pages))


def decode_qr(pdf: bytes) -> str:
    document = pypdfium2.PdfDocument(pdf)
    image = document[0].render(scale=300 / 72).to_pil()
    document.close()
    results = zxingcpp.read_barcodes(image)
    assert results, "no QR code found on the page"
    return results[0].text


@pytest.fixture
def organization_client(client, signed_in):
    signed_in("organization")
    return client


def documents() -> list[PersonalizedDocument]:
    return list(db.session.scalars(select(PersonalizedDocument)))


def test_organization_makes_co_branded_poster_and_flyer(organization_client, app):
    client = organization_client
    response = save_profile(client, logo=png_logo())
    assert response.status_code == 302
    ids = document_ids(client)
    assert len(ids) == 4  # poster and flyer, French and English
    for public_id in ids:
        preview = client.get(f"/documents/{public_id}/preview.png")
        assert preview.status_code == 200 and preview.data[:8] == b"\x89PNG\r\n\x1a\n"
        download = client.get(f"/documents/{public_id}/download")
        assert download.status_code == 200 and download.mimetype == "application/pdf"
        document = db.session.scalars(select(PersonalizedDocument).where(
            PersonalizedDocument.public_id == public_id)).one()
        text = pdf_text(download.data)
        assert "Maison des jeunes du Plateau" in text
        assert "514 555-0100" in text and "info@mdj.example.org" in text
        assert "1 888 933-9007" in text and "911" in text
        assert "Soirée d'information" in text
        reader = PdfReader(io.BytesIO(download.data))
        assert str(reader.trailer["/Root"]["/Lang"]).startswith(document.material.language)
        assert "/StructTreeRoot" in reader.trailer["/Root"]
        assert reader.metadata.title
    events = list(db.session.scalars(select(DownloadEvent)))
    assert len(events) == 4
    assert all(e.personalized and not e.is_zip for e in events)


def test_qr_code_leads_to_the_help_page_and_counts_the_scan(organization_client, app):
    client = organization_client
    save_profile(client)
    public_id = document_ids(client)[0]
    pdf = client.get(f"/documents/{public_id}/download").data
    url = decode_qr(pdf)
    assert url.startswith(app.config["PUBLIC_URL"] + "/r/")
    document = db.session.scalars(select(PersonalizedDocument).where(
        PersonalizedDocument.public_id == public_id)).one()
    assert url.endswith("/r/" + document.qr_token)
    assert len(document.qr_token) >= 16
    visitor = app.test_client()
    path = url[len(app.config["PUBLIC_URL"]):]
    for agent in ("Mozilla/5.0 (iPhone)", "Mozilla/5.0 (iPhone)", "Mozilla/5.0 (Android)"):
        response = visitor.get(path, headers={"User-Agent": agent},
                               environ_base={"REMOTE_ADDR": "203.0.113.9"})
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "Maison des jeunes du Plateau" in page and "1 888 933-9007" in page
    scans = list(db.session.scalars(select(QrScan).where(QrScan.document_id == document.id)))
    assert len(scans) == 3
    assert len({scan.visitor_hash for scan in scans}) == 2
    for scan in scans:
        assert "203.0.113.9" not in scan.visitor_hash and len(scan.visitor_hash) == 64
    assert visitor.get("/r/not-a-real-token").status_code == 404


def test_same_request_is_rendered_once_and_edits_make_a_new_document(organization_client):
    client = organization_client
    save_profile(client)
    first = document_ids(client)
    pdf_a = client.get(f"/documents/{first[0]}/download").data
    pdf_b = client.get(f"/documents/{first[0]}/download").data
    assert pdf_a == pdf_b
    save_profile(client)  # the same data again: the same documents
    assert document_ids(client) == first
    save_profile(client, phone="418 555-0199")
    second = document_ids(client)
    assert set(second).isdisjoint(first)
    assert "418 555-0199" in pdf_text(client.get(f"/documents/{second[0]}/download").data)


def test_a_new_template_version_makes_a_new_document(organization_client):
    from portal.models import Material, MaterialVersion
    from portal.personalize.documents import document_for
    from portal.personalize.services import cobrand_data, get_profile

    client = organization_client
    save_profile(client)
    before = set(document_ids(client))
    poster = db.session.scalars(select(Material).where(Material.slug == "affiche",
                                                       Material.language == "fr")).one()
    old = poster.current_version
    new = MaterialVersion(material_id=poster.id, number=old.number + 1,
                          source_fingerprint="changed", checksum="0" * 64,
                          size_bytes=old.size_bytes, pages=old.pages,
                          storage_key=old.storage_key, thumbnail_key=old.thumbnail_key)
    db.session.add(new)
    db.session.flush()
    poster.current_version = new
    db.session.commit()
    account = db.session.get(Account, documents()[0].account_id)
    document = document_for(account, poster, cobrand_data(get_profile(account), "fr"))
    assert document.public_id not in before
    assert document.material_version_id == new.id


def test_another_account_gets_404_for_a_document(client, signed_in, login, make_account):
    signed_in("organization")
    save_profile(client)
    public_id = document_ids(client)[0]
    client.post("/account/logout")
    other = make_account("organization")
    login(other)
    assert client.get(f"/documents/{public_id}/download").status_code == 404
    assert client.get(f"/documents/{public_id}/preview.png").status_code == 404
    assert client.get("/documents/" + "0" * 32 + "/download").status_code == 404


@pytest.mark.parametrize("role, path, status", [
    ("citizen", "/personalize", 403),
    ("organization", "/certificate", 403),
    ("organization", "/frame", 403),
    ("citizen", "/certificate", 200),
    ("citizen", "/frame", 200),
    ("staff", "/personalize", 200),
])
def test_personalization_pages_by_role(client, signed_in, role, path, status):
    signed_in(role)
    assert client.get(path).status_code == status


def test_visitors_are_sent_to_sign_in(client):
    for path in ("/personalize", "/certificate", "/frame"):
        response = client.get(path)
        assert response.status_code == 302 and "/account/login" in response.headers["Location"]


def test_citizen_certificate(client, signed_in):
    signed_in("citizen")
    response = client.post("/certificate", data={"display_name": "Camille Tremblay",
                                                 "region": "03", "language": "fr"})
    assert response.status_code == 200
    public_id = re.search(r"/documents/([0-9a-f]{32})/download", response.get_data(as_text=True))[1]
    pdf = client.get(f"/documents/{public_id}/download")
    text = pdf_text(pdf.data)
    assert "Camille Tremblay" in text and "Je m'engage" in text or "Je m’engage" in text
    assert "Capitale-Nationale" in text
    assert "1 888 933-9007" in text
    english = client.post("/certificate", data={"display_name": "Sam", "language": "en"})
    public_id = re.search(r"/documents/([0-9a-f]{32})/download", english.get_data(as_text=True))[1]
    assert "I take the pledge" in pdf_text(client.get(f"/documents/{public_id}/download").data)
    events = list(db.session.scalars(select(DownloadEvent)))
    assert len(events) == 2 and all(e.personalized for e in events)


def test_citizen_profile_frame_is_made_in_memory(client, signed_in, app):
    from pathlib import Path

    signed_in("citizen")
    storage_root = Path(app.config["STORAGE_PATH"])
    files_before = sorted(p for p in storage_root.rglob("*") if p.is_file())
    photo = png_logo(1600, 1200)
    response = client.post("/frame", data={"photo": (io.BytesIO(photo), "moi.png"),
                                           "language": "fr"}, content_type="multipart/form-data")
    assert response.status_code == 200 and response.mimetype == "image/png"
    framed = Image.open(io.BytesIO(response.data))
    assert framed.size == (1080, 1080)
    assert "no-store" in response.headers["Cache-Control"]
    assert sorted(p for p in storage_root.rglob("*") if p.is_file()) == files_before
    events = list(db.session.scalars(select(DownloadEvent)))
    assert len(events) == 1 and events[0].personalized


def test_purge_removes_old_files_and_keeps_qr_links(organization_client, app, runner):
    from datetime import timedelta

    from portal.clock import naive_utc_now

    client = organization_client
    save_profile(client)
    public_id = document_ids(client)[0]
    client.get(f"/documents/{public_id}/download")
    document = db.session.scalars(select(PersonalizedDocument).where(
        PersonalizedDocument.public_id == public_id)).one()
    key = document.storage_key
    document.last_requested_at = naive_utc_now() - timedelta(days=200)
    db.session.commit()
    result = runner.invoke(args=["purge-documents", "--days", "90"])
    assert result.exit_code == 0 and "1 personalized" in result.output
    assert not get_storage().exists(key)
    assert client.get(f"/r/{document.qr_token}").status_code == 200
    # Asked for again, it is rendered again.
    assert client.get(f"/documents/{public_id}/download").status_code == 200


def test_render_time_limit_stops_the_render_and_the_next_one_works(organization_client, app,
                                                                  monkeypatch):
    client = organization_client
    save_profile(client)
    public_id = document_ids(client)[0]
    monkeypatch.setitem(app.config, "PDF_RENDER_TIMEOUT", 0.001)
    response = client.get(f"/documents/{public_id}/download")
    assert response.status_code == 503
    assert db.session.scalar(select(func.count()).select_from(DownloadEvent)) == 0
    monkeypatch.setitem(app.config, "PDF_RENDER_TIMEOUT", 20)
    response = client.get(f"/documents/{public_id}/download")
    assert response.status_code == 200
    assert db.session.scalar(select(func.count()).select_from(DownloadEvent)) == 1
