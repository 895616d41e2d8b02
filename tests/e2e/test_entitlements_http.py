"""Entitlements over HTTP on the running local stack (the route comes from template.yaml like every
other): the demo studio's creator may generate, a viewer may not, and the answer says how long to cache."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from tests.e2e.stack_process import StackProcess

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("act3_billing.demo") is None, reason="needs the demo seed (act3_billing.demo)"
)


def test_members_read_their_entitlements_on_the_local_stack(
    product_stack: StackProcess, demo: dict[str, Any]
) -> None:
    org = demo["org_id"]
    by_role = {m["role"]: m["token"] for m in demo["members"]}
    creator = product_stack.request("GET", f"/orgs/{org}/entitlements", token=by_role["creator"])
    assert creator.status == 200, creator.body
    body = creator.json()
    assert body["generation"]["enabled"] is True and body["credits"]["spendable"] > 0
    assert body["features"]["priority_queue"] in (True, False)
    assert creator.headers["cache-control"] == f"private, max-age={body['cache_seconds']}"
    viewer = product_stack.request("GET", f"/orgs/{org}/entitlements", token=by_role["viewer"]).json()
    assert viewer["generation"] == {"enabled": False, "reason": "forbidden_role"}
