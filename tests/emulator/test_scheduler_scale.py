"""The schedule over 1,000 orgs with staggered anchors, on DynamoDB Local: every org is rolled exactly
once per cycle, also when two scheduler runs overlap and their messages are worked twice at once."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from act3_billing import cycles
from act3_billing.domain.cycles import add_months, cycle_id_for
from act3_billing.domain.ledger import EntryType
from act3_billing.store.cycles import CycleStore
from act3_billing.store.models import WalletItem
from act3_billing.store.wallets import BillingStore
from tests.support.cycles import trial_wallet_item
from tests.support.wallets import T0

ORGS = 1_000
STAGGER = timedelta(minutes=43)  # 1,000 anchors spread over ~30 days


def test_every_org_rolls_exactly_once_per_cycle_when_runs_overlap(ddb_store: BillingStore) -> None:
    # Given 1,000 trial orgs (free: the schedule grants them), anchored 43 minutes apart
    run = uuid.uuid4().hex[:6]
    org_ids = [f"scale-{run}-{n:04d}" for n in range(ORGS)]
    cycle_store = CycleStore(ddb_store)
    with WalletItem.batch_write() as batch:
        for n, org_id in enumerate(org_ids):
            batch.save(trial_wallet_item(org_id, T0 + STAGGER * n))
    mine = set(org_ids)
    # When the schedule fires twice at once every day for two months (through both boundaries of
    # every org), and both runs' messages are worked concurrently
    now = last = T0 + timedelta(days=29, hours=12)
    end = T0 + timedelta(days=92)  # the last run is on Jan 31, after every org's second boundary
    with ThreadPoolExecutor(max_workers=8) as pool:
        while now < end:
            passes = list(
                pool.map(lambda _, at=now: cycles.due_messages(cycle_store, "cycles", at), range(2))
            )
            messages = [m for batch in passes for m in batch if m["org_id"] in mine]
            list(pool.map(lambda m, at=now: cycles.run_message(cycle_store, m, at), messages))
            last, now = now, now + timedelta(days=1)

    # Then each org started exactly the two cycles whose boundaries passed, each granted once
    def grants(org_id: str) -> list[str]:
        return [next(iter(e.lots)) for e in ddb_store.entries(org_id) if e.type is EntryType.GRANT_MONTHLY]

    with ThreadPoolExecutor(max_workers=8) as pool:
        per_org = dict(zip(org_ids, pool.map(grants, org_ids), strict=True))
    for n, org_id in enumerate(org_ids):
        anchor = T0 + STAGGER * n
        expected = [f"monthly#{cycle_id_for(add_months(anchor, k))}" for k in (1, 2)]
        assert sorted(per_org[org_id]) == sorted(expected), org_id
    # And nothing is due any more before the next boundaries
    assert not [o for o in cycle_store.due_orgs(last) if o in mine]
