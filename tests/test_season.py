"""A campaign's whole season, as a new user meets it: downloads in February count toward
the campaign (and not toward its week), the dashboard and the public counter say which
part of the season each figure belongs to, the counter before a season opens shows the
previous campaign's final figures, and the rollups can be rebuilt from the events."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Campaign, DownloadEvent, Kit
from portal.tracking.events import record_download
from portal.tracking.rollup import catch_up
from portal.tracking.stats import Filters, campaign_figures
from tests.conftest import page_text

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"


@pytest.fixture
def clock(app, monkeypatch):
    def set_to(*args):
        monkeypatch.setitem(app.config, "FROZEN_NOW", datetime(*args, tzinfo=UTC))
    return set_to


def campaign_2027() -> Campaign:
    return db.session.scalars(select(Campaign).where(Campaign.year == 2027)).one()


def words(response) -> str:
    """A page's visible text, tags dropped and spaces folded."""
    return " ".join(re.sub(r"<[^>]+>", " ", page_text(response)).split())


def public(client, lang="fr"):
    return client.get(f"/api/stats/public?lang={lang}").get_json()


def test_a_school_in_february_then_the_week(client, clock, make_account, login):
    clock(2027, 2, 10, 15)  # 10 February, 10 h in Montréal
    school = make_account("organization", organization_type="school", approval="pending")
    login(school)
    headers = {"User-Agent": BROWSER}
    assert client.get("/kits/trousse-citoyens/fiche-information/fr/download",
                      headers=headers).status_code == 200
    assert client.get("/kits/trousse-organismes/download.zip", headers=headers).status_code == 200
    clock(2027, 2, 10, 15, 1)  # past the rollup's safety lag

    data = public(client)
    assert (data["kits_distributed"], data["organizations_reached"], data["downloads"]) == (
        2, 1, 2)
    assert data["week"] == {"kits_distributed": 0, "organizations_reached": 0, "downloads": 0,
                            "printed_copies": 0}
    assert data["campaign"]["phase"] == "before"
    assert (data["campaign"]["opens"], data["campaign"]["closes"]) == ("2027-02-01",
                                                                       "2027-03-31")
    campaign = campaign_2027()
    figures = campaign_figures(campaign, Filters.for_campaign(campaign))
    assert figures.parts["before"]["kits_distributed"] == 2
    assert figures.parts["week"] == dict.fromkeys(figures.parts["week"], 0)
    day = next(d for d in figures.days if d["day"] == date(2027, 2, 10))
    assert (day["part"], day["downloads"], day["kits_distributed"]) == ("before", 2, 2)
    assert "2 trousses déjà distribuées en vue de la Semaine 2027" in words(
        client.get("/counter?lang=fr"))
    assert "2 kits already distributed ahead of the 2027 Week" in words(
        client.get("/counter?lang=en"))

    clock(2027, 3, 4, 15)  # the national day
    assert client.get("/kits/trousse-organismes/affiche/fr/download",
                      headers=headers).status_code == 200
    citizen = make_account("citizen")
    login(citizen)
    assert client.get("/kits/trousse-citoyens/fiche-information/fr/download",
                      headers=headers).status_code == 200
    clock(2027, 3, 4, 15, 1)
    data = public(client)
    assert (data["kits_distributed"], data["downloads"]) == (3, 4)  # the season
    assert data["week"]["downloads"] == 2  # the school's poster counts in both
    assert data["week"]["kits_distributed"] == 1  # its kit was first seen in February
    assert data["week"]["organizations_reached"] == 0
    assert data["campaign"]["phase"] == "week"
    counter = words(client.get("/counter?lang=fr"))
    assert "3 trousses distribuées pour la Semaine 2027, dont 1 pendant la Semaine" in counter
    counter = words(client.get("/counter?lang=en"))
    assert "3 kits distributed for the 2027 Week, 1 of them during the Week" in counter


def test_the_dashboard_shows_the_season_with_the_week_marked(client, clock, make_account,
                                                             signed_in):
    account = make_account("organization")
    kit = db.session.scalars(select(Kit).where(Kit.slug == "trousse-organismes")).one()
    clock(2027, 2, 12, 15)
    record_download(account, kit, is_zip=True, user_agent=BROWSER)
    clock(2027, 3, 20, 15)
    record_download(account, kit, is_zip=True, user_agent=BROWSER)
    clock(2027, 3, 20, 16)
    signed_in("staff")
    page = client.get("/staff/dashboard?lang=en").get_data(as_text=True)
    assert "Each day of the season" in page
    assert "February 1, 2027" in page and "March 31, 2027" in page
    assert 'class="week-day"' in page and 'class="national-day"' in page
    assert "before the week" in page and "after the week" in page
    parts = page[page.index('id="parts"'):]
    parts = parts[:parts.index("</table>")]
    # Kits distributed: 1 before the week, 0 in it, 0 after; downloads 1, 0, 1.
    assert ">Kits distributed</th><td class=\"num\">1</td><td class=\"num\">0</td>" \
           "<td class=\"num\">0</td><td class=\"num\">1</td>" in parts
    assert ">Downloads</th><td class=\"num\">1</td><td class=\"num\">0</td>" \
           "<td class=\"num\">1</td><td class=\"num\">2</td>" in parts


