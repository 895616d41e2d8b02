"""Requests per `GET /orgs/{org_id}/entitlements` answer, on DynamoDB Local: the use case as its handler
calls it (one BatchGetItem; the live catalog's Query once a minute per process)."""

from __future__ import annotations

import time
from typing import Any

from act3_billing import entitlements
from act3_billing.catalog import live_catalog
from act3_billing.http.caller import Caller
from act3_billing.store.entitlements import EntitlementsStore
from act3_billing.store.payments import PaymentsStore
from tests.bench.counting import Tally
from tests.bench.store import NOW, Bench
from tests.support.wallets import new_org

EXPECTED = {"BatchGetItem", "Query"}


def _summary(tally: Tally, calls: int) -> dict[str, Any]:
    return {
        "requests": tally.requests,
        "by_operation": dict(tally.by_op),
        "outcomes": dict(tally.outcomes),
        "requests_per_call": round(tally.requests / calls, 4),
        "unexpected_requests": tally.unexpected,
    }


def measure(bench: Bench, calls: int) -> dict[str, Any]:
    """A new instance's first answer (it reads the catalog too), then `calls` warm answers for members
    of several orgs (the catalog as read a moment ago)."""
    billing = bench.store()
    orgs = [new_org(billing) for _ in range(4)]
    store = EntitlementsStore(billing.connection)
    payments = PaymentsStore(billing.connection)
    catalog = entitlements.CatalogCache(lambda: live_catalog(payments))

    def answer(n: int) -> None:
        org = orgs[n % len(orgs)]
        member = Caller(org.creator, None, email_verified=False, identity_provider=None)
        result = entitlements.view(store, billing, catalog.get(NOW), member, org.org_id, None, NOW)
        entitlements.response(result)
        assert result.generation_enabled, result

    with bench.counter.window(expected=EXPECTED) as cold:
        answer(0)
    with bench.counter.window(expected=EXPECTED) as warm:
        started = time.perf_counter()
        for n in range(calls):
            answer(n)
        elapsed = time.perf_counter() - started
    return {
        "requests_per_entitlements_call": round(warm.requests / calls, 4),
        "requests_per_entitlements_call_cold": cold.requests,
        "entitlements": {
            "cold": _summary(cold, 1),
            "warm": _summary(warm, calls) | {"ms_per_call": round(elapsed * 1000 / calls, 3)},
        },
    }
