"""Orders of printed kits: the basket and its limits, the Québec address, confirmation
(two tabs, double clicks), cancellation, staff's queue (approve with fewer copies, reject,
ship; two staff at once), the printer's CSV, the ordering switch, the mails, the privacy
of the account's orders and the printed copies counted apart from downloads."""
from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEntry, Campaign, Kit, Material, PrintOrder, PrintOrderLine
from portal.orders import services as orders
from portal.orders.services import OrderError
from tests.conftest import page_text

NOW = datetime(2027, 2, 15, 15, tzinfo=UTC)  # a few weeks before the 2027 week


@pytest.fixture(autouse=True)
def february(app, monkeypatch):
    monkeypatch.setitem(app.config, "FROZEN_NOW", NOW)


def material(slug="affiche", language="fr") -> Material:
    return db.session.scalars(select(Material).join(Kit).where(
        Kit.slug == "trousse-organismes", Material.slug == slug,
        Material.language == language)).one()


def campaign() -> Campaign:
    return db.session.scalars(select(Campaign).where(Campaign.year == 2027)).one()


def english(client):
    client.get("/?lang=en")  # the session's and the account's language


def basket_data(basket, **quantities) -> dict:
    data = {"order": str(basket.id), "revision": str(basket.revision)}
    data.update({f"quantity_{material(*key.split('_')).id}": str(value)
                 for key, value in quantities.items()})
    return data


ADDRESS = {"recipient": "Julie Gagnon", "street": "1234, rue Saint-Denis",
           "city": "Montréal", "postal_code": "h2x 3k2"}


def submitted_order(account, copies=50, slug="affiche", language="fr") -> PrintOrder:
    """An order confirmed through the services, as the pages do."""
    basket = orders.get_basket(account, campaign())
    orders.set_quantities(account, basket, basket.revision, {material(slug, language).id: copies})
    orders.set_address(basket, basket.revision, **ADDRESS)
    return orders.confirm(account, basket, basket.revision)


def shipped_order(account, staff, copies=50, approved=None, day=date(2027, 2, 15)):
    order = submitted_order(account, copies)
    line = order.lines[0]
    orders.approve(order, order.revision, {line.id: approved or copies}, staff)
    return orders.mark_shipped(order, order.revision, day, staff)


# --- Québec postal codes ----------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("h2x3k2", "H2X 3K2"), ("H2X 3K2", "H2X 3K2"), (" g1r-4p5 ", "G1R 4P5"),
    ("J8T 3Z2", "J8T 3Z2"), ("h2x  3k2", "H2X 3K2"),
])
def test_quebec_postal_codes_are_normalized(raw, expected):
    assert orders.normalize_postal_code(raw) == expected


@pytest.mark.parametrize("raw, code", [
    ("K1A 0B1", "postal_code_outside_quebec"), ("M5V 3L9", "postal_code_outside_quebec"),
    ("T2P 1J9", "postal_code_outside_quebec"), ("A1A 1A1", "postal_code_outside_quebec"),
    ("H2X 3K", "postal_code_format"), ("12345", "postal_code_format"),
    ("H2X 3K22", "postal_code_format"), ("HDX 3K2", "postal_code_format"),
    ("H2O 3K2", "postal_code_format"), ("H2X 3U2", "postal_code_format"),
    ("W2X 3K2", "postal_code_format"), ("Z2X 3K2", "postal_code_format"),
    ("", "postal_code_format"), (None, "postal_code_format"), ("H2X 3K2\n", "postal_code_format"),
])
def test_bad_postal_codes_are_refused(raw, code):
    if raw == "H2X 3K2\n":
        assert orders.normalize_postal_code(raw) == "H2X 3K2"  # whitespace is not a problem
        return
    with pytest.raises(OrderError) as caught:
        orders.normalize_postal_code(raw)
    assert caught.value.code == code


def test_an_address_outside_quebec_gets_a_clear_answer(client, login, organization):
    login(organization)
    english(client)
    basket = orders.get_basket(organization, campaign())
    client.post("/orders/basket", data=basket_data(basket, affiche_fr=10))
    db.session.refresh(basket)
    response = client.post("/orders/basket/address", data={
        **ADDRESS, "postal_code": "K1A 0B1", "order": basket.id, "revision": basket.revision})
    assert response.status_code == 400
    text = page_text(response)
    assert "outside Québec" in text and 'class="error-summary"' in text
    assert 'aria-invalid="true"' in text
    db.session.refresh(basket)
    assert basket.postal_code is None and basket.status == "basket"


