"""The store on DynamoDB Local: requests per debit, and a hot org against plain conditional updates."""

from __future__ import annotations

import math
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import boto3
from botocore.exceptions import ClientError  # type: ignore[import-untyped, unused-ignore]

from act3_billing.domain.lots import LotKind
from act3_billing.store.cache import WalletCache
from act3_billing.store.idempotency import Idem
from act3_billing.store.models import bind
from act3_billing.store.wallets import BillingStore
from tests.bench.counting import RequestCounter, Tally
from tests.support.template import create_tables
from tests.support.wallets import T0, Org, add_lot, new_org

REGION = "us-east-1"
NOW = T0 + timedelta(hours=1)
RATE_CARD = "bench"
T = TypeVar("T")

# The multi-lot wallet: a monthly lot then eight more (two bank, three grant, three pack) of LOT credits.
# After an uncounted debit of OFFSET, debits of MULTI_AMOUNT each straddle one or two lot boundaries.
LOT = 10
OFFSET = 5
MULTI_AMOUNT = 12


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Bench:
    """What the store benchmarks share: the emulator endpoint, the table and the request counter."""

    endpoint: str
    table: str
    counter: RequestCounter

    def store(self) -> BillingStore:
        """A store as one Lambda instance has it: its own connection and wallet cache."""
        return BillingStore(bind(self.table, REGION, self.endpoint), cache=WalletCache())

    def client(self) -> Any:
        return boto3.session.Session().client(
            "dynamodb",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )


def create_table(endpoint: str) -> str:
    name = f"act3-billing-bench-{uuid.uuid4().hex[:8]}"
    client = boto3.session.Session().client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    create_tables(client, name)
    return name


def _debit(store: BillingStore, org: Org, amount: int, key: str) -> dict[str, int]:
    outcome = store.debit(
        org.org_id,
        actor=org.creator,
        amount=amount,
        job_id=f"job-{key}",
        idem=Idem(f"bench-{key}", "debit", key),
        now=NOW,
        rate_card_version=RATE_CARD,
    )
    lots: dict[str, int] = outcome.body["lots"]
    return lots


def _per_debit(tally: Tally, debits: int) -> dict[str, Any]:
    return {
        "requests": tally.requests,
        "by_operation": dict(tally.by_op),
        "outcomes": dict(tally.outcomes),
        "requests_per_debit": round(tally.requests / debits, 4) if debits else None,
    }


def fast_path(bench: Bench, debits: int) -> dict[str, Any]:
    """Warm store, debits the monthly lot covers: the view is right, so one transaction each."""
    store = bench.store()
    org = new_org(store, monthly=max(10 * debits, 1000))
    store.wallet(org.org_id)  # warm: the view is in this instance's WalletCache
    with bench.counter.window(expected={"TransactWriteItems"}) as tally:
        started = time.perf_counter()
        for i in range(debits):
            _debit(store, org, 1, f"fast-{i}")
        elapsed = time.perf_counter() - started
    result = _per_debit(tally, debits)
    result["ms_per_debit"] = round(elapsed * 1000 / debits, 3)
    result["unexpected_requests"] = tally.unexpected
    return result


def _multi_lot_org(store: BillingStore) -> Org:
    org = new_org(store, monthly=LOT)
    for n in range(2):
        add_lot(store, org.org_id, LotKind.BANK, LOT, expires_at=T0 + timedelta(days=150 + n))
    for n in range(3):
        add_lot(store, org.org_id, LotKind.GRANT, LOT, expires_at=T0 + timedelta(days=60 + n))
    for _ in range(3):
        add_lot(store, org.org_id, LotKind.PACK, LOT)
    return org


def multi_lot(bench: Bench, debits: int) -> dict[str, Any]:
    """Warm store, monthly lot (nearly) drained: every counted debit draws from two or three lots."""
    store = bench.store()
    per_org = (9 * LOT - OFFSET) // MULTI_AMOUNT
    orgs = [_multi_lot_org(store) for _ in range(math.ceil(debits / per_org))]
    for org in orgs:
        store.wallet(org.org_id)
        _debit(store, org, OFFSET, "offset")  # uncounted; leaves the monthly lot partly spent
    spans: list[int] = []
    with bench.counter.window(expected={"TransactWriteItems"}) as tally:
        for n in range(debits):
            org = orgs[n // per_org]
            spans.append(len(_debit(store, org, MULTI_AMOUNT, f"multi-{n}")))
    result = _per_debit(tally, debits)
    result["orgs"] = len(orgs)
    result["lots_per_debit"] = {str(k): v for k, v in sorted(Counter(spans).items())}
    result["unexpected_requests"] = tally.unexpected
    if min(spans) < 2:
        log(f"warning: {spans.count(1)} multi-lot debits drew from one lot only")
    return result


def run_together(jobs: Sequence[Callable[[], T]]) -> tuple[float, list[T]]:
    """Run each job in its own thread, released together; wall-clock seconds until the last ends."""
    barrier = threading.Barrier(len(jobs) + 1)
    results: list[T | None] = [None] * len(jobs)
    errors: list[BaseException] = []

    def runner(index: int) -> None:
        barrier.wait()
        try:
            results[index] = jobs[index]()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=runner, args=(i,), daemon=True) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed, [r for r in results if r is not None]


