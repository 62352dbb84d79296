"""Figures no single client can inflate: QR scans limited per address and counted in one
set-based query; downloads recorded only for a Range from byte 0, counted at most
DAILY_CAP a day per account, and rate-limited per account."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from portal.clock import naive_utc_now, today_in_montreal
from portal.extensions import db
from portal.models import DailySalt, DownloadEvent, PersonalizedDocument, QrScan
from portal.tracking.rollup import DAILY_CAP
from tests import test_counting
from tests.conftest import PASSWORD
from tests.test_counting import figures, montreal
from tests.test_personalize import document_ids, save_profile
from tests.test_scaling import restore_the_limiter, server  # noqa: F401

POSTER = "/kits/trousse-organismes/affiche/fr/download"
# The counting tests' fixtures: a settable clock, the catalog, a download at a moment.
catalog, clock, download = test_counting.catalog, test_counting.clock, test_counting.download


def qr_document(client, signed_in) -> PersonalizedDocument:
    signed_in("organization")
    save_profile(client)
    public_id = document_ids(client)[0]
    return db.session.scalars(select(PersonalizedDocument).where(
        PersonalizedDocument.public_id == public_id)).one()


def scans_of(document) -> int:
    return db.session.scalar(select(func.count()).select_from(QrScan).where(
        QrScan.document_id == document.id))


# --- QR scans ------------------------------------------------------------------------

def test_past_30_scans_a_minute_one_address_gets_the_help_page_and_records_nothing(
        app, client, signed_in, smtp_inbox):
    document = qr_document(client, signed_in)
    limited = server(app, smtp_inbox, RATELIMIT_ENABLED=True).test_client()
    school = {"REMOTE_ADDR": "203.0.113.50"}
    for number in range(30):
        answer = limited.get(f"/r/{document.qr_token}", environ_base=school,
                             headers={"User-Agent": f"Mozilla/5.0 (Phone {number})"})
        assert answer.status_code == 200
    refused = limited.get(f"/r/{document.qr_token}", environ_base=school,
                          headers={"User-Agent": "Mozilla/5.0 (Phone 31)"})
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert 'href="tel:' in page and "1 888 933-9007" in page  # the whole help page
    assert scans_of(document) == 30
    # Another address is not held back by the first one's limit.
    other = limited.get(f"/r/{document.qr_token}", environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert other.status_code == 200 and scans_of(document) == 31


def test_distinct_scanners_are_counted_in_a_few_queries_whatever_the_number_of_scans(
        client, signed_in, app):
    from portal.tracking.rollup import run_scan_rollup

    document = qr_document(client, signed_in)
    day = today_in_montreal()
    earlier = naive_utc_now() - timedelta(minutes=5)
    visitors = [f"{number:064x}" for number in range(300)]
    rows = [{"document_id": document.id, "occurred_at": earlier, "day": day,
             "visitor_hash": visitors[number % 300], "is_robot": False}
            for number in range(1200)]
    db.session.execute(QrScan.__table__.insert(), rows)
    db.session.commit()
    statements = []

    def count(*args):
        statements.append(1)

    engine = db.session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        run_scan_rollup()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) < 20  # not one lookup per scan
    from portal.models import DailyScans

    totals = db.session.execute(select(func.sum(DailyScans.scans),
                                       func.sum(DailyScans.unique_scans))).one()
    campaign_days = totals[0] is not None
    if campaign_days:  # today is in the campaign only in some runs of the calendar
        assert totals == (1200, 300)


def test_the_scan_rollup_does_a_bounded_amount_per_call(client, signed_in):
    from portal.tracking.rollup import run_scan_rollup

    document = qr_document(client, signed_in)
    earlier = naive_utc_now() - timedelta(minutes=5)
    db.session.execute(QrScan.__table__.insert(), [
        {"document_id": document.id, "occurred_at": earlier, "day": today_in_montreal(),
         "visitor_hash": f"{number:064x}", "is_robot": False} for number in range(250)])
    db.session.commit()
    assert run_scan_rollup(batch_size=100, max_batches=1) == 100
    assert run_scan_rollup(batch_size=100) == 150


def test_the_scan_index_exists(app):
    from sqlalchemy import inspect

    indexes = {index["name"]: index["column_names"]
               for index in inspect(db.session.get_bind()).get_indexes("qr_scan")}
    assert indexes["ix_qr_scan_visitor"] == ["document_id", "day", "visitor_hash", "id"]


def test_the_first_scans_of_a_day_racing_on_the_salt_do_not_fail(client, signed_in,
                                                                  monkeypatch):
    """Two first scans of a day: the other one inserted the salt between this one's read
    and its insert."""
    document = qr_document(client, signed_in)
    db.session.execute(DailySalt.__table__.delete())
    db.session.add(DailySalt(day=today_in_montreal(), salt="a" * 64))
    db.session.commit()
    real_get = type(db.session()).get
    missed = []

    def get_missing_once(self, model, key, *args, **kwargs):
        if model is DailySalt and not missed:
            missed.append(key)
            return None  # read before the other scan committed its salt
        return real_get(self, model, key, *args, **kwargs)

    monkeypatch.setattr(type(db.session()), "get", get_missing_once)
    visitor = client.application.test_client()
    assert visitor.get(f"/r/{document.qr_token}").status_code == 200
    assert missed and scans_of(document) == 1


def test_qr_tokens_carry_128_bits(client, signed_in):
    document = qr_document(client, signed_in)
    assert len(document.qr_token) >= 22  # 16 random bytes in base64url


def test_a_suspended_organizations_name_leaves_its_qr_landing_page(client, signed_in):
    from portal.auth.services import suspend
    from portal.models import Account

    document = qr_document(client, signed_in)
    visitor = client.application.test_client()
    assert "Maison des jeunes du Plateau" in visitor.get(
        f"/r/{document.qr_token}").get_data(as_text=True)
    suspend(db.session.get(Account, document.account_id))
    page = visitor.get(f"/r/{document.qr_token}")
    assert page.status_code == 200 and "Maison des jeunes du Plateau" not in \
        page.get_data(as_text=True) and 'href="tel:' in page.get_data(as_text=True)


# --- Downloads -----------------------------------------------------------------------

def events() -> int:
    return db.session.scalar(select(func.count()).select_from(DownloadEvent))


@pytest.mark.parametrize("path", [POSTER, "/kits/trousse-organismes/download.zip"])
def test_a_range_records_only_when_it_starts_at_byte_0(client, signed_in, path):
    signed_in("organization")
    assert client.get(path).status_code in (200, 302)  # builds the ZIP if needed
    before = events()
    for header in ("bytes=1-1", "bytes=100-", "bytes=-1", "bytes=5-9, 0-1"):
        answer = client.get(path, headers={"Range": header})
        assert answer.status_code in (200, 206, 302, 400, 416), header
    assert events() == before  # none recorded
    assert client.get(path, headers={"Range": "bytes=0-"}).status_code in (200, 206, 302)
    assert client.get(path, headers={"Range": "bytes=0-0"}).status_code in (200, 206, 302)
    assert events() == before + 2
    odd = client.get(path, headers={"Range": "not a range"})  # refused, or the whole file
    assert events() == before + 2 + (odd.status_code in (200, 302))


def test_a_range_of_a_personalized_document_records_only_from_byte_0(client, signed_in):
    signed_in("organization")
    save_profile(client)
    public_id = document_ids(client)[0]
    path = f"/documents/{public_id}/download"
    client.get(path)
    before = events()
    assert client.get(path, headers={"Range": "bytes=10-20"}).status_code == 206
    assert events() == before
    client.get(path, headers={"Range": "bytes=0-20"})
    assert events() == before + 1


def test_an_account_counts_at_most_the_daily_cap(make_account, download, catalog, clock,
                                                 client, login):
    account = make_account("organization")
    other = make_account("citizen")
    start = montreal(3, 8)
    for number in range(DAILY_CAP + 12):  # a minute apart: no double click
        download(start + timedelta(minutes=number), account,
                 catalog["poster"] if number % 2 else catalog["flyer"])
    download(start, other)
    download(montreal(4, 8), account)  # a new day: counted again
    result = figures(catalog, clock)
    assert result.totals["downloads"] == DAILY_CAP + 1 + 1
    assert result.totals["over_daily_cap_excluded"] == 12
    assert events() == DAILY_CAP + 14  # every one stays recorded


def test_the_daily_cap_shows_on_the_dashboard_and_in_the_csv(make_account, download, catalog,
                                                             clock, client, login):
    account = make_account("organization")
    start = montreal(3, 8)
    for number in range(DAILY_CAP + 3):
        download(start + timedelta(minutes=number), account)
    figures(catalog, clock)
    login(make_account("staff"))
    dashboard = client.get("/staff/dashboard").get_data(as_text=True)
    assert re.search(r"50 t[ée]l[ée]chargements par compte et par jour|50 downloads per "
                     r"account and day", dashboard)
    csv_text = client.get("/staff/exports/figures.csv").get_data(as_text=True)
    assert "totals,over_daily_cap_excluded,,3" in csv_text.replace("\r", "")
    public = client.get("/api/stats/public").get_json()
    assert public["downloads"] == DAILY_CAP


def test_downloads_are_rate_limited_per_account(app, client, make_account, smtp_inbox):
    limited = server(app, smtp_inbox, RATELIMIT_ENABLED=True, DOWNLOAD_RATE_LIMIT="5 per minute")
    account = make_account("organization")
    browser = limited.test_client()
    browser.post("/account/login", data={"email": account.email, "password": PASSWORD})
    for _ in range(5):
        assert browser.get(POSTER).status_code in (200, 302)
    assert browser.get(POSTER).status_code == 429
    assert browser.get("/kits/trousse-organismes/download.zip").status_code == 429
    # The limit follows the account, not the address: from elsewhere too.
    assert browser.get(POSTER, environ_base={"REMOTE_ADDR": "198.51.100.9"}).status_code == 429
    # Another account at the same address is not held back.
    second = limited.test_client()
    other = make_account("organization")
    second.post("/account/login", data={"email": other.email, "password": PASSWORD})
    assert second.get(POSTER).status_code in (200, 302)


def test_the_default_download_limit_is_far_above_a_person_and_the_load_test_raises_it():
    from limits import parse_many

    from portal.config import DOWNLOAD_RATE_LIMIT, PROJECT_ROOT

    per_minute = [item for item in parse_many(DOWNLOAD_RATE_LIMIT)
                  if item.get_expiry() == 60][0]
    assert per_minute.amount >= 30
    load = (PROJECT_ROOT / "bench" / "load.py").read_text()
    assert '"PORTAL_DOWNLOAD_RATE_LIMIT"' in load and "raised" in load
