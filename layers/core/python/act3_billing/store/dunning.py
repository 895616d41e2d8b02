"""The wallet's payment status (domain/dunning.py decides): one conditional update per Stripe event.

The update conditions on what the decision read (status, the last applied Stripe time) and bumps
`lots_version` when the status changes, so a spend built on a view from before the change fails its
condition, reads the wallet again and is refused (or allowed) by the new status.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from act3_billing.domain.dunning import after_payment_event
from act3_billing.domain.errors import Conflict
from act3_billing.domain.lots import WalletStatus
from act3_billing.domain.times import iso
from act3_billing.store.models import WALLET_SK, WalletItem, org_pk

if TYPE_CHECKING:
    from act3_billing.store.wallets import BillingStore

MAX_ATTEMPTS = 20


class DunningStore:
    def __init__(self, billing: BillingStore) -> None:
        self._billing = billing

    def payment_event(self, org_id: str, *, paid: bool, stripe_ts: int, now: datetime) -> WalletStatus | None:
        """Applies Stripe's word at `stripe_ts`; returns the new status, None when nothing changed."""
        for _ in range(MAX_ATTEMPTS):
            wallet = self._billing.wallet(org_id)
            status = after_payment_event(wallet, paid=paid, stripe_ts=stripe_ts)
            if status is None:
                return None
            actions: list[Action] = [
                WalletItem.status.set(status.value),
                WalletItem.payment_ts.set(stripe_ts),
            ]
            if status is not wallet.status:
                actions.append(WalletItem.lots_version.add(1))
            as_read: Condition = WalletItem.status == wallet.status.value
            if wallet.status is WalletStatus.ACTIVE:
                as_read = WalletItem.status.does_not_exist() | as_read
            stamp: Condition = WalletItem.payment_ts == wallet.payment_ts
            if not wallet.payment_ts:
                stamp = WalletItem.payment_ts.does_not_exist() | stamp
            try:
                WalletItem(org_pk(org_id), WALLET_SK).update(
                    actions=actions, condition=WalletItem.pk.exists() & as_read & stamp
                )
            except UpdateError as exc:
                if exc.cause_response_code != "ConditionalCheckFailedException":
                    raise
                continue  # changed meanwhile (archive, another event): decide again on what is there
            finally:
                self._billing.forget(org_id)
            from act3_billing.observability import logger

            logger.info(
                "wallet payment status",
                extra={"org": org_id, "status": status.value, "stripe_ts": stripe_ts, "at": iso(now)},
            )
            return status
        raise Conflict("the wallet kept changing; retry")
