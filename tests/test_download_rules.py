"""Who may download, in Python and in SQL: the two forms give one answer in every case.

On PostgreSQL a material's download looks up its catalog entry and records its event in
one statement (``catalog.downloads``), which applies the session's checks
(``auth.sessions.session_stands_sql``) and the download rules
(``catalog.services.download_allowed_sql``) in the database; the view then decides with
the Python forms. These tests hold the forms to one answer over every combination of an
account's states and a kit's audience, then check the one-statement download end to end:
against PostgreSQL, with the files in an S3-compatible server over HTTP.
"""
from __future__ import annotations

import itertools
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import String, delete, false, func, literal, select, true

from portal import create_app
from portal.auth.sessions import SessionId, session_stands, session_stands_sql
from portal.catalog import downloads
from portal.catalog.services import download_allowed_sql, download_refusal
from portal.cli_load import session_cookie
from portal.clock import naive_utc_now
from portal.database import DirectStatement
from portal.extensions import db
from portal.models import Account, DownloadEvent, Kit, MaterialVersion
from portal.reference import AUDIENCE_ROLES, ROLE_CITIZEN, ROLE_ORGANIZATION, ROLE_STAFF
from portal.storage import get_storage
from portal.tracking import events
from tests.conftest import TEST_DATABASE_URL, settings_for_tests

AUDIENCES = (*sorted(AUDIENCE_ROLES), "unknown")
ROLES = (ROLE_CITIZEN, ROLE_ORGANIZATION, ROLE_STAFF)
APPROVALS = (None, "pending", "approved", "rejected")

postgresql_only = pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="the one-statement download is PostgreSQL's")


def every_kind_of_account() -> list[Account]:
    """One account per combination of role, confirmed address, approval and suspension
    (approvals on every role: a citizen marked approved must not pass for an organization)."""
    accounts = []
    for number, (role, verified, approval, suspended) in enumerate(
            itertools.product(ROLES, (False, True), APPROVALS, (False, True))):
        accounts.append(Account(
            email=f"rules{number}@example.org", password_hash="-", role=role,
            display_name=f"Rules {number}", region="06",
            organization_type="community" if role == ROLE_ORGANIZATION else None,
            email_verified_at=naive_utc_now() if verified else None, approval=approval,
            suspended_at=naive_utc_now() if suspended else None,
            session_version=1 + number % 3))
    db.session.add_all(accounts)
    db.session.flush()
    return accounts


def test_the_sql_download_rules_give_the_python_answer_in_every_case(app):
    with app.app_context():
        accounts = every_kind_of_account()
        labels = [f"audience_{number}" for number in range(len(AUDIENCES))]
        rows = db.session.execute(
            select(Account.id, *(download_allowed_sql(literal(audience, String)).label(label)
                                 for audience, label in zip(AUDIENCES, labels, strict=True)))
            .where(Account.id.in_([account.id for account in accounts]))).all()
        assert len(rows) == len(accounts) == 48
        by_id = {account.id: account for account in accounts}
        checked = 0
        for row in rows:
            account = by_id[row.id]
            for audience, label in zip(AUDIENCES, labels, strict=True):
                in_python = download_refusal(account, SimpleNamespace(audience=audience)) is None
                # Exactly true or false: a NULL would read as "no" in the statement's
                # WHERE, but as the opposite of what it means in any negation of it.
                assert getattr(row, label) is in_python, (account.role, audience)
                checked += 1
        assert checked == 48 * 5
        # Both answers occur: the table is not trivially all-refused.
        assert 0 < sum(bool(getattr(row, label)) for row in rows for label in labels) < checked


