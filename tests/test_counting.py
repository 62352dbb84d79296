"""The counting rules, with crafted event sequences whose figures are known exactly."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from portal.clock import MONTREAL
from portal.extensions import db
from portal.models import Campaign, Kit, Material
from portal.tracking.events import record_download
from portal.tracking.rollup import catch_up, run_rollup
from portal.tracking.stats import Filters, campaign_figures

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
ROBOT = "Googlebot/2.1 (+http://www.google.com/bot.html)"


def montreal(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 3) -> datetime:
    return datetime(2027, month, day, hour, minute, second, tzinfo=MONTREAL).astimezone(UTC)


@pytest.fixture
def clock(app, monkeypatch):
    def set_to(moment: datetime):
        monkeypatch.setitem(app.config, "FROZEN_NOW", moment)
    return set_to


@pytest.fixture
def catalog():
    kit = db.session.scalars(select(Kit).where(Kit.slug == "trousse-organismes")).one()
    poster = db.session.scalars(select(Material).where(
        Material.kit_id == kit.id, Material.slug == "affiche", Material.language == "fr")).one()
    flyer = db.session.scalars(select(Material).where(
        Material.kit_id == kit.id, Material.slug == "depliant", Material.language == "fr")).one()
    guide_kit = db.session.scalars(select(Kit).where(Kit.slug == "guide-professionnels")).one()
    return {"kit": kit, "poster": poster, "flyer": flyer, "guide_kit": guide_kit,
            "campaign": db.session.get(Campaign, kit.campaign_id)}


@pytest.fixture
def download(clock, catalog):
    def at(moment, account, material=None, zip_of=None, agent=BROWSER):
        clock(moment)
        if zip_of is not None:
            return record_download(account, zip_of, is_zip=True, user_agent=agent)
        material = material or catalog["poster"]
        return record_download(account, material.kit, material_version=material.current_version,
                               user_agent=agent)
    return at


def figures(catalog, clock, **filters):
    clock(montreal(28, 12, month=4))  # long after every event: nothing is too recent
    catch_up()
    campaign = catalog["campaign"]
    return campaign_figures(campaign, Filters.for_campaign(campaign, **filters))


def test_double_clicks_0_29_31_45_seconds(make_account, download, catalog, clock):
    account = make_account("organization")
    start = montreal(2, 10)
    for seconds in (0, 29, 31, 45):
        download(start + timedelta(seconds=seconds), account)
    result = figures(catalog, clock)
    assert result.totals["downloads"] == 2  # 0 s and 31 s
    assert result.totals["double_clicks_excluded"] == 2
    assert result.totals["unique_downloads"] == 1  # same account, item and hour
    assert result.totals["kits_distributed"] == 1


def test_unique_downloads_are_per_clock_hour(make_account, download, catalog, clock):
    account = make_account("citizen")
    download(montreal(2, 10, 59), account, catalog["poster"])
    download(montreal(2, 11, 1), account, catalog["poster"])  # new hour, 2 minutes later
    result = figures(catalog, clock)
    assert result.totals["downloads"] == 2 and result.totals["unique_downloads"] == 2


def test_robots_are_recorded_but_not_counted(make_account, download, catalog, clock):
    account = make_account("organization")
    download(montreal(3, 9), account, agent=ROBOT)
    result = figures(catalog, clock)
    assert result.totals["downloads"] == 0 and result.totals["robots_excluded"] == 1
    assert result.totals["kits_distributed"] == 0 and result.totals["organizations_reached"] == 0


def test_same_account_on_two_days_is_one_kit_on_its_first_day(make_account, download, catalog,
                                                              clock):
    account = make_account("organization")
    download(montreal(2, 9), account)
    download(montreal(4, 9), account, catalog["flyer"])
    result = figures(catalog, clock)
    days = {d["day"]: d for d in result.days}
    assert result.totals["downloads"] == 2
    assert result.totals["kits_distributed"] == 1 and result.totals["organizations_reached"] == 1
    assert days[date(2027, 3, 2)]["kits_distributed"] == 1
    assert days[date(2027, 3, 4)]["kits_distributed"] == 0
    assert days[date(2027, 3, 4)]["downloads"] == 1
    assert sum(d["kits_distributed"] for d in result.days) == result.totals["kits_distributed"]
    # A date filter shows what was first reached in that range.
    later = figures(catalog, clock, start=date(2027, 3, 3), end=date(2027, 3, 7))
    assert later.totals["kits_distributed"] == 0 and later.totals["downloads"] == 1


def test_two_accounts_of_one_organization_type(make_account, download, catalog, clock):
    first = make_account("organization", organization_type="school", region="05")
    second = make_account("organization", organization_type="school", region="05")
    download(montreal(5, 9), first)
    download(montreal(5, 10), second)
    result = figures(catalog, clock)
    schools = next(r for r in result.by_organization_type if r["organization_type"] == "school")
    assert schools == {"organization_type": "school", "downloads": 2, "organizations_reached": 2}
    estrie = next(r for r in result.by_region if r["region"] == "05")
    assert estrie["kits_distributed"] == 2 and estrie["organizations_reached"] == 2
    assert len(result.by_region) == 18  # the 17 regions, and accounts without one


def test_a_zip_and_a_material_of_the_same_kit(make_account, download, catalog, clock):
    account = make_account("organization")
    download(montreal(3, 14), account, zip_of=catalog["kit"])
    download(montreal(3, 14, 0, 10), account, catalog["poster"])  # another item: not a double
    result = figures(catalog, clock)
    assert result.totals["downloads"] == 2 and result.totals["zip_downloads"] == 1
    assert result.totals["kits_distributed"] == 1


def test_montreal_days_at_midnight_and_the_end_of_the_week(make_account, download, catalog,
                                                           clock):
    account = make_account("citizen")
    other = make_account("citizen")
    citizens_kit = db.session.scalars(select(Kit).where(Kit.slug == "trousse-citoyens")).one()
    sheet = next(m for m in citizens_kit.materials if m.kind == "info_sheet")
    download(montreal(6, 23, 59), account, sheet)   # 6 March, Montréal (7 March in UTC)
    download(montreal(7, 0, 1), other, sheet)       # 7 March
    download(montreal(7, 23, 59), account, sheet)   # 7 March, last minute of the week
    download(montreal(8, 0, 1), other, sheet)       # 8 March: outside the week
    result = figures(catalog, clock)
    days = {d["day"]: d for d in result.days}
    assert days[date(2027, 3, 6)]["downloads"] == 1
    assert days[date(2027, 3, 7)]["downloads"] == 2
    assert date(2027, 3, 8) not in days
    assert result.totals["downloads"] == 3 and result.totals["kits_distributed"] == 2


def test_rollup_is_incremental_and_never_counts_twice(make_account, download, catalog, clock):
    account = make_account("organization")
    download(montreal(2, 9), account)
    first = figures(catalog, clock)
    assert run_rollup() == 0  # nothing new
    download(montreal(2, 12), account, catalog["flyer"])
    second = figures(catalog, clock)
    assert first.totals["downloads"] == 1 and second.totals["downloads"] == 2
    assert second.totals["kits_distributed"] == 1


def test_recent_events_wait_for_the_next_rollup(make_account, clock, catalog):
    account = make_account("organization")
    moment = montreal(2, 9)
    clock(moment)
    record_download(account, catalog["kit"], material_version=catalog["poster"].current_version,
                    user_agent=BROWSER)
    assert run_rollup() == 0  # younger than the safety lag
    clock(moment + timedelta(seconds=5))
    assert run_rollup() == 1


def test_comparison_with_the_previous_campaign(make_account, download, catalog, clock):
    previous = Campaign(year=2026, starts_on=date(2026, 3, 1), ends_on=date(2026, 3, 7),
                        national_day=date(2026, 3, 4))
    db.session.add(previous)
    db.session.flush()
    old_kit = Kit(slug="trousse-2026", campaign_id=previous.id, audience="organizations",
                  title_fr="Trousse 2026", title_en="2026 kit", description_fr="-",
                  description_en="-")
    db.session.add(old_kit)
    db.session.commit()
    account = make_account("organization")
    clock(datetime(2026, 3, 2, 15, tzinfo=UTC))
    record_download(account, old_kit, is_zip=True, user_agent=BROWSER)
    clock(datetime(2026, 3, 6, 15, tzinfo=UTC))
    record_download(account, old_kit, is_zip=True, user_agent=BROWSER)
    download(montreal(2, 10), account)
    result = figures(catalog, clock)
    assert result.previous["campaign"].year == 2026
    assert result.previous["totals"]["downloads"] == 2
    assert result.previous["totals"]["kits_distributed"] == 1
    assert result.totals["downloads"] == 1
    # The same days of the week: the first three days of each.
    partial = figures(catalog, clock, start=date(2027, 3, 1), end=date(2027, 3, 3))
    assert partial.previous["totals"]["downloads"] == 1


@pytest.mark.parametrize("filters, error", [
    ({"start": date(2027, 2, 27)}, "outside_campaign"),
    ({"end": date(2027, 3, 9)}, "outside_campaign"),
    ({"start": date(2027, 3, 5), "end": date(2027, 3, 2)}, "start_after_end"),
    ({"region": "42"}, "unknown_region"),
])
def test_bad_filters_are_refused(catalog, filters, error):
    from portal.tracking.stats import FilterError

    with pytest.raises(FilterError, match=error):
        Filters.for_campaign(catalog["campaign"], **filters)


# The rollups against a direct count over raw events, on random data.
def reference_counts(events, campaign):
    """A plain, independent reading of the counting rules over raw events."""
    from portal.tracking.rollup import DAILY_CAP

    last_counted, last_hour, kit_pairs, organizations = {}, {}, set(), set()
    per_account_day = {}
    downloads = unique = 0
    for event in sorted(events, key=lambda e: e["id"]):
        day = event["at"].astimezone(MONTREAL).date()
        if not campaign.starts_on <= day <= campaign.ends_on or event["robot"]:
            continue
        item = (event["actor"], event["item"])
        if item in last_counted and event["at"] - last_counted[item] <= timedelta(seconds=30):
            continue
        if per_account_day.get((event["actor"], day), 0) >= DAILY_CAP:
            continue
        per_account_day[(event["actor"], day)] = per_account_day.get((event["actor"], day), 0) + 1
        downloads += 1
        hour = event["at"].replace(minute=0, second=0, microsecond=0)
        if last_hour.get(item) != hour:
            unique += 1
            last_hour[item] = hour
        last_counted[item] = event["at"]
        kit_pairs.add((event["actor"], event["kit"]))
        if event["type"] == "organization":
            organizations.add(event["actor"])
    return {"downloads": downloads, "unique_downloads": unique,
            "kits_distributed": len(kit_pairs), "organizations_reached": len(organizations)}


@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 9 * 24 * 60),
                          st.integers(0, 90), st.booleans()), min_size=1, max_size=25))
def test_rollups_agree_with_a_direct_count(app, make_account, catalog, clock, steps):
    from portal.models import DownloadEvent
    from portal.models.stats import (
        ActorDay,
        DailyDownloads,
        DailyFirsts,
        FetchState,
        FirstKit,
        FirstOrganization,
        RollupState,
    )

    for model in (DownloadEvent, DailyDownloads, DailyFirsts, FetchState, FirstKit,
                  FirstOrganization, RollupState, ActorDay):
        db.session.query(model).delete()
    db.session.commit()
    accounts = getattr(test_rollups_agree_with_a_direct_count, "_accounts", None)
    if accounts is None or db.session.get(type(accounts[0]), accounts[0].id) is None:
        accounts = [make_account("organization"), make_account("citizen"),
                    make_account("organization", organization_type="police")]
        test_rollups_agree_with_a_direct_count._accounts = accounts
    items = [catalog["poster"], catalog["flyer"], None]
    base = montreal(28, 12, month=2)  # a day before the week, so some fall outside
    moment = base
    raw = []
    for who, what, minutes, seconds, robot in steps:
        moment = max(moment, base + timedelta(minutes=minutes, seconds=seconds))
        account, material = accounts[who], items[what]
        clock(moment)
        agent = ROBOT if robot and who == 2 else BROWSER
        if material is None:
            event = record_download(account, catalog["kit"], is_zip=True, user_agent=agent)
            item = f"zip:{catalog['kit'].id}"
        else:
            event = record_download(account, material.kit, material_version=material.current_version,
                                    user_agent=agent)
            item = f"file:{material.current_version_id}"
        raw.append({"id": event.id, "at": moment, "actor": account.actor_id, "item": item,
                    "kit": catalog["kit"].id, "robot": agent == ROBOT, "type": account.role})
    result = figures(catalog, clock)
    expected = reference_counts(raw, catalog["campaign"])
    assert {k: result.totals[k] for k in expected} == expected
    assert sum(d["downloads"] for d in result.days) == result.totals["downloads"]
    assert sum(d["kits_distributed"] for d in result.days) == result.totals["kits_distributed"]
