"""A failed renewal and its recovery, from the Stripe webhook: the subscription shows Stripe's status
(issue 8) and the org's wallet goes `past_due` (nothing is spent) until the renewal is paid.

Both steps are ordered by Stripe's time (the event's `created`), so a late or repeated event never
moves either back; domain/dunning.py decides the wallet's status, store/dunning.py keeps it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from act3_billing import subscriptions
from act3_billing.domain.lots import WalletStatus

if TYPE_CHECKING:
    from act3_billing.store.payments import PaymentsStore
    from act3_billing.store.wallets import BillingStore


def _renewal_org(payments: PaymentsStore, invoice: dict[str, Any]) -> str | None:
    """The org of a subscription renewal invoice (None: not ours, or not a renewal)."""
    if subscriptions.subscription_line(invoice) is None:
        return None
    return subscriptions.org_of(payments, invoice)


def renewal_failed(
    store: BillingStore, payments: PaymentsStore, invoice: dict[str, Any], created: int, now: datetime
) -> str:
    """`invoice.payment_failed`: the subscription is `past_due`, and so is the wallet."""
    from act3_billing.store.dunning import DunningStore

    shown = subscriptions.invoice_payment_failed(payments, invoice, created, now)
    org_id = _renewal_org(payments, invoice)
    if org_id is None:
        return shown
    status = DunningStore(store).payment_event(org_id, paid=False, stripe_ts=created, now=now)
    if status is WalletStatus.PAST_DUE or store.wallet(org_id).status is WalletStatus.PAST_DUE:
        return "past_due"
    return shown if status is None else f"wallet {status.value}"


def renewal_paid(
    store: BillingStore, payments: PaymentsStore, invoice: dict[str, Any], created: int, now: datetime
) -> WalletStatus | None:
    """`invoice.paid` (after its cycle is granted): a `past_due` wallet is active again, unless Stripe
    reported a failure after this payment."""
    from act3_billing.store.dunning import DunningStore

    org_id = _renewal_org(payments, invoice)
    if org_id is None:
        return None
    return DunningStore(store).payment_event(org_id, paid=True, stripe_ts=created, now=now)