@postgresql_only
def test_the_sql_session_checks_give_the_python_answer_in_every_case(app):
    """Every account row against every session id made for one of them: the right one,
    a version behind or ahead, another account's nonce; suspended accounts included."""
    with app.app_context():
        accounts = every_kind_of_account()
        ids = [account.id for account in accounts]
        session_ids = []
        for account, other in zip(accounts, accounts[1:] + accounts[:1], strict=True):
            session_ids += [
                SessionId(account.id, account.session_version, account.session_nonce),
                SessionId(account.id, account.session_version - 1, account.session_nonce),
                SessionId(account.id, account.session_version + 1, account.session_nonce),
                SessionId(account.id, account.session_version, other.session_nonce),
                SessionId(other.id, account.session_version, account.session_nonce),
            ]
        query = select(Account.id, session_stands_sql().label("stands")).where(
            Account.id.in_(ids))
        standing = 0
        for session_id in session_ids:
            in_sql = {row.id: row.stands for row in db.session.execute(query, {
                "account_id": session_id.account_id, "session_version": session_id.version,
                "session_nonce": session_id.nonce})}
            for account in accounts:
                expected = session_stands(account, session_id)
                assert in_sql[account.id] is expected, (account.id, session_id)
                standing += expected
        # Exactly the right session id of each account that is not suspended stands.
        assert standing == sum(account.suspended_at is None for account in accounts) == 24


# -- The one-statement download, end to end ----------------------------------------------

BUCKET = "portal-rules"
AGENT = "Mozilla/5.0 (X11; Linux x86_64) RulesTest/1.0"
ORGANIZATIONS_POSTER = "/kits/trousse-organismes/affiche/fr/download"
PROFESSIONALS_GUIDE = "/kits/guide-professionnels/guide/fr/download"