def _debit_loop(store: BillingStore, org: Org, prefix: str, count: int) -> Callable[[], Counter[str]]:
    def job() -> Counter[str]:
        outcomes: Counter[str] = Counter()
        for i in range(count):
            try:
                _debit(store, org, 1, f"{prefix}-{i}")
            except Exception as exc:
                outcomes[type(exc).__name__] += 1
            else:
                outcomes["ok"] += 1
        return outcomes

    return job


def _update_loop(client: Any, table: str, key: dict[str, Any], count: int) -> Callable[[], Counter[str]]:
    def job() -> Counter[str]:
        outcomes: Counter[str] = Counter()
        for _ in range(count):
            try:
                client.update_item(
                    TableName=table,
                    Key=key,
                    UpdateExpression="SET n = n - :one",
                    ConditionExpression="n >= :one",
                    ExpressionAttributeValues={":one": {"N": "1"}},
                )
            except ClientError as exc:
                outcomes[str(exc.response.get("Error", {}).get("Code", "error"))] += 1
            else:
                outcomes["ok"] += 1
        return outcomes

    return job


def _with_sort_key_suffix(item: dict[str, Any], suffix: str) -> dict[str, Any]:
    """A fresh item for every Put, and a fresh job for the job's charges (as each debit has its own job)."""
    if "Put" in item:
        put = item["Put"]
        return {"Put": {**put, "Item": {**put["Item"], "sk": {"S": put["Item"]["sk"]["S"] + suffix}}}}
    update = item.get("Update")
    if update and update["Key"]["sk"]["S"].startswith("JOB#"):
        key = {**update["Key"], "sk": {"S": update["Key"]["sk"]["S"] + suffix}}
        return {"Update": {**update, "Key": key}}
    return item


def _replay_loop(
    client: Any, transaction: dict[str, Any], prefix: str, count: int
) -> Callable[[], Counter[str]]:
    """The debit's own TransactWriteItems through plain boto3; each Put gets a fresh sort key."""

    def request(suffix: str) -> dict[str, Any]:
        items = [_with_sort_key_suffix(i, suffix) for i in transaction["TransactItems"]]
        return {**transaction, "TransactItems": items}

    def job() -> Counter[str]:
        outcomes: Counter[str] = Counter()
        for i in range(count):
            try:
                client.transact_write_items(**request(f"#{prefix}-{i}"))
            except ClientError as exc:
                outcomes[str(exc.response.get("Error", {}).get("Code", "error"))] += 1
            else:
                outcomes["ok"] += 1
        return outcomes

    return job


@dataclass
class Rounds:
    """One kind of concurrent load measured over interleaved rounds."""

    seconds: list[float] = field(default_factory=list)
    ok: list[int] = field(default_factory=list)
    cpu_s: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    by_op: Counter[str] = field(default_factory=Counter)
    attempts: Counter[str] = field(default_factory=Counter)

    def run(self, counter: RequestCounter, jobs: Sequence[Callable[[], Counter[str]]]) -> None:
        with counter.window() as tally:
            cpu = time.process_time()
            elapsed, results = run_together(jobs)
            self.cpu_s += time.process_time() - cpu
        self.seconds.append(elapsed)
        outcomes: Counter[str] = Counter()
        for result in results:
            outcomes.update(result)
        self.ok.append(outcomes["ok"])
        self.outcomes.update(outcomes)
        self.by_op.update(tally.by_op)
        self.attempts.update(tally.outcomes)

    @property
    def total_ok(self) -> int:
        return sum(self.ok)

    @property
    def rate(self) -> float:
        """Successful operations per second over all rounds together."""
        return self.total_ok / sum(self.seconds)

    def per_op(self, value: float) -> float | None:
        return round(value / self.total_ok, 4) if self.total_ok else None

    def rounds(self) -> list[float]:
        return [round(ok / s, 1) for ok, s in zip(self.ok, self.seconds, strict=True)]


