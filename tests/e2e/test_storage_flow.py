"""Storage over the running local stack: an upload through its presigned URL to the moto bucket reaches the
meter as a real S3 event; an S3 Inventory report delivered by the stack reconciles the counters."""

from __future__ import annotations

import json
import urllib.request
import uuid
from typing import Any

from tests.e2e.stack_process import StackProcess


def test_an_upload_is_metered_and_the_inventory_reconciles(product_stack: StackProcess) -> None:
    seeded = product_stack.cli("seed", "--json")
    assert seeded.returncode == 0, seeded.stderr + seeded.stdout
    demo: dict[str, Any] = json.loads(seeded.stdout)
    org = demo["org_id"]
    creator = next(m for m in demo["members"] if m["role"] == "creator")["token"]
    project = f"e2e-{uuid.uuid4().hex[:8]}"
    content = b"storyboard " * 300

    # Given an upload URL for one file of its size
    asked = product_stack.request(
        "POST",
        f"/orgs/{org}/uploads",
        token=creator,
        body={
            "project_id": project,
            "kind": "text",
            "filename": "board.txt",
            "size": len(content),
            "content_type": "text/plain",
        },
        headers={"idempotency-key": f"{project}-upload"},
    )
    assert asked.status == 201, asked.body
    upload = asked.json()

    # When the client PUTs the file to the bucket
    put = urllib.request.Request(upload["upload_url"], data=content, method="PUT", headers=upload["headers"])
    with urllib.request.urlopen(put, timeout=30) as reply:
        assert reply.status == 200

    # Then the meter counts it (the S3 event arrives asynchronously)
    def project_usage() -> dict[str, Any] | None:
        view = product_stack.request("GET", f"/orgs/{org}/storage", token=creator).json()
        return next((p for p in view["projects"] if p["project_id"] == project), None)

    usage = product_stack.wait_for(project_usage)
    assert usage["text"] == {"bytes": len(content), "objects": 1}
    download = product_stack.request(
        "GET", f"/orgs/{org}/assets/projects/{project}/text/board.txt", token=creator
    )
    assert download.status == 200, download.body
    assert download.json()["size"] == len(content)

    # and an inventory report delivered by the stack reconciles to the same numbers
    delivered = product_stack.cli("inventory")
    assert delivered.returncode == 0, delivered.stderr + delivered.stdout

    def reconciled() -> dict[str, Any] | None:
        view: dict[str, Any] = product_stack.request("GET", f"/orgs/{org}/storage", token=creator).json()
        return view if view["meter"]["inventory_at"] else None

    view = product_stack.wait_for(reconciled)
    assert next(p for p in view["projects"] if p["project_id"] == project)["text"]["bytes"] == len(content)
