"""The storage meter under concurrent, duplicated and reordered delivery, on DynamoDB Local: S3 invokes
the meter for each event, possibly twice and in parallel, in any order; the counters still end as the
bucket's final state (per-key conditional writes decide, counters only ADD)."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from act3_billing.domain.storage import Kind, ObjectEvent, ObjectKey, final_usage, sequencer
from act3_billing.store.models import bind
from act3_billing.store.storage import StorageStore
from act3_billing.store.wallets import BillingStore
from tests.support.wallets import T0

pytestmark = pytest.mark.emulator


def test_8_clients_applying_a_shuffled_duplicated_history_meter_its_final_state(
    ddb_store: BillingStore, dynamodb_local: str, emulator_table: str
) -> None:
    rng = random.Random(10)
    org = f"org-meter-{rng.randrange(10**9)}"
    keys = [ObjectKey(org, f"p{i % 3}", Kind.MEDIA if i % 2 else Kind.TEXT, f"f{i}.bin") for i in range(12)]
    # Given a history of puts, overwrites and deletes on 12 keys
    history = []
    for n in range(160):
        present = rng.random() < 0.7
        history.append(
            ObjectEvent(
                key=rng.choice(keys),
                sequencer=sequencer(format(0x55AED6DCD9000000 + n * 17, "X")),
                present=present,
                size=rng.randrange(1, 10**9) if present else 0,
                at=T0 + timedelta(seconds=n),
            )
        )
    # When 8 clients apply it, every event delivered twice, all shuffled
    delivered = history * 2
    rng.shuffle(delivered)

    def client(part: list[ObjectEvent]) -> None:
        storage = StorageStore(bind(emulator_table, "us-east-1", dynamodb_local))
        for event in part:
            storage.apply(event)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(client, [delivered[i::8] for i in range(8)]))

    # Then the counters are exactly those of the final state
    meter = StorageStore(ddb_store.connection).meter(org)
    expected = final_usage(history)
    assert meter.usage == expected
    assert meter.totals == expected.totals
