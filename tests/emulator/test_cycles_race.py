"""A cycle boundary racing debits, on DynamoDB Local: nothing overdraws, nothing is drawn from a lot the
boundary closed, and the rolled-over bank is exactly what the monthly lot held at the boundary."""

from __future__ import annotations

import threading
from datetime import timedelta

from act3_billing import cycles
from act3_billing.domain.errors import DomainError
from act3_billing.domain.ledger import EntryType
from act3_billing.domain.lots import LotKind
from act3_billing.store.cache import WalletCache
from act3_billing.store.cycles import CycleStore
from act3_billing.store.idempotency import Idem
from act3_billing.store.wallets import BillingStore
from tests.support.wallets import T0, add_lot, new_org


def test_debits_racing_the_boundary_never_overdraw_or_touch_the_closed_lot(ddb_store: BillingStore) -> None:
    # Given a trial-sized org with a pack, whose first cycle has 800 credits of which a few are spent
    org = new_org(ddb_store, plan_id="starter_trial", monthly=800, cap=1_600)
    add_lot(ddb_store, org.org_id, LotKind.PACK, 3_000)
    before = T0 + timedelta(days=29)
    ddb_store.debit(
        org.org_id,
        actor=org.creator,
        amount=50,
        job_id="warm",
        idem=Idem("warm", "debit", "w"),
        now=before,
        rate_card_version="v",
    )
    at = T0 + timedelta(days=30, minutes=1)  # just past the cycle end
    spent: list[int] = []
    errors: list[str] = []

    def spender(n: int) -> None:
        store = BillingStore(ddb_store.connection, cache=WalletCache())  # its own instance, its own view
        store.wallet(org.org_id)  # a view from before the boundary
        for k in range(15):
            try:
                store.debit(
                    org.org_id,
                    actor=org.creator,
                    amount=40,
                    job_id=f"r{n}-{k}",
                    idem=Idem(f"r{n}-{k}", "debit", f"{n}-{k}"),
                    now=at,
                    rate_card_version="v",
                )
                spent.append(40)
            except DomainError as exc:
                errors.append(exc.code)

    # When four instances debit while two schedule runs roll the org
    threads = [threading.Thread(target=spender, args=(n,)) for n in range(4)]
    rollers = [
        threading.Thread(
            target=cycles.roll_due,
            args=(CycleStore(BillingStore(ddb_store.connection, cache=WalletCache())), org.org_id, at),
        )
        for _ in range(2)
    ]
    for t in [*threads, *rollers]:
        t.start()
    for t in [*threads, *rollers]:
        t.join()
    # Then everything reconciles, the old allowance's 750 were banked whole, and no debit drew from it
    assert not errors, errors
    assert ddb_store.reconcile(org.org_id).ok
    entries = list(ddb_store.entries(org.org_id))
    assert [e.amount for e in entries if e.type is EntryType.ROLLOVER] == [750]
    late = [e for e in entries if e.type is EntryType.DEBIT and e.created_at == at]
    assert len(late) == 60 and sum(e.amount for e in late) == sum(spent) == 2_400
    assert all("monthly#c1" not in e.lots for e in late)
    wallet = ddb_store.wallet(org.org_id)
    assert sum(lot.remaining for lot in wallet.lots) == 750 + 800 + 3_000 - 2_400
    assert all(lot.remaining >= 0 for lot in wallet.lots)
