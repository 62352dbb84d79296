"""Downloads of one material and of whole kits, and the one event each writes."""
from __future__ import annotations

import io
import zipfile
from urllib.parse import quote

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from portal.catalog.services import download_filename
from portal.extensions import db
from portal.models import DownloadEvent, Kit, KitArchive, Material
from portal.storage import get_storage


def events() -> list[DownloadEvent]:
    return list(db.session.scalars(select(DownloadEvent).order_by(DownloadEvent.id)))


def material(kit_slug: str, slug: str, language: str) -> Material:
    return db.session.scalars(select(Material).join(Kit).where(
        Kit.slug == kit_slug, Material.slug == slug, Material.language == language)).one()


def test_material_download_sends_the_file_and_writes_one_event(client, signed_in):
    account = signed_in("organization")
    response = client.get("/kits/trousse-organismes/depliant/fr/download",
                          headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"})
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data[:5] == b"%PDF-"
    disposition = response.headers["Content-Disposition"]
    flyer = material("trousse-organismes", "depliant", "fr")
    name = download_filename(flyer.kit, flyer)
    assert name.startswith("Dépliant") and name.endswith(" (FR) - 2027.pdf")
    # RFC 6266 with RFC 5987: an ASCII fallback and the accented name.
    assert 'filename="Depliant' in disposition
    assert f"filename*=UTF-8''{quote(name, safe='')}" in disposition
    recorded = events()
    assert len(recorded) == 1
    event_ = recorded[0]
    version = flyer.current_version
    assert event_.material_version_id == version.id
    assert event_.kit_id == version.material.kit_id
    assert event_.actor_id == account.actor_id
    assert event_.account_type == "organization"
    assert event_.region == "06"
    assert event_.organization_type == "community"
    assert event_.campaign_id == version.material.kit.campaign_id
    assert not event_.is_zip and not event_.personalized and not event_.is_robot


def test_png_material_download(client, signed_in):
    signed_in("organization")
    response = client.get("/kits/trousse-organismes/image-reseaux-sociaux/en/download")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(events()) == 1


def test_each_download_writes_exactly_one_event(client, signed_in):
    signed_in("citizen")
    for _ in range(3):
        assert client.get("/kits/trousse-citoyens/fiche-information/fr/download").status_code == 200
    assert len(events()) == 3


def test_robot_downloads_are_recorded_and_flagged(client, signed_in):
    signed_in("citizen")
    client.get("/kits/trousse-citoyens/fiche-information/fr/download",
               headers={"User-Agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"})
    assert [e.is_robot for e in events()] == [True]


def test_kit_zip_contains_every_material_and_counts_once(client, signed_in):
    signed_in("organization")
    response = client.get("/kits/trousse-organismes/download.zip")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert 'filename="Trousse des organismes - 2027.zip"' in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert archive.testzip() is None
    names = sorted(archive.namelist())
    kit = db.session.scalars(select(Kit).where(Kit.slug == "trousse-organismes")).one()
    assert len(names) == len(kit.materials) == 6
    for item in kit.materials:
        folder = "Français" if item.language == "fr" else "English"
        assert f"{folder}/{download_filename(kit, item)}" in names
    poster = material("trousse-organismes", "affiche", "fr")
    assert archive.read(f"Français/{download_filename(kit, poster)}") == \
        get_storage().read_bytes(poster.current_version.storage_key)
    recorded = events()
    assert len(recorded) == 1
    assert recorded[0].is_zip and recorded[0].material_version_id is None
    assert recorded[0].kit_id == kit.id


def test_kit_zip_is_built_once_per_kit_version(client, signed_in, app):
    signed_in("organization")
    first = client.get("/kits/trousse-organismes/download.zip")
    second = client.get("/kits/trousse-organismes/download.zip")
    assert first.data == second.data
    assert db.session.scalar(select(func.count()).select_from(KitArchive)) == 1
    assert len(events()) == 2


def test_visitor_is_sent_to_sign_in_and_nothing_is_recorded(client):
    response = client.get("/kits/trousse-organismes/affiche/fr/download")
    assert response.status_code == 302
    assert "/account/login?next=/kits/trousse-organismes/affiche/fr/download" in \
        response.headers["Location"]
    assert client.get("/kits/trousse-organismes/download.zip").status_code == 302
    assert events() == []


def test_refused_download_records_nothing(client, signed_in):
    signed_in("citizen")
    assert client.get("/kits/guide-professionnels/guide/fr/download").status_code == 403
    assert events() == []


def test_head_request_sends_no_file_and_records_nothing(client, signed_in):
    signed_in("citizen")
    response = client.head("/kits/trousse-citoyens/fiche-information/fr/download")
    assert response.status_code == 200
    assert events() == []


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_refused(client, signed_in, method):
    signed_in("citizen")
    response = client.open("/kits/trousse-citoyens/fiche-information/fr/download", method=method)
    assert response.status_code == 405
    assert events() == []


def test_download_fails_cleanly_when_its_event_cannot_be_written(client, signed_in):
    signed_in("organization")

    def refuse_event_insert(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO DOWNLOAD_EVENT"):
            raise OperationalError(statement, parameters, Exception("disk I/O error"))

    engine = db.engine
    event.listen(engine, "before_cursor_execute", refuse_event_insert)
    try:
        response = client.get("/kits/trousse-organismes/affiche/fr/download")
    finally:
        event.remove(engine, "before_cursor_execute", refuse_event_insert)
    assert response.status_code == 503
    assert response.data[:5] != b"%PDF-"
    assert "Content-Disposition" not in response.headers
    assert events() == []