# --- What may be ordered, and how many ----------------------------------------------

def test_only_public_orderable_materials_are_offered(organization):
    offered = {(m.slug, m.language) for m in orders.orderable_materials(campaign())}
    assert offered == {("affiche", "fr"), ("affiche", "en"), ("depliant", "fr"),
                       ("depliant", "en")}
    poster = material()
    poster.withdrawn_at = datetime(2027, 2, 1)
    db.session.commit()
    assert ("affiche", "fr") not in {(m.slug, m.language)
                                      for m in orders.orderable_materials(campaign())}
    basket = orders.get_basket(organization, campaign())
    with pytest.raises(OrderError) as caught:
        orders.set_quantities(organization, basket, basket.revision, {poster.id: 5})
    assert caught.value.code == "not_orderable"
    image = db.session.scalars(select(Material).where(
        Material.slug == "image-reseaux-sociaux")).first()
    with pytest.raises(OrderError):
        orders.set_quantities(organization, basket, basket.revision, {image.id: 5})


def test_per_order_limit(organization):
    basket = orders.get_basket(organization, campaign())
    poster = material()
    with pytest.raises(OrderError) as caught:
        orders.set_quantities(organization, basket, basket.revision, {poster.id: 101})
    assert caught.value.code == "over_order_limit" and caught.value.details["limit"] == 100
    with pytest.raises(OrderError) as caught:
        orders.set_quantities(organization, basket, basket.revision, {poster.id: -1})
    assert caught.value.code == "quantity_negative"
    orders.set_quantities(organization, basket, basket.revision, {poster.id: 100})
    assert [(line.material_id, line.quantity) for line in basket.lines] == [(poster.id, 100)]
    orders.set_quantities(organization, basket, basket.revision, {poster.id: 0})
    assert basket.lines == []


def test_per_campaign_limit_counts_submitted_approved_and_shipped_orders(organization, staff):
    poster = material()
    rejected = submitted_order(organization, 100)
    orders.reject(rejected, rejected.revision, "Plus de stock", staff)  # not counted
    cancelled = submitted_order(organization, 100)
    orders.cancel(organization, cancelled)                    # not counted
    shipped_order(organization, staff, 100)                    # 100
    approved = submitted_order(organization, 100)
    orders.approve(approved, approved.revision, {approved.lines[0].id: 80}, staff)  # 80
    submitted_order(organization, 60)                          # 60 asked for
    assert orders.already_ordered(organization.id, campaign().id)[poster.id] == 240
    basket = orders.get_basket(organization, campaign())
    with pytest.raises(OrderError) as caught:
        orders.set_quantities(organization, basket, basket.revision, {poster.id: 61})
    assert caught.value.code == "over_campaign_limit" and caught.value.details["left"] == 60
    orders.set_quantities(organization, basket, basket.revision, {poster.id: 60})
    # Other organizations have their own allowance; other materials their own.
    assert orders.allowances(organization, campaign())[material("affiche", "en").id].most == 100


@pytest.mark.parametrize("value, message", [
    ("-5", "cannot be negative"), ("abc", "Not a valid integer"), ("101", "Enter at most 100 copies: the limit per order"),
    ("2.5", "Not a valid integer"),
])
def test_bad_quantities_on_the_page_change_nothing(client, login, organization, value, message):
    login(organization)
    english(client)
    basket = orders.get_basket(organization, campaign())
    orders.set_quantities(organization, basket, basket.revision, {material().id: 10})
    data = basket_data(basket)
    data[f"quantity_{material().id}"] = value
    data[f"quantity_{material('depliant', 'fr').id}"] = "20"
    response = client.post("/orders/basket", data=data)
    assert response.status_code == 400
    text = page_text(response)
    assert 'class="error-summary"' in text and message.lower() in text.lower()
    db.session.refresh(basket)
    assert [(line.material_id, line.quantity) for line in basket.lines] == [(material().id, 10)]


