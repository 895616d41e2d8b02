"""Request and response models of the money routes (credit packs, subscription); issue 8."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from act3_billing.domain.packs import MAX_PACK_CREDITS

StripeId = Annotated[
    str, StringConstraints(min_length=4, max_length=255, pattern=r"^[a-z]{2,8}_[A-Za-z0-9_]+$")
]
PlanId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BuyPackRequest(_In):
    credits: Annotated[
        int, Field(ge=1000, le=MAX_PACK_CREDITS, strict=True, description="a multiple of 1,000")
    ]
    checkout: bool = Field(
        False, description="true: a Stripe Checkout URL; false: a PaymentIntent client secret"
    )
    payment_method: StripeId | None = Field(
        None,
        description="a saved payment method (pm_…) to charge at once instead of returning a client secret",
    )


class PackPurchaseOut(BaseModel):
    purchase_id: str
    credits: int
    price_cents: int
    currency: str
    status: str = Field(description="pending, paid, failed, refunded or disputed")
    payment_intent_id: str | None = None
    created_at: str
    paid_at: str | None = None
    clawed_back: int = Field(
        0, description="credits taken back by refunds or a dispute (a partial refund takes its share)"
    )
    client_secret: str | None = None
    payment_status: str | None = None
    checkout_url: str | None = None
    checkout_session_id: str | None = None


class PackPurchasesOut(BaseModel):
    purchases: list[PackPurchaseOut]


class SubscribeRequest(_In):
    plan_id: PlanId
    payment_method: StripeId | None = Field(
        None, description="a payment method saved by a SetupIntent; without one the answer is a Checkout URL"
    )


class ChangePlanRequest(_In):
    plan_id: PlanId


class CancelRequest(_In):
    pass


class SubscriptionOut(BaseModel):
    plan_id: str
    status: str = Field(
        description="none, incomplete, active, past_due, canceled, unpaid, … (Stripe's) or checkout_open"
    )
    subscription_id: str | None = None
    current_period_start: str | None = None
    current_period_end: str | None = None
    pending_plan_id: str | None = None
    cancel_at_period_end: bool = False
    next_invoice_at: str | None = None
    checkout_url: str | None = None
    checkout_session_id: str | None = None
    change: str | None = None


class SetupIntentRequest(_In):
    pass


class SetupIntentOut(BaseModel):
    setup_intent_id: str
    client_secret: str | None
    status: str | None = None


class PaymentMethodOut(BaseModel):
    payment_method_id: str
    type: str | None = None
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    default: bool = False


class PaymentMethodsOut(BaseModel):
    payment_methods: list[PaymentMethodOut]


class PortalRequest(_In):
    pass


class PortalOut(BaseModel):
    url: str


class TaxIdRequest(_In):
    type: Annotated[str, StringConstraints(min_length=2, max_length=24, pattern=r"^[a-z]{2,3}_[a-z_]{2,16}$")]
    value: Annotated[str, StringConstraints(min_length=2, max_length=64)]


class TaxIdOut(BaseModel):
    tax_id: str
    type: str | None = None
    value: str | None = None
    country: str | None = None
    verification: str | None = None


class TaxIdsOut(BaseModel):
    tax_ids: list[TaxIdOut]


class InvoiceOut(BaseModel):
    invoice_id: str
    number: str | None = None
    status: str | None = None
    currency: str | None = None
    amount_due: int = 0
    amount_paid: int = 0
    total: int = 0
    created: int | None = None
    period_start: int | None = None
    period_end: int | None = None
    hosted_invoice_url: str | None = None
    invoice_pdf: str | None = None


class InvoicesOut(BaseModel):
    invoices: list[InvoiceOut]


class StatementTotalsOut(BaseModel):
    granted: int
    spent: int
    refunded: int
    rolled_over: int
    expired: int
    forfeited: int
    packs_bought: int
    taken_back: int
    debt: int


class StatementOut(BaseModel):
    org_id: str
    cycle: str = Field(description="the calendar month, YYYY-MM")
    period_start: str
    period_end: str
    final: bool = Field(description="false while the month is still running (the PDF is made afresh)")
    url: str = Field(description="presigned download URL of the PDF")
    expires_in: int
    totals: StatementTotalsOut
