"""Rollups: turn download events into the campaign's figures, by the counting rules.

The rules (README, "Counting what goes out"), applied event by event in id order:
- an event counts toward its kit's campaign when it falls on a Montréal day of the
  campaign's season (``opens_on`` to ``closes_on``: the weeks before the national week,
  the week, the weeks after); outside every season it belongs to no campaign;
- a robot's event is recorded and counted apart (``robots``), never as a download;
- a fetch counts only if the same account had no counted fetch of the same item in the
  30 seconds before it (double clicks); a kit ZIP is one item, the kit;
- an account counts at most ``DAILY_CAP`` downloads in a Montréal day; the ones past it
  stay recorded and are counted apart (``over_daily_cap``), like robots, so one account
  (a script, a download manager) cannot inflate the figures;
- a unique download is one per account, item and clock hour;
- an (account, kit) pair is a kit distributed, and an organization account an organization
  reached, on the day of its first counted download in the campaign (first-seen tables),
  so daily figures add up exactly to the campaign's, and the parts of the season (before
  the week, the week, after it) add up to the season.

The rollup catches up from a watermark (the last event id it processed) and stops at the
first event younger than ``SAFETY_LAG``, so a download still committing is never skipped. The
watermark moves by compare-and-set in the same transaction as the figures: two rollups
running at once cannot count an event twice.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, delete, insert, select, tuple_, update

from portal.clock import MONTREAL, naive_utc_now
from portal.extensions import db
from portal.models import Campaign, DownloadEvent, MaterialVersion
from portal.models.stats import (
    ActorDay,
    DailyDownloads,
    DailyFirsts,
    DailyScans,
    DailySummary,
    FetchState,
    FirstKit,
    FirstOrganization,
    RollupState,
)

DOUBLE_CLICK = timedelta(seconds=30)
DAILY_CAP = 50  # counted downloads per account and Montréal day (README)
SAFETY_LAG = timedelta(seconds=2)
BATCH_SIZE = 20_000
STATE_NAME = "downloads"


def in_flight(moment: datetime, now: datetime) -> bool:
    """Written within the last few seconds: its transaction (or an earlier id's) may still
    be committing. Synthetic events dated in a future week are settled, not in flight."""
    return now - SAFETY_LAG < moment <= now + SAFETY_LAG


def montreal_day(moment: datetime):
    return moment.replace(tzinfo=UTC).astimezone(MONTREAL).date()


def item_key(event: DownloadEvent) -> str:
    if event.is_zip:
        return f"zip:{event.kit_id}"
    prefix = "perso" if event.personalized else "file"
    return f"{prefix}:{event.material_version_id or event.kit_id}"


def _state() -> RollupState:
    state = db.session.get(RollupState, STATE_NAME)
    if state is None:
        db.session.add(RollupState(name=STATE_NAME, last_id=0))
        db.session.commit()
        state = db.session.get(RollupState, STATE_NAME)
    return state


class _Batch:
    """Figures of one batch of events, merged into the tables at the end (in bulk)."""

    def __init__(self, campaigns: dict[int, Campaign], material_of_version: dict[int, int]):
        self.campaigns = campaigns
        self.material_of_version = material_of_version
        self.downloads = defaultdict(lambda: defaultdict(int))
        self.firsts = defaultdict(lambda: defaultdict(int))
        # (campaign, day, breakdown, key) -> counters: DailySummary's rows
        self.summary = defaultdict(lambda: defaultdict(int))
        # (actor, item) -> [last counted at, last unique hour, is new, changed]
        self.fetch_states: dict[tuple[str, str], list] = {}
        self.new_first_kits: list[dict] = []
        self.new_first_orgs: list[dict] = []
        self.known_kit_pairs: set[tuple[int, str, int]] = set()
        self.known_orgs: set[tuple[int, str]] = set()
        # (actor, day) -> [counted downloads, is new, changed]
        self.actor_days: dict[tuple[str, object], list] = {}

    def prefetch(self, events: list[DownloadEvent]) -> None:
        """Load what the batch's accounts already have: one indexed IN query per chunk of
        accounts and table (row-value IN lists defeat PostgreSQL's index)."""
        keys = {(e.actor_id, item_key(e)) for e in events}
        actors = sorted({e.actor_id for e in events})
        days = sorted({montreal_day(e.occurred_at) for e in events})
        for chunk in _chunks(actors, 1000):
            for actor, item, counted_at, hour in db.session.execute(select(
                    FetchState.actor_id, FetchState.item_key, FetchState.last_counted_at,
                    FetchState.last_unique_hour).where(FetchState.actor_id.in_(chunk))):
                if (actor, item) in keys:
                    self.fetch_states[(actor, item)] = [counted_at, hour, False, False]
            self.known_kit_pairs.update(tuple(row) for row in db.session.execute(select(
                FirstKit.campaign_id, FirstKit.actor_id, FirstKit.kit_id).where(
                FirstKit.actor_id.in_(chunk))))
            self.known_orgs.update(tuple(row) for row in db.session.execute(select(
                FirstOrganization.campaign_id, FirstOrganization.actor_id).where(
                FirstOrganization.actor_id.in_(chunk))))
            for actor, day, counted in db.session.execute(select(
                    ActorDay.actor_id, ActorDay.day, ActorDay.counted).where(
                    ActorDay.actor_id.in_(chunk), ActorDay.day.in_(days))):
                self.actor_days[(actor, day)] = [counted, False, False]

    def add(self, event: DownloadEvent) -> None:
        campaign = self.campaigns.get(event.campaign_id)
        day = montreal_day(event.occurred_at)
        if campaign is None or not campaign.in_season(day):
            return
        material_id = 0 if event.is_zip else self.material_of_version.get(
            event.material_version_id, 0)
        dims = (campaign.id, day, event.kit_id, material_id, event.region or "",
                event.account_type, event.organization_type or "", event.personalized,
                event.is_zip)
        figures = self.downloads[dims]
        total = self.summary[(campaign.id, day, "total", "")]
        if event.is_robot:
            figures["robots"] += 1
            total["robots"] += 1
            return
        key = (event.actor_id, item_key(event))
        state = self.fetch_states.get(key)
        if state is not None and event.occurred_at - state[0] <= DOUBLE_CLICK:
            figures["double_clicks"] += 1
            total["double_clicks"] += 1
            return
        today = self.actor_days.setdefault((event.actor_id, day), [0, True, False])
        if today[0] >= DAILY_CAP:
            figures["over_daily_cap"] += 1
            total["over_daily_cap"] += 1
            return
        today[0] += 1
        today[2] = True
        figures["downloads"] += 1
        self._summarize_download(campaign.id, day, event, material_id)
        hour = event.occurred_at.replace(minute=0, second=0, microsecond=0)
        if state is None:
            self.fetch_states[key] = [event.occurred_at, hour, True, True]
            figures["unique_downloads"] += 1
            total["unique_downloads"] += 1
        else:
            if state[1] != hour:
                figures["unique_downloads"] += 1
                total["unique_downloads"] += 1
                state[1] = hour
            state[0] = event.occurred_at
            state[3] = True
        self._first_seen(campaign, day, event)

    def _summarize_download(self, campaign_id, day, event, material_id) -> None:
        """A counted download in DailySummary: the day's total and each breakdown."""
        total = self.summary[(campaign_id, day, "total", "")]
        total["downloads"] += 1
        total["personalized_downloads"] += event.personalized
        total["zip_downloads"] += event.is_zip
        breakdowns = [("kit", str(event.kit_id)), ("region", event.region or ""),
                      ("account_type", event.account_type)]
        if material_id:
            breakdowns.append(("material", str(material_id)))
        if event.account_type == "organization":
            breakdowns.append(("organization_type", event.organization_type or ""))
        for breakdown, key in breakdowns:
            self.summary[(campaign_id, day, breakdown, key)]["downloads"] += 1

    def _first_seen(self, campaign, day, event) -> None:
        region, org_type = event.region or "", event.organization_type or ""
        pair = (campaign.id, event.actor_id, event.kit_id)
        if pair not in self.known_kit_pairs:
            self.known_kit_pairs.add(pair)
            self.new_first_kits.append({
                "campaign_id": campaign.id, "actor_id": event.actor_id, "kit_id": event.kit_id,
                "day": day, "region": region, "account_type": event.account_type,
                "organization_type": org_type})
            self.firsts[(campaign.id, day, event.kit_id, region, event.account_type,
                         org_type)]["kits_distributed"] += 1
            for breakdown, key in (("total", ""), ("region", region),
                                   ("account_type", event.account_type)):
                self.summary[(campaign.id, day, breakdown, key)]["kits_distributed"] += 1
        if event.account_type == "organization" and (campaign.id, event.actor_id) \
                not in self.known_orgs:
            self.known_orgs.add((campaign.id, event.actor_id))
            self.new_first_orgs.append({
                "campaign_id": campaign.id, "actor_id": event.actor_id, "day": day,
                "region": region, "organization_type": org_type})
            self.firsts[(campaign.id, day, 0, region, "organization",
                         org_type)]["organizations_reached"] += 1
            for breakdown, key in (("total", ""), ("region", region),
                                   ("organization_type", org_type)):
                self.summary[(campaign.id, day, breakdown, key)]["organizations_reached"] += 1

    def write(self) -> None:
        new_states, changed_states = [], []
        for (actor, item), (counted_at, hour, is_new, changed) in self.fetch_states.items():
            row = {"actor_id": actor, "item_key": item, "last_counted_at": counted_at,
                   "last_unique_hour": hour}
            if is_new:
                new_states.append(row)
            elif changed:
                changed_states.append(row)
        # Core executemany: these rows are many and need none of the ORM's bookkeeping.
        for model, rows in ((FetchState, new_states), (FirstKit, self.new_first_kits),
                            (FirstOrganization, self.new_first_orgs)):
            for chunk in _chunks(rows, 5000):
                db.session.execute(insert(model.__table__), chunk)
        new_days = [{"actor_id": actor, "day": day, "counted": counted}
                    for (actor, day), (counted, is_new, changed) in self.actor_days.items()
                    if is_new and changed]
        for chunk in _chunks(new_days, 5000):
            db.session.execute(insert(ActorDay.__table__), chunk)
        days = ActorDay.__table__
        recount = update(days).where(days.c.actor_id == bindparam("key_actor"),
                                     days.c.day == bindparam("key_day")).values(
            counted=bindparam("new_count"))
        changed_days = [{"key_actor": actor, "key_day": day, "new_count": counted}
                        for (actor, day), (counted, is_new, changed) in self.actor_days.items()
                        if changed and not is_new]
        for chunk in _chunks(changed_days, 5000):
            db.session.execute(recount, chunk)
        table = FetchState.__table__
        refresh = update(table).where(table.c.actor_id == bindparam("key_actor"),
                                      table.c.item_key == bindparam("key_item")).values(
            last_counted_at=bindparam("counted_at"), last_unique_hour=bindparam("hour"))
        for chunk in _chunks(changed_states, 5000):
            db.session.execute(refresh, [
                {"key_actor": row["actor_id"], "key_item": row["item_key"],
                 "counted_at": row["last_counted_at"], "hour": row["last_unique_hour"]}
                for row in chunk])
        _merge(DailyDownloads, ("campaign_id", "day", "kit_id", "material_id", "region",
                                "account_type", "organization_type", "personalized", "is_zip"),
               self.downloads)
        _merge(DailyFirsts, ("campaign_id", "day", "kit_id", "region", "account_type",
                             "organization_type"), self.firsts)
        _merge(DailySummary, ("campaign_id", "day", "breakdown", "key"), self.summary)


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _merge(model, dimension_names: tuple[str, ...], figures: dict) -> None:
    """Add a batch's counters to the rollup rows, creating the rows that are new."""
    if not figures:
        return
    columns = [getattr(model, name) for name in dimension_names]
    existing = {}
    for chunk in _chunks(list(figures), 300):
        for row in db.session.scalars(select(model).where(tuple_(*columns).in_(chunk))):
            existing[tuple(getattr(row, name) for name in dimension_names)] = row
    for dims, counters in figures.items():
        row = existing.get(dims)
        if row is None:
            row = model(**dict(zip(dimension_names, dims, strict=True)))
            for name in counters:
                setattr(row, name, 0)
            db.session.add(row)
        for name, value in counters.items():
            setattr(row, name, (getattr(row, name) or 0) + value)


def run_rollup(batch_size: int = BATCH_SIZE, max_batches: int | None = None) -> int:
    """Process every event old enough; return how many were processed."""
    processed = 0
    campaigns = {c.id: c for c in db.session.scalars(select(Campaign))}
    material_of_version = {version_id: material_id for version_id, material_id in
                           db.session.execute(select(MaterialVersion.id,
                                                     MaterialVersion.material_id))}
    batches = 0
    while max_batches is None or batches < max_batches:
        start_id = _state().last_id
        now = naive_utc_now()
        table = DownloadEvent.__table__
        events = db.session.execute(select(table).where(table.c.id > start_id)
                                    .order_by(table.c.id).limit(batch_size)).all()
        ready = []
        for event in events:
            if in_flight(event.occurred_at, now):
                break  # later events wait for the next run: none may be skipped
            ready.append(event)
        if not ready:
            db.session.rollback()
            return processed
        batch = _Batch(campaigns, material_of_version)
        batch.prefetch(ready)
        # Compare-and-set on the watermark first: it also serializes concurrent rollups.
        moved = db.session.execute(update(RollupState).where(
            RollupState.name == STATE_NAME, RollupState.last_id == start_id).values(
            last_id=ready[-1].id, updated_at=naive_utc_now()))
        if moved.rowcount != 1:
            db.session.rollback()
            continue
        for event in ready:
            batch.add(event)
        batch.write()
        db.session.commit()
        processed += len(ready)
        batches += 1
        if len(ready) < len(events) or len(events) < batch_size:
            return processed
    return processed


def run_scan_rollup(batch_size: int = BATCH_SIZE, max_batches: int | None = None) -> int:
    """QR scans per campaign day: all scans, and distinct visitors per document and day.

    A scan is a distinct visitor's when no earlier scan has the same visitor, document and
    day: one set-based query per batch decides it for every scan of the batch, with one
    probe of ``ix_qr_scan_visitor`` each (never a lookup per scan over the document's
    scans). ``max_batches`` bounds what a page request does, as for downloads."""
    from sqlalchemy import exists
    from sqlalchemy.orm import aliased

    from portal.models import Kit, Material, PersonalizedDocument, QrScan

    processed = batches = 0
    campaigns = {c.id: c for c in db.session.scalars(select(Campaign))}
    earlier = aliased(QrScan)
    while max_batches is None or batches < max_batches:
        state = db.session.get(RollupState, "scans")
        if state is None:
            db.session.add(RollupState(name="scans", last_id=0))
            db.session.commit()
            continue
        start_id = state.last_id
        now = naive_utc_now()
        first_of_visitor = ~exists().where(
            earlier.document_id == QrScan.document_id, earlier.day == QrScan.day,
            earlier.visitor_hash == QrScan.visitor_hash, earlier.id < QrScan.id)
        rows = db.session.execute(
            select(QrScan.id, QrScan.occurred_at, QrScan.day, QrScan.is_robot,
                   Kit.campaign_id, first_of_visitor.label("first"))
            .join(PersonalizedDocument, QrScan.document_id == PersonalizedDocument.id)
            .join(Material, PersonalizedDocument.material_id == Material.id)
            .join(Kit, Material.kit_id == Kit.id)
            .where(QrScan.id > start_id).order_by(QrScan.id).limit(batch_size)).all()
        ready = []
        for row in rows:
            if in_flight(row.occurred_at, now):
                break
            ready.append(row)
        if not ready:
            db.session.rollback()
            return processed
        moved = db.session.execute(update(RollupState).where(
            RollupState.name == "scans", RollupState.last_id == start_id).values(
            last_id=ready[-1].id, updated_at=naive_utc_now()))
        if moved.rowcount != 1:
            db.session.rollback()
            continue
        figures = defaultdict(lambda: defaultdict(int))
        for row in ready:
            campaign = campaigns.get(row.campaign_id)
            if campaign is None or row.is_robot or not campaign.in_season(row.day):
                continue
            counters = figures[(campaign.id, row.day)]
            counters["scans"] += 1
            if row.first:
                counters["unique_scans"] += 1
        _merge(DailyScans, ("campaign_id", "day"), figures)
        db.session.commit()
        processed += len(ready)
        batches += 1
        if len(ready) < len(rows) or len(rows) < batch_size:
            return processed
    return processed


ROLLUP_MODELS = (DailyDownloads, DailyFirsts, DailySummary, FirstKit, FirstOrganization,
                 FetchState, DailyScans, RollupState)


def rebuild() -> int:
    """Count everything again from the events and scans (which are never changed): the
    rollup tables and their watermarks are emptied in one transaction, then caught up.

    For a season staff moved, or rules that changed. Until it is done the figures grow
    from zero; a rollup running meanwhile finds its watermark gone and gives way
    (compare-and-set), so nothing is counted twice.
    """
    for model in ROLLUP_MODELS:
        db.session.execute(delete(model))
    db.session.commit()
    return catch_up()


def catch_up(max_batches: int | None = None) -> int:
    """Run every rollup; what the CLI, the dashboard and the public counter call.

    Pages pass ``max_batches`` so a request never waits on a long backlog (the CLI,
    ``flask rollup``, has no limit).
    """
    return run_rollup(max_batches=max_batches) + run_scan_rollup(max_batches=max_batches)
