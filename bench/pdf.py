"""Benchmark of personalized PDFs: prints `key: value` lines.

    .venv/bin/python bench/pdf.py [--cold N] [--warm N] [--certificates N]

Runs in a temporary instance (SQLite, local storage, kits imported) on this machine:
- pdf.naive_ms: the same co-branded poster rendered with WeasyPrint's defaults: the raw
  uploaded logo (a 4000 x 3000 PNG of flat colours and text, generated here), a new
  FontConfiguration each time, in this process, after one warm-up render (median);
- pdf.cold_ms: the portal's path for a never-seen personalization (upload processing
  excluded): document row, render in the render process, storage, preview (median);
- pdf.warm_ms: the same request again through the portal's download path (median);
- pdf.cold_ratio, pdf.warm_ratio: each divided by naive (targets 0.3 and 0.02);
- pdf.certificates_per_s: distinct certificates made one after another.
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image, ImageDraw, ImageFont  # noqa: E402


def raw_logo() -> bytes:
    """A logo as organizations export them: big, flat colours and text."""
    image = Image.new("RGB", (4000, 3000), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((150, 150, 3850, 2850), fill=(24, 96, 160))
    draw.ellipse((400, 500, 1800, 1900), fill=(244, 184, 96))
    font_path = Path(__file__).resolve().parent.parent / "materials/assets/fonts/Lato-Black.ttf"
    draw.text((2000, 1000), "MDJ", font=ImageFont.truetype(str(font_path), 700), fill="white")
    draw.text((600, 2200), "Maison des jeunes", font=ImageFont.truetype(str(font_path), 260),
              fill="white")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--naive", type=int, default=5)
    parser.add_argument("--cold", type=int, default=10)
    parser.add_argument("--warm", type=int, default=50)
    parser.add_argument("--certificates", type=int, default=200)
    args = parser.parse_args()

    import flask_migrate
    from sqlalchemy import select
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    from portal import create_app
    from portal.auth.services import register
    from portal.catalog.importer import import_materials
    from portal.extensions import db
    from portal.models import Material
    from portal.pdf.fetcher import AssetFetcher
    from portal.personalize.documents import document_for, document_html, ensure_ready
    from portal.personalize.services import certificate_data, cobrand_data, save_profile
    from portal.storage import get_storage

    base = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    app = create_app({
        "INSTANCE_PATH": str(base), "SECRET_KEY": "bench",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{base / 'bench.db'}",
        "STORAGE_PATH": str(base / "storage"), "MAIL_FOLDER": str(base / "mail"),
        "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
    })
    logo = raw_logo()
    with app.app_context():
        flask_migrate.upgrade()
        import_materials(Path(app.config["MATERIALS_PATH"]), get_storage())
        password = "une phrase de passe pour le banc d'essai"
        account, _ = register("organization", "bench@example.org", password,
                              "Maison des jeunes", organization_type="community", region="06")
        fields = {"organization_name": "Maison des jeunes du Plateau", "phone": "514 555-0100",
                  "email": "info@mdj.example.org", "website": "www.mdj.example.org",
                  "event_title": "Soirée d'information", "event_date": date(2027, 3, 4),
                  "event_time": "19:00", "event_place": "Salle communautaire"}
        profile = save_profile(account, fields, logo)  # upload processing: not timed
        poster = db.session.scalars(select(Material).where(
            Material.slug == "affiche", Material.language == "fr")).one()
        asset_root = Path(app.config["MATERIALS_PATH"]) / "assets"

        # Naive: the same poster, the raw logo, a new FontConfiguration each time.
        document = document_for(account, poster, cobrand_data(profile, "fr"))
        html, assets = document_html(document)
        logo_name = next(name for name in assets if name.startswith("logo/"))
        naive_assets = {**assets, logo_name: logo}

        def naive_render():
            fetcher = AssetFetcher(asset_root, naive_assets, {})
            HTML(string=html, base_url="asset:", url_fetcher=fetcher).write_pdf(
                font_config=FontConfiguration(), pdf_variant="pdf/ua-1")

        naive_render()
        naive = []
        for _ in range(args.naive):
            start = time.perf_counter()
            naive_render()
            naive.append(time.perf_counter() - start)

        # Cold: never-seen personalizations through the portal's path.
        ensure_ready(document)  # starts the render process once, like a running server
        cold = []
        for i in range(args.cold):
            data = cobrand_data(profile, "fr")
            data["event"]["title"] = f"Soirée d'information no {i + 1}"
            start = time.perf_counter()
            ensure_ready(document_for(account, poster, data))
            cold.append(time.perf_counter() - start)

        # Warm: the same document again through the download path (signed-in client).
        client = app.test_client()
        client.post("/account/login", data={"email": "bench@example.org", "password": password})
        url = f"/documents/{document.public_id}/download"
        assert client.get(url).status_code == 200
        warm = []
        for _ in range(args.warm):
            start = time.perf_counter()
            response = client.get(url)
            response.get_data()
            warm.append(time.perf_counter() - start)
            assert response.status_code == 200

        # Certificates: distinct names, one after another.
        citizen, _ = register("citizen", "citoyen@example.org", password, "Camille")
        certificate = db.session.scalars(select(Material).where(
            Material.kind == "certificate_template", Material.language == "fr")).one()
        start = time.perf_counter()
        for i in range(args.certificates):
            data = certificate_data(f"Camille Tremblay {i}", "06", "fr", date(2027, 3, 4))
            ensure_ready(document_for(citizen, certificate, data))
        certificates_per_s = args.certificates / (time.perf_counter() - start)

    naive_ms, cold_ms, warm_ms = median_ms(naive), median_ms(cold), median_ms(warm)
    figures = {
        "pdf.naive_ms": round(naive_ms, 1),
        "pdf.cold_ms": round(cold_ms, 1),
        "pdf.warm_ms": round(warm_ms, 2),
        "pdf.cold_ratio": round(cold_ms / naive_ms, 3),
        "pdf.warm_ratio": round(warm_ms / naive_ms, 4),
        "pdf.certificates_per_s": round(certificates_per_s, 1),
    }
    for key, value in figures.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
