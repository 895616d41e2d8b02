"""Payment methods, the billing portal, tax ids and invoices (SPEC §8), against the Stripe stand-in."""

from __future__ import annotations

from typing import Any

from act3_billing import runtime
from act3_billing.store.wallets import BillingStore
from tests.support.events import http_event
from tests.support.functions import Reply, invoke
from tests.support.stripe_api import FakeStripe
from tests.support.wallets import Org, new_org


def call(name: str, org: Org, user: str, *, body: Any = ..., key: str | None = None, **params: str) -> Reply:
    headers = {"idempotency-key": key} if key else None
    return invoke(
        "billing_account",
        http_event(name, org_id=org.org_id, user=user, body=body, headers=headers, params=params or None),
    )


def customer(org: Org, money: FakeStripe) -> str:
    reply = call("setup_intent_create", org, org.billing, body={}, key=f"setup-{org.org_id}")
    assert reply.status == 201, reply.body
    found = runtime.payments().customer_id(org.org_id)
    assert found
    return found


def test_a_setup_intent_gives_the_client_its_secret_for_the_orgs_one_customer(
    money: FakeStripe, store: BillingStore
) -> None:
    org = new_org(store)
    first = call("setup_intent_create", org, org.owner, body={}, key="s1")
    again = call("setup_intent_create", org, org.owner, body={}, key="s1")
    other = call("setup_intent_create", org, org.billing, body={}, key="s2")
    assert first.status == 201 and first.body["client_secret"].startswith(first.body["setup_intent_id"])
    assert again.body == first.body and again.headers["idempotent-replayed"] == "true"
    assert other.body["setup_intent_id"] != first.body["setup_intent_id"]
    assert len(money.posts("/v1/customers")) == 1
    (created, *_) = money.posts("/v1/setup_intents")
    assert created.params["usage"] == "off_session" and created.idempotency_key


def test_cards_are_listed_one_is_made_default_and_one_removed(money: FakeStripe, store: BillingStore) -> None:
    org = new_org(store)
    cus = customer(org, money)
    first, second = money.card(cus, last4="4242"), money.card(cus, last4="1881")
    reply = call("payment_method_default", org, org.billing, key="d1", payment_method_id=second["id"])
    assert reply.status == 200 and reply.body["default"] is True
    update = money.posts(f"/v1/customers/{cus}")[-1]
    assert update.params["invoice_settings"]["default_payment_method"] == second["id"]
    listed = call("payment_methods_list", org, org.owner).body["payment_methods"]
    assert {(p["last4"], p["default"]) for p in listed} == {("4242", False), ("1881", True)}
    assert call("payment_method_delete", org, org.owner, payment_method_id=first["id"]).status == 204
    assert money.posts(f"/v1/payment_methods/{first['id']}/detach")
    assert [p["last4"] for p in call("payment_methods_list", org, org.owner).body["payment_methods"]] == [
        "1881"
    ]


def test_another_orgs_card_is_not_found_and_untouched(money: FakeStripe, store: BillingStore) -> None:
    mine, theirs = new_org(store), new_org(store)
    customer(mine, money)
    their_card = money.card(customer(theirs, money))
    posted = len(money.posts("/v1/"))
    assert (
        call("payment_method_default", mine, mine.owner, key="x", payment_method_id=their_card["id"]).code
        == "not_found"
    )
    assert (
        call("payment_method_delete", mine, mine.owner, payment_method_id=their_card["id"]).code
        == "not_found"
    )
    assert (
        call("payment_method_delete", mine, mine.owner, payment_method_id="pm_nonexistent").code
        == "not_found"
    )
    assert len(money.posts("/v1/")) == posted


def test_the_billing_portal_link(money: FakeStripe, store: BillingStore) -> None:
    org = new_org(store)
    reply = call("billing_portal_create", org, org.billing, body={}, key="portal-1")
    assert reply.status == 201 and reply.body["url"].startswith("https://billing.stripe.com/")
    (session,) = money.posts("/v1/billing_portal/sessions")
    assert session.params["return_url"].endswith(f"/orgs/{org.org_id}/billing")


def test_tax_ids_are_checked_per_type_then_added_listed_and_removed(
    money: FakeStripe, store: BillingStore
) -> None:
    org = new_org(store)
    for type_, value in (
        ("eu_vat", "DE12345678"),
        ("gb_vat", "123456789"),
        ("us_ein", "12345678"),
        ("xx_vat", "1"),
    ):
        bad = call("tax_id_create", org, org.owner, body={"type": type_, "value": value}, key=f"bad-{type_}")
        assert bad.status == 422 and bad.code in ("invalid_tax_id", "validation_error"), bad.body
    assert money.posts("/v1/customers/") == []
    added = call(
        "tax_id_create", org, org.billing, body={"type": "eu_vat", "value": " de123456789 "}, key="t1"
    )
    assert added.status == 201 and added.body["value"] == "DE123456789"
    gb = call("tax_id_create", org, org.billing, body={"type": "gb_vat", "value": "GB123456789"}, key="t2")
    assert gb.status == 201
    listed = call("tax_ids_list", org, org.owner).body["tax_ids"]
    assert sorted(t["value"] for t in listed) == ["DE123456789", "GB123456789"]
    assert call("tax_id_delete", org, org.owner, tax_id=added.body["tax_id"]).status == 204
    assert [t["value"] for t in call("tax_ids_list", org, org.owner).body["tax_ids"]] == ["GB123456789"]
    other = new_org(store)
    assert call("tax_id_delete", other, other.owner, tax_id=gb.body["tax_id"]).code == "not_found"


def test_invoices_with_amounts_status_and_pdf_links(money: FakeStripe, store: BillingStore) -> None:
    org = new_org(store)
    assert call("invoices_list", org, org.owner).body == {"invoices": []}
    cus = customer(org, money)
    money.add(
        {
            "id": "in_test_1",
            "object": "invoice",
            "customer": cus,
            "status": "paid",
            "number": "ACT3-0001",
            "currency": "usd",
            "amount_due": 3500,
            "amount_paid": 3500,
            "total": 3500,
            "created": money.now,
            "hosted_invoice_url": "https://invoice.stripe.com/i/x",
            "invoice_pdf": "https://pay.stripe.com/invoice/x/pdf",
        }
    )
    (invoice,) = call("invoices_list", org, org.billing).body["invoices"]
    assert invoice["amount_paid"] == 3500 and invoice["status"] == "paid"
    assert invoice["invoice_pdf"].endswith("/pdf")


def test_creators_and_viewers_get_403(money: FakeStripe, store: BillingStore) -> None:
    org = new_org(store)
    for user in (org.creator, org.viewer):
        assert call("payment_methods_list", org, user).code == "forbidden_role"
        assert call("invoices_list", org, user).code == "forbidden_role"
        assert call("setup_intent_create", org, user, body={}, key=f"k-{user}").code == "forbidden_role"
    assert money.requests == []