def test_a_limit_error_beside_its_field_names_the_limit_once(client, login, organization):
    login(organization)
    basket = orders.get_basket(organization, campaign())
    data = basket_data(basket, affiche_fr=101)
    response = client.post("/orders/basket", data=data)  # French, the default
    assert response.status_code == 400
    text = page_text(response)
    poster = material()
    error = re.search(rf'id="quantity_{poster.id}-error">([^<]*)<', text).group(1)
    assert error == "Entrez au plus 100 exemplaires\u00a0: la limite par commande."
    assert poster.title not in error  # the field's label already names it
    # Each title is marked with its own language in the labels (English titles too).
    page = client.get("/orders/basket").get_data(as_text=True)
    assert f'<span lang="en">{material("affiche", "en").title}</span>'.replace("'", "&#39;") \
        in page


def test_a_withdrawn_material_leaves_the_basket_when_it_is_saved(client, login, organization):
    login(organization)
    english(client)
    basket = orders.get_basket(organization, campaign())
    orders.set_quantities(organization, basket, basket.revision,
                          {material().id: 10, material("depliant", "fr").id: 20})
    orders.set_address(basket, basket.revision, **ADDRESS)
    poster = material()
    poster.withdrawn_at = datetime(2027, 2, 1)
    db.session.commit()
    review = page_text(client.get("/orders/basket/review"))
    assert "can no longer be ordered: save the basket again" in review
    page = page_text(client.get("/orders/basket"))
    assert "saving the basket takes them out" in page and poster.title in page
    db.session.refresh(basket)
    response = client.post("/orders/basket", data=basket_data(basket, depliant_fr=20))
    assert response.status_code == 302
    db.session.refresh(basket)
    assert [(line.material_id, line.quantity) for line in basket.lines] == [
        (material("depliant", "fr").id, 20)]
    review = client.get("/orders/basket/review")
    assert "no longer be ordered" not in page_text(review)
    assert "Confirm the order" in page_text(review)


def test_copies_left_read_well_in_french(organization):
    from flask_babel import force_locale

    from portal.orders.messages import copies_left

    with force_locale("fr_CA"):
        assert copies_left(0) == "Il reste 0 exemplaire pour votre organisme dans cette campagne."
        assert copies_left(1500) == \
            "Il reste 1\u00a0500 exemplaires pour votre organisme dans cette campagne."


# --- The basket: one per account, two tabs ------------------------------------------

def test_one_basket_per_account_even_when_two_requests_make_it(organization, monkeypatch):
    first = orders.get_basket(organization, campaign())
    assert orders.get_basket(organization, campaign()).id == first.id
    # A second request that did not see the first basket yet: the unique basket_of refuses
    # its INSERT, and it reads the first one.
    real = orders.find_basket
    calls = []

    def not_yet(account):
        calls.append(1)
        return None if len(calls) == 1 else real(account)

    monkeypatch.setattr(orders, "find_basket", not_yet)
    assert orders.get_basket(organization, campaign()).id == first.id
    assert db.session.scalar(select(func.count()).select_from(PrintOrder).where(
        PrintOrder.account_id == organization.id)) == 1


