"""DynamoDB's limits for an org that lives for years, on DynamoDB Local: 500 lots drawn in one debit and
across many, a job of 10,000 charges refunded, and a wallet that is full refusing cleanly. Every
expression the store sends stays under 4 KB and every item under 400 KB, measured, not assumed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from act3_billing.domain.errors import TooManyLots
from act3_billing.domain.lots import LotKind
from act3_billing.domain.roles import Role
from act3_billing.store import lot_writes
from act3_billing.store.cache import WalletCache
from act3_billing.store.idempotency import Idem
from act3_billing.store.models import bind
from act3_billing.store.orgs import OrgStore
from act3_billing.store.wallets import BillingStore
from tests.support.books import assert_books
from tests.support.dynamo_limits import EXPRESSION_LIMIT, ITEM_LIMIT, Requests, item_size, recorded_requests
from tests.support.wallets import T0, Org, add_lot, new_org

NOW = T0 + timedelta(hours=1)
CHARGES = int(os.environ.get("ACT3_LIMITS_CHARGES", "10000"))


@pytest.fixture
def recorded(
    aws_env: None, dynamodb_local: str, emulator_table: str
) -> Iterator[tuple[BillingStore, Requests]]:
    with recorded_requests() as requests:
        yield BillingStore(bind(emulator_table, "us-east-1", dynamodb_local), cache=WalletCache()), requests


@pytest.fixture
def client(dynamodb_local: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=dynamodb_local,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _largest_item(client: Any, table: str, org_id: str) -> tuple[str, int]:
    """The largest item of the org's partition, by DynamoDB's rules."""
    largest = ("", 0)
    pages = client.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"ORG#{org_id}"}},
        ConsistentRead=True,
    )
    for page in pages:
        for item in page["Items"]:
            size = item_size(item)
            if size > largest[1]:
                largest = (item["sk"]["S"], size)
    return largest


def _years_of_lots(store: BillingStore, org: Org, lots: int, credits: int = 10) -> list[str]:
    """`lots` lots beside the monthly one: grants with an expiry each (one a day), and packs."""

    def one(n: int) -> str:
        if n % 5 == 4:
            return add_lot(store, org.org_id, LotKind.PACK, credits, now=T0 + timedelta(seconds=n))
        return add_lot(
            store,
            org.org_id,
            LotKind.GRANT,
            credits,
            expires_at=T0 + timedelta(days=30 + n),
            now=T0 + timedelta(seconds=n),
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, range(lots)))


def _debit(store: BillingStore, org: Org, amount: int, job: str, key: str, now: datetime = NOW) -> Any:
    return store.debit(
        org.org_id,
        actor=org.creator,
        amount=amount,
        job_id=job,
        idem=Idem(key, "debit", f"{key}:{amount}"),
        now=now,
        rate_card_version="limits",
    )


def _within_limits(requests: Requests, client: Any, table: str, *org_ids: str) -> dict[str, int]:
    longest = requests.longest()
    assert 0 < longest < EXPRESSION_LIMIT, requests.expressions
    sizes = {org_id: _largest_item(client, table, org_id)[1] for org_id in org_ids}
    assert max(sizes.values()) < ITEM_LIMIT, sizes
    return {"longest_expression": longest, "largest_item": max(sizes.values())}


def test_one_debit_drawing_500_lots_then_refunded(
    recorded: tuple[BillingStore, Requests], client: Any, emulator_table: str
) -> None:
    store, requests = recorded
    # Given an org with 500 lots: the monthly allowance, 399 grants each with its own expiry, 100 packs
    org = new_org(store, monthly=10)
    _years_of_lots(store, org, 499)
    wallet = store.wallet(org.org_id)
    assert len(wallet.lots) == 500 and wallet.total() == 5_000

    # When one debit takes everything, from all 500 lots in spending order
    debit = _debit(store, org, 5_000, "epic", "debit-500")

    # Then it commits whole, names every lot it drew from, and the job is refunded into all of them
    assert len(debit.body["lots"]) == 500
    assert store.wallet(org.org_id).total() == 0
    refund = store.refund_job(
        org.org_id,
        actor=org.creator,
        job_id="epic",
        idem=Idem("r-500", "refund", "epic"),
        now=NOW,
        service="service:usage-meter",
    )
    assert refund.body["refunded"] == 5_000 and len(refund.body["lots"]) == 500
    assert store.wallet(org.org_id).total() == 5_000
    assert_books(store, org.org_id)
    # And no expression came near 4 KB, no item near 400 KB
    measured = _within_limits(requests, client, emulator_table, org.org_id)
    assert measured["longest_expression"] < EXPRESSION_LIMIT // 2


def test_500_lots_drawn_across_many_debits_holds_and_a_transfer(
    recorded: tuple[BillingStore, Requests], client: Any, emulator_table: str
) -> None:
    store, requests = recorded
    org = new_org(store, monthly=10)
    other = new_org(store, monthly=0)
    OrgStore(store.connection).add_member(other.org_id, org.owner, Role.OWNER, email=None, now=T0)
    _years_of_lots(store, org, 499)

    # When debits of every size, a hold over 60 lots extended over 40 more and captured in stages, and a
    # transfer of 120 lots walk through the wallet
    at = NOW
    for n, amount in enumerate((5, 35, 250, 3, 700)):
        at += timedelta(seconds=1)
        _debit(store, org, amount, f"job-{n}", f"debit-{n}", at)
    hold = store.place_hold(
        org.org_id,
        actor=org.creator,
        amount=600,
        job_id="render",
        expires_at=at + timedelta(hours=6),
        idem=Idem("hold", "hold", "600"),
        now=at,
    )
    hold_id = str(hold.body["hold_id"])
    store.extend_hold(
        org.org_id,
        actor=org.creator,
        hold_id=hold_id,
        more=400,
        expires_at=None,
        idem=Idem("x", "x", "x"),
        now=at,
    )
    for stage in range(3):
        store.settle_hold(
            org.org_id,
            actor=org.creator,
            hold_id=hold_id,
            capture=150,
            final=stage == 2,
            idem=Idem(f"stage-{stage}", "capture", str(stage)),
            now=at + timedelta(minutes=stage + 1),
        )
    moved = store.transfer(
        org.org_id,
        to_org_id=other.org_id,
        actor=org.owner,
        amount=1_200,
        idem=Idem("xfer", "transfer", "1200"),
        now=at + timedelta(minutes=5),
    )

    # Then every credit is where the ledger says, the transfer arrived as one lot per expiry
    assert len(moved.body["lots_out"]) >= 120
    assert len(moved.body["lots_in"]) == len(
        {store.wallet(other.org_id).lots_by_id[k].expires_at for k in moved.body["lots_in"]}
    )
    assert store.wallet(org.org_id).total() == 5_000 - 993 - 450 - 1_200
    assert_books(store, org.org_id, other.org_id)
    _within_limits(requests, client, emulator_table, org.org_id, other.org_id)


def test_a_job_of_10000_charges_then_refunded(
    recorded: tuple[BillingStore, Requests], client: Any, emulator_table: str
) -> None:
    store, requests = recorded
    # Given a job charged 10,000 times: staged captures of its hold and debits, from 12 lots
    org = new_org(store, monthly=CHARGES)
    _years_of_lots(store, org, 11, credits=CHARGES // 10)
    captures = CHARGES // 2
    hold = store.place_hold(
        org.org_id,
        actor=org.creator,
        amount=captures,
        job_id="feature-film",
        expires_at=NOW + timedelta(days=5),
        idem=Idem("hold", "hold", str(captures)),
        now=NOW,
    )
    hold_id = str(hold.body["hold_id"])

    def capture(n: int) -> None:
        store.settle_hold(
            org.org_id,
            actor=org.creator,
            hold_id=hold_id,
            capture=1,
            final=False,
            idem=Idem(f"cap-{n}", "capture", str(n)),
            now=NOW,
        )

    for n in range(captures):
        capture(n)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda n: _debit(store, org, 3, "feature-film", f"d-{n}"), range(CHARGES - captures)))

    # When the job is refunded
    refund = store.refund_job(
        org.org_id,
        actor=org.creator,
        job_id="feature-film",
        idem=Idem("refund", "refund", "ff"),
        now=NOW,
        service="service:usage-meter",
    )

    # Then it gave back every credit charged, the job's record stayed small, and the books balance
    assert refund.body["refunded"] == captures + 3 * (CHARGES - captures)
    job = client.get_item(
        TableName=emulator_table, Key={"pk": {"S": f"ORG#{org.org_id}"}, "sk": {"S": "JOB#feature-film"}}
    )["Item"]
    assert int(job["charge_count"]["N"]) == CHARGES
    assert item_size(job) < 2_000
    assert_books(store, org.org_id)
    _within_limits(requests, client, emulator_table, org.org_id)


def test_a_full_wallet_refuses_another_lot_cleanly(
    recorded: tuple[BillingStore, Requests], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = recorded
    monkeypatch.setattr(lot_writes, "MAX_LOTS", 12)
    org = new_org(store, monthly=10)
    sender = new_org(store, monthly=500)
    OrgStore(store.connection).add_member(org.org_id, sender.owner, Role.OWNER, email=None, now=T0)
    _years_of_lots(store, org, 11)
    before = store.wallet(org.org_id)

    # When a 13th lot would arrive, as a grant or as a transfer
    with pytest.raises(TooManyLots):
        add_lot(store, org.org_id, LotKind.GRANT, 5, expires_at=T0 + timedelta(days=90), now=NOW)
    with pytest.raises(TooManyLots):
        store.transfer(
            sender.org_id,
            to_org_id=org.org_id,
            actor=sender.owner,
            amount=50,
            idem=Idem("t", "t", "t"),
            now=NOW,
        )

    # Then it is refused with its own code, and nothing changed
    after = store.wallet(org.org_id)
    assert (after.lots, after.lots_version) == (before.lots, before.lots_version)
    assert store.wallet(sender.org_id).total() == 500
    assert_books(store, org.org_id, sender.org_id)
