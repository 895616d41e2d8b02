"""PynamoDB items of the Stripe side (same table as everything else).

| item                 | pk                 | sk                  |
| -------------------- | ------------------ | ------------------- |
| stripe customer      | ORG#{org}          | STRIPE_CUSTOMER     |
| subscription state   | ORG#{org}          | SUBSCRIPTION        |
| pack purchase        | ORG#{org}          | PACK#{purchase}     |
| reference → org      | STRIPE#{stripe id} | REF                 |  customer, payment intent, subscription
| webhook event        | STRIPE_EVENT#{id}  | EVENT               |  TTL 30 days
| billing audit        | ORG#{org}          | BILLING_AUDIT#{t}#{id} | a card or tax id removed (TTL 400 d)
| catalog object       | CATALOG            | PRODUCT#{id} / PRICE#{id} |
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute

from act3_billing.store.models import _Item


class CustomerItem(_Item):
    org_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    created_at = UnicodeAttribute()


class StripeRefItem(_Item):
    org_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    ref = UnicodeAttribute(null=True)


class SubscriptionItem(_Item):
    org_id = UnicodeAttribute()
    subscription_id = UnicodeAttribute(null=True)
    plan_id = UnicodeAttribute(null=True)
    price_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    period_start = UnicodeAttribute(null=True)
    period_end = UnicodeAttribute(null=True)
    cancel_at_period_end = UnicodeAttribute(null=True)  # "true" when set
    pending_plan_id = UnicodeAttribute(null=True)
    stripe_ts = NumberAttribute(default=0)
    updated_at = UnicodeAttribute()


class PackPurchaseItem(_Item):
    purchase_id = UnicodeAttribute()
    org_id = UnicodeAttribute()
    credits = NumberAttribute()
    price_cents = NumberAttribute()
    currency = UnicodeAttribute()
    status = UnicodeAttribute()  # pending -> paid -> (refunded | disputed); or pending -> failed
    payment_intent_id = UnicodeAttribute(null=True)
    checkout_session_id = UnicodeAttribute(null=True)
    clawed_back = NumberAttribute(default=0)
    actor = UnicodeAttribute()
    created_at = UnicodeAttribute()
    paid_at = UnicodeAttribute(null=True)


class StripeEventItem(_Item):
    event_id = UnicodeAttribute()
    type = UnicodeAttribute()
    status = UnicodeAttribute()  # received -> done
    result = UnicodeAttribute(null=True)  # what applying it did, in words (operators read it)
    created = NumberAttribute()
    received_at = UnicodeAttribute()
    expires_ttl = TTLAttribute(null=True)


class CatalogItem(_Item):
    object_id = UnicodeAttribute()
    data = UnicodeAttribute()  # the Stripe Product or Price as JSON
    stripe_ts = NumberAttribute(default=0)
    updated_at = UnicodeAttribute()


class BillingAuditItem(_Item):
    org_id = UnicodeAttribute()
    actor = UnicodeAttribute()
    action = UnicodeAttribute()
    ref = UnicodeAttribute()
    created_at = UnicodeAttribute()
    expires_ttl = TTLAttribute(null=True)


PAYMENT_MODELS: tuple[type[_Item], ...] = (
    CustomerItem,
    StripeRefItem,
    SubscriptionItem,
    PackPurchaseItem,
    StripeEventItem,
    CatalogItem,
    BillingAuditItem,
)