@pytest.fixture
def redirecting_portal(app, s3_endpoint, smtp_inbox, monkeypatch):
    """The portal as in production (the driver's own transactions, nothing rolled back
    by the tests) with its files in the bucket: downloads answer with redirects. The
    materials' files are not copied: a redirect is signed without reading the bucket.
    The accounts made here are deleted afterwards, with their events."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings = settings_for_tests(Path(app.config["TEST_BASE"]),
                                  app.config["SQLALCHEMY_DATABASE_URI"], smtp_inbox[1])
    settings.update({"STORAGE_BACKEND": "s3", "S3_BUCKET": BUCKET,
                     "S3_ENDPOINT_URL": s3_endpoint, "S3_REGION": "us-east-1"})
    portal = create_app(settings)
    with portal.app_context():
        before = db.session.scalar(select(func.max(Account.id))) or 0
    yield portal
    with portal.app_context():
        made = select(Account.actor_id).where(Account.id > before).scalar_subquery()
        db.session.execute(delete(DownloadEvent).where(DownloadEvent.actor_id.in_(made)))
        db.session.execute(delete(Account).where(Account.id > before))
        db.session.commit()
        db.engine.dispose()


def account_client(portal, role, **states):
    """A client signed in (its session cookie minted as the app sets it) with a new
    account of ``role``: address confirmed and organization approved unless ``states``
    say otherwise."""
    with portal.app_context():
        number = (db.session.scalar(select(func.max(Account.id))) or 0) + 1
        account = Account(
            email=f"one-statement{number}@example.org", password_hash="-", role=role,
            display_name="Maison des jeunes", region="06",
            organization_type="community" if role == ROLE_ORGANIZATION else None,
            email_verified_at=naive_utc_now(),
            approval="approved" if role == ROLE_ORGANIZATION else None)
        for name, value in states.items():
            setattr(account, name, value)
        db.session.add(account)
        db.session.commit()
        cookie = session_cookie(portal, account, "127.0.0.1", AGENT)
        client = portal.test_client()
        client.set_cookie(portal.config["SESSION_COOKIE_NAME"], cookie)
        client.account_id, client.actor_id = account.id, account.actor_id
    return client


@pytest.fixture
def statements(monkeypatch):
    """The direct statements a request runs, in order."""
    ran = []
    execute = DirectStatement.execute

    def spy(self, params):
        ran.append(self)
        return execute(self, params)

    monkeypatch.setattr(DirectStatement, "execute", spy)
    return ran


def events_of(portal, client) -> list[DownloadEvent]:
    with portal.app_context():
        return db.session.scalars(select(DownloadEvent).where(
            DownloadEvent.actor_id == client.actor_id)).all()


@postgresql_only
@pytest.mark.no_db_isolation
@pytest.mark.parametrize("agent, robot", [(AGENT, False), ("Googlebot/2.1", True)])
def test_an_allowed_download_is_looked_up_and_recorded_in_one_statement(
        redirecting_portal, statements, agent, robot):
    client = account_client(redirecting_portal, ROLE_ORGANIZATION)
    answer = client.get(ORGANIZATIONS_POSTER, headers={"User-Agent": agent})
    assert answer.status_code == 302
    assert f"/{BUCKET}/materials/trousse-organismes/affiche/fr/" in answer.headers["Location"]
    assert statements == [downloads._RECORDING]  # one statement, one round trip
    [event] = events_of(redirecting_portal, client)
    with redirecting_portal.app_context():
        kit = db.session.scalars(select(Kit).where(Kit.slug == "trousse-organismes")).one()
        version = db.session.get(MaterialVersion, event.material_version_id)
        assert version.material.slug == "affiche" and version.material.language == "fr"
        assert version.id == version.material.current_version_id
        assert (event.kit_id, event.campaign_id) == (kit.id, kit.campaign_id)
    assert (event.account_type, event.region, event.organization_type) == (
        ROLE_ORGANIZATION, "06", "community")
    assert (event.personalized, event.is_zip, event.is_robot) == (False, False, robot)


@postgresql_only
@pytest.mark.no_db_isolation
@pytest.mark.parametrize("role, states, path, status", [
    (ROLE_CITIZEN, {}, ORGANIZATIONS_POSTER, 403),  # not the kit's audience
    (ROLE_CITIZEN, {"email_verified_at": None}, "/kits/trousse-citoyens/fiche-information/fr/download", 403),
    (ROLE_ORGANIZATION, {"approval": "pending"}, PROFESSIONALS_GUIDE, 403),
    (ROLE_ORGANIZATION, {"approval": "rejected"}, PROFESSIONALS_GUIDE, 403),
], ids=["audience", "address-not-confirmed", "approval-pending", "approval-rejected"])
def test_a_refused_download_records_nothing(redirecting_portal, statements, monkeypatch,
                                            role, states, path, status):
    withdrawn = []
    monkeypatch.setattr("portal.catalog.routes.withdraw_download", withdrawn.append)
    client = account_client(redirecting_portal, role, **states)
    answer = client.get(path, headers={"User-Agent": AGENT})
    assert answer.status_code == status and "Location" not in answer.headers
    assert statements == [downloads._RECORDING] and withdrawn == []  # the SQL said no too
    assert events_of(redirecting_portal, client) == []


@postgresql_only
@pytest.mark.no_db_isolation
@pytest.mark.parametrize("change", ["suspended", "new session version"])
def test_a_session_that_no_longer_stands_records_nothing(redirecting_portal, statements,
                                                         change):
    client = account_client(redirecting_portal, ROLE_ORGANIZATION)
    with redirecting_portal.app_context():
        account = db.session.get(Account, client.account_id)
        if change == "suspended":  # alone, without the version the suspension also raises
            account.suspended_at = naive_utc_now()
        else:  # a password changed elsewhere
            account.session_version += 1
        db.session.commit()
    answer = client.get(ORGANIZATIONS_POSTER, headers={"User-Agent": AGENT})
    assert answer.status_code == 302 and "/account/login" in answer.headers["Location"]
    assert statements == [downloads._RECORDING]
    assert events_of(redirecting_portal, client) == []


@postgresql_only
@pytest.mark.no_db_isolation
def test_a_head_request_records_nothing(redirecting_portal, statements):
    client = account_client(redirecting_portal, ROLE_ORGANIZATION)
    assert client.head(ORGANIZATIONS_POSTER, headers={"User-Agent": AGENT}).status_code == 302
    assert statements == [downloads._MATERIAL]
    assert events_of(redirecting_portal, client) == []


@pytest.fixture
def rules_in_sql(monkeypatch):
    """Replace the SQL form of the download rules (the statement is built anew)."""
    def replace(clause):
        monkeypatch.setattr(downloads, "download_allowed_sql", lambda audience: clause)
        downloads._recording_material_query.cache_clear()
        monkeypatch.setattr(downloads, "_RECORDING",
                            DirectStatement(downloads._recording_material_query))

    yield replace
    downloads._recording_material_query.cache_clear()


@postgresql_only
@pytest.mark.no_db_isolation
def test_if_the_statement_recorded_a_download_the_view_refuses_the_event_is_withdrawn(
        redirecting_portal, rules_in_sql, statements, caplog):
    rules_in_sql(true())  # a statement that would let anyone download anything
    client = account_client(redirecting_portal, ROLE_CITIZEN)
    with caplog.at_level(logging.ERROR, logger="portal.tracking.events"):
        answer = client.get(ORGANIZATIONS_POSTER, headers={"User-Agent": AGENT})
    assert answer.status_code == 403
    assert statements == [downloads._RECORDING, events._WITHDRAW]
    assert events_of(redirecting_portal, client) == []
    assert "withdrawn: the portal's rules refused it" in caplog.text


@postgresql_only
@pytest.mark.no_db_isolation
def test_if_the_statement_refused_a_download_the_view_allows_it_is_recorded_once(
        redirecting_portal, rules_in_sql, statements):
    rules_in_sql(false())
    client = account_client(redirecting_portal, ROLE_ORGANIZATION)
    assert client.get(ORGANIZATIONS_POSTER, headers={"User-Agent": AGENT}).status_code == 302
    assert len(events_of(redirecting_portal, client)) == 1
    assert statements == [downloads._RECORDING, events._INSERT]  # the usual INSERT


def test_with_files_served_from_disk_the_lookup_records_nothing_itself(
        client, signed_in, statements):
    """The local storage reads the file after the lookup, and a missing file must leave
    no event: the lookup stays a read, and the event is written once the file is ready."""
    signed_in(ROLE_ORGANIZATION)
    assert not get_storage(client.application).answers_by_redirect
    assert client.get(ORGANIZATIONS_POSTER).status_code == 200
    assert statements[0] is downloads._MATERIAL and downloads._RECORDING not in statements


@postgresql_only
@pytest.mark.no_db_isolation
@pytest.mark.parametrize("error", ["storage", "botocore"])
def test_if_the_answer_fails_after_the_statement_recorded_it_the_event_is_withdrawn(
        redirecting_portal, statements, monkeypatch, caplog, error):
    """Signing a redirect is local and should not fail; if it ever did, the download did
    not happen and its event goes. A botocore error is the storage's too: a 503."""
    from botocore.exceptions import ParamValidationError

    from portal.storage import S3Storage, StorageError

    def fail(*args, **kwargs):
        if error == "storage":
            raise StorageError("the storage failed")
        raise ParamValidationError(report="a parameter botocore refuses")

    if error == "storage":
        monkeypatch.setattr(S3Storage, "_presigned", fail)
    else:  # (a new app: its storage has no URL signed before)
        monkeypatch.setattr(get_storage(redirecting_portal).client, "generate_presigned_url",
                            fail)
    client = account_client(redirecting_portal, ROLE_ORGANIZATION)
    with caplog.at_level(logging.ERROR, logger="portal.tracking.events"):
        answer = client.get(ORGANIZATIONS_POSTER, headers={"User-Agent": AGENT})
    assert answer.status_code == 503
    assert statements == [downloads._RECORDING, events._WITHDRAW]
    assert events_of(redirecting_portal, client) == []
    assert "withdrawn: its answer failed" in caplog.text


