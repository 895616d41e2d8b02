"""Billing cycles on DynamoDB Local: DynamoDB requests per org at a boundary (whatever its history), and
the wall time of one schedule run over many due orgs (scheduler query, fan-out, workers in parallel)."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from act3_billing import cycles
from act3_billing.domain.ledger import EntryType, LedgerEntry
from act3_billing.store.cycles import CycleStore
from act3_billing.store.models import LedgerItem, WalletItem
from act3_billing.store.records import ledger_item
from tests.bench.counting import RequestCounter
from tests.support.cycles import trial_wallet_item
from tests.support.wallets import T0

HISTORY = 200  # ledger entries each org of the per-org sample already has


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _history(org_id: str, count: int) -> list[LedgerItem]:
    return [
        ledger_item(
            LedgerEntry(
                f"le-{org_id}-{k}", org_id, EntryType.DEBIT, 1, T0 + timedelta(seconds=k), actor="bench"
            )
        )
        for k in range(count)
    ]


def _write(items: list[Any], pool: ThreadPoolExecutor) -> None:
    def chunk(part: list[Any]) -> None:
        with WalletItem.batch_write() as batch:
            for item in part:
                batch.save(item)

    list(pool.map(chunk, [items[i : i + 500] for i in range(0, len(items), 500)]))


def _make_orgs(count: int, history: int, pool: ThreadPoolExecutor) -> list[str]:
    run = uuid.uuid4().hex[:6]
    org_ids = [f"cyc-{run}-{n:05d}" for n in range(count)]
    items: list[Any] = [
        trial_wallet_item(org_id, T0 + timedelta(minutes=n % 1440)) for n, org_id in enumerate(org_ids)
    ]
    for org_id in org_ids if history else []:
        items.extend(_history(org_id, history))
    _write(items, pool)
    return org_ids


def _run_schedule(cycle_store: CycleStore, now: Any, workers: int, mine: set[str]) -> tuple[int, int]:
    """One schedule run: the scheduler's query and fan-out, then the workers (in parallel)."""
    messages = [m for m in cycles.due_messages(cycle_store, "cycles", now) if m["org_id"] in mine]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda m: cycles.run_message(cycle_store, m, now), messages))
    return len(messages), sum(len(r["rolled"]) for r in results)


def measure(
    store_factory: Callable[[], Any], counter: RequestCounter, sample: int, orgs: int, workers: int
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    boundary = T0 + timedelta(days=32)  # after every first cycle's end
    with ThreadPoolExecutor(max_workers=8) as pool:
        log(f"rollover: {sample} orgs with {HISTORY} ledger entries each")
        cycle_store = CycleStore(store_factory())
        sample_ids = _make_orgs(sample, HISTORY, pool)
        with counter.window() as tally:
            for org_id in sample_ids:
                cycles.run_message(cycle_store, {"job": "cycle", "org_id": org_id}, boundary)
        result["rollover_requests_per_org"] = round(tally.requests / sample, 3)
        result["rollover_sample"] = {
            "orgs": sample,
            "history_entries": HISTORY,
            "by_operation": dict(tally.by_op),
        }

        log(f"rollover: one schedule run over {orgs} due orgs, {workers} workers")
        cycle_store = CycleStore(store_factory())
        org_ids = _make_orgs(orgs, 0, pool)
    with counter.window() as tally:
        started = time.perf_counter()
        enqueued, rolled = _run_schedule(cycle_store, boundary, workers, set(org_ids))
        elapsed = time.perf_counter() - started
    if rolled != orgs:
        raise RuntimeError(f"{rolled} of {orgs} orgs rolled")
    result[f"rollover_{orgs}_orgs_wall_s"] = round(elapsed, 2)
    result["rollover_run"] = {
        "orgs": orgs,
        "enqueued": enqueued,
        "workers": workers,
        "orgs_per_s": round(orgs / elapsed, 1),
        "requests_per_org": round(tally.requests / orgs, 3),
        "by_operation": dict(tally.by_op),
    }
    return result
