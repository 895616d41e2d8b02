"""The monthly usage statement (SPEC §8): a PDF per org and month, in S3, by presigned URL."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest

from act3_billing.store.wallets import BillingStore
from tests.integration.conftest import MovableClock
from tests.support import calls
from tests.support.events import http_event
from tests.support.functions import Reply, invoke
from tests.support.wallets import Org, new_org

BUCKET = "act3-billing-statements"


@pytest.fixture
def s3(store: BillingStore) -> object:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


def get(org: Org, user: str, cycle: str) -> Reply:
    return invoke(
        "statements", http_event("statement_get", org_id=org.org_id, user=user, params={"cycle": cycle})
    )


def pdf_of(s3: object, reply: Reply) -> bytes:
    key = urlsplit(reply.body["url"]).path.split(f"/{BUCKET}/", 1)[-1].lstrip("/")
    if key.startswith(BUCKET):
        key = key[len(BUCKET) + 1 :]
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()  # type: ignore[attr-defined, no-any-return]


def test_a_statement_sums_the_months_ledger_into_a_pdf(
    s3: object, store: BillingStore, clock: MovableClock, tmp_path: Path
) -> None:
    # Given a month with spending by two members and a refund
    org = new_org(store)
    calls.debit(org.org_id, org.creator, "render-1", usage={"shots": {"Q3": 2}})  # 800
    calls.debit(org.org_id, org.owner, "script-1", usage={"shots": {"Q1": 1}})  # 80
    calls.debit(org.org_id, org.creator, "render-2", usage={"shots": {"Q2": 1}})  # 200
    calls.refund(org.org_id, org.owner, "render-2", key="refund-render-2")
    # When the billing member asks for this month's statement
    reply = get(org, org.billing, "2026-11")
    # Then the totals come from the ledger and the PDF is in S3 behind a presigned URL
    assert reply.status == 200, reply.body
    assert reply.body["final"] is False
    assert reply.body["totals"]["granted"] == 33_000
    assert reply.body["totals"]["spent"] == 1080 and reply.body["totals"]["refunded"] == 200
    assert "X-Amz-Signature" in reply.body["url"] or "Signature" in reply.body["url"]
    pdf = pdf_of(s3, reply)
    assert pdf.startswith(b"%PDF")
    (tmp_path / "statement.pdf").write_bytes(pdf)


def test_a_month_in_the_future_is_not_found_and_a_bad_cycle_is_422(s3: object, store: BillingStore) -> None:
    org = new_org(store)
    assert get(org, org.owner, "2027-01").code == "not_found"
    assert get(org, org.owner, "2026-13").status == 422
    assert get(org, org.owner, "last-month").status == 422


def test_creators_and_viewers_get_403(s3: object, store: BillingStore) -> None:
    org = new_org(store)
    assert get(org, org.creator, "2026-11").code == "forbidden_role"
    assert get(org, org.viewer, "2026-11").code == "forbidden_role"