@postgresql_only
@pytest.mark.no_db_isolation
def test_without_credentials_to_sign_with_nothing_is_recorded(redirecting_portal, statements,
                                                              monkeypatch):
    """Credentials are had (or refreshed) before the lookup: when there are none, the
    answer is a 503 and no statement ran."""
    client = account_client(redirecting_portal, ROLE_ORGANIZATION)
    storage = get_storage(redirecting_portal)
    monkeypatch.setattr(storage._session, "get_credentials", lambda: None)
    assert client.get(ORGANIZATIONS_POSTER, headers={"User-Agent": AGENT}).status_code == 503
    assert statements == [] and events_of(redirecting_portal, client) == []


@postgresql_only
@pytest.mark.no_db_isolation
def test_a_database_error_in_the_statement_is_a_503_with_nothing_recorded(
        redirecting_portal, monkeypatch):
    from sqlalchemy import text

    monkeypatch.setattr(downloads, "_RECORDING", DirectStatement(
        lambda: text("INSERT INTO download_event (id) VALUES (NULL)")))
    client = account_client(redirecting_portal, ROLE_ORGANIZATION)
    answer = client.get(ORGANIZATIONS_POSTER, headers={"User-Agent": AGENT})
    assert answer.status_code == 503 and "Location" not in answer.headers
    assert events_of(redirecting_portal, client) == []


