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
    chosen = Filters.for_campaign(campaign, **filters)
    result = campaign_figures(campaign, chosen)
    # The whole-campaign view reads the summary rollup; the tables that cross every
    # dimension (what filters read) must give the very same figures.
    detail = campaign_figures(campaign, chosen, from_detail=True)
    for name in ("totals", "days", "parts", "top_kits", "top_materials", "by_region",
                 "by_account_type", "by_organization_type"):
        assert getattr(result, name) == getattr(detail, name), name
    return result


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


def test_montreal_days_at_midnight_the_week_and_the_season(make_account, download, catalog,
                                                            clock):
    account, other, late = (make_account("citizen") for _ in range(3))
    citizens_kit = db.session.scalars(select(Kit).where(Kit.slug == "trousse-citoyens")).one()
    sheet = next(m for m in citizens_kit.materials if m.kind == "info_sheet")
    download(montreal(31, 23, 59, month=1), late, sheet)  # 31 January: before the season
    download(montreal(1, 0, 1, month=2), late, sheet)     # 1 February: the season opens
    download(montreal(6, 23, 59), account, sheet)   # 6 March, Montréal (7 March in UTC)
    download(montreal(7, 0, 1), other, sheet)       # 7 March
    download(montreal(7, 23, 59), account, sheet)   # 7 March, last minute of the week
    download(montreal(8, 0, 1), other, sheet)       # 8 March: after the week, in the season
    download(montreal(31, 23, 59), other, sheet)    # 31 March: the season's last minute
    download(montreal(1, 0, 1, month=4), other, sheet)  # 1 April: outside the season
    result = figures(catalog, clock)
    days = {d["day"]: d for d in result.days}
    assert min(days) == date(2027, 2, 1) and max(days) == date(2027, 3, 31)
    assert days[date(2027, 2, 1)]["downloads"] == 1
    assert days[date(2027, 3, 6)]["downloads"] == 1
    assert days[date(2027, 3, 7)]["downloads"] == 2
    assert days[date(2027, 3, 8)]["downloads"] == 1 and days[date(2027, 3, 8)]["part"] == "after"
    assert days[date(2027, 3, 31)]["downloads"] == 1
    assert result.totals["downloads"] == 6 and result.totals["kits_distributed"] == 3
    # Each pair belongs to the part of the season where it was first seen.
    assert {part: (v["downloads"], v["kits_distributed"]) for part, v in result.parts.items()} \
        == {"before": (1, 1), "week": (3, 2), "after": (2, 0)}


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
    ({"start": date(2027, 1, 31)}, "outside_campaign"),  # before the season opens
    ({"end": date(2027, 4, 1)}, "outside_campaign"),  # after it closes
    ({"start": date(2027, 3, 5), "end": date(2027, 3, 2)}, "start_after_end"),
    ({"region": "42"}, "unknown_region"),
])
def test_bad_filters_are_refused(catalog, filters, error):
    from portal.tracking.stats import FilterError

    with pytest.raises(FilterError, match=error):
        Filters.for_campaign(catalog["campaign"], **filters)


# The rollups against a direct count over raw events, on random data.
SEASON = (date(2027, 2, 1), date(2027, 3, 31))  # the defaults, written out
WEEK = (date(2027, 3, 1), date(2027, 3, 7))


def reference_counts(events):
    """A plain, independent reading of the counting rules over raw events: the season's
    figures, and each part's (before the week, the week, after it), where a pair or an
    organization counts in the part of its first counted download."""
    from portal.tracking.rollup import DAILY_CAP

    last_counted, last_hour, kit_pairs, organizations = {}, {}, {}, {}
    per_account_day = {}
    parts = {part: {"downloads": 0, "unique_downloads": 0} for part in ("before", "week",
                                                                         "after")}
    for event in sorted(events, key=lambda e: e["id"]):
        day = event["at"].astimezone(MONTREAL).date()
        if not SEASON[0] <= day <= SEASON[1] or event["robot"]:
            continue
        part = "before" if day < WEEK[0] else "week" if day <= WEEK[1] else "after"
        item = (event["actor"], event["item"])
        if item in last_counted and event["at"] - last_counted[item] <= timedelta(seconds=30):
            continue
        if per_account_day.get((event["actor"], day), 0) >= DAILY_CAP:
            continue
        per_account_day[(event["actor"], day)] = per_account_day.get((event["actor"], day), 0) + 1
        parts[part]["downloads"] += 1
        hour = event["at"].replace(minute=0, second=0, microsecond=0)
        if last_hour.get(item) != hour:
            parts[part]["unique_downloads"] += 1
            last_hour[item] = hour
        last_counted[item] = event["at"]
        kit_pairs.setdefault((event["actor"], event["kit"]), part)
        if event["type"] == "organization":
            organizations.setdefault(event["actor"], part)
    for part, figures in parts.items():
        figures["kits_distributed"] = sum(1 for p in kit_pairs.values() if p == part)
        figures["organizations_reached"] = sum(1 for p in organizations.values() if p == part)
    season = {name: sum(figures[name] for figures in parts.values())
              for name in parts["week"]}
    return season, parts


@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 62 * 24 * 60),
                          st.integers(0, 90), st.booleans()), min_size=1, max_size=25))
def test_rollups_agree_with_a_direct_count(app, make_account, catalog, clock, steps):
    from portal.models import DownloadEvent
    from portal.models.stats import (
        ActorDay,
        DailyDownloads,
        DailyFirsts,
        DailySummary,
        FetchState,
        FirstKit,
        FirstOrganization,
        RollupState,
    )

    for model in (DownloadEvent, DailyDownloads, DailyFirsts, DailySummary, FetchState,
                  FirstKit, FirstOrganization, RollupState, ActorDay):
        db.session.query(model).delete()
    db.session.commit()
    accounts = getattr(test_rollups_agree_with_a_direct_count, "_accounts", None)
    if accounts is None or db.session.get(type(accounts[0]), accounts[0].id) is None:
        accounts = [make_account("organization"), make_account("citizen"),
                    make_account("organization", organization_type="police")]
        test_rollups_agree_with_a_direct_count._accounts = accounts
    items = [catalog["poster"], catalog["flyer"], None]
    # From noon the day before the season opens to past its close, so some fall outside.
    base = montreal(31, 12, month=1)
    moment = base
    raw = []
    for who, what, minutes, seconds, robot in steps:
        moment = max(moment, base + timedelta(minutes=minutes, seconds=seconds))
        account, material = accounts[who], items[what]
        clock(moment)
        agent = ROBOT if robot and who == 2 else BROWSER
        if material is None:
            event_id = record_download(account, catalog["kit"], is_zip=True, user_agent=agent)
            item = f"zip:{catalog['kit'].id}"
        else:
            event_id = record_download(account, material.kit,
                                       material_version=material.current_version, user_agent=agent)
            item = f"file:{material.current_version_id}"
        raw.append({"id": event_id, "at": moment, "actor": account.actor_id, "item": item,
                    "kit": catalog["kit"].id, "robot": agent == ROBOT, "type": account.role})
    result = figures(catalog, clock)
    campaign = catalog["campaign"]
    assert (campaign.opens_on, campaign.closes_on) == SEASON
    assert (campaign.starts_on, campaign.ends_on) == WEEK
    expected, parts = reference_counts(raw)
    assert {k: result.totals[k] for k in expected} == expected
    assert result.parts == parts
    assert sum(d["downloads"] for d in result.days) == result.totals["downloads"]
    assert sum(d["kits_distributed"] for d in result.days) == result.totals["kits_distributed"]
