"""Out-of-credit options (SPEC §5): upgrade to the next plan, buy a pack covering the shortfall, or cancel."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from act3_billing.domain.plans import Catalog

PACK_STEP = 1000
PACK_SURCHARGE = Decimal("1.15")


@dataclass(frozen=True)
class UpgradeOption:
    plan_id: str
    name: str
    price_cents: int | None
    monthly_credits: int | None
    currency: str
    covers_shortfall: bool


@dataclass(frozen=True)
class PackOption:
    credits: int
    price_cents: int
    currency: str


@dataclass(frozen=True)
class OutOfCreditOptions:
    shortfall: int
    upgrade: UpgradeOption | None
    pack: PackOption | None
    cancel: bool = True


def pack_for(shortfall: int, rate_cents: Decimal, currency: str) -> PackOption:
    """Smallest pack in 1,000-credit steps covering the shortfall, at the plan's rate plus 15 %."""
    credits = max(PACK_STEP, math.ceil(shortfall / PACK_STEP) * PACK_STEP)
    price = (Decimal(credits) * rate_cents * PACK_SURCHARGE).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return PackOption(credits=credits, price_cents=int(price), currency=currency)


def out_of_credit_options(
    catalog: Catalog, plan_id: str, shortfall: int, *, can_generate: bool = True
) -> OutOfCreditOptions:
    """An org that cannot generate (trial ended, no LinkedIn sign-in, archive) is offered the upgrade,
    never a pack: a pack would not let it generate."""
    nxt = catalog.next_plan(plan_id)
    upgrade = None
    if nxt is not None:
        upgrade = UpgradeOption(
            plan_id=nxt.id,
            name=nxt.name,
            price_cents=nxt.price_cents,
            monthly_credits=nxt.monthly_credits,
            currency=nxt.currency,
            covers_shortfall=nxt.monthly_credits is None or nxt.monthly_credits >= shortfall,
        )
    rate = catalog.pack_rate_cents(plan_id)
    plan = catalog.get(plan_id)
    sells_pack = rate is not None and plan.generation and can_generate
    pack = pack_for(shortfall, rate, catalog.currency) if sells_pack and rate is not None else None
    return OutOfCreditOptions(shortfall=shortfall, upgrade=upgrade, pack=pack)
