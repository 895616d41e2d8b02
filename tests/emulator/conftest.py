"""The store on DynamoDB Local: the only place atomicity and concurrency are tested."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest

from act3_billing.store.cache import WalletCache
from act3_billing.store.models import bind
from act3_billing.store.wallets import BillingStore
from tests.support.template import create_tables


@pytest.fixture(scope="session")
def emulator_table(dynamodb_local: str) -> str:
    name = f"act3-billing-{uuid.uuid4().hex[:8]}"
    client = boto3.client(
        "dynamodb",
        endpoint_url=dynamodb_local,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    create_tables(client, name)
    return name


@pytest.fixture
def ddb_store(aws_env: None, dynamodb_local: str, emulator_table: str) -> Iterator[BillingStore]:
    yield BillingStore(bind(emulator_table, "us-east-1", dynamodb_local), cache=WalletCache())
