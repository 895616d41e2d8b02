"""Cold-start wiring shared by the handlers: settings, the clock and the store, built once per process."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

from act3_billing.config import Clock, clock_from, settings

if TYPE_CHECKING:
    from pynamodb.connection import Connection

    from act3_billing.entitlements import CatalogCache
    from act3_billing.mail import Mailer
    from act3_billing.notifications import Notifier
    from act3_billing.objects import Objects, Queue, Reports
    from act3_billing.payments.gateway import StripeGateway
    from act3_billing.store.cycles import CycleStore
    from act3_billing.store.debt import DebtStore
    from act3_billing.store.entitlements import EntitlementsStore
    from act3_billing.store.orgs import OrgStore
    from act3_billing.store.payments import PaymentsStore
    from act3_billing.store.storage import StorageStore
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


@cache
def cycles() -> CycleStore:
    from act3_billing.store.cycles import CycleStore

    return CycleStore(store())


_mailer: Mailer | None = None
_notifier: Notifier | None = None


def mailer() -> Mailer:
    global _mailer  # noqa: PLW0603 - the process-wide injection point
    if _mailer is None:
        from act3_billing.mail import SesMailer

        _mailer = SesMailer(settings().mail_from, settings().region)
    return _mailer


def use_mailer(mail: Mailer | None) -> None:
    global _mailer  # noqa: PLW0603
    _mailer = mail


def notifier() -> Notifier:
    """Alerts: the markers, the project's bus and SES. Built per use (alerts are rare; the process-wide
    memo of sent alerts lives in `notifications`), so an injected mailer is always the one used."""
    if _notifier is not None:
        return _notifier
    from act3_billing.notifications import NOTIFIED_ROLES, EventBridgeBus, Notifications
    from act3_billing.store.notifications import NotificationMarks

    def recipients(org_id: str) -> tuple[str, list[str]]:
        emails = {
            view.membership.email
            for view in orgs().members(org_id)
            if view.membership.role in NOTIFIED_ROLES and view.membership.email
        }
        return orgs().org(org_id).name, sorted(emails)

    return Notifications(
        NotificationMarks(connection()),
        EventBridgeBus(settings().event_bus_name, settings().region),
        mailer(),
        recipients,
    )


def use_notifier(notify: Notifier | None) -> None:
    """Inject the notifier (tests); None = built from the settings."""
    global _notifier  # noqa: PLW0603 - the process-wide injection point
    _notifier = notify


def use_clock(clock: Clock | None) -> None:
    """Inject the clock handlers read `now` from (tests and the local stack move it); None = from settings."""
    global _clock  # noqa: PLW0603 - the process-wide injection point
    _clock = clock


def now() -> datetime:
    global _clock  # noqa: PLW0603
    if _clock is None:
        _clock = clock_from(settings())
    return _clock()


# ---- storage (issue 10) ---------------------------------------------------------------------------


@cache
def storage() -> StorageStore:
    from act3_billing.store.storage import StorageStore

    return StorageStore(connection())


@cache
def objects() -> Objects:
    from act3_billing.objects import S3Objects

    return S3Objects(settings().storage_bucket, settings().region)


@cache
def reports() -> Reports:
    from act3_billing.objects import S3Reports

    return S3Reports(settings().region)


@cache
def purge_queue() -> Queue:
    from act3_billing.objects import SqsQueue

    return SqsQueue(settings().purge_queue_url, settings().region)


@cache
def stripe_events_queue() -> Queue:
    from act3_billing.objects import SqsQueue

    return SqsQueue(settings().stripe_events_queue_url, settings().region)


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


# ---- entitlements (issue 12) ------------------------------------------------------------------------


@cache
def entitlements() -> EntitlementsStore:
    from act3_billing.store.entitlements import EntitlementsStore

    return EntitlementsStore(connection())


@cache
def catalog_cache() -> CatalogCache:
    """The live catalog, read at most once a minute per process (act3_billing.entitlements)."""
    from act3_billing.catalog import live_catalog
    from act3_billing.entitlements import CatalogCache

    return CatalogCache(lambda: live_catalog(payments()))


def reset() -> None:
    """Forget the wiring (tests point the package at another table or endpoint)."""
    settings.cache_clear()
    connection.cache_clear()
    store.cache_clear()
    orgs.cache_clear()
    for cached in (storage, objects, reports, purge_queue, stripe_events_queue, cycles):
        cached.cache_clear()
    use_clock(None)
    use_mailer(None)
    use_notifier(None)
    payments.cache_clear()
    debts.cache_clear()
    entitlements.cache_clear()
    catalog_cache.cache_clear()
    global _gateway  # noqa: PLW0603
    _gateway = None
