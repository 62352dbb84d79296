"""What a download needs from the catalog, read with the signed-in account in one query.

Downloads are the portal's busiest path, and every one also writes its event, so each
round trip to the database and each layer of machinery counts. One statement, compiled
once per process and run on the DBAPI connection (``database.DirectStatement``: the ORM's
and SQLAlchemy's execution cost several times the query), reads the kit, its campaign and
the material's current version as plain values and, in the same round trip, the account
the session names, made into the ``Account`` Flask-Login's loader then takes instead of
querying again: the loader's checks (session version, suspension) still decide who is
signed in. Nothing is cached between requests: an import that makes a new current version
is seen by the next download. Only public materials (published on the portal's clock, not
withdrawn) are downloaded or go into a kit's ZIP.

On PostgreSQL, when the answer is a redirect signed by the portal itself (S3 storage:
nothing left to read that could be missing), a material's lookup also records the
download event, in the same statement and the same round trip: the read becomes a CTE,
and an ``INSERT ... SELECT`` from it makes the event only where the session still stands
(``auth.sessions``) and the account may download the kit
(``catalog.services.download_allowed_sql``). The view still decides in Python, with the
same rules on the same row; if it ever refused a download the statement recorded, or the
answer failed, it withdraws the event (``tracking.events.withdraw_download``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from types import SimpleNamespace

from flask import g, session
from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.exc import SQLAlchemyError

from portal.auth.sessions import SessionId, session_stands_sql
from portal.catalog.archives import stored, versions_fingerprint
from portal.catalog.services import NotFound, download_allowed_sql, readable_filename
from portal.clock import naive_utc_now
from portal.database import DirectStatement, engine_for_a_statement_alone, loaded
from portal.models import Account, Campaign, Kit, KitArchive, Material, MaterialVersion
from portal.tracking.events import TrackingError, recording_insert, recording_parameters

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KitFacts:
    """A kit as a download sees it: enough for the audience rules, its event and names."""

    id: int
    slug: str
    campaign_id: int
    audience: str
    year: int  # the campaign's
    title_fr: str
    title_en: str

    def title(self, language: str) -> str:
        return self.title_en if language == "en" else self.title_fr


@dataclass(frozen=True)
class VersionFacts:
    id: int
    storage_key: str


@dataclass(frozen=True)
class MaterialFacts:
    """One material's current version, to download."""

    kit: KitFacts
    version: VersionFacts
    title: str
    language: str
    format: str
    # The download event recorded with the lookup, if it was (see above).
    event_id: int | None = None

    @property
    def filename(self) -> str:
        return readable_filename(self.title, self.language, self.kit.year, self.format)


def _session_id() -> SessionId | None:
    # The session id Flask-Login keeps in the session, read as the app's user loader reads
    # it. Anything else loads no account here, and the loader then queries as usual.
    return SessionId.parse(session.get("_user_id"))


def _session_account_id() -> int | None:
    session_id = _session_id()
    return None if session_id is None else session_id.account_id


# The account's columns, selected as plain values with the catalog's.
_ACCOUNT_KEYS = tuple(prop.key for prop in Account.__mapper__.column_attrs)
_ACCOUNT_COLUMNS = tuple(getattr(Account, key) for key in _ACCOUNT_KEYS)
_A = len(_ACCOUNT_COLUMNS)  # where the catalog's columns start in a row


def _keep(values: tuple) -> None:
    # The account as the ORM would have loaded it (a persistent row, here detached from
    # the session: no query ever runs through it), for the loader to find on ``g``.
    g.portal_download_account = (
        None if values[0] is None
        else loaded(Account, dict(zip(_ACCOUNT_KEYS, values, strict=True))))


_KIT_COLUMNS = (Kit.id.label("kit_id"), Kit.slug, Kit.campaign_id, Kit.audience, Campaign.year, Kit.title_fr,
                Kit.title_en)


def _public():
    # Material.public_clause with the moment as a parameter, so the statement is built once.
    return and_(Material.published_at <= bindparam("now"), Material.withdrawn_at.is_(None))


@cache
def _material_query():
    return (select(*_ACCOUNT_COLUMNS, *_KIT_COLUMNS, MaterialVersion.id.label("version_id"),
                   MaterialVersion.storage_key, Material.title, Material.language,
                   Material.format)
            .select_from(Material)
            .join(Kit, Kit.id == Material.kit_id)
            .join(Campaign, Campaign.id == Kit.campaign_id)
            .join(MaterialVersion, MaterialVersion.id == Material.current_version_id)
            .outerjoin(Account, Account.id == bindparam("account_id"))
            .where(Kit.slug == bindparam("kit"), Material.slug == bindparam("material"),
                   Material.language == bindparam("language"), _public()))