def test_a_basket_edited_in_another_tab_must_be_reviewed_again(client, login, organization):
    login(organization)
    english(client)
    basket = orders.get_basket(organization, campaign())
    client.post("/orders/basket", data=basket_data(basket, affiche_fr=50))
    db.session.refresh(basket)
    client.post("/orders/basket/address", data={**ADDRESS, "order": basket.id,
                                                "revision": basket.revision})
    db.session.refresh(basket)
    review = client.get("/orders/basket/review")
    assert review.status_code == 200
    shown = basket.revision
    assert f'name="revision" type="hidden" value="{shown}"' in review.get_data(as_text=True)
    # Tab B changes the copies...
    response = client.post("/orders/basket", data={**basket_data(basket, affiche_fr=80)})
    assert response.status_code == 302
    # ...tab A confirms what it showed: refused, nothing ordered, the new basket shown.
    response = client.post("/orders/basket/confirm", data={"order": basket.id,
                                                           "revision": shown})
    assert response.status_code == 409
    assert "changed in another tab" in page_text(response)
    assert "80" in page_text(response)
    db.session.refresh(basket)
    assert basket.status == "basket" and basket.lines[0].quantity == 80
    # A stale edit is refused the same way and changes nothing.
    response = client.post("/orders/basket", data={"order": basket.id, "revision": shown,
                                                   f"quantity_{material().id}": "5"})
    assert response.status_code == 409 and "changed in another tab" in page_text(response)
    db.session.refresh(basket)
    assert basket.lines[0].quantity == 80
    # Confirmed twice (a double click): one order.
    data = {"order": basket.id, "revision": basket.revision}
    first = client.post("/orders/basket/confirm", data=data)
    assert first.status_code == 302 and f"/orders/{basket.id}" in first.headers["Location"]
    second = client.post("/orders/basket/confirm", data=data)
    assert second.status_code == 302 and second.headers["Location"].endswith("/orders/")
    assert "already confirmed" in page_text(client.get("/orders/"))
    assert db.session.scalar(select(func.count()).select_from(PrintOrder).where(
        PrintOrder.account_id == organization.id, PrintOrder.status == "submitted")) == 1


def test_confirm_with_a_stale_revision_in_the_service(organization):
    basket = orders.get_basket(organization, campaign())
    orders.set_quantities(organization, basket, basket.revision, {material().id: 5})
    orders.set_address(basket, basket.revision, **ADDRESS)
    stale = basket.revision - 1
    with pytest.raises(OrderError) as caught:
        orders.confirm(organization, basket, stale)
    assert caught.value.code == "changed" and caught.value.details["status"] == "basket"
    order = orders.confirm(organization, basket, basket.revision)
    assert order.status == "submitted" and order.basket_of is None
    assert (order.organization_name, order.region, order.organization_type) == (
        organization.display_name, "06", "community")
    # The next visit starts a new, empty basket.
    assert orders.get_basket(organization, campaign()).id != order.id


def test_nothing_is_confirmed_without_copies_or_an_address(organization):
    basket = orders.get_basket(organization, campaign())
    codes = {p.code for p in orders.review_problems(organization, basket)}
    assert codes == {"empty", "address_missing"}
    with pytest.raises(OrderError):
        orders.confirm(organization, basket, basket.revision)


# --- The whole journey, by pages, with the mails ------------------------------------

def test_order_approved_with_fewer_copies_then_shipped(client, login, organization, staff,
                                                       make_account, outbox):
    outbox.clear()  # waits for mails earlier tests handed to their threads
    login(organization)
    english(client)
    page = page_text(client.get("/orders/basket"))
    assert "At most 100 copies per order." in page and "300 copies left" in page
    basket = orders.find_basket(organization)
    response = client.post("/orders/basket", data=basket_data(basket, affiche_fr=50,
                                                              depliant_fr=0))
    assert response.status_code == 302 and response.headers["Location"].endswith("/address")
    db.session.refresh(basket)
    response = client.post("/orders/basket/address", data={
        **ADDRESS, "order": basket.id, "revision": basket.revision})
    assert response.status_code == 302 and response.headers["Location"].endswith("/review")
    review = page_text(client.get("/orders/basket/review"))
    assert "H2X 3K2" in review and "Confirm the order" in review
    db.session.refresh(basket)
    response = client.post("/orders/basket/confirm", data={"order": basket.id,
                                                           "revision": basket.revision})
    assert response.status_code == 302
    order = db.session.get(PrintOrder, basket.id)
    assert order.status == "submitted"
    assert len(outbox) == 1 and outbox[0]["To"] == organization.email
    receipt = outbox[0].get_body(("plain",)).get_content()
    assert f"order no. {order.id}" in receipt and "50 ×" in receipt and "H2X 3K2" in receipt
    history = page_text(client.get("/orders/"))
    assert "Sent, waiting for the ministry" in history

    # Staff: the queue, then approve 40 of the 50.
    login_staff(client, staff)
    english(client)
    queue = page_text(client.get("/staff/orders"))
    assert f"Order no. {order.id}" in queue and organization.display_name in queue
    page = page_text(client.get(f"/staff/orders/{order.id}"))
    assert "Julie Gagnon" in page and "H2X 3K2" in page
    line = order.lines[0]
    response = client.post(f"/staff/orders/{order.id}/approve", data={
        "order": order.id, "revision": order.revision, f"line_{line.id}": "40",
        "reason": "Stock limité : 40 par organisme."})
    assert response.status_code == 302
    db.session.refresh(order)
    assert order.status == "approved" and order.lines[0].approved_quantity == 40
    assert order.decided_by_id == staff.id
    approved_mail = outbox[-1].get_body(("plain",)).get_content()
    assert "is approved" in outbox[-1]["Subject"]
    assert "40 ×" in approved_mail and "(50 asked for)" in approved_mail
    assert "Stock limité" in approved_mail
    # Ship it on a date before the order: refused; in the future: refused; today: done.
    for day, status in (("2027-02-14", 400), ("2027-02-16", 400), ("2027-02-15", 302)):
        response = client.post(f"/staff/orders/{order.id}/ship", data={
            "order": order.id, "revision": order.revision, "shipped_on": day})
        assert response.status_code == status, day
    db.session.refresh(order)
    assert order.status == "shipped" and order.shipped_on == date(2027, 2, 15)
    assert "on their way" in outbox[-1]["Subject"]
    assert "February 15, 2027" in outbox[-1].get_body(("plain",)).get_content()
    actions = db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.target == f"order:{order.id}")).all()
    assert sorted(actions) == ["order_approved", "order_shipped"]
    assert len(outbox) == 3


