"""Cold-start wiring shared by the handlers: settings, the clock and the store, built once per process."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

from act3_billing.config import Clock, clock_from, settings

if TYPE_CHECKING:
    from pynamodb.connection import Connection

    from act3_billing.mail import Mailer
    from act3_billing.payments.gateway import StripeGateway
    from act3_billing.store.debt import DebtStore
    from act3_billing.store.orgs import OrgStore
    from act3_billing.store.payments import PaymentsStore
    from act3_billing.store.wallets import BillingStore

_clock: Clock | None = None


@cache
def connection() -> Connection:
    from act3_billing.store.models import bind

    config = settings()
    return bind(config.table_name, config.region)


@cache
def store() -> BillingStore:
    from act3_billing.store.wallets import BillingStore

    return BillingStore(connection())


@cache
def orgs() -> OrgStore:
    from act3_billing.store.orgs import OrgStore

    return OrgStore(connection())


_mailer: Mailer | None = None


def mailer() -> Mailer:
    global _mailer  # noqa: PLW0603 - the process-wide injection point
    if _mailer is None:
        from act3_billing.mail import SesMailer

        _mailer = SesMailer(settings().mail_from, settings().region)
    return _mailer


def use_mailer(mail: Mailer | None) -> None:
    global _mailer  # noqa: PLW0603
    _mailer = mail


def use_clock(clock: Clock | None) -> None:
    """Inject the clock handlers read `now` from (tests and the local stack move it); None = from settings."""
    global _clock  # noqa: PLW0603 - the process-wide injection point
    _clock = clock


def now() -> datetime:
    global _clock  # noqa: PLW0603
    if _clock is None:
        _clock = clock_from(settings())
    return _clock()


# ---- money (issue 8): built only by the functions that pay ---------------------------------------

_gateway: StripeGateway | None = None


@cache
def payments() -> PaymentsStore:
    from act3_billing.store.payments import PaymentsStore

    return PaymentsStore(connection())


@cache
def debts() -> DebtStore:
    from act3_billing.store.debt import DebtStore

    return DebtStore(connection(), store())


def gateway() -> StripeGateway:
    """The Stripe client, configured from the environment (STRIPE_API_KEY, STRIPE_API_BASE locally)."""
    global _gateway  # noqa: PLW0603 - the process-wide injection point
    if _gateway is None:
        import os

        from act3_billing.payments.gateway import StripeGateway, StripeSettings

        _gateway = StripeGateway(
            StripeSettings(
                api_key=os.environ.get("STRIPE_API_KEY", ""),
                api_base=os.environ.get("STRIPE_API_BASE") or None,
            )
        )
    return _gateway


def webhook_secret() -> str:
    import os

    return os.environ.get("STRIPE_WEBHOOK_SECRET", "")


def reset() -> None:
    """Forget the wiring (tests point the package at another table or endpoint)."""
    settings.cache_clear()
    connection.cache_clear()
    store.cache_clear()
    orgs.cache_clear()
    use_clock(None)
    use_mailer(None)
    payments.cache_clear()
    debts.cache_clear()
    global _gateway  # noqa: PLW0603
    _gateway = None