def contention(bench: Bench, threads: int, per_thread: int, warmup: int, rounds: int) -> dict[str, Any]:
    """One org, `threads` instances each debiting 1 credit `per_thread` times; next to it, from as many
    threads on the same emulator, plain conditional updates of one item and the very transaction a
    debit sends replayed through boto3. The three loads take turns, `rounds` times."""
    admin = bench.store()
    allowance = (rounds + 1) * threads * (per_thread + warmup) + 1000
    org = new_org(admin, monthly=allowance)
    replay_org = new_org(admin, monthly=allowance)  # the replayed transactions spend from their own wallet
    stores = [bench.store() for _ in range(threads)]
    for n, store in enumerate(stores):
        store.wallet(org.org_id)  # warm: each instance has read the wallet once ...
        _debit(store, org, 1, f"first-{n}")  # ... and built its transaction client
    with bench.counter.capture("TransactWriteItems") as captured:
        _debit(admin, replay_org, 1, "captured")
    transaction = captured[-1]
    clients = [bench.client() for _ in range(threads)]
    key = {"pk": {"S": f"RAW#{uuid.uuid4().hex[:8]}"}, "sk": {"S": "COUNTER"}}
    clients[0].put_item(TableName=bench.table, Item={**key, "n": {"N": str(10 * allowance)}})

    loads: dict[str, Callable[[str, int], list[Callable[[], Counter[str]]]]] = {
        "raw": lambda tag, count: [_update_loop(c, bench.table, key, count) for c in clients],
        "transaction": lambda tag, count: [
            _replay_loop(c, transaction, f"{tag}-{n}", count) for n, c in enumerate(clients)
        ],
        "hot": lambda tag, count: [_debit_loop(s, org, f"{tag}-{n}", count) for n, s in enumerate(stores)],
    }
    log(f"contention warm-up: {threads}x{warmup} of each load")
    warm = {kind: Rounds() for kind in loads}
    for kind, jobs in loads.items():
        warm[kind].run(bench.counter, jobs(f"warm-{kind}", warmup))
    measured = {kind: Rounds() for kind in loads}
    for r in range(rounds):
        for kind, jobs in loads.items():
            log(f"round {r + 1}/{rounds}: {kind} {threads}x{per_thread}")
            measured[kind].run(bench.counter, jobs(f"{kind}-{r}", per_thread))

    raw, tx, hot = measured["raw"], measured["transaction"], measured["hot"]
    hot_wallet, replay_wallet = admin.wallet(org.org_id), admin.wallet(replay_org.org_id)
    attempts = hot.by_op.get("TransactWriteItems", 0)
    return {
        "hot_org_debits_per_s": round(hot.rate, 1),
        "hot_org_requests_per_debit": hot.per_op(sum(hot.by_op.values())),
        "hot_org_retries_per_debit": hot.per_op(attempts - hot.total_ok),
        "hot_org_outcomes": dict(hot.outcomes),
        "hot_org_requests": {"by_operation": dict(hot.by_op), "outcomes": dict(hot.attempts)},
        "hot_org_rounds_per_s": hot.rounds(),
        "hot_org_client_cpu_ms_per_debit": hot.per_op(hot.cpu_s * 1000),
        "hot_org_balance_ok": hot_wallet.total() == allowance - threads - warm["hot"].total_ok - hot.total_ok,
        "raw_conditional_updates_per_s": round(raw.rate, 1),
        "raw_requests_per_update": raw.per_op(sum(raw.by_op.values())),
        "raw_outcomes": dict(raw.outcomes),
        "raw_rounds_per_s": raw.rounds(),
        "raw_client_cpu_ms_per_update": raw.per_op(raw.cpu_s * 1000),
        "hot_org_ratio": round(hot.rate / raw.rate, 3),
        "raw_transactions_per_s": round(tx.rate, 1),
        "raw_transaction_items": len(transaction["TransactItems"]),
        "raw_transaction_outcomes": dict(tx.outcomes),
        "raw_transaction_rounds_per_s": tx.rounds(),
        "raw_transaction_client_cpu_ms": tx.per_op(tx.cpu_s * 1000),
        "raw_transaction_balance_ok": replay_wallet.total()
        == allowance - 1 - warm["transaction"].total_ok - tx.total_ok,
        "hot_org_ratio_vs_raw_transaction": round(hot.rate / tx.rate, 3),
    }
