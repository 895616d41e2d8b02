"""PynamoDB models of the single billing table (keys `pk`/`sk`, GSI `gsi1`, TTL `expires_ttl`).

| item        | pk           | sk                      |
| ----------- | ------------ | ----------------------- |
| wallet      | ORG#{org}    | WALLET                  |  gsi1: DUE#{shard} / {due at}#{org}
| member      | ORG#{org}    | MEMBER#{user}           |  gsi1: USER#{user} / ORG#{org}
| ledger      | ORG#{org}    | LEDGER#{time}#{entry}   |  gsi1: ORG#{org}#JOB#{job} / sk
| idempotency | ORG#{org}    | IDEM#{key}              |
| hold        | ORG#{org}    | HOLD#{hold}             |  gsi1 (open): HOLDDUE#{shard} / {expiry}#{org}#{hold}
| quote       | ORG#{org}    | QUOTE#{quote}           |
| job charges | ORG#{org}    | JOB#{job}               |
| org         | ORG#{org}    | ORG                     |
| invite      | ORG#{org}    | INVITE#{invite}         |  gsi1: INVITE#{hash of token} / ORG#{org}#{invite}
| user        | USER#{user}  | PROFILE                 |
| storage     | ORG#{org}    | STORAGE[#P#{project}]   |  gsi1: STORAGE#{shard 0-15} / {org} (totals only)
| object      | ORG#{org}    | OBJ#{key below orgs/{org}/} |
| meter log   | ORG#{org}    | SJ#{event time}#{id}    |  (TTL)
| deletion    | ORG#{org}    | MEDIADEL#{deletion}     |
| purge due   | ORG#{org}    | PURGE                   |  gsi1: PURGE_DUE / {due}#{org}
| purge done  | ORG#{org}    | PURGED#{time}           |
| notified    | ORG#{org}    | NOTIFY#{cycle}#{what}   |
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


class _ByDue(GlobalSecondaryIndex["WalletItem"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class _OpenHolds(GlobalSecondaryIndex["HoldItem"]):
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
    # Plan state and the cycle schedule (store/cycles.py): absent on wallets made before them.
    status = UnicodeAttribute(null=True)
    pending_plan_id = UnicodeAttribute(null=True)
    archived_at = UnicodeAttribute(null=True)
    anchor = UnicodeAttribute(null=True)
    trial_ends_at = UnicodeAttribute(null=True)
    granted_cycle = UnicodeAttribute(null=True)
    # The due index: gsi1pk `DUE#{shard}`, gsi1sk `{due instant}#{org}` (when the schedule next looks).
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    by_due = _ByDue()
    # Credits a refunded or disputed pack took back beyond what was left of it; new credits pay it first.
    debt = NumberAttribute(null=True)
    # The Stripe time of the last renewal payment event applied to `status` (issue 12: past_due).
    payment_ts = NumberAttribute(null=True)
    # Issue 11 (DynamoDB limits): changes on every write to `lots`; a write of the whole map conditions
    # on it (store/lot_writes.py). Absent on wallets no write has touched since it was added.
    lots_seq = NumberAttribute(null=True)


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
    service = UnicodeAttribute(null=True)  # issue 9: the machine identity that reported the entry


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
    # Open holds only (removed when a hold closes): gsi1pk `HOLDDUE#{shard}`, gsi1sk `{expiry}#{org}#{hold}`.
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    by_expiry = _OpenHolds()


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
    """What a job was charged, added up in the same transaction as each debit or capture, so a refund
    reads it consistently (the job index of the ledger may lag).

    `charged` maps `["lot", "by", "cycle"]` (JSON) to credits: one key per lot, spender and cycle, however
    many charges the job has (store/job_charges.py); `charge_count` counts the charges. `charges` (a list
    with one map per lot and charge) is how records made before issue 11 kept them: read, never written.
    """

    charges = ListAttribute[MapAttribute[str, Any]](of=MapAttribute, null=True)
    refunded_by = UnicodeAttribute(null=True)
    charged = MapAttribute[str, Any](null=True)
    charge_count = NumberAttribute(null=True)


# ---- storage (issue 10) ------------------------------------------------------------------------------


class _StorageIndex(GlobalSecondaryIndex["StorageUsageItem"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class StorageUsageItem(_Item):
    """An org's storage counters (sk `STORAGE`, with the meter's bookkeeping) or one project's
    (sk `STORAGE#P#{project}`). `inventory_at` is the time of the last inventory report applied: events
    from before it are already in the counters."""

    org_id = UnicodeAttribute()
    project_id = UnicodeAttribute(null=True)
    media_bytes = NumberAttribute(default=0)
    media_objects = NumberAttribute(default=0)
    text_bytes = NumberAttribute(default=0)
    text_objects = NumberAttribute(default=0)
    version = NumberAttribute(default=0)
    updated_at = UnicodeAttribute(null=True)
    inventory_at = UnicodeAttribute(null=True)
    reconciled_at = UnicodeAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    metered = _StorageIndex()


class StoredObjectItem(_Item):
    """The last S3 event applied to one key: its sequencer, and whether the object is there (a delete
    leaves a tombstone, kept a while, so a create delivered after it cannot count)."""

    org_id = UnicodeAttribute()
    project_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    sequencer = UnicodeAttribute()
    present = BooleanAttribute()
    size = NumberAttribute(default=0)
    event_at = UnicodeAttribute()
    expires_ttl = TTLAttribute(null=True)


class StorageJournalItem(_Item):
    """What one event added to the counters, kept a few days: an inventory report adds back the events
    after its time."""

    project_id = UnicodeAttribute()
    media_bytes = NumberAttribute(default=0)
    media_objects = NumberAttribute(default=0)
    text_bytes = NumberAttribute(default=0)
    text_objects = NumberAttribute(default=0)
    expires_ttl = TTLAttribute(null=True)


class MediaDeletionItem(_Item):
    deletion_id = UnicodeAttribute()
    org_id = UnicodeAttribute()
    project_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    cursor = UnicodeAttribute(default="")
    objects = NumberAttribute(default=0)
    bytes = NumberAttribute(default=0)
    pending_last = UnicodeAttribute(null=True)
    pending_objects = NumberAttribute(default=0)
    pending_bytes = NumberAttribute(default=0)
    fingerprint = UnicodeAttribute()
    actor = UnicodeAttribute()
    created_at = UnicodeAttribute()
    finished_at = UnicodeAttribute(null=True)


class _PurgeIndex(GlobalSecondaryIndex["PurgeItem"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class PurgeItem(_Item):
    """An archived org's media purge: scheduled (sk `PURGE`, on the due index) or done (sk `PURGED#…`)."""

    org_id = UnicodeAttribute()
    archived_at = UnicodeAttribute()
    due_at = UnicodeAttribute()
    purged_at = UnicodeAttribute(null=True)
    objects = NumberAttribute(default=0)
    bytes = NumberAttribute(default=0)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    due = _PurgeIndex()


class NotifiedItem(_Item):
    """A notification sent once per org, cycle and threshold (the conditional put is the "once")."""

    org_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    created_at = UnicodeAttribute()


MODELS: tuple[type[_Item], ...] = (
    WalletItem,
    MemberItem,
    LedgerItem,
    IdempotencyItem,
    HoldItem,
    QuoteItem,
    JobItem,
    StorageUsageItem,
    StoredObjectItem,
    StorageJournalItem,
    MediaDeletionItem,
    PurgeItem,
    NotifiedItem,
)


def _subclasses(model: type[_Item]) -> list[type[_Item]]:
    found: list[type[_Item]] = []
    for sub in model.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def bind(table_name: str, region: str, host: str | None = None) -> Connection:
    """Point every model at one table (and, locally, an endpoint); returns the connection for transactions."""
    models: set[type[_Item]] = {_Item, *MODELS, *_subclasses(_Item)}  # and those of payments, contracts
    for model in models:
        model.Meta.table_name = table_name
        model.Meta.region = region
        model.Meta.host = host
        model._connection = None
    return Connection(region=region, host=host, max_retry_attempts=2)