def test_before_a_season_opens_the_counter_shows_the_last_final_figures(client, clock,
                                                                        make_account):
    previous = Campaign(year=2026, starts_on=date(2026, 3, 1), ends_on=date(2026, 3, 7),
                        national_day=date(2026, 3, 4))
    db.session.add(previous)
    db.session.flush()
    old_kit = Kit(slug="trousse-2026", campaign_id=previous.id, audience="organization",
                  title_fr="Trousse 2026", title_en="2026 kit", description_fr="-",
                  description_en="-")
    db.session.add(old_kit)
    db.session.commit()
    assert (previous.opens_on, previous.closes_on) == (date(2026, 2, 1), date(2026, 3, 31))
    for month, day in ((2, 20), (3, 3)):
        clock(2026, month, day, 15)
        record_download(make_account("organization"), old_kit, is_zip=True, user_agent=BROWSER)
    clock(2026, 12, 3, 15)  # the 2027 season opens on 1 February
    data = public(client)
    assert data["campaign"]["year"] == 2026 and data["campaign"]["phase"] == "closed"
    assert data["kits_distributed"] == 2 and data["week"]["kits_distributed"] == 1
    counter = words(client.get("/counter?lang=fr"))
    assert "2 trousses distribuées pour la Semaine 2026, dont 1 pendant la Semaine" in counter
    assert "Bilan final de la campagne 2026" in counter
    assert "1er février 2027" in counter  # when the next season opens


def test_every_answer_reads_the_rollups_afresh(client, clock, make_account, runner):
    """No copy of the figures per process: right after a rollup, every worker answers the
    new figures (the issue's 277, 280, 277 came from each worker's own minute-long cache)."""
    kit = db.session.scalars(select(Kit).where(Kit.slug == "trousse-organismes")).one()
    clock(2027, 3, 2, 15)
    record_download(make_account("organization"), kit, is_zip=True, user_agent=BROWSER)
    clock(2027, 3, 2, 15, 1)
    assert public(client)["downloads"] == 1
    record_download(make_account("organization"), kit, is_zip=True, user_agent=BROWSER)
    clock(2027, 3, 2, 15, 2)
    assert runner.invoke(args=["rollup"]).exit_code == 0
    assert [public(client)["downloads"] for _ in range(3)] == [2, 2, 2]


def test_rollup_rebuild_counts_again_from_unchanged_events(clock, make_account, runner):
    kit = db.session.scalars(select(Kit).where(Kit.slug == "trousse-organismes")).one()
    for month, day in ((2, 5), (3, 5), (3, 25), (4, 5)):  # the last one outside the season
        clock(2027, month, day, 15)
        record_download(make_account("organization"), kit, is_zip=True, user_agent=BROWSER)
    clock(2027, 4, 28, 12)
    catch_up()
    campaign = campaign_2027()
    before = campaign_figures(campaign, Filters.for_campaign(campaign))
    events = db.session.scalar(select(func.count()).select_from(DownloadEvent))
    result = runner.invoke(args=["rollup", "--rebuild"])
    assert result.exit_code == 0, result.output
    assert "Rollups rebuilt: 4 event(s)" in result.output
    after = campaign_figures(campaign, Filters.for_campaign(campaign))
    assert after.totals == before.totals and after.parts == before.parts
    assert after.totals["downloads"] == 3
    assert db.session.scalar(select(func.count()).select_from(DownloadEvent)) == events


def test_staff_move_the_season_and_its_figures_are_counted_again(client, clock, make_account,
                                                                 signed_in):
    kit = db.session.scalars(select(Kit).where(Kit.slug == "trousse-organismes")).one()
    clock(2027, 1, 20, 15)  # before the default season
    record_download(make_account("organization"), kit, is_zip=True, user_agent=BROWSER)
    clock(2027, 1, 25, 15)
    campaign = campaign_2027()
    catch_up()
    assert campaign_figures(campaign, Filters.for_campaign(campaign)).totals["downloads"] == 0
    signed_in("staff")
    form = {"year": "2027", "starts_on": "2027-03-01", "ends_on": "2027-03-07",
            "national_day": "2027-03-04", "opens_on": "2027-01-15", "closes_on": "2027-03-31"}
    response = client.post(f"/staff/campaigns/{campaign.id}?lang=en", data=form)
    assert response.status_code == 302
    assert "counted again" in page_text(client.get("/staff/campaigns?lang=en"))
    db.session.refresh(campaign)
    assert campaign.opens_on == date(2027, 1, 15)
    catch_up()
    assert campaign_figures(campaign, Filters.for_campaign(campaign)).totals["downloads"] == 1
    # Empty season days take the defaults; a season must hold its week.
    response = client.post(f"/staff/campaigns/{campaign.id}?lang=en",
                           data={**form, "opens_on": "", "closes_on": ""})
    assert response.status_code == 302
    db.session.refresh(campaign)
    assert (campaign.opens_on, campaign.closes_on) == (date(2027, 2, 1), date(2027, 3, 31))
    response = client.post(f"/staff/campaigns/{campaign.id}?lang=en",
                           data={**form, "opens_on": "2027-03-02", "closes_on": "2027-03-06"})
    assert response.status_code == 400
    page = page_text(response)
    assert "Kits open for download by the week's first day." in page
    assert "The season closes after the week's last day." in page
