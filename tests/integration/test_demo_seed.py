"""`make seed`: the demo studio has real meters, balanced books, and seeding twice changes nothing."""

from __future__ import annotations

import uuid

from act3_billing.demo import DEMO_ORG, seed_demo
from act3_billing.store.wallets import BillingStore
from tests.integration.conftest import MovableClock
from tests.support.books import assert_books
from tests.support.events import http_event
from tests.support.functions import invoke


def user_id_for(email: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, email))


def test_demo_studio_has_history_meters_and_balanced_books(store: BillingStore, clock: MovableClock) -> None:
    demo = seed_demo(store, clock(), user_id_for)
    viewer = demo.members["viewer@studio.example"]
    balance = invoke("balance", http_event("balance_get", org_id=DEMO_ORG, user=viewer)).body
    assert balance["plan_id"] == "studio"
    assert balance["monthly"]["used"] == 8_100 + 40_000 + 14_400 + 20_000
    assert balance["held"] == 12_500
    assert [lot["remaining"] for lot in balance["bank"]] == [
        120_000 - 8_000 - 12_400 - 31_200 - 6_500 - 28_800
    ]
    assert balance["packs"][0]["remaining"] == 10_000
    assert balance["grants"][0]["remaining"] == 5_000
    assert_books(store, DEMO_ORG)
    entries = len(list(store.entries(DEMO_ORG)))
    seed_demo(store, clock(), user_id_for)
    assert len(list(store.entries(DEMO_ORG))) == entries
