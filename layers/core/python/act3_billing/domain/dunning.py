"""A renewal payment that failed, and its recovery (SPEC §8, issue 8's `past_due`): the wallet's status.

Stripe tells us a renewal failed (`invoice.payment_failed`) or was paid (`invoice.paid`); events arrive
late, twice or out of order, so each is judged by Stripe's own time against the last one applied
(`payment_ts`): an older event changes nothing. Archive outranks both: an org in archive stays there
until a re-upgrade (a payment for a new subscription brings it back through the cycles work).
While `past_due` nothing is spent (domain/spending.py); credits already granted stay.
"""

from __future__ import annotations

from act3_billing.domain.lots import Wallet, WalletStatus


def after_payment_event(wallet: Wallet, *, paid: bool, stripe_ts: int) -> WalletStatus | None:
    """The wallet's status once Stripe said, at `stripe_ts`, that the renewal was paid (or failed);
    None when there is nothing to write (archived, an older event, or this one applied already)."""
    if wallet.status is WalletStatus.ARCHIVED or stripe_ts < wallet.payment_ts:
        return None
    status = WalletStatus.ACTIVE if paid else WalletStatus.PAST_DUE
    if status is wallet.status and stripe_ts == wallet.payment_ts:
        return None
    return status