def login_staff(client, staff):
    """Sign in as staff on a client where an organization was signed in."""
    from tests.conftest import PASSWORD, totp_code

    client.post("/account/logout")
    response = client.post("/account/login", data={"email": staff.email, "password": PASSWORD})
    assert response.status_code == 302
    staff.totp_last_step = None
    db.session.commit()
    assert client.post("/account/two-factor", data={"code": totp_code()}).status_code == 302


def test_rejection_needs_a_reason_and_is_mailed(client, login, organization, staff, outbox):
    outbox.clear()
    order = submitted_order(organization)
    login(staff)
    english(client)
    response = client.post(f"/staff/orders/{order.id}/reject", data={
        "order": order.id, "revision": order.revision, "reason": ""})
    assert response.status_code == 400 and "Give the reason" in page_text(response)
    with pytest.raises(OrderError) as caught:
        orders.reject(order, order.revision, " ", staff)
    assert caught.value.code == "reason_required"
    response = client.post(f"/staff/orders/{order.id}/reject", data={
        "order": order.id, "revision": order.revision, "reason": "Hors de notre mandat."})
    assert response.status_code == 302
    db.session.refresh(order)
    assert order.status == "rejected" and order.decision_reason == "Hors de notre mandat."
    assert "Hors de notre mandat." in outbox[-1].get_body(("plain",)).get_content()
    # A rejected order cannot be shipped.
    with pytest.raises(OrderError) as caught:
        orders.mark_shipped(order, order.revision, date(2027, 2, 15), staff)
    assert caught.value.code == "already_decided"


@pytest.mark.parametrize("approved, code", [(0, "approved_nothing"),
                                            (51, "approved_out_of_range"),
                                            (-1, "approved_out_of_range")])
def test_approval_quantities_are_checked(organization, staff, approved, code):
    order = submitted_order(organization, 50)
    with pytest.raises(OrderError) as caught:
        orders.approve(order, order.revision, {order.lines[0].id: approved}, staff)
    assert caught.value.code == code
    db.session.refresh(order)
    assert order.status == "submitted" and order.lines[0].approved_quantity is None


def test_approval_form_refuses_more_than_asked(client, login, organization, staff):
    order = submitted_order(organization, 50)
    login(staff)
    english(client)
    line = order.lines[0]
    for value in ("51", "-2", "", "x"):
        response = client.post(f"/staff/orders/{order.id}/approve", data={
            "order": order.id, "revision": order.revision, f"line_{line.id}": value})
        assert response.status_code == 400, value
        assert 'class="error-summary"' in page_text(response)
    response = client.post(f"/staff/orders/{order.id}/approve", data={
        "order": order.id, "revision": order.revision, f"line_{line.id}": "0"})
    assert response.status_code == 400 and "Approve at least one copy" in page_text(response)
    db.session.refresh(order)
    assert order.status == "submitted"


