"""Faults around botocore, on DynamoDB Local: the answer lost after a commit, throttling, cancelled
transactions, dropped connections. A client that retries with the same Idempotency-Key is charged
once, loses nothing, and gets the answer the first request would have had."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from act3_billing.domain.errors import Conflict, Unavailable
from act3_billing.domain.ledger import EntryType
from act3_billing.domain.lots import Lot, LotKind
from act3_billing.domain.roles import Role
from act3_billing.store.cache import WalletCache
from act3_billing.store.idempotency import Idem, Outcome
from act3_billing.store.models import bind
from act3_billing.store.orgs import OrgStore
from act3_billing.store.wallets import BillingStore
from tests.support.books import assert_books
from tests.support.faults import Faults, injected_faults
from tests.support.wallets import T0, Org, new_org

NOW = T0 + timedelta(hours=1)


@pytest.fixture
def faulty(aws_env: None, dynamodb_local: str, emulator_table: str) -> Iterator[tuple[BillingStore, Faults]]:
    with injected_faults() as faults:
        yield BillingStore(bind(emulator_table, "us-east-1", dynamodb_local), cache=WalletCache()), faults


def _debit(store: BillingStore, org: Org, key: str, amount: int = 500) -> Outcome:
    return store.debit(
        org.org_id,
        actor=org.creator,
        amount=amount,
        job_id=f"job-{key}",
        idem=Idem(key, "debit", f"{key}:{amount}"),
        now=NOW,
        rate_card_version="test",
    )


def _debits(store: BillingStore, org: Org) -> list[str]:
    return [e.entry_id for e in store.entries(org.org_id) if e.type.value == "debit"]


def test_an_answer_lost_after_commit_is_replayed_to_the_retry(faulty: tuple[BillingStore, Faults]) -> None:
    store, faults = faulty
    org = new_org(store, monthly=1_000)
    # Given the debit's transaction commits but its answer never reaches the client
    faults.arm("TransactWriteItems", "timeout_after_commit")
    with pytest.raises(Unavailable):
        _debit(store, org, "lost-answer")

    # When the client retries with the same Idempotency-Key
    retry = _debit(store, org, "lost-answer")

    # Then it gets the committed answer, and the org was charged once
    assert retry.replayed
    assert _debits(store, org) == [retry.body["entry_id"]]
    assert store.wallet(org.org_id).total() == 500
    assert_books(store, org.org_id)


@pytest.mark.parametrize("times", [2, 5])
def test_throttling_is_retried_until_it_passes(faulty: tuple[BillingStore, Faults], times: int) -> None:
    store, faults = faulty
    org = new_org(store, monthly=1_000)
    # Given DynamoDB throttles the next transactions (more often than botocore retries, for 5)
    faults.arm("TransactWriteItems", "throttle", times)

    # When a debit is made
    outcome = _debit(store, org, f"throttled-{times}")

    # Then it goes through once, after every throttle was met
    assert not outcome.replayed and faults.pending() == 0
    assert _debits(store, org) == [outcome.body["entry_id"]]
    assert store.wallet(org.org_id).total() == 500
    assert_books(store, org.org_id)


def test_a_transaction_cancelled_by_conflicts_is_retried(faulty: tuple[BillingStore, Faults]) -> None:
    store, faults = faulty
    org = new_org(store, monthly=1_000)
    faults.arm("TransactWriteItems", "conflict", 3)

    outcome = _debit(store, org, "conflicted")

    assert faults.pending() == 0 and len(faults.injected) == 3
    assert _debits(store, org) == [outcome.body["entry_id"]]
    assert_books(store, org.org_id)


def test_a_connection_dropped_past_botocores_retries_is_unavailable_and_changes_nothing(
    faulty: tuple[BillingStore, Faults],
) -> None:
    store, faults = faulty
    org = new_org(store, monthly=1_000)
    # Given the connection drops on every attempt botocore makes (3)
    faults.arm("TransactWriteItems", "drop", 3)
    with pytest.raises(Unavailable):
        _debit(store, org, "dropped")
    assert _debits(store, org) == []
    assert store.wallet(org.org_id).total() == 1_000

    # When the client retries with the same key, it is charged once
    retry = _debit(store, org, "dropped")
    assert not retry.replayed
    assert _debits(store, org) == [retry.body["entry_id"]]
    assert_books(store, org.org_id)


def test_retry_exhaustion_answers_cleanly_and_changes_nothing(faulty: tuple[BillingStore, Faults]) -> None:
    store, faults = faulty
    org = new_org(store, monthly=1_000)
    # Given every transaction is cancelled by a conflict, for longer than the store retries
    faults.arm("TransactWriteItems", "conflict", 1_000)
    with pytest.raises(Conflict):
        _debit(store, org, "never")
    left = faults.pending()

    # Then nothing was written, and the store gave up after a bounded number of attempts
    assert left > 0
    assert _debits(store, org) == []
    assert store.wallet(org.org_id).total() == 1_000
    assert_books(store, org.org_id)


def test_a_capture_whose_answer_was_lost_is_applied_once(faulty: tuple[BillingStore, Faults]) -> None:
    store, faults = faulty
    org = new_org(store, monthly=1_000)
    hold = store.place_hold(
        org.org_id,
        actor=org.creator,
        amount=600,
        job_id="render",
        expires_at=NOW + timedelta(hours=2),
        idem=Idem("hold", "hold", "600"),
        now=NOW,
    )
    hold_id = str(hold.body["hold_id"])
    key = Idem(f"capture-{uuid.uuid4().hex[:6]}", "capture", "250")
    faults.arm("TransactWriteItems", "timeout_after_commit")
    with pytest.raises(Unavailable):
        store.settle_hold(
            org.org_id, actor=org.creator, hold_id=hold_id, capture=250, final=True, idem=key, now=NOW
        )

    retry = store.settle_hold(
        org.org_id, actor=org.creator, hold_id=hold_id, capture=250, final=True, idem=key, now=NOW
    )

    assert retry.replayed and retry.body["captured"] == 250 and retry.body["released"] == 350
    settled = store.hold(org.org_id, hold_id)
    assert (settled.captured, settled.released) == (250, 350)
    assert store.wallet(org.org_id).total() == 750
    assert_books(store, org.org_id)


def test_throttling_that_outlasts_every_retry_is_unavailable_and_changes_nothing(
    faulty: tuple[BillingStore, Faults],
) -> None:
    store, faults = faulty
    org = new_org(store, monthly=1_000)
    # Given DynamoDB throttles every transaction, as a whole or item by item, for longer than anyone retries
    faults.arm("TransactWriteItems", "throttle_item", 3)
    faults.arm("TransactWriteItems", "throttle", 1_000)
    with pytest.raises(Unavailable):
        _debit(store, org, "throttled-out")

    # Then the store gave up after a bounded number of tries (503 with Retry-After), nothing changed
    assert 0 < faults.pending() < 1_000
    assert _debits(store, org) == [] and store.wallet(org.org_id).total() == 1_000

    # And once DynamoDB answers again, the same key charges once
    faults.clear()
    retry = _debit(store, org, "throttled-out")
    assert not retry.replayed and _debits(store, org) == [retry.body["entry_id"]]
    assert_books(store, org.org_id)


def test_a_transaction_throttled_item_by_item_is_retried(faulty: tuple[BillingStore, Faults]) -> None:
    store, faults = faulty
    org = new_org(store, monthly=1_000)
    faults.arm("TransactWriteItems", "throttle_item", 4)

    outcome = _debit(store, org, "item-throttled")

    assert faults.pending() == 0 and _debits(store, org) == [outcome.body["entry_id"]]
    assert_books(store, org.org_id)


def _placed(store: BillingStore, org: Org, amount: int = 600) -> str:
    hold = store.place_hold(
        org.org_id,
        actor=org.creator,
        amount=amount,
        job_id="render",
        expires_at=NOW + timedelta(hours=2),
        idem=Idem(f"hold-{uuid.uuid4().hex[:6]}", "hold", str(amount)),
        now=NOW,
    )
    return str(hold.body["hold_id"])


def _other_ops(store: BillingStore, org: Org, other: Org) -> dict[str, Callable[[], Outcome]]:
    """A capture, a refund, a transfer and a pack: each a transaction with its own retry loop."""
    hold_id = _placed(store, org)
    _debit(store, org, "to-refund", 100)
    return {
        "capture": lambda: store.settle_hold(
            org.org_id,
            actor=org.creator,
            hold_id=hold_id,
            capture=200,
            final=True,
            idem=Idem("c", "c", "200"),
            now=NOW,
        ),
        "refund": lambda: store.refund_job(
            org.org_id,
            actor=org.creator,
            job_id="job-to-refund",
            idem=Idem("r", "r", "r"),
            now=NOW,
            service="service:usage-meter",
        ),
        "transfer": lambda: store.transfer(
            org.org_id, to_org_id=other.org_id, actor=org.owner, amount=50, idem=Idem("t", "t", "50"), now=NOW
        ),
        "grant": lambda: store.add_lot(
            org.org_id,
            Lot("grant#faults", LotKind.GRANT, 70, 70, NOW, NOW + timedelta(days=30), "promo"),
            entry_type=EntryType.GRANT,
            idem=Idem("g", "grant", "70"),
            now=NOW,
        ),
    }


@pytest.mark.parametrize("operation", ["capture", "refund", "transfer", "grant"])
def test_conflicts_on_every_kind_of_write_are_retried_then_refused_cleanly(
    faulty: tuple[BillingStore, Faults], operation: str
) -> None:
    store, faults = faulty
    org, other = new_org(store, monthly=1_000), new_org(store, monthly=0)
    OrgStore(store.connection).add_member(other.org_id, org.owner, Role.OWNER, email=None, now=NOW)
    call = _other_ops(store, org, other)[operation]
    before = (store.wallet(org.org_id).lots, store.wallet(other.org_id).lots)

    # Given every transaction is cancelled by conflicts for longer than the store retries
    faults.arm("TransactWriteItems", "conflict", 1_000)
    with pytest.raises(Conflict):
        call()
    # Then it answered 409 `conflict` after a bounded number of tries, and nothing changed
    assert 0 < faults.pending() < 1_000
    assert (store.wallet(org.org_id).lots, store.wallet(other.org_id).lots) == before

    # When the conflicts pass after three, the same request goes through once
    faults.clear()
    faults.arm("TransactWriteItems", "conflict", 3)
    first = call()
    assert faults.pending() == 0 and not first.replayed
    assert call().replayed
    assert_books(store, org.org_id, other.org_id)
