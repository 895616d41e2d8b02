"""Credit packs (SPEC §5): 1,000-credit steps, the plan's price per credit x 1.15, integer cents."""

from __future__ import annotations

from act3_billing.domain.errors import PackUnavailable, ValidationFailed
from act3_billing.domain.options import PACK_STEP, PackOption, pack_for
from act3_billing.domain.plans import Catalog

MAX_PACK_CREDITS = 10_000_000


def price_pack(catalog: Catalog, plan_id: str, credits: int) -> PackOption:
    if credits < PACK_STEP or credits % PACK_STEP or credits > MAX_PACK_CREDITS:
        raise ValidationFailed(
            f"credits must be a multiple of {PACK_STEP} between {PACK_STEP} and {MAX_PACK_CREDITS}",
            field="credits",
        )
    plan = catalog.get(plan_id)
    rate = catalog.pack_rate_cents(plan_id)
    if rate is None or not plan.generation:
        raise PackUnavailable(f"plan '{plan_id}' has no pack price; upgrade first", plan=plan_id)
    pack = pack_for(credits, rate, catalog.currency)
    assert pack.credits == credits
    return pack


def pack_lot_id(purchase_id: str) -> str:
    return f"pack#{purchase_id}"
