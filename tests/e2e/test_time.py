"""Time passing on the running local stack: a usage alert shows on the bus (the stack's log), and after
`clock advance 31d` a `tick` rolls the org through the template's schedule, queue and worker.

Last in this folder on purpose: it moves the shared stack's clock (and puts it back)."""

from __future__ import annotations

from typing import Any

from tests.e2e.stack_process import StackProcess


def balance(stack: StackProcess, org_id: str, token: str) -> dict[str, Any]:
    reply = stack.request("GET", f"/orgs/{org_id}/balance", token=token)
    assert reply.status == 200, reply.body
    result: dict[str, Any] = reply.json()
    return result


def test_an_alert_reaches_the_bus_and_a_tick_rolls_the_cycle(product_stack: StackProcess) -> None:
    # Given a LinkedIn sign-in (a trial org: 800 credits a cycle, granted by the schedule)
    token = product_stack.token("time-traveller@studio.example", idp="linkedin", name="Tia")
    me = product_stack.request("GET", "/me", token=token)
    assert me.status == 200, me.body
    org_id, user_id = me.json()["personal_org_id"], me.json()["user_id"]
    before = balance(product_stack, org_id, token)
    # When the usage meter reports a finished job of hers, 640 of the 800 credits, the 75 % alert shows
    # on the project's bus
    spent = product_stack.request(
        "POST",
        f"/orgs/{org_id}/debits",
        token=product_stack.client_token("usage-meter"),
        body={"job_id": "time-1", "usage": {"shots": {"Q1": 8}}, "member_id": user_id},
        headers={"idempotency-key": "time-1"},
    )
    assert spent.status == 201, spent.body
    product_stack.wait_for(lambda: "bus event Monthly allowance threshold crossed" in product_stack.output())
    # When the clock moves past the cycle end and the schedules fire
    assert product_stack.cli("clock", "advance", "31d").returncode == 0
    try:
        ticked = product_stack.cli("tick")
        assert ticked.returncode == 0, ticked.stderr + ticked.stdout
        # Then the worker (fed by the queue) starts the next cycle: 160 banked, 800 new
        after = product_stack.wait_for(
            lambda: (
                (b := balance(product_stack, org_id, token))["monthly"]["cycle_start"]
                == before["monthly"]["cycle_end"]
                and b
            )
        )
    finally:
        product_stack.cli("clock", "reset")
    assert after["monthly"]["remaining"] == 800
    assert [lot["remaining"] for lot in after["bank"]] == [160]
