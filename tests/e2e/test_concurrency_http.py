"""Races over HTTP, as in AWS: the local stack runs several instances of each function (separate
processes, each with its own wallet cache), so concurrent requests meet stale caches and real
transaction conflicts. Nothing is charged twice, nothing is lost."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.stack_process import StackProcess

CLIENTS, PER_CLIENT, CREDITS = 16, 50, 80


@pytest.fixture(scope="module")
def owner(product_stack: StackProcess) -> tuple[str, str]:
    seeded = product_stack.cli("seed", "--json")
    assert seeded.returncode == 0, seeded.stderr + seeded.stdout
    demo: dict[str, Any] = json.loads(seeded.stdout)
    member = next(m for m in demo["members"] if m["role"] == "owner")
    return demo["org_id"], member["token"]


@pytest.fixture(scope="module")
def meter(product_stack: StackProcess) -> tuple[str, str]:
    """The usage meter's token, and the owner it reports for (debits by job metrics are the meter's)."""
    seeded = product_stack.cli("seed", "--json")
    demo: dict[str, Any] = json.loads(seeded.stdout)
    member = next(m for m in demo["members"] if m["role"] == "owner")
    return product_stack.client_token("usage-meter"), member["sub"]


def _status(stack: StackProcess) -> dict[str, Any]:
    reply = stack.request(
        "POST",
        "/_local/status",
        body={},
        headers={"x-act3-local-admin": stack.info["admin_token"]},
    )
    assert reply.status == 200, reply.body
    status: dict[str, Any] = reply.json()
    return status


def _ledger(stack: StackProcess, org: str, token: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = stack.request("GET", f"/orgs/{org}/ledger?limit=200{cursor}", token=token)
        assert page.status == 200, page.body
        entries += page.json()["entries"]
        if not page.json()["next_cursor"]:
            return entries
        cursor = f"&cursor={page.json()['next_cursor']}"


def test_16_clients_debit_and_hold_across_instances(
    product_stack: StackProcess, owner: tuple[str, str], meter: tuple[str, str]
) -> None:
    org, token = owner
    meter_token, member = meter
    run = uuid.uuid4().hex[:8]
    before = product_stack.request("GET", f"/orgs/{org}/balance", token=token).json()

    def client(n: int) -> list[tuple[str, int, str]]:
        done = []
        for i in range(PER_CLIENT):
            job = f"race-{run}-{n}-{i}"
            if i % 2:  # the owner holds; the usage meter debits finished jobs for the owner
                path, body, who = f"/orgs/{org}/holds", {"job_id": job, "credits": CREDITS}, token
            else:
                path = f"/orgs/{org}/debits"
                body, who = {"job_id": job, "usage": {"shots": {"Q1": 1}}, "member_id": member}, meter_token
            reply = product_stack.request(
                "POST", path, token=who, body=body, headers={"idempotency-key": job}
            )
            done.append((path.rsplit("/", 1)[1], reply.status, job))
        return done

    # When 16 clients each make 50 debits and holds at once
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = [r for batch in pool.map(client, range(CLIENTS)) for r in batch]

    # Then every request was answered without a server error, by more than one instance
    assert not [r for r in results if r[1] >= 500], [r for r in results if r[1] >= 500][:5]
    assert _status(product_stack)["instances"]["DebitsFunction"] > 1
    debits = [job for kind, status, job in results if kind == "debits" and status == 201]
    holds = [job for kind, status, job in results if kind == "holds" and status == 201]
    assert debits and holds
    # and the balance moved by exactly what succeeded
    after = product_stack.request("GET", f"/orgs/{org}/balance", token=token).json()
    assert after["spendable"] == before["spendable"] - CREDITS * (len(debits) + len(holds))
    assert after["held"] == before["held"] + CREDITS * len(holds)
    # and the ledger holds one entry per success, no more
    mine = [
        e for e in _ledger(product_stack, org, token) if str(e.get("job_id") or "").startswith(f"race-{run}-")
    ]
    assert sorted(e["job_id"] for e in mine if e["type"] == "debit") == sorted(debits)
    assert sorted(e["job_id"] for e in mine if e["type"] == "hold") == sorted(holds)
    assert sum(e["amount"] for e in mine) == CREDITS * (len(debits) + len(holds))


def test_one_key_from_8_clients_charges_once(
    product_stack: StackProcess, owner: tuple[str, str], meter: tuple[str, str]
) -> None:
    org, token = owner
    meter_token, member = meter
    job = f"same-key-{uuid.uuid4().hex[:8]}"
    before = product_stack.request("GET", f"/orgs/{org}/balance", token=token).json()

    def send(_: int) -> tuple[int, str]:
        reply = product_stack.request(
            "POST",
            f"/orgs/{org}/debits",
            token=meter_token,
            body={"job_id": job, "usage": {"shots": {"Q1": 1}}, "member_id": member},
            headers={"idempotency-key": job},
        )
        return reply.status, reply.json().get("entry_id", "")

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))

    assert {status for status, _ in answers} <= {200, 201}, answers
    assert len({entry for _, entry in answers}) == 1, answers
    after = product_stack.request("GET", f"/orgs/{org}/balance", token=token).json()
    assert after["spendable"] == before["spendable"] - CREDITS
