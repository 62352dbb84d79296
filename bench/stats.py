"""Benchmark of the campaign figures at scale: prints `key: value` lines.

    .venv/bin/python bench/stats.py [--events 1000000]
    PORTAL_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python bench/stats.py
    (--database NAME: the scratch PostgreSQL database, portal_bench by default)

Fills a fresh database (SQLite in a temporary folder; and, when PORTAL_DATABASE_URL points
to PostgreSQL, a fresh database `portal_bench` on that server, dropped afterwards) with a
campaign, its kits and N synthetic events spread over its season, 1 February to 31 March
(`simulate-week`), rolls them up, then times the whole dashboard computation over the
season (`stats.dashboard_ms`, median of 9: every day and the parts before, during and after
the week) and the public counter (`stats.public_ms`: the season and its week, read afresh
on every request). PostgreSQL figures carry a `_pg` suffix. Target at 1,000,000 events:
`stats.dashboard_ms` <= 100 on both.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def build_catalog(db):
    from portal.models import Campaign, Kit, Material, MaterialVersion

    campaign = Campaign(year=2027, starts_on=date(2027, 3, 1), ends_on=date(2027, 3, 7),
                        national_day=date(2027, 3, 4), target_kits=50_000,
                        target_organizations=4_000)
    db.session.add(campaign)
    db.session.flush()
    for position, (slug, audience, materials) in enumerate([
            ("trousse-organismes", "organization", ["affiche", "depliant", "image"]),
            ("trousse-citoyens", "citizen organization", ["fiche", "image", "certificat"]),
            ("guide-professionnels", "approved_organization", ["guide"])]):
        kit = Kit(slug=slug, campaign_id=campaign.id, audience=audience, position=position,
                  title_fr=slug, title_en=slug, description_fr="-", description_en="-")
        db.session.add(kit)
        db.session.flush()
        for number, material_slug in enumerate(materials):
            for language in ("fr", "en"):
                material = Material(kit_id=kit.id, slug=material_slug, language=language,
                                    kind="poster", format="pdf", title=material_slug,
                                    position=number, personalizable=material_slug == "affiche")
                db.session.add(material)
                db.session.flush()
                version = MaterialVersion(material_id=material.id, number=1,
                                          source_fingerprint="bench", checksum="0" * 64,
                                          size_bytes=1000, pages=1, storage_key="x",
                                          thumbnail_key="x")
                db.session.add(version)
                db.session.flush()
                material.current_version = version
    db.session.commit()
    return campaign


def run(url: str, events: int, suffix: str, reuse: bool = False) -> dict:
    import flask_migrate

    from portal import create_app
    from portal.extensions import db
    from portal.tracking.rollup import catch_up
    from portal.tracking.simulate import simulate_week
    from portal.tracking.stats import Filters, campaign_figures, public_counter

    base = Path(tempfile.mkdtemp(prefix="portal-stats-"))
    app = create_app({"INSTANCE_PATH": str(base), "SECRET_KEY": "bench",
                      "SQLALCHEMY_DATABASE_URI": url, "STORAGE_PATH": str(base / "storage")})
    figures = {}
    with app.app_context():
        if reuse:  # a database an earlier `--keep` run filled: time the figures only
            from sqlalchemy import func, select

            from portal.models import Campaign, DownloadEvent
            campaign = db.session.scalars(select(Campaign).where(Campaign.year == 2027)).one()
            written = db.session.scalar(select(func.count()).select_from(DownloadEvent))
        else:
            flask_migrate.upgrade()
            campaign = build_catalog(db)
            start = time.perf_counter()
            written = simulate_week(campaign, events, seed=2027)
            figures[f"stats.simulate_s{suffix}"] = round(time.perf_counter() - start, 1)
            start = time.perf_counter()
            catch_up()
            figures[f"stats.rollup_s{suffix}"] = round(time.perf_counter() - start, 1)
        figures[f"stats.events{suffix}"] = written
        figures[f"stats.season_days{suffix}"] = (campaign.closes_on - campaign.opens_on).days + 1
        filters = Filters.for_campaign(campaign)
        campaign_figures(campaign, filters)  # warm caches, as a running server has
        dashboard, public, filtered = [], [], []
        region_filters = Filters.for_campaign(campaign, date(2027, 3, 2), date(2027, 3, 5),
                                              "06", campaign.kits[0].id)
        for _ in range(9):
            db.session.expire_all()
            start = time.perf_counter()
            campaign_figures(campaign, filters)
            dashboard.append(time.perf_counter() - start)
            start = time.perf_counter()
            public_counter(campaign)
            public.append(time.perf_counter() - start)
            start = time.perf_counter()
            campaign_figures(campaign, region_filters)
            filtered.append(time.perf_counter() - start)
        figures[f"stats.dashboard_ms{suffix}"] = round(statistics.median(dashboard) * 1000, 1)
        figures[f"stats.dashboard_filtered_ms{suffix}"] = round(
            statistics.median(filtered) * 1000, 1)
        figures[f"stats.public_ms{suffix}"] = round(statistics.median(public) * 1000, 2)
        db.session.remove()
        db.engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("both", "sqlite", "postgresql"), default="both",
                        help="PostgreSQL runs only when PORTAL_DATABASE_URL points to it.")
    parser.add_argument("--keep", action="store_true",
                        help="Keep the PostgreSQL database portal_bench after the run.")
    parser.add_argument("--database", default="portal_bench",
                        help="The scratch PostgreSQL database (dropped and made again).")
    parser.add_argument("--reuse", action="store_true",
                        help="Time the figures on the portal_bench a --keep run left.")
    args = parser.parse_args()
    from sqlalchemy import create_engine, text

    from portal.config import normalize_database_url

    if args.backend != "postgresql":
        figures = run(f"sqlite:///{tempfile.mkdtemp(prefix='portal-stats-')}/stats.db",
                      args.events, "")
        for key, value in figures.items():
            print(f"{key}: {value}", flush=True)
    figures = {}
    pg = os.environ.get("PORTAL_DATABASE_URL", "")
    if pg.startswith("postgres") and args.backend != "sqlite":
        server = normalize_database_url(pg)
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        if not args.reuse:
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)"))
                connection.execute(text(f"CREATE DATABASE {args.database}"))
        try:
            figures = run(server.rsplit("/", 1)[0] + "/" + args.database, args.events, "_pg",
                          reuse=args.reuse)
            for key, value in figures.items():
                print(f"{key}: {value}", flush=True)
        finally:
            if not (args.keep or args.reuse):
                with admin.connect() as connection:
                    connection.execute(text(f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)"))
            admin.dispose()


if __name__ == "__main__":
    main()