@postgresql_only
@pytest.mark.no_db_isolation
def test_staff_download_professional_materials_in_one_statement(redirecting_portal,
                                                                 statements):
    client = account_client(redirecting_portal, ROLE_STAFF)
    assert client.get(PROFESSIONALS_GUIDE, headers={"User-Agent": AGENT}).status_code == 302
    assert statements == [downloads._RECORDING]
    [event] = events_of(redirecting_portal, client)
    assert event.account_type == ROLE_STAFF


@postgresql_only
@pytest.mark.no_db_isolation
def test_visitors_are_sent_to_sign_in_after_a_plain_lookup(redirecting_portal, statements):
    answer = redirecting_portal.test_client().get(ORGANIZATIONS_POSTER,
                                                  headers={"User-Agent": AGENT})
    assert answer.status_code == 302 and "/account/login" in answer.headers["Location"]
    assert statements == [downloads._MATERIAL]


@postgresql_only
@pytest.mark.no_db_isolation
def test_a_deleted_accounts_session_records_nothing(redirecting_portal, statements):
    client = account_client(redirecting_portal, ROLE_ORGANIZATION)
    with redirecting_portal.app_context():
        db.session.delete(db.session.get(Account, client.account_id))
        db.session.commit()
    answer = client.get(ORGANIZATIONS_POSTER, headers={"User-Agent": AGENT})
    assert answer.status_code == 302 and "/account/login" in answer.headers["Location"]
    assert statements == [downloads._RECORDING]  # no event, so nothing to withdraw
    assert events_of(redirecting_portal, client) == []


@postgresql_only
@pytest.mark.no_db_isolation
def test_a_stale_session_with_a_valid_remember_cookie_is_recorded_once(redirecting_portal,
                                                                      statements):
    """The one case where the statement says no and the view yes: the session is stale,
    but the remember-me cookie names the account's current session id, so Flask-Login
    signs the account in again. The usual INSERT then records the download, once."""
    from flask_login.utils import encode_cookie

    client = account_client(redirecting_portal, ROLE_ORGANIZATION)
    with redirecting_portal.app_context():
        account = db.session.get(Account, client.account_id)
        account.session_version += 1
        db.session.commit()
        with redirecting_portal.test_request_context():
            remember = encode_cookie(account.get_id())
    client.set_cookie(redirecting_portal.config.get("REMEMBER_COOKIE_NAME", "remember_token"),
                      remember)
    answer = client.get(ORGANIZATIONS_POSTER, headers={"User-Agent": AGENT})
    assert answer.status_code == 302 and "/account/login" not in answer.headers["Location"]
    assert statements[:2] == [downloads._RECORDING, events._INSERT]
    assert len(events_of(redirecting_portal, client)) == 1
