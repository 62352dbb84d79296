"""Orders under real concurrency: two staff members deciding on the same order at the
same instant, two tabs confirming the same basket, a tab editing while another confirms.

These tests commit for real (no rolled-back transaction): each thread has its own
database connection, as two app servers would. They clean up what they made.
"""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import delete, select

from portal.auth.services import create_staff, register
from portal.clock import naive_utc_now
from portal.extensions import db
from portal.models import Account, Campaign, Kit, Material, PrintOrder, PrintOrderLine
from portal.orders import services as orders
from portal.orders.services import OrderError
from tests.conftest import PASSWORD

pytestmark = pytest.mark.no_db_isolation

ADDRESS = {"recipient": "Julie Gagnon", "street": "1234, rue Saint-Denis",
           "city": "Montréal", "postal_code": "H2X 3K2"}


@pytest.fixture
def app(production_like_app):
    return production_like_app


@pytest.fixture
def people(app):
    """A committed, approved organization and two staff members."""
    stamp = time.time_ns()
    with app.app_context():
        organization, _ = register("organization", f"commande{stamp}@example.org", PASSWORD,
                                   "Organisme pressé", organization_type="community",
                                   region="13")
        organization.email_verified_at = naive_utc_now()
        organization.approval = "approved"
        db.session.commit()
        ids = {"organization": organization.id,
               "staff_a": create_staff(f"a{stamp}@example.gouv.qc.ca", PASSWORD).id,
               "staff_b": create_staff(f"b{stamp}@example.gouv.qc.ca", PASSWORD).id}
    yield ids
    with app.app_context():
        order_ids = db.session.scalars(select(PrintOrder.id).where(
            PrintOrder.account_id == ids["organization"])).all()
        db.session.execute(delete(PrintOrderLine).where(PrintOrderLine.order_id.in_(order_ids)))
        db.session.execute(delete(PrintOrder).where(PrintOrder.id.in_(order_ids)))
        db.session.execute(delete(Account).where(Account.id.in_(list(ids.values()))))
        db.session.commit()


def _poster_id() -> int:
    return db.session.scalars(select(Material.id).join(Kit).where(
        Kit.slug == "trousse-organismes", Material.slug == "affiche",
        Material.language == "fr")).one()


def _basket_ready(account_id: int, copies: int = 50) -> tuple[int, int]:
    account = db.session.get(Account, account_id)
    campaign = db.session.scalars(select(Campaign).where(Campaign.year == 2027)).one()
    basket = orders.get_basket(account, campaign)
    orders.set_quantities(account, basket, basket.revision, {_poster_id(): copies})
    orders.set_address(basket, basket.revision, **ADDRESS)
    return basket.id, basket.revision


def at_once(app, *actions):
    """Run each action in its own thread and app context, released together; return
    what each returned or raised."""
    barrier = threading.Barrier(len(actions))
    results = [None] * len(actions)

    def run(index, action):
        try:
            with app.app_context():
                prepared = action[0]()  # reads, before the barrier
                barrier.wait()
                results[index] = ("ok", action[1](prepared))
        except OrderError as exc:
            results[index] = ("refused", exc.code, exc.details.get("status"))
        except Exception as exc:  # reported by the assertions
            results[index] = ("error", repr(exc))

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_two_staff_members_decide_at_once(app, people):
    with app.app_context():
        basket_id, revision = _basket_ready(people["organization"])
        account = db.session.get(Account, people["organization"])
        order = orders.confirm(account, db.session.get(PrintOrder, basket_id), revision)
        shown = order.revision

    def load():
        return db.session.get(PrintOrder, basket_id)

    def approve_as(key, copies):
        def act(order):
            staff = db.session.get(Account, people[key])
            return orders.approve(order, shown, {order.lines[0].id: copies}, staff).status
        return act

    def reject_as(key):
        def act(order):
            staff = db.session.get(Account, people[key])
            return orders.reject(order, shown, "Plus de stock.", staff).status
        return act

    for round_, (first, second) in enumerate([(approve_as("staff_a", 40), approve_as("staff_b", 30)),
                                              (approve_as("staff_a", 5), reject_as("staff_b"))]):
        if round_:  # a fresh order for the second round
            with app.app_context():
                basket_id, revision = _basket_ready(people["organization"], 10)
                account = db.session.get(Account, people["organization"])
                shown = orders.confirm(account, db.session.get(PrintOrder, basket_id),
                                       revision).revision
        results = at_once(app, (load, first), (load, second))
        outcomes = sorted(r[0] for r in results)
        assert outcomes == ["ok", "refused"], results
        refused = next(r for r in results if r[0] == "refused")
        assert refused[1] == "already_decided" and refused[2] in ("approved", "rejected")
        with app.app_context():
            order = db.session.get(PrintOrder, basket_id)
            winner = next(r for r in results if r[0] == "ok")[1]
            assert order.status == winner  # the state is the winner's, whole
            if order.status == "approved":
                assert order.decision_reason is None and order.lines[0].approved_quantity > 0
            else:
                assert order.lines[0].approved_quantity is None


def test_two_tabs_confirm_the_same_basket_at_once(app, people):
    with app.app_context():
        basket_id, revision = _basket_ready(people["organization"])

    def load():
        return db.session.get(PrintOrder, basket_id)

    def confirm(basket):
        account = db.session.get(Account, people["organization"])
        return orders.confirm(account, basket, revision).status

    results = at_once(app, (load, confirm), (load, confirm))
    assert sorted(r[0] for r in results) == ["ok", "refused"], results
    assert next(r for r in results if r[0] == "refused")[1] == "changed"
    with app.app_context():
        made = db.session.scalars(select(PrintOrder).where(
            PrintOrder.account_id == people["organization"])).all()
        assert [(o.id, o.status, o.basket_of) for o in made] == [(basket_id, "submitted", None)]


def test_a_tab_edits_while_another_confirms(app, people):
    with app.app_context():
        basket_id, revision = _basket_ready(people["organization"], 50)
        poster = _poster_id()

    def load():
        return db.session.get(PrintOrder, basket_id)

    def confirm(basket):
        account = db.session.get(Account, people["organization"])
        return orders.confirm(account, basket, revision).status

    def edit(basket):
        account = db.session.get(Account, people["organization"])
        return orders.set_quantities(account, basket, revision, {poster: 80}).status

    results = at_once(app, (load, confirm), (load, edit))
    assert sorted(r[0] for r in results) == ["ok", "refused"], results
    with app.app_context():
        order = db.session.get(PrintOrder, basket_id)
        if results[0][0] == "ok":  # confirmed first: the edit was refused, 50 ordered
            assert order.status == "submitted" and order.lines[0].quantity == 50
            assert results[1][1:] == ("changed", "submitted")
        else:  # edited first: nothing confirmed, the basket holds 80, review again
            assert order.status == "basket" and order.lines[0].quantity == 80
            assert results[0][1:] == ("changed", "basket")
