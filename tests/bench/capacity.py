"""What a debit costs on real DynamoDB, and the realistic warm path beside the best case.

Write units come from the items' sizes by DynamoDB's rules (names and values in UTF-8 bytes, numbers
1 byte per two significant digits plus 1, 3 bytes per list or map plus 1 per element, 1 byte for a
boolean or null; a transactional write costs 2 WCU per started KB of each item, an update the larger
of the item before and after). Every item of an org shares its partition key (`ORG#…`), and one
partition (or one item) takes at most 1,000 WCU/s: that, divided by the units of one debit, is the
ceiling of debits per second for one org, however many Lambda instances send them.
"""

from __future__ import annotations

import math
import time
from typing import Any

from act3_billing.store.orgs import OrgStore
from act3_billing.store.wallets import BillingStore
from tests.bench.store import NOW, RATE_CARD, Bench, log
from tests.support.dynamo_limits import item_size as dynamo_item_size
from tests.support.wallets import Org, new_org

PARTITION_WCU_PER_S = 1000  # per partition, and per item even after DynamoDB splits a hot partition
TRANSACTIONAL_WCU_PER_KB = 2


def item_size(item: dict[str, Any] | None) -> int:
    """DynamoDB's size of an item in wire form, none counting 0 (one rule: tests/support/dynamo_limits)."""
    return dynamo_item_size(item or {})


def transactional_wcu(size: int) -> int:
    return TRANSACTIONAL_WCU_PER_KB * max(1, math.ceil(size / 1024))


def _key_of(part: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (kind, body), *_ = part.items()
    key = body.get("Key") or {k: body["Item"][k] for k in ("pk", "sk")}
    return kind, key


def debit_units(
    bench: Bench, transaction: dict[str, Any], before: dict[str, dict[str, Any] | None]
) -> dict[str, Any]:
    """WCU of one captured debit transaction: each item sized before and after."""
    client = bench.client()
    items: list[dict[str, Any]] = []
    for part in transaction["TransactItems"]:
        kind, key = _key_of(part)
        label = key["sk"]["S"].split("#", 1)[0]
        after = client.get_item(TableName=bench.table, Key=key, ConsistentRead=True).get("Item")
        size = max(item_size(before.get(_k(key))), item_size(after))
        items.append({"item": label, "kind": kind, "bytes": size, "wcu": transactional_wcu(size)})
    total = sum(i["wcu"] for i in items)
    wallet = max((i["wcu"] for i in items if i["item"] == "WALLET"), default=0)
    return {
        "items": items,
        "wcu_per_debit": total,
        "wallet_item_bytes": next((i["bytes"] for i in items if i["item"] == "WALLET"), None),
        # every item of a debit is in the org's one partition: the partition's limit bounds the org
        "org_ceiling_debits_per_s": PARTITION_WCU_PER_S // total if total else None,
        # the wallet item alone, if DynamoDB split the partition by sort key (it cannot split an item)
        "wallet_item_ceiling_debits_per_s": PARTITION_WCU_PER_S // wallet if wallet else None,
    }


def _k(key: dict[str, Any]) -> str:
    return f"{key['pk']['S']}|{key['sk']['S']}"


def snapshot(bench: Bench, transaction: dict[str, Any]) -> dict[str, dict[str, Any] | None]:
    client = bench.client()
    found: dict[str, dict[str, Any] | None] = {}
    for part in transaction["TransactItems"]:
        _, key = _key_of(part)
        found[_k(key)] = client.get_item(TableName=bench.table, Key=key, ConsistentRead=True).get("Item")
    return found


def _debit(store: BillingStore, org: Org, actor: str, amount: int, key: str) -> None:
    from act3_billing.store.idempotency import Idem

    store.debit(
        org.org_id,
        actor=actor,
        amount=amount,
        job_id=f"job-{key}",
        idem=Idem(f"bench-{key}", "debit", key),
        now=NOW,
        rate_card_version=RATE_CARD,
    )


def measure_units(bench: Bench, store: BillingStore, org: Org, actor: str, tag: str) -> dict[str, Any]:
    """One more debit on a warm org, captured, with its items sized before and after."""
    with bench.counter.capture("TransactWriteItems") as captured:
        _debit(store, org, actor, 1, f"{tag}-probe-shape")
    shape = captured[-1]
    # the next debit writes the same items (a new ledger entry, idempotency record and job of the same
    # shape): size what exists now, then debit once more and size again
    before = snapshot(bench, shape)
    with bench.counter.capture("TransactWriteItems") as captured:
        _debit(store, org, actor, 1, f"{tag}-probe")
    return debit_units(bench, captured[-1], before)


def realistic(bench: Bench, debits: int, monthly_limit: int = 1_000_000) -> dict[str, Any]:
    """A creator with a monthly limit, two Lambda instances alternating on one org: each instance's
    cached wallet view is stale every time (the other one just spent), as on a busy org in AWS."""
    admin = bench.store()
    org = new_org(admin, monthly=10 * debits + 1000)
    OrgStore(admin.connection).change_member(org.org_id, org.creator, monthly_limit=monthly_limit)
    instances = [bench.store(), bench.store()]
    for n, instance in enumerate(instances):
        _debit(instance, org, org.creator, 1, f"real-warm-{n}")  # each instance warm: client, cache
    before = admin.wallet(org.org_id).total()
    with bench.counter.window() as tally:
        started = time.perf_counter()
        for i in range(debits):
            _debit(instances[i % 2], org, org.creator, 1, f"real-{i}")
        elapsed = time.perf_counter() - started
    after = admin.wallet(org.org_id).total()
    member = OrgStore(admin.connection).member(org.org_id, org.creator)
    spent = sum(member.spent.values())
    result: dict[str, Any] = {
        "debits": debits,
        "requests_per_debit": round(tally.requests / debits, 4),
        "by_operation": dict(tally.by_op),
        "ms_per_debit": round(elapsed * 1000 / debits, 3),
        "balance_ok": before - after == debits,
        "member_spent_ok": spent == debits + 2,
    }
    result["capacity"] = measure_units(bench, instances[0], org, org.creator, "real")
    units = result["capacity"]["wcu_per_debit"]
    log(f"realistic: {result['requests_per_debit']} requests/debit, {units} WCU/debit")
    return result


def best_case_units(bench: Bench) -> dict[str, Any]:
    """The best case's units: an owner without a limit, one warm instance."""
    store = bench.store()
    org = new_org(store, monthly=100_000)
    _debit(store, org, org.creator, 1, "best-warm")
    return measure_units(bench, store, org, org.creator, "best")