def test_two_staff_deciding_on_the_same_order(client, login, organization, staff, make_account,
                                              outbox):
    """Both pages showed the order at the same revision: the first decision stands, the
    second is told, and the organization gets one mail."""
    order = submitted_order(organization, 50)
    shown = order.revision
    other = make_account("staff")
    orders.approve(order, shown, {}, other)  # the other staff member, a moment before
    login(staff)
    english(client)
    outbox.clear()
    response = client.post(f"/staff/orders/{order.id}/reject", data={
        "order": order.id, "revision": shown, "reason": "Plus de stock."})
    assert response.status_code == 302
    page = page_text(client.get(response.headers["Location"]))
    assert "Someone else already decided on this order" in page
    line = order.lines[0]
    response = client.post(f"/staff/orders/{order.id}/approve", data={
        "order": order.id, "revision": shown, f"line_{line.id}": "10"})
    assert "Someone else already decided" in page_text(client.get(response.headers["Location"]))
    db.session.refresh(order)
    assert order.status == "approved" and order.decided_by_id == other.id
    assert order.lines[0].approved_quantity == 50 and order.decision_reason is None
    assert len(outbox) == 0
    assert not db.session.scalars(select(AuditEntry).where(
        AuditEntry.target == f"order:{order.id}")).all()


def test_cancel_before_the_decision_only(client, login, organization, staff, outbox):
    outbox.clear()
    order = submitted_order(organization)
    login(organization)
    english(client)
    response = client.post(f"/orders/{order.id}/cancel", data={
        "order": order.id, "revision": order.revision})
    assert response.status_code == 302
    db.session.refresh(order)
    assert order.status == "cancelled"
    assert "cancelled" in outbox[-1]["Subject"]
    # Staff who still had the page open are told.
    with pytest.raises(OrderError) as caught:
        orders.approve(order, order.revision - 1, {}, staff)
    assert caught.value.code == "already_decided" and caught.value.details["status"] == "cancelled"
    second = submitted_order(organization)
    orders.approve(second, second.revision, {}, staff)
    response = client.post(f"/orders/{second.id}/cancel", data={
        "order": second.id, "revision": second.revision})
    assert response.status_code == 302
    assert "can no longer be cancelled" in page_text(client.get(response.headers["Location"]))
    db.session.refresh(second)
    assert second.status == "approved"


# --- Who may see and order ----------------------------------------------------------

def test_an_order_is_seen_only_by_its_organization_and_staff(client, login, organization,
                                                             make_account, staff):
    order = submitted_order(organization)
    other = make_account("organization")
    login(other)
    assert client.get(f"/orders/{order.id}").status_code == 404
    assert client.post(f"/orders/{order.id}/cancel", data={
        "order": order.id, "revision": order.revision}).status_code == 404
    # Another organization cannot fill or confirm this basket by naming it.
    basket = orders.get_basket(organization, campaign())
    response = client.post("/orders/basket/confirm", data={"order": basket.id,
                                                           "revision": basket.revision})
    assert response.status_code == 404
    login_staff(client, staff)
    assert client.get(f"/orders/{order.id}").status_code == 200
    assert client.get("/orders/basket").status_code == 200
    assert client.post("/orders/basket", data={}).status_code == 403


@pytest.mark.parametrize("kind, options, expected", [
    ("organization", {"approval": "pending"}, "or order printed kits"),
    ("organization", {"verified": False}, "confirm"),
    ("citizen", {}, "Access denied"),
])
def test_others_are_told_why_they_cannot_order(client, login, make_account, kind, options,
                                                expected):
    login(make_account(kind, **options))
    english(client)
    for path in ("/orders/", "/orders/basket"):
        response = client.get(path)
        assert response.status_code == 403
        assert expected.lower() in page_text(response).lower()


def test_the_kit_page_and_the_menu_lead_to_ordering(client, login, organization):
    login(organization)
    english(client)
    page = page_text(client.get("/kits/trousse-organismes"))
    assert page.count("Order printed copies") == 4
    assert f'href="/orders/basket#material-{material().id}"' in page
    assert 'href="/orders/"' in page_text(client.get("/account/"))


# --- The switch ---------------------------------------------------------------------

