"""Staff dashboard, campaigns, exports and the public counter."""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Campaign, Kit, Material
from portal.tracking.dashboard import safe_cell
from portal.tracking.events import record_download

STAFF_PAGES = ["/staff/dashboard", "/staff/dashboard/live", "/staff/campaigns",
               "/staff/exports/figures.csv", "/staff/exports/events.csv"]


@pytest.fixture
def week_download(app, monkeypatch, make_account):
    """A counted download by an organization on 4 March 2027 (the national day)."""
    account = make_account("organization", organization_type="police", region="12")
    kit = db.session.scalars(select(Kit).where(Kit.slug == "trousse-organismes")).one()
    poster = db.session.scalars(select(Material).where(
        Material.kit_id == kit.id, Material.slug == "affiche", Material.language == "fr")).one()
    monkeypatch.setitem(app.config, "FROZEN_NOW", datetime(2027, 3, 4, 15, tzinfo=UTC))
    record_download(account, kit, material_version=poster.current_version,
                    user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/140.0")
    monkeypatch.setitem(app.config, "FROZEN_NOW", datetime(2027, 3, 4, 16, tzinfo=UTC))
    return account


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["citizen", "organization"])
@pytest.mark.parametrize("path", STAFF_PAGES)
def test_other_roles_get_403(client, signed_in, role, path):
    signed_in(role)
    assert client.get(path).status_code == 403


def test_dashboard_shows_the_figures(client, signed_in, week_download):
    signed_in("staff")
    response = client.get("/staff/dashboard?lang=en")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    import re
    summary = re.search(r'<p class="summary">(.*?)</p>', page, re.S).group(1)
    assert "1 kits distributed, 1 organizations reached, 1 downloads" in " ".join(summary.split()), summary
    assert "national day" in page
    assert "12 Chaudière-Appalaches" in page
    assert '<svg class="chart"' in page and "<table" in page
    live = client.get("/staff/dashboard/live?lang=en").get_data(as_text=True)
    assert "Kits distributed" in live and ">1<" in live.replace(" ", "")


@pytest.mark.parametrize("query", [
    "start=2027-01-31", "end=2027-04-01", "start=2027-03-05&end=2027-03-02", "region=99",
    "kit=abc", "kit=999999", "campaign=999999", "start=pas-une-date", "campaign=%00",
])
def test_bad_filters_get_a_clear_message(client, signed_in, query):
    signed_in("staff")
    response = client.get(f"/staff/dashboard?{query}&lang=en")
    assert response.status_code in (400, 404)
    if response.status_code == 400 and "%00" not in query:
        assert 'class="flash flash-error"' in response.get_data(as_text=True)


def test_figures_export(client, signed_in, week_download):
    signed_in("staff")
    response = client.get("/staff/exports/figures.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["section", "figure", "dimension", "value"]
    totals = {row[1]: row[3] for row in rows if row[0] == "totals"}
    assert totals["kits_distributed"] == "1" and totals["organizations_reached"] == "1"
    assert ["day", "downloads", "2027-03-04", "1"] in rows


def test_events_export_has_no_personal_data(client, signed_in, week_download):
    signed_in("staff")
    body = client.get("/staff/exports/events.csv").get_data(as_text=True)
    assert week_download.actor_id in body
    assert week_download.email not in body and week_download.display_name not in body
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[0][4] == "account" and len(rows) == 2


@pytest.mark.parametrize("value, expected", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-2", "'-2"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("Montréal", "Montréal"),
    (42, 42), (-3, -3), (1.5, 1.5), (True, 1), (None, ""),
])
def test_csv_cells_are_neutralized(value, expected):
    assert safe_cell(value) == expected


def test_staff_creates_and_edits_a_campaign(client, signed_in):
    signed_in("staff")
    response = client.post("/staff/campaigns", data={
        "year": "2028", "starts_on": "2028-03-01", "ends_on": "2028-03-07",
        "national_day": "2028-03-04", "target_kits": "5000", "target_organizations": "800"})
    assert response.status_code == 302
    campaign = db.session.scalars(select(Campaign).where(Campaign.year == 2028)).one()
    assert campaign.target_kits == 5000
    response = client.post(f"/staff/campaigns/{campaign.id}", data={
        "year": "2028", "starts_on": "2028-03-01", "ends_on": "2028-03-07",
        "national_day": "2028-03-04", "target_kits": "6000", "target_organizations": ""})
    assert response.status_code == 302
    db.session.refresh(campaign)
    assert campaign.target_kits == 6000 and campaign.target_organizations is None


@pytest.mark.parametrize("data", [
    {"year": "2029", "starts_on": "2029-03-07", "ends_on": "2029-03-01", "national_day": "2029-03-04"},
    {"year": "2029", "starts_on": "2029-03-01", "ends_on": "2029-03-07", "national_day": "2029-04-04"},
    {"year": "2029", "starts_on": "2028-03-01", "ends_on": "2028-03-07", "national_day": "2028-03-04"},
    {"year": "2027", "starts_on": "2027-03-01", "ends_on": "2027-03-07", "national_day": "2027-03-04"},
    {"year": "deux mille", "starts_on": "x", "ends_on": "", "national_day": ""},
])
def test_bad_campaigns_are_refused(client, signed_in, data):
    signed_in("staff")
    before = len(db.session.scalars(select(Campaign)).all())
    response = client.post("/staff/campaigns", data=data)
    assert response.status_code == 400
    assert len(db.session.scalars(select(Campaign)).all()) == before


def test_public_counter(client, week_download):
    response = client.get("/api/stats/public")
    assert response.status_code == 200
    data = response.get_json()
    assert data["kits_distributed"] == 1 and data["organizations_reached"] == 1
    assert data["downloads"] == 1
    assert data["campaign"] == {"year": 2027, "start": "2027-03-01", "end": "2027-03-07",
                                "opens": "2027-02-01", "closes": "2027-03-31",
                                "phase": "week"}
    assert data["week"] == {"kits_distributed": 1, "organizations_reached": 1,
                            "downloads": 1, "printed_copies": 0}
    assert "computed_at" in data
    assert set(data) == {"kits_distributed", "organizations_reached", "downloads", "campaign",
                         "computed_at", "printed_copies", "week"}
    assert data["printed_copies"] == 0  # shipped printed copies, counted apart
    assert "max-age=60" in response.headers["Cache-Control"]
    page = client.get("/counter").get_data(as_text=True)
    assert '<strong class="counter-number">1</strong>' in page


def test_regional_targets_are_saved_and_shown(client, signed_in, week_download):
    signed_in("staff")
    campaign = db.session.scalars(select(Campaign).where(Campaign.year == 2027)).one()
    response = client.post(f"/staff/campaigns/{campaign.id}", data={
        "year": "2027", "starts_on": "2027-03-01", "ends_on": "2027-03-07",
        "national_day": "2027-03-04", "target_kits": "100", "region_12": "4", "region_06": ""})
    assert response.status_code == 302
    db.session.refresh(campaign)
    assert campaign.region_target("12") == 4 and campaign.region_target("06") is None
    page = client.get("/staff/dashboard?lang=en").get_data(as_text=True)
    assert "4 (25 %)" in page  # 1 kit distributed in Chaudière-Appalaches, target 4
    response = client.post(f"/staff/campaigns/{campaign.id}", data={
        "year": "2027", "starts_on": "2027-03-01", "ends_on": "2027-03-07",
        "national_day": "2027-03-04", "region_12": "-5"})
    assert response.status_code == 400
