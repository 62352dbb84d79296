"""Two simultaneous requests for the same new document render it once.

These tests commit for real (no rolled-back transaction): each thread has its own
database connection, as two workers would. They clean up what they made.
"""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import delete, select

from portal.extensions import db
from portal.models import Account, CobrandProfile, Material, PersonalizedDocument
from portal.personalize import documents as documents_module
from portal.personalize.documents import document_for, ensure_ready
from portal.personalize.services import cobrand_data, save_profile
from tests.conftest import PASSWORD

pytestmark = pytest.mark.no_db_isolation


@pytest.fixture
def app(production_like_app):
    return production_like_app


@pytest.fixture
def committed_organization(app):
    from portal.auth.services import register

    with app.app_context():
        account, _ = register("organization", f"concurrent{time.time_ns()}@example.org",
                              PASSWORD, "Organisme pressé", organization_type="community",
                              region="13")
        save_profile(account, {"organization_name": "Organisme pressé"}, None)
        account_id = account.id
    yield account_id
    with app.app_context():
        db.session.execute(delete(PersonalizedDocument).where(
            PersonalizedDocument.account_id == account_id))
        db.session.execute(delete(CobrandProfile).where(CobrandProfile.account_id == account_id))
        db.session.execute(delete(Account).where(Account.id == account_id))
        db.session.commit()


def test_simultaneous_requests_render_once(app, committed_organization, monkeypatch):
    renders = []
    real_render = documents_module.run_job

    def slow_counting_render(*args, **kwargs):
        renders.append(threading.get_ident())
        time.sleep(0.4)  # widen the window in which the second request arrives
        return real_render(*args, **kwargs)

    monkeypatch.setattr(documents_module, "run_job", slow_counting_render)
    results, errors = [], []
    barrier = threading.Barrier(2)

    def request_document():
        try:
            with app.app_context():
                account = db.session.get(Account, committed_organization)
                poster = db.session.scalars(select(Material).where(
                    Material.slug == "affiche", Material.language == "fr")).one()
                profile = db.session.scalars(select(CobrandProfile).where(
                    CobrandProfile.account_id == account.id)).one()
                barrier.wait()
                document = ensure_ready(document_for(account, poster, cobrand_data(profile, "fr")))
                results.append((document.id, document.storage_key, document.status))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=request_document) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(renders) == 1
    assert len(results) == 2 and results[0] == results[1]
    assert results[0][2] == "ready"
    with app.app_context():
        count = len(db.session.scalars(select(PersonalizedDocument).where(
            PersonalizedDocument.account_id == committed_organization)).all())
    assert count == 1
