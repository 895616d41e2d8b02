"""The raw items an audit replays: everything under an org's partition, read without the models'
conversions (the audit must not trust the code it checks)."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from pynamodb.connection import Connection

from act3_billing.domain.audit import AuditReport, OrgItems, audit_org
from act3_billing.store.models import WALLET_SK, WalletItem, org_pk

_PLAIN = TypeDeserializer()


def org_items(connection: Connection, org_id: str) -> OrgItems:
    """One consistent query of the org's partition, paged, turned into plain values."""
    client = connection.client
    raw: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "TableName": WalletItem.Meta.table_name,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": org_pk(org_id)}},
        "ConsistentRead": True,
    }
    while True:
        page = client.query(**request)
        raw.extend({k: _PLAIN.deserialize(v) for k, v in item.items()} for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    by_prefix: dict[str, list[dict[str, Any]]] = {}
    for item in raw:
        by_prefix.setdefault(str(item["sk"]).split("#", 1)[0], []).append(item)
    wallet = next((item for item in by_prefix.get(WALLET_SK, [])), {})
    return OrgItems(
        org_id=org_id,
        wallet=wallet,
        ledger=by_prefix.get("LEDGER", []),
        holds=by_prefix.get("HOLD", []),
        members=by_prefix.get("MEMBER", []),
        jobs={str(item["sk"]).split("#", 1)[1]: item for item in by_prefix.get("JOB", [])},
        idempotency={str(item["sk"]).split("#", 1)[1]: item for item in by_prefix.get("IDEM", [])},
    )


def audit(connection: Connection, org_id: str) -> AuditReport:
    return audit_org(org_items(connection, org_id))