@cache
def _recording_material_query():
    # The lookup above as a CTE, and the id of the event an INSERT made from it (NULL where
    # the session or the rules refuse), after the lookup's columns.
    allowed = and_(session_stands_sql(), download_allowed_sql(Kit.audience))
    facts = _material_query().add_columns(allowed.label("allowed")).cte("facts")
    account = SimpleNamespace(**{key: facts.c[Account.__table__.c[key].name]
                                 for key in _ACCOUNT_KEYS})
    kit = SimpleNamespace(id=facts.c.kit_id, campaign_id=facts.c.campaign_id)
    recorded = recording_insert(account, kit, facts.c.version_id,
                                facts.c.allowed).cte("recorded")
    looked_up = [column for column in facts.c if column.name != "allowed"]
    return select(*looked_up, select(recorded.c.id).scalar_subquery())


def material_download(kit_slug: str, material_slug: str, language: str, *,
                      record_for_agent: str | None = None) -> MaterialFacts:
    """The material's kit and current version; ``NotFound`` without either.

    With ``record_for_agent`` (the request's User-Agent), the lookup also records the
    download event where it can (PostgreSQL, a signed-in session, no transaction under
    way), if the session stands and the account may download the kit: ``event_id`` then
    names the event, which the caller must withdraw if the download does not go out
    (``tracking.events.withdraw_download``). A database error then is a ``TrackingError``.
    """
    session_id = _session_id()
    params = {"account_id": None if session_id is None else session_id.account_id,
              "kit": kit_slug, "material": material_slug, "language": language,
              "now": naive_utc_now()}
    engine = engine_for_a_statement_alone()
    if (record_for_agent is None or session_id is None or engine is None
            or engine.dialect.name != "postgresql"):  # (SQLite: no INSERT in a CTE)
        rows, _ = _MATERIAL.execute(params)
    else:
        params.update(session_version=session_id.version, session_nonce=session_id.nonce,
                      **recording_parameters(record_for_agent))
        try:
            rows, _ = _RECORDING.execute(params)
        except SQLAlchemyError as exc:
            log.error("download looked up and recorded: %s", type(exc).__name__)
            raise TrackingError("download event not recorded") from exc
    if not rows:
        raise NotFound(f"{kit_slug}/{material_slug}/{language}")
    row = rows[0]
    _keep(row[:_A])
    return MaterialFacts(KitFacts(*row[_A:_A + 7]), VersionFacts(row[_A + 7], row[_A + 8]),
                         *row[_A + 9:])


_MATERIAL = DirectStatement(_material_query)
_RECORDING = DirectStatement(_recording_material_query)


@cache
def _kit_query():
    # A row per material (or one with empty material columns): the kit's facts, what its
    # ZIP's fingerprint is made of, and every ZIP built for it ("fingerprint key" pairs:
    # one per combination of versions, a handful per campaign) to find the one that fits.
    archives = (select(func.aggregate_strings(
                    KitArchive.fingerprint + " " + KitArchive.storage_key, "|"))
                .where(KitArchive.kit_id == Kit.id).scalar_subquery())
    return (select(*_ACCOUNT_COLUMNS, *_KIT_COLUMNS, archives, Material.id,
                   MaterialVersion.id, MaterialVersion.checksum)
            .select_from(Kit)
            .join(Campaign, Campaign.id == Kit.campaign_id)
            .outerjoin(Material, and_(Material.kit_id == Kit.id, _public()))
            .outerjoin(MaterialVersion, MaterialVersion.id == Material.current_version_id)
            .outerjoin(Account, Account.id == bindparam("account_id"))
            .where(Kit.slug == bindparam("slug")))


@dataclass(frozen=True)
class KitDownload:
    kit: KitFacts
    fingerprint: str  # of the kit's current versions
    archive_key: str | None  # the storage key of the ZIP built for them, if there is one


def kit_download(slug: str) -> KitDownload:
    """The kit, the fingerprint of its public versions and the key of their ZIP if it
    was built; ``NotFound`` without the kit or without a public material."""
    rows, _ = _KIT.execute({"account_id": _session_account_id(), "slug": slug,
                            "now": naive_utc_now()})
    rows = [(row[:_A], *row[_A:]) for row in rows]  # the account's values first, then as before
    if not rows or all(row[10] is None for row in rows):  # no kit, or nothing offered
        raise NotFound(slug)
    _keep(rows[0][0])
    fingerprint = versions_fingerprint(row[9:] for row in rows if row[10] is not None)
    built = dict(pair.split(" ", 1) for pair in (rows[0][8] or "").split("|") if pair)
    return KitDownload(KitFacts(*rows[0][1:8]), fingerprint, built.get(fingerprint))


_KIT = DirectStatement(_kit_query)


def stored_archive_key(download: KitDownload, storage) -> str | None:
    """The storage key of the kit's ZIP for its current versions if it was built and its
    file is in storage; ``None`` when it must be built (``archives.ensure_kit_archive``)."""
    key = download.archive_key
    return key if key is not None and stored(storage, key) else None