CAMPAIGN_FORM = {"year": "2027", "starts_on": "2027-03-01", "ends_on": "2027-03-07",
                 "national_day": "2027-03-04"}


def test_staff_close_ordering_with_a_message_in_each_language(client, login, organization,
                                                               staff, make_account):
    login(staff)
    english(client)
    c = campaign()
    response = client.post(f"/staff/campaigns/{c.id}", data={**CAMPAIGN_FORM,
                                                             "ordering_closed": "y"})
    assert response.status_code == 400 and "Write the message" in page_text(response)
    response = client.post(f"/staff/campaigns/{c.id}", data={
        **CAMPAIGN_FORM, "ordering_closed": "y",
        "ordering_message_fr": "Stock épuisé : de nouvelles affiches arrivent en mars.",
        "ordering_message_en": "Out of stock: new posters arrive in March."})
    assert response.status_code == 302
    db.session.refresh(c)
    assert c.ordering_open is False
    edit = page_text(client.get(f"/staff/campaigns/{c.id}"))
    assert re.search(r'<input[^>]*checked[^>]*name="ordering_closed"', edit)
    assert "Out of stock: new posters arrive in March." in edit

    login(organization)
    client.get("/?lang=en")
    page = page_text(client.get("/orders/basket"))
    assert "Out of stock: new posters arrive in March." in page
    assert 'action="/orders/basket"' not in page
    french = page_text(client.get("/orders/basket?lang=fr"))
    assert "Stock épuisé : de nouvelles affiches arrivent en mars." in french
    client.get("/?lang=en")
    response = client.post("/orders/basket", data={"order": "1", "revision": "0"})
    assert response.status_code in (409, 400)
    with pytest.raises(OrderError) as caught:
        orders.set_quantities(organization, orders.get_basket(organization, c), 0,
                              {material().id: 5})
    assert caught.value.code == "ordering_closed"
    # Re-opened: the basket works again.
    login_staff(client, staff)
    assert client.post(f"/staff/campaigns/{c.id}", data=CAMPAIGN_FORM).status_code == 302
    db.session.refresh(c)
    assert c.ordering_open is True


def test_a_basket_filled_before_closing_cannot_be_confirmed(organization):
    c = campaign()
    basket = orders.get_basket(organization, c)
    orders.set_quantities(organization, basket, basket.revision, {material().id: 5})
    orders.set_address(basket, basket.revision, **ADDRESS)
    c.ordering_open = False
    c.ordering_message_en = "Budget spent."
    db.session.commit()
    with pytest.raises(OrderError) as caught:
        orders.confirm(organization, basket, basket.revision)
    assert caught.value.code == "ordering_closed"
    assert basket.status == "basket"


# --- The printer's CSV --------------------------------------------------------------

def test_printer_export_lists_approved_orders_not_shipped(client, login, organization, staff,
                                                          make_account):
    approved = submitted_order(organization, 30)
    orders.approve(approved, approved.revision, {}, staff)
    other = make_account("organization", display_name="=HYPERLINK(\"http://x\")", region="03")
    tricky = submitted_order(other, 20)
    orders.approve(tricky, tricky.revision, {}, staff)
    submitted_order(make_account("organization"), 10)          # not decided: not exported
    shipped_order(make_account("organization"), staff, 5)     # shipped: not exported
    login(staff)
    response = client.get("/staff/orders/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["order", "submitted_on", "organization"]
    body = {int(row[0]): row for row in rows[1:]}
    assert set(body) == {approved.id, tricky.id}
    assert body[approved.id][5:8] == ["Montréal", "QC", "H2X 3K2"]
    assert body[approved.id][-1] == "30"
    assert body[tricky.id][2].startswith("'=")
    assert db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.action == "orders_exported")).all() == ["orders_exported"]


# --- Counted apart ------------------------------------------------------------------

