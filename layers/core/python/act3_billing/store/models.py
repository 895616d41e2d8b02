"""PynamoDB models of the single billing table (keys `pk`/`sk`, GSI `gsi1`, TTL `expires_ttl`).

| item        | pk           | sk                      |
| ----------- | ------------ | ----------------------- |
| wallet      | ORG#{org}    | WALLET                  |
| member      | ORG#{org}    | MEMBER#{user}           |  gsi1: USER#{user} / ORG#{org}
| ledger      | ORG#{org}    | LEDGER#{time}#{entry}   |  gsi1: ORG#{org}#JOB#{job} / sk
| idempotency | ORG#{org}    | IDEM#{key}              |
| hold        | ORG#{org}    | HOLD#{hold}             |
| quote       | ORG#{org}    | QUOTE#{quote}           |
| job charges | ORG#{org}    | JOB#{job}               |
| org         | ORG#{org}    | ORG                     |
| invite      | ORG#{org}    | INVITE#{invite}         |  gsi1: INVITE#{hash of token} / ORG#{org}#{invite}
| user        | USER#{user}  | PROFILE                 |
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.connection import Connection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

WALLET_SK = "WALLET"


def org_pk(org_id: str) -> str:
    return f"ORG#{org_id}"


class _Item(Model):
    class Meta:
        table_name = "act3-billing"
        region = "us-east-1"
        host: str | None = None
        max_retry_attempts = 2

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class _ByUser(GlobalSecondaryIndex["MemberItem"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class _ByToken(GlobalSecondaryIndex["InviteItem"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class WalletItem(_Item):
    """One per org. `lots` maps lot id -> {kind, remaining, granted, created_at, expires_at, label}.

    `lots_version` changes whenever the set of lots changes (never on spending), so a cached view of
    the wallet can be trusted inside a transaction that conditions on it.
    """

    org_id = UnicodeAttribute()
    plan_id = UnicodeAttribute()
    cycle_id = UnicodeAttribute()
    cycle_start = UnicodeAttribute()
    cycle_end = UnicodeAttribute()
    lots = MapAttribute[str, Any]()
    lots_version = NumberAttribute(default=0)
    held = NumberAttribute(default=0)
    generation_enabled = BooleanAttribute(default=True)
    monthly_allowance = NumberAttribute(default=0)
    created_at = UnicodeAttribute()
    # Credits a refunded or disputed pack took back beyond what was left of it; new credits pay it first.
    debt = NumberAttribute(null=True)


class MemberItem(_Item):
    """`may_spend` is the effective shared-credit toggle (override, else the role's org setting), kept
    resolved so a spending transaction can check it without reading the org. `spent` maps a billing
    cycle id to what the member spent in it; `monthly_limit` is absent for members without one."""

    org_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    role = UnicodeAttribute()
    may_spend = BooleanAttribute(default=True)
    may_spend_override = BooleanAttribute(null=True)
    monthly_limit = NumberAttribute(null=True)
    spent = MapAttribute[str, Any](default=dict)
    email = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    by_user = _ByUser()


class OrgItem(_Item):
    org_id = UnicodeAttribute()
    name = UnicodeAttribute()
    owners = NumberAttribute(default=0)
    personal = BooleanAttribute(default=False)
    shared_credits = MapAttribute[str, Any](default=dict)
    created_by = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()


class UserItem(_Item):
    user_id = UnicodeAttribute()
    email = UnicodeAttribute(null=True)
    personal_org = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()


class InviteItem(_Item):
    invite_id = UnicodeAttribute()
    org_id = UnicodeAttribute()
    email = UnicodeAttribute()
    role = UnicodeAttribute()
    token_hash = UnicodeAttribute()
    status = UnicodeAttribute()
    expires_at = UnicodeAttribute()
    created_at = UnicodeAttribute()
    invited_by = UnicodeAttribute()
    accepted_by = UnicodeAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    by_token = _ByToken()


class JobIndex(GlobalSecondaryIndex["LedgerItem"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class LedgerItem(_Item):
    entry_id = UnicodeAttribute()
    org_id = UnicodeAttribute()
    type = UnicodeAttribute()
    amount = NumberAttribute()
    from_account = UnicodeAttribute()
    to_account = UnicodeAttribute()
    lots = MapAttribute[str, Any](default=dict)
    sources = MapAttribute[str, Any](default=dict)
    actor = UnicodeAttribute(null=True)
    job_id = UnicodeAttribute(null=True)
    hold_id = UnicodeAttribute(null=True)
    quote_id = UnicodeAttribute(null=True)
    idempotency_key = UnicodeAttribute(null=True)
    rate_card_version = UnicodeAttribute(null=True)
    memo = UnicodeAttribute(null=True)
    opened = MapAttribute[str, Any](null=True)
    created_at = UnicodeAttribute()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    by_job = JobIndex()


class IdempotencyItem(_Item):
    operation = UnicodeAttribute()
    fingerprint = UnicodeAttribute()
    response = UnicodeAttribute()
    created_at = UnicodeAttribute()
    expires_ttl = TTLAttribute(null=True)


class HoldItem(_Item):
    hold_id = UnicodeAttribute()
    org_id = UnicodeAttribute()
    amount = NumberAttribute()
    captured = NumberAttribute(default=0)
    released = NumberAttribute(default=0)
    draws = ListAttribute[MapAttribute[str, Any]](of=MapAttribute, default=list)
    status = UnicodeAttribute()
    expires_at = UnicodeAttribute()
    created_at = UnicodeAttribute()
    job_id = UnicodeAttribute(null=True)
    actor = UnicodeAttribute(null=True)
    cycle_id = UnicodeAttribute(null=True)


class QuoteItem(_Item):
    quote_id = UnicodeAttribute()
    org_id = UnicodeAttribute()
    credits = NumberAttribute()
    breakdown = UnicodeAttribute()
    rate_card_version = UnicodeAttribute()
    expires_at = UnicodeAttribute()
    created_at = UnicodeAttribute()
    actor = UnicodeAttribute(null=True)
    used_by = UnicodeAttribute(null=True)
    expires_ttl = TTLAttribute(null=True)


class JobItem(_Item):
    """What a job was charged, lot by lot, appended in the same transaction as each debit or capture,
    so a refund reads it consistently (the job index of the ledger may lag)."""

    charges = ListAttribute[MapAttribute[str, Any]](of=MapAttribute, default=list)
    refunded_by = UnicodeAttribute(null=True)


MODELS: tuple[type[_Item], ...] = (
    WalletItem,
    MemberItem,
    LedgerItem,
    IdempotencyItem,
    HoldItem,
    QuoteItem,
    JobItem,
)


def bind(table_name: str, region: str, host: str | None = None) -> Connection:
    """Point every model at one table (and, locally, an endpoint); returns the connection for transactions."""
    models: tuple[type[_Item], ...] = (_Item, *MODELS)
    for model in models:
        model.Meta.table_name = table_name
        model.Meta.region = region
        model.Meta.host = host
        model._connection = None
    return Connection(region=region, host=host, max_retry_attempts=2)
