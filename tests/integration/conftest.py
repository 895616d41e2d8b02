"""Handlers on moto (in-process): the table is built from template.yaml; the clock is a fixture."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from act3_billing import runtime
from act3_billing.store.wallets import BillingStore
from tests.support.template import create_tables, load_template
from tests.support.wallets import T0

TABLE = "act3-billing-test"


class MovableClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(T0 + timedelta(hours=1))


@pytest.fixture
def store(aws_env: None, monkeypatch: pytest.MonkeyPatch, clock: MovableClock) -> Iterator[BillingStore]:
    for name, value in load_template()["Globals"]["Function"]["Environment"]["Variables"].items():
        if isinstance(value, str):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    with mock_aws():
        create_tables(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        boto3.client("ses", region_name="us-east-1").verify_domain_identity(Domain="act3.ai")
        runtime.reset()
        runtime.use_clock(clock)
        from act3_billing.store.wallets import _CACHE

        _CACHE._views.clear()
        yield runtime.store()
    runtime.reset()


@pytest.fixture
def outbox(store: BillingStore) -> list[Any]:
    """E-mails sent through SES (moto keeps them)."""
    from moto.ses.models import ses_backends

    return ses_backends["123456789012"]["us-east-1"].sent_messages  # moto's default account
