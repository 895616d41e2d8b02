"""The handlers' world on moto, in-process: fake credentials, the functions' environment from
template.yaml, the table built from the template, SES able to send, and an injected clock."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from act3_billing import runtime
from act3_billing.store.cache import shared_cache
from act3_billing.store.wallets import BillingStore
from tests.support.storage import storage_on_moto
from tests.support.template import create_tables, load_template

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def fake_aws(patch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and region, so nothing can reach a real AWS account."""
    for name, value in FAKE_AWS.items():
        patch.setenv(name, value)
    patch.delenv("AWS_PROFILE", raising=False)


@contextmanager
def handlers_on_moto(
    patch: pytest.MonkeyPatch, table: str, clock: Callable[[], datetime]
) -> Iterator[BillingStore]:
    fake_aws(patch)
    for name, value in load_template()["Globals"]["Function"]["Environment"]["Variables"].items():
        if isinstance(value, str):
            patch.setenv(name, value)
    patch.setenv("TABLE_NAME", table)
    patch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    with mock_aws():
        create_tables(boto3.client("dynamodb", region_name="us-east-1"), table)
        boto3.client("ses", region_name="us-east-1").verify_domain_identity(Domain="act3.ai")
        storage_on_moto(patch)  # storage (issue 10): buckets, purge queue, bus
        runtime.reset()
        runtime.use_clock(clock)
        shared_cache().clear()
        try:
            yield runtime.store()
        finally:
            runtime.reset()


def moto_items(table: str) -> list[dict[str, Any]]:
    """Every item of a table in moto's in-process backend, in DynamoDB's JSON, as a consistent Scan
    returns them (without the Scan: moto's response serializer was most of a snapshot's time)."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    items = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables[table].all_items()
    return [json.loads(json.dumps(item.to_json()["Attributes"], default=str)) for item in items]
