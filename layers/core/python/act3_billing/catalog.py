"""The live plan catalog: Stripe Products (metadata: act3_plan, monthly_credits, storage_gb,
rollover_cap, rank, priority_queue, and `feature_<name>` for any other plan feature) and their monthly
Prices, stored on `product.*` / `price.*` events and by `make stripe-sync`, laid over the built-in
catalog (SPEC §3), which stays the default."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from act3_billing.domain.plans import Catalog, Feature, Plan, default_catalog

if TYPE_CHECKING:
    from act3_billing.store.payments import PaymentsStore

_INT_FIELDS = ("monthly_credits", "storage_gb", "rollover_cap")
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}")  # ASCII digits only ("¹" is a digit to str.isdigit)
FEATURE_PREFIX = "feature_"  # product metadata `feature_max_resolution: 4k` is the plan's feature


def feature_value(raw: Any) -> Feature:
    """Stripe metadata values are strings: "true"/"false" are flags, whole numbers are numbers."""
    text = str(raw).strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if _WHOLE_NUMBER.fullmatch(text):
        return int(text)
    return text


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _plan_from(
    base: Plan | None, product: dict[str, Any], price: dict[str, Any] | None, currency: str
) -> Plan | None:
    meta = product.get("metadata") or {}
    plan_id = str(meta.get("act3_plan") or "")
    if not plan_id or not product.get("active", True):
        return None
    fields: dict[str, Any] = {f: _int(meta.get(f)) for f in _INT_FIELDS if _int(meta.get(f)) is not None}
    if "priority_queue" in meta:
        fields["priority_queue"] = str(meta["priority_queue"]).lower() == "true"
    features = {
        key.removeprefix(FEATURE_PREFIX): feature_value(value)
        for key, value in meta.items()
        if key.startswith(FEATURE_PREFIX) and len(key) > len(FEATURE_PREFIX)
    }
    if features:
        fields["features"] = {**(base.features if base else {}), **features}
    fields["name"] = str(meta.get("display_name") or (base.name if base else product.get("name") or plan_id))
    fields["stripe_product_id"] = str(product["id"])
    if price is not None:
        fields["price_cents"] = _int(
            price.get("unit_amount") if "unit_amount" in price else price.get("amount")
        )
        fields["stripe_price_id"] = str(price["id"])
    if base is not None:
        return replace(base, **fields)
    if _int(meta.get("monthly_credits")) is None:
        return None  # a product we cannot price credits for is no plan
    return Plan(
        id=plan_id,
        name=fields.pop("name"),
        price_cents=fields.pop("price_cents", None),
        monthly_credits=fields.pop("monthly_credits"),
        storage_gb=fields.pop("storage_gb", None),
        rollover_cap=fields.pop("rollover_cap", None),
        generation=True,
        currency=currency,
        **fields,
    )


def _monthly(price: dict[str, Any]) -> bool:
    recurring = price.get("recurring") or {}
    interval = recurring.get("interval") or price.get("interval")
    return bool(price.get("active", True)) and interval == "month"


def merge(base: Catalog, products: list[dict[str, Any]], prices: list[dict[str, Any]]) -> Catalog:
    """The built-in catalog with every Stripe-described plan laid over it (pure)."""
    plans = dict(base.plans)
    for product in products:
        candidates = [p for p in prices if p.get("product") == product.get("id") and _monthly(p)]
        chosen = next((p for p in candidates if p.get("id") == product.get("default_price")), None)
        chosen = chosen or (max(candidates, key=lambda p: int(p.get("created") or 0)) if candidates else None)
        plan_id = str((product.get("metadata") or {}).get("act3_plan") or "")
        plan = _plan_from(plans.get(plan_id), product, chosen, base.currency)
        if plan is not None:
            plans[plan.id] = plan
    ranked = sorted(
        (p for p in products if _int((p.get("metadata") or {}).get("rank")) is not None),
        key=lambda p: _int(p["metadata"]["rank"]) or 0,
    )
    order = tuple(str(p["metadata"]["act3_plan"]) for p in ranked) or base.upgrade_order
    return Catalog(plans=plans, upgrade_order=order, currency=base.currency)


def live_catalog(payments: PaymentsStore) -> Catalog:
    products: list[dict[str, Any]] = []
    prices: list[dict[str, Any]] = []
    for item in payments.catalog_objects():
        (products if item.sk.startswith("PRODUCT#") else prices).append(json.loads(item.data))
    return merge(default_catalog(), products, prices) if products else default_catalog()


def stripe_object_changed(payments: PaymentsStore, obj: dict[str, Any], created: int, now: datetime) -> str:
    kind = obj.get("object")
    if kind not in ("product", "price", "plan"):
        return "ignored: not a product or price"
    kind = "price" if kind == "plan" else kind
    stored = payments.save_catalog_object(str(kind), str(obj["id"]), json.dumps(obj), created, now)
    return f"catalog {kind} stored" if stored else "ignored: older than the stored catalog"


def sync(
    payments: PaymentsStore, products: list[dict[str, Any]], prices: list[dict[str, Any]], now: datetime
) -> Catalog:
    """`make stripe-sync`: store every Product and Price, as the events would."""
    for obj in [*products, *prices]:
        stripe_object_changed(payments, obj, int(obj.get("updated") or obj.get("created") or 0), now)
    return live_catalog(payments)
