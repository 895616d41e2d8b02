"""Cold-start wiring shared by the handlers: settings, the clock and the store, built once per process."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

from act3_billing.config import Clock, clock_from, settings

if TYPE_CHECKING:
    from pynamodb.connection import Connection

    from act3_billing.mail import Mailer
    from act3_billing.notifications import Notifier
    from act3_billing.store.cycles import CycleStore
    from act3_billing.store.orgs import OrgStore
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
    """Alerts: the marker table, the project's bus and SES, built once per process."""
    global _notifier  # noqa: PLW0603 - the process-wide injection point
    if _notifier is None:
        from act3_billing.domain.roles import Role
        from act3_billing.notifications import EventBridgeBus, Notifications
        from act3_billing.store.alerts import AlertMarkers

        def recipients(org_id: str) -> tuple[str, list[str]]:
            members = orgs().members(org_id)
            wanted = {Role.OWNER, Role.BILLING}
            emails = sorted(
                {m.membership.email for m in members if m.membership.role in wanted and m.membership.email}
            )
            return orgs().org(org_id).name, emails

        _notifier = Notifications(
            AlertMarkers(), EventBridgeBus(settings().event_bus_name, settings().region), mailer(), recipients
        )
    return _notifier


def use_notifier(notify: Notifier | None) -> None:
    global _notifier  # noqa: PLW0603
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


def reset() -> None:
    """Forget the wiring (tests point the package at another table or endpoint)."""
    settings.cache_clear()
    connection.cache_clear()
    store.cache_clear()
    orgs.cache_clear()
    cycles.cache_clear()
    use_clock(None)
    use_mailer(None)
    use_notifier(None)
