"""Atomicity under concurrency, on DynamoDB Local (moto loses updates under concurrent writers)."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from act3_billing.domain.errors import InsufficientCredits
from act3_billing.domain.lots import LotKind
from act3_billing.store.cache import WalletCache
from act3_billing.store.idempotency import Idem
from act3_billing.store.models import bind
from act3_billing.store.wallets import BillingStore
from tests.support.books import assert_books
from tests.support.wallets import T0, add_lot, new_org

pytestmark = pytest.mark.emulator
NOW = T0 + timedelta(hours=1)


def _instance(dynamodb_local: str, table: str) -> BillingStore:
    """A store as one Lambda instance has it: its own connection and wallet cache."""
    return BillingStore(bind(table, "us-east-1", dynamodb_local), cache=WalletCache())


def test_16_clients_x_200_debits_never_overdraw_nor_lose_a_debit(
    ddb_store: BillingStore, dynamodb_local: str, emulator_table: str
) -> None:
    # Given 4,000 credits spread over a monthly lot, a bank lot, a grant and a pack
    org = new_org(ddb_store, monthly=2000, cap=4000)
    add_lot(ddb_store, org.org_id, LotKind.BANK, 1000, expires_at=T0 + timedelta(days=150))
    add_lot(ddb_store, org.org_id, LotKind.GRANT, 500, expires_at=T0 + timedelta(days=60))
    add_lot(ddb_store, org.org_id, LotKind.PACK, 500)
    outcomes: Counter[str] = Counter()
    spent_by_success: list[int] = []
    lock = threading.Lock()

    # When 16 clients each send 200 debits of 1 or 2 credits (4,800 asked for in all)
    def client(n: int) -> None:
        store = _instance(dynamodb_local, emulator_table)
        for i in range(200):
            amount = 1 + (i + n) % 2
            try:
                store.debit(
                    org.org_id,
                    actor=org.creator,
                    amount=amount,
                    job_id=f"j-{n}-{i}",
                    idem=Idem(f"k-{n}-{i}", "debit", "f"),
                    now=NOW,
                    rate_card_version="t",
                )
            except InsufficientCredits:
                with lock:
                    outcomes["refused"] += 1
            else:
                with lock:
                    outcomes["ok"] += 1
                    spent_by_success.append(amount)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(client, range(16)))

    # Then every debit was either applied or refused whole, and the books balance
    assert outcomes["ok"] + outcomes["refused"] == 3200
    wallet = ddb_store.wallet(org.org_id)
    assert all(lot.remaining >= 0 for lot in wallet.lots)
    assert wallet.total() == 4000 - sum(spent_by_success)
    assert wallet.total() <= 1  # refusals only happen once the pool is (nearly) empty
    debits = [e for e in ddb_store.entries(org.org_id) if e.type.value == "debit"]
    assert len(debits) == outcomes["ok"]
    assert_books(ddb_store, org.org_id)


def test_same_idempotency_key_from_8_threads_charges_once(
    ddb_store: BillingStore, dynamodb_local: str, emulator_table: str
) -> None:
    org = new_org(ddb_store)
    barrier = threading.Barrier(8)

    def client(_: int) -> tuple[str, bool]:
        store = _instance(dynamodb_local, emulator_table)
        barrier.wait()
        outcome = store.debit(
            org.org_id,
            actor=org.creator,
            amount=400,
            job_id="render-1",
            idem=Idem("the-same-key", "debit", "same-body"),
            now=NOW,
            rate_card_version="t",
        )
        return outcome.body["entry_id"], outcome.replayed

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(client, range(8)))

    assert len({entry_id for entry_id, _ in results}) == 1
    assert sum(not replayed for _, replayed in results) == 1
    assert ddb_store.wallet(org.org_id).total() == 33_000 - 400
    assert_books(ddb_store, org.org_id)


def test_a_capture_retried_concurrently_charges_once(
    ddb_store: BillingStore, dynamodb_local: str, emulator_table: str
) -> None:
    org = new_org(ddb_store)
    hold = ddb_store.place_hold(
        org.org_id,
        actor=org.creator,
        amount=3000,
        job_id="gpu-job",
        expires_at=NOW + timedelta(hours=24),
        idem=Idem("h", "hold", "f"),
        now=NOW,
    )
    hold_id = hold.body["hold_id"]
    barrier = threading.Barrier(6)

    def retry_capture(_: int) -> bool:
        store = _instance(dynamodb_local, emulator_table)
        barrier.wait()
        return store.settle_hold(
            org.org_id,
            actor=org.creator,
            hold_id=hold_id,
            capture=1200,
            final=False,
            idem=Idem("capture-stage-1", f"capture:{hold_id}", "f"),
            now=NOW,
        ).replayed

    with ThreadPoolExecutor(6) as pool:
        replayed = list(pool.map(retry_capture, range(6)))

    assert replayed.count(False) == 1
    settled = ddb_store.hold(org.org_id, hold_id)
    assert (settled.captured, settled.remaining) == (1200, 1800)
    assert ddb_store.wallet(org.org_id).held == 1800
    assert_books(ddb_store, org.org_id)


def test_concurrent_distinct_captures_never_exceed_the_hold(
    ddb_store: BillingStore, dynamodb_local: str, emulator_table: str
) -> None:
    org = new_org(ddb_store)
    hold = ddb_store.place_hold(
        org.org_id,
        actor=org.creator,
        amount=1000,
        job_id="gpu-job",
        expires_at=NOW + timedelta(hours=24),
        idem=Idem("h2", "hold", "f"),
        now=NOW,
    )
    hold_id = hold.body["hold_id"]

    def capture(n: int) -> bool:
        store = _instance(dynamodb_local, emulator_table)
        try:
            store.settle_hold(
                org.org_id,
                actor=org.creator,
                hold_id=hold_id,
                capture=300,
                final=False,
                idem=Idem(f"stage-{n}", f"capture:{hold_id}", "f"),
                now=NOW,
            )
        except Exception as exc:
            return exc.__class__.__name__ == "CaptureExceedsHold"
        return True

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(capture, range(8)))

    assert all(results)
    assert ddb_store.hold(org.org_id, hold_id).captured == 900
    assert_books(ddb_store, org.org_id)
