"""A newcomer's flow over HTTP on seeded demo data: quote → hold → meter's capture → balance → ledger."""

from __future__ import annotations

import importlib.util
import uuid
from typing import Any

import pytest

from tests.e2e.stack_process import StackProcess

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("act3_billing.demo") is None,
    reason="act3_billing.demo (seed_demo) is not written yet; `make seed` and this flow need it",
)


def test_quote_hold_capture_balance_ledger(product_stack: StackProcess, demo: dict[str, Any]) -> None:
    org = demo["org_id"]
    creator = next(m for m in demo["members"] if m["role"] == "creator")
    token = creator["token"]
    job = f"e2e-{uuid.uuid4().hex[:8]}"
    before = product_stack.request("GET", f"/orgs/{org}/balance", token=token)
    assert before.status == 200, before.body

    # Given a quote for three Q2 shots
    quote = product_stack.request(
        "POST", f"/orgs/{org}/quotes", token=token, body={"usage": {"shots": {"Q2": 3}}, "job_id": job}
    )
    assert quote.status == 201, quote.body
    assert quote.json()["credits"] == 600
    # When the creator holds the quote for the job, and the usage meter captures 400 and releases the rest
    meter = product_stack.client_token("usage-meter")
    hold = product_stack.request(
        "POST",
        f"/orgs/{org}/holds",
        token=token,
        body={"job_id": job, "quote_id": quote.json()["quote_id"]},
        headers={"idempotency-key": f"{job}-hold"},
    )
    assert hold.status == 201, hold.body
    hold_id = hold.json()["hold_id"]
    capture = product_stack.request(
        "POST",
        f"/orgs/{org}/holds/{hold_id}/capture",
        token=meter,
        body={"credits": 400},
        headers={"idempotency-key": f"{job}-cap"},
    )
    assert capture.status == 200, capture.body
    release = product_stack.request(
        "POST",
        f"/orgs/{org}/holds/{hold_id}/release",
        token=meter,
        body={},
        headers={"idempotency-key": f"{job}-release"},
    )
    assert release.status == 200, release.body
    # Then the balance shows 400 spent and nothing held
    after = product_stack.request("GET", f"/orgs/{org}/balance", token=token).json()
    assert after["spendable"] == before.json()["spendable"] - 400
    assert after["held"] == before.json()["held"]
    # And the ledger tells the story of the job
    ledger = product_stack.request("GET", f"/orgs/{org}/ledger?job={job}", token=token)
    assert ledger.status == 200, ledger.body
    types = sorted(e["type"] for e in ledger.json()["entries"])
    assert types == ["capture", "hold", "release"]
