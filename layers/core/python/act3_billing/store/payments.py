"""Stripe-side records: one customer per org, references from Stripe ids back to orgs, webhook events
stored once, credit-pack purchases and the subscription state (which only moves forward)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.update import Action

from act3_billing.domain.times import iso
from act3_billing.store.idempotency import Idem, Outcome, add_idem, replay
from act3_billing.store.models import org_pk
from act3_billing.store.payment_models import (
    BillingAuditItem,
    CatalogItem,
    CustomerItem,
    PackPurchaseItem,
    StripeEventItem,
    StripeRefItem,
    SubscriptionItem,
)
from act3_billing.store.tx import Tx, TxCancelled

CUSTOMER_SK = "STRIPE_CUSTOMER"
SUBSCRIPTION_SK = "SUBSCRIPTION"
EVENT_TTL = timedelta(days=30)
AUDIT_TTL = timedelta(days=400)
CATALOG_PK = "CATALOG"


def _failed_condition(exc: PutError | UpdateError) -> bool:
    return exc.cause_response_code == "ConditionalCheckFailedException"


@dataclass(frozen=True)
class StripeRef:
    org_id: str
    kind: str
    ref: str | None


class PaymentsStore:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    # ---- customers and references ----------------------------------------------------------

    def customer_id(self, org_id: str) -> str | None:
        try:
            return str(CustomerItem.get(org_pk(org_id), CUSTOMER_SK, consistent_read=True).customer_id)
        except DoesNotExist:
            return None

    def save_customer(self, org_id: str, customer_id: str, now: datetime) -> str:
        """Keeps the first customer made for the org; returns the org's customer id."""
        try:
            CustomerItem(
                org_pk(org_id), CUSTOMER_SK, org_id=org_id, customer_id=customer_id, created_at=iso(now)
            ).save(condition=CustomerItem.pk.does_not_exist())
        except PutError as exc:
            if not _failed_condition(exc):
                raise
            existing = self.customer_id(org_id)
            assert existing is not None
            return existing
        self.save_ref(customer_id, org_id, "customer")
        return customer_id

    def save_ref(self, stripe_id: str, org_id: str, kind: str, ref: str | None = None) -> None:
        StripeRefItem(f"STRIPE#{stripe_id}", "REF", org_id=org_id, kind=kind, ref=ref).save()

    def ref(self, stripe_id: str) -> StripeRef | None:
        try:
            item = StripeRefItem.get(f"STRIPE#{stripe_id}", "REF", consistent_read=True)
        except DoesNotExist:
            return None
        return StripeRef(item.org_id, item.kind, item.ref)

    def audit(self, org_id: str, actor: str, action: str, ref: str, now: datetime) -> None:
        """A billing change that leaves nothing else in our table (a card or tax id removed at Stripe)."""
        from act3_billing.domain.ids import new_id

        BillingAuditItem(
            org_pk(org_id),
            f"BILLING_AUDIT#{iso(now)}#{new_id('ba', now)}",
            org_id=org_id,
            actor=actor,
            action=action,
            ref=ref,
            created_at=iso(now),
            expires_ttl=now + AUDIT_TTL,
        ).save()

    # ---- answers of calls that went to Stripe ---------------------------------------------------

    def remember(self, org_id: str, idem: Idem, body: dict[str, Any], now: datetime) -> Outcome:
        """Records the answer under the caller's Idempotency-Key once; a racing twin gets the first answer."""
        tx = Tx(self._connection)
        add_idem(tx, org_id, idem, body, now)
        try:
            tx.run()
        except TxCancelled:
            return replay(org_id, idem)
        return Outcome(body)

    # ---- webhook events ---------------------------------------------------------------------

    def event_seen(self, event_id: str) -> bool:
        """Whether this event was fully applied before (a duplicate delivery is a no-op)."""
        try:
            return (
                StripeEventItem.get(f"STRIPE_EVENT#{event_id}", "EVENT", consistent_read=True).status
                == "done"
            )
        except DoesNotExist:
            return False

    def record_event(self, event_id: str, event_type: str, created: int, now: datetime) -> bool:
        """Stores the event id once (conditional put). False when it was already fully applied; an
        event whose earlier delivery failed half-way is applied again (every step is idempotent)."""
        try:
            StripeEventItem(
                f"STRIPE_EVENT#{event_id}",
                "EVENT",
                event_id=event_id,
                type=event_type,
                status="received",
                created=created,
                received_at=iso(now),
                expires_ttl=now + EVENT_TTL,
            ).save(condition=StripeEventItem.pk.does_not_exist() | (StripeEventItem.status != "done"))
        except PutError as exc:
            if not _failed_condition(exc):
                raise
            return False
        return True

    def event_done(self, event_id: str, result: str | None = None) -> None:
        actions: list[Action] = [StripeEventItem.status.set("done")]
        if result is not None:
            actions.append(StripeEventItem.result.set(result[:500]))
        StripeEventItem(f"STRIPE_EVENT#{event_id}", "EVENT").update(actions=actions)

    def event(self, event_id: str) -> StripeEventItem | None:
        try:
            return StripeEventItem.get(f"STRIPE_EVENT#{event_id}", "EVENT", consistent_read=True)
        except DoesNotExist:
            return None

    # ---- pack purchases ---------------------------------------------------------------------

    def new_purchase(self, item: PackPurchaseItem) -> tuple[PackPurchaseItem, bool]:
        """Saves the purchase once; returns the stored one and whether this call made it."""
        try:
            item.save(condition=PackPurchaseItem.pk.does_not_exist())
        except PutError as exc:
            if not _failed_condition(exc):
                raise
            return self.purchase(item.org_id, item.purchase_id), False
        return item, True

    def purchase(self, org_id: str, purchase_id: str) -> PackPurchaseItem:
        from act3_billing.domain.errors import NotFound

        try:
            return PackPurchaseItem.get(org_pk(org_id), f"PACK#{purchase_id}", consistent_read=True)
        except DoesNotExist:
            raise NotFound(f"credit pack purchase {purchase_id} not found") from None

    def purchases(self, org_id: str, limit: int = 50) -> list[PackPurchaseItem]:
        return list(
            PackPurchaseItem.query(
                org_pk(org_id),
                PackPurchaseItem.sk.startswith("PACK#"),
                scan_index_forward=False,
                limit=limit,
                consistent_read=True,
            )
        )

    def attach_payment(
        self, org_id: str, purchase_id: str, *, payment_intent_id: str | None, session_id: str | None
    ) -> None:
        actions: list[Action] = []
        if payment_intent_id:
            actions.append(PackPurchaseItem.payment_intent_id.set(payment_intent_id))
            self.save_ref(payment_intent_id, org_id, "pack", purchase_id)
        if session_id:
            actions.append(PackPurchaseItem.checkout_session_id.set(session_id))
        if actions:
            PackPurchaseItem(org_pk(org_id), f"PACK#{purchase_id}").update(actions=actions)

    def move_purchase(
        self, org_id: str, purchase_id: str, *, to: str, allowed_from: tuple[str, ...], now: datetime
    ) -> bool:
        """Moves the status forward; False when it is elsewhere already (a replay, or a later state)."""
        actions: list[Action] = [PackPurchaseItem.status.set(to)]
        if to == "paid":
            actions.append(PackPurchaseItem.paid_at.set(iso(now)))
        try:
            PackPurchaseItem(org_pk(org_id), f"PACK#{purchase_id}").update(
                actions=actions, condition=PackPurchaseItem.status.is_in(*allowed_from)
            )
        except UpdateError as exc:
            if not _failed_condition(exc):
                raise
            return False
        return True

    # ---- subscription state ----------------------------------------------------------------

    def subscription(self, org_id: str) -> SubscriptionItem | None:
        try:
            return SubscriptionItem.get(org_pk(org_id), SUBSCRIPTION_SK, consistent_read=True)
        except DoesNotExist:
            return None

    def save_subscription(self, item: SubscriptionItem) -> bool:
        """Stores Stripe's view of the subscription unless a newer one is stored already (out-of-order
        events never move it back). False when this one was older."""
        try:
            item.save(
                condition=SubscriptionItem.pk.does_not_exist()
                | (SubscriptionItem.stripe_ts <= item.stripe_ts)
            )
        except PutError as exc:
            if not _failed_condition(exc):
                raise
            return False
        if item.subscription_id:
            self.save_ref(item.subscription_id, item.org_id, "subscription")
        return True

    def set_pending_plan(self, org_id: str, plan_id: str | None, now: datetime) -> None:
        action = (
            SubscriptionItem.pending_plan_id.set(plan_id)
            if plan_id
            else SubscriptionItem.pending_plan_id.remove()
        )
        self._update_subscription(org_id, [action, SubscriptionItem.updated_at.set(iso(now))])

    def cycle_paid(
        self, org_id: str, plan_id: str, start: datetime, end: datetime, stripe_ts: int, now: datetime
    ) -> None:
        """A paid period began: its plan is the current one, a pending change to it is done, and a
        `past_due` subscription that got paid is active again (unless Stripe said something newer)."""
        item = self.subscription(org_id)
        if item is None:
            return
        actions: list[Action] = [
            SubscriptionItem.period_start.set(iso(start)),
            SubscriptionItem.period_end.set(iso(end)),
            SubscriptionItem.updated_at.set(iso(now)),
        ]
        if item.pending_plan_id == plan_id:
            actions.append(SubscriptionItem.pending_plan_id.remove())
        if item.status in ("past_due", "incomplete") and int(item.stripe_ts or 0) <= stripe_ts:
            actions += [SubscriptionItem.status.set("active"), SubscriptionItem.stripe_ts.set(stripe_ts)]
        self._update_subscription(org_id, actions)

    def mark_past_due(self, org_id: str, stripe_ts: int, now: datetime) -> bool:
        try:
            SubscriptionItem(org_pk(org_id), SUBSCRIPTION_SK).update(
                actions=[
                    SubscriptionItem.status.set("past_due"),
                    SubscriptionItem.stripe_ts.set(stripe_ts),
                    SubscriptionItem.updated_at.set(iso(now)),
                ],
                condition=SubscriptionItem.pk.exists()
                & (SubscriptionItem.stripe_ts <= stripe_ts)
                & SubscriptionItem.status.is_in("active", "past_due", "trialing"),
            )
        except UpdateError as exc:
            if not _failed_condition(exc):
                raise
            return False
        return True

    @staticmethod
    def _update_subscription(org_id: str, actions: list[Action]) -> None:
        try:
            SubscriptionItem(org_pk(org_id), SUBSCRIPTION_SK).update(
                actions=actions, condition=SubscriptionItem.pk.exists()
            )
        except UpdateError as exc:
            if not _failed_condition(exc):
                raise

    # ---- catalog ---------------------------------------------------------------------------

    def catalog_objects(self) -> list[CatalogItem]:
        return list(CatalogItem.query(CATALOG_PK))

    def save_catalog_object(
        self, kind: str, object_id: str, data: str, stripe_ts: int, now: datetime
    ) -> bool:
        """Keeps the newest version of a Stripe Product or Price (events may arrive out of order)."""
        try:
            CatalogItem(
                CATALOG_PK,
                f"{kind.upper()}#{object_id}",
                object_id=object_id,
                data=data,
                stripe_ts=stripe_ts,
                updated_at=iso(now),
            ).save(condition=CatalogItem.pk.does_not_exist() | (CatalogItem.stripe_ts <= stripe_ts))
        except PutError as exc:
            if not _failed_condition(exc):
                raise
            return False
        return True
