"""Handlers on moto (in-process): the table is built from template.yaml; the clock is a fixture."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from act3_billing.store.wallets import BillingStore
from tests.support.localstripe import deliveries, localstripe, on_localstripe  # noqa: F401 (fixtures)
from tests.support.moto_stack import handlers_on_moto
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
def store(monkeypatch: pytest.MonkeyPatch, clock: MovableClock) -> Iterator[BillingStore]:
    with handlers_on_moto(monkeypatch, TABLE, clock) as billing:
        yield billing


@pytest.fixture
def outbox(store: BillingStore) -> list[Any]:
    """E-mails sent through SES (moto keeps them)."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages


# ---- money (issue 8): a stand-in for api.stripe.com, and the webhook's signing secret -----------------


@pytest.fixture
def stripe_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The fake Stripe API (tests/support/stripe_api.py); request it before `store` (the handlers'
    wiring is rebuilt there, reading these variables)."""
    from tests.support.stripe_api import fake_stripe
    from tests.support.stripe_events import SECRET

    with fake_stripe() as fake:
        monkeypatch.setenv("STRIPE_API_BASE", fake.base)
        monkeypatch.setenv("STRIPE_API_KEY", "sk_test_act3_fake")
        monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
        yield fake


@pytest.fixture
def money(stripe_api: Any, store: BillingStore, clock: MovableClock) -> Any:
    """The fake Stripe API with the handlers on moto; its periods start on the test's clock."""
    stripe_api.now = int(clock.now.timestamp())
    return stripe_api