def test_printed_copies_are_counted_apart_from_downloads(client, login, app, organization,
                                                         staff, make_account, monkeypatch):
    before = client.get("/api/stats/public").get_json()  # read afresh each time: no cache
    shipped_order(organization, staff, 50)                                  # region 06
    shipped_order(make_account("organization", region="03", organization_type="school"),
                  staff, 70, approved=60)
    not_shipped = submitted_order(make_account("organization", region="03"), 40)
    orders.approve(not_shipped, not_shipped.revision, {}, staff)             # not counted
    data = client.get("/api/stats/public").get_json()
    assert data["printed_copies"] == 110
    assert data["kits_distributed"] == before["kits_distributed"]
    assert data["downloads"] == before["downloads"]
    english(client)
    assert "110 printed copies shipped" in page_text(client.get("/counter"))

    monkeypatch.setitem(app.config, "FROZEN_NOW", datetime(2027, 3, 4, 15, tzinfo=UTC))
    login(staff)
    english(client)
    page = page_text(client.get("/staff/dashboard"))
    assert "110 printed copies shipped." in page
    assert "Printed copies shipped (counted apart)" in page
    section = page.split('id="printed-by-region"')[1].split("</table>")[0]
    assert "06 Montréal" in section and ">50<" in section.replace(" ", "")
    assert "03 Capitale-Nationale" in section and ">60<" in section.replace(" ", "")
    live = page_text(client.get("/staff/dashboard/live"))
    assert "Printed copies shipped (counted apart)" in live
    # The dashboard's filters apply: a region, a kit, days of the week.
    assert "50 printed copies shipped." in page_text(client.get("/staff/dashboard?region=06"))
    other_kit = db.session.scalars(select(Kit).where(Kit.slug != "trousse-organismes")).first()
    assert "0 printed copies shipped." in page_text(
        client.get(f"/staff/dashboard?kit={other_kit.id}"))
    assert "0 printed copies shipped." in page_text(
        client.get("/staff/dashboard?start=2027-03-02&end=2027-03-05"))
    # In the figures' CSV, in rows of their own; kits distributed unchanged.
    rows = list(csv.reader(io.StringIO(client.get("/staff/exports/figures.csv")
                                       .get_data(as_text=True).lstrip("\ufeff"))))
    assert ["printed", "printed_copies", "", "110"] in rows
    assert ["printed_region", "printed_copies", "03", "60"] in rows
    assert ["printed_organization_type", "printed_copies", "school", "60"] in rows
    assert ["printed_day", "printed_copies", "2027-02-15", "110"] in rows
    totals = {row[1]: row[3] for row in rows if row[0] == "totals"}
    assert totals["kits_distributed"] == str(before["kits_distributed"])
    # And a CSV of their own, without names or addresses.
    response = client.get("/staff/exports/printed.csv?region=06")
    printed = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert printed[0] == ["shipped_on", "kit", "material", "language", "region",
                          "organization_type", "copies"]
    assert printed[1:] == [["2027-02-15", "trousse-organismes", "affiche", "fr", "06",
                            "community", "50"]]
    assert organization.display_name not in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "printed_copies_exported")) == 1


# --- Privacy ------------------------------------------------------------------------

def test_the_accounts_data_and_its_deletion(client, login, organization, staff):
    from portal.auth.account_data import delete_account, export_data

    shipped = shipped_order(organization, staff, 50)
    pending = submitted_order(organization, 20)
    basket = orders.get_basket(organization, campaign())
    orders.set_quantities(organization, basket, basket.revision, {material().id: 3})
    exported = export_data(organization)["printed_kit_orders"]
    assert [o["id"] for o in exported] == [shipped.id, pending.id, basket.id]
    assert exported[0]["postal_code"] == "H2X 3K2" and exported[0]["lines"][0]["quantity"] == 50
    assert exported[0]["shipped_on"] == "2027-02-15"

    delete_account(organization)
    assert db.session.get(PrintOrder, basket.id) is None
    assert not db.session.scalars(select(PrintOrderLine).where(
        PrintOrderLine.order_id == basket.id)).all()
    for order_id, status in ((shipped.id, "shipped"), (pending.id, "cancelled")):
        order = db.session.get(PrintOrder, order_id)
        db.session.refresh(order)
        assert order.status == status and order.account_id is None
        assert (order.recipient, order.street, order.city, order.postal_code,
                order.organization_name) == (None, None, None, None, None)
        assert order.region == "06"  # figures keep the region and type, not the person
    from portal.tracking.printed import printed_total

    assert printed_total(campaign()) == 50
