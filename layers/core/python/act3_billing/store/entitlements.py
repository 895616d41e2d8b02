"""What an entitlements answer reads, in one BatchGetItem: the wallet, the member, the storage totals
and the org's contract terms (item `ORG#{org}`/`CONTRACT`, set by billing operations). Consistent reads,
so the answer is the state a hold would be judged on at the same moment."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import UpdateError

from act3_billing.domain.entitlements import Contract
from act3_billing.domain.errors import Conflict
from act3_billing.domain.lots import Wallet
from act3_billing.domain.plans import Feature
from act3_billing.domain.spending import Spender
from act3_billing.domain.times import iso
from act3_billing.store.models import WALLET_SK, MemberItem, StorageUsageItem, WalletItem, _Item, org_pk
from act3_billing.store.records import spender_from_item, wallet_from_item

CONTRACT_SK = "CONTRACT"
STORAGE_TOTALS_SK = "STORAGE"  # store/storage.py's totals item
MAX_ROUNDS = 5  # UnprocessedKeys (throttling) are asked for again, a few times


class ContractItem(_Item):
    """An enterprise org's contract terms: features (JSON object) and a storage quota."""

    org_id = UnicodeAttribute()
    features = UnicodeAttribute(default="{}")
    storage_gb = NumberAttribute(null=True)
    version = NumberAttribute(default=0)
    updated_by = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)


@dataclass(frozen=True)
class Snapshot:
    """What one entitlements call read (None: no such item)."""

    wallet: Wallet | None
    member: MemberItem | None
    storage_bytes: int
    contract: Contract | None

    def spender(self) -> Spender | None:
        if self.member is None or self.wallet is None:
            return None
        return spender_from_item(self.member, self.wallet.cycle_id)


def contract_from_item(item: ContractItem) -> Contract:
    raw = json.loads(item.features or "{}")
    return Contract(
        features={str(k): v for k, v in raw.items()},
        storage_gb=int(item.storage_gb) if item.storage_gb is not None else None,
    )


class EntitlementsStore:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def snapshot(self, org_id: str, member_id: str) -> Snapshot:
        """The four items in one request (more only if DynamoDB leaves keys unprocessed)."""
        pk = org_pk(org_id)
        wanted = {
            WALLET_SK: WalletItem,
            f"MEMBER#{member_id}": MemberItem,
            STORAGE_TOTALS_SK: StorageUsageItem,
            CONTRACT_SK: ContractItem,
        }
        table = str(WalletItem.Meta.table_name)
        keys: list[dict[str, Any]] = [{"pk": {"S": pk}, "sk": {"S": sk}} for sk in wanted]
        found: dict[str, Any] = {}
        for _ in range(MAX_ROUNDS):
            answer = self._connection.client.batch_get_item(
                RequestItems={table: {"Keys": keys, "ConsistentRead": True}}
            )
            for raw in answer.get("Responses", {}).get(table, []):
                sk = raw["sk"]["S"]
                found[sk] = wanted[sk].from_raw_data(raw)
            keys = answer.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            if not keys:
                break
        else:
            raise Conflict("the table is busy; retry")
        wallet = found.get(WALLET_SK)
        storage = found.get(STORAGE_TOTALS_SK)
        contract = found.get(CONTRACT_SK)
        return Snapshot(
            wallet=wallet_from_item(wallet) if wallet is not None else None,
            member=found.get(f"MEMBER#{member_id}"),
            storage_bytes=int(storage.media_bytes or 0) + int(storage.text_bytes or 0) if storage else 0,
            contract=contract_from_item(contract) if contract is not None else None,
        )

    def contract(self, org_id: str) -> tuple[Contract, int] | None:
        """The contract terms and their version (None: no contract recorded)."""
        try:
            item = ContractItem.get(org_pk(org_id), CONTRACT_SK, consistent_read=True)
        except ContractItem.DoesNotExist:
            return None
        return contract_from_item(item), int(item.version or 0)

    def set_contract(
        self, org_id: str, contract: Contract, *, actor: str, now: datetime, version: int | None = None
    ) -> int:
        """Replace the contract terms; with `version`, only if it is still that version (None: whatever
        is there). Returns the new version."""
        features: dict[str, Feature] = dict(contract.features)
        item = ContractItem(org_pk(org_id), CONTRACT_SK)
        condition = None
        if version is not None:
            condition = (
                ContractItem.version.does_not_exist() | (ContractItem.version == version)
                if version == 0
                else ContractItem.version == version
            )
        try:
            item.update(
                actions=[
                    ContractItem.org_id.set(org_id),
                    ContractItem.features.set(json.dumps(features, sort_keys=True)),
                    ContractItem.storage_gb.set(contract.storage_gb)
                    if contract.storage_gb is not None
                    else ContractItem.storage_gb.remove(),
                    ContractItem.version.add(1),
                    ContractItem.updated_by.set(actor),
                    ContractItem.updated_at.set(iso(now)),
                ],
                condition=condition,
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise Conflict("the contract changed meanwhile; read it and try again") from None
            raise
        return int(item.version or 0)
