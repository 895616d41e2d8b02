"""Load localstripe with the plan catalog (SPEC §3) and point its webhooks at the local webhook URL.

localstripe has Products and (legacy) Plans but no Prices, so each paid plan is a Product carrying the
catalog metadata plus a monthly Plan with the price. Fixed ids make the load idempotent.
"""

from __future__ import annotations

import base64
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

API_KEY = "sk_test_act3local"
PUBLISHABLE_KEY = "pk_test_act3local"  # localstripe accepts any; Stripe.js needs one
WEBHOOK_ID = "act3-local"


def catalog() -> list[dict[str, Any]]:
    """The plan catalog of the domain (SPEC §3), in the shape the Stripe metadata carries it."""
    from act3_billing.domain.plans import default_catalog

    return [
        {
            "plan": plan.id,
            "name": plan.name,
            "amount": plan.price_cents,
            "monthly_credits": plan.monthly_credits,
            "storage_gb": plan.storage_gb,
            "rollover_cap": plan.rollover_cap,
        }
        for plan in default_catalog().plans.values()
    ]


class StripeLocalError(RuntimeError):
    pass


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}[{key}]" if prefix else key
        if isinstance(value, dict):
            items.extend(_flatten(value, name))
        elif isinstance(value, list):
            items.extend((f"{name}[]", str(v)) for v in value)
        elif value is not None:
            items.append((name, str(value).lower() if isinstance(value, bool) else str(value)))
    return items


def call(base: str, method: str, path: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    body = urllib.parse.urlencode(_flatten(data or {})).encode() if data is not None else None
    token = base64.b64encode(f"{API_KEY}:".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 - loopback
        base + path,
        data=body,
        method=method,
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
            raw = resp.read()
            return json.loads(raw) if raw else {}
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return {"_status": 404}
        raise StripeLocalError(f"localstripe {method} {path}: {exc.code} {exc.read()[:300]!r}") from exc


def load_catalog(base: str) -> list[str]:
    """Create the catalog's Products and monthly Plans if missing; returns the plan ids."""
    plan_ids = []
    for entry in catalog():
        product_id = f"prod_act3_{entry['plan']}"
        metadata = {k: v for k, v in entry.items() if k not in ("name", "amount") and v is not None}
        metadata["act3_plan"] = entry["plan"]
        if call(base, "GET", f"/v1/products/{product_id}").get("_status") == 404:
            call(
                base,
                "POST",
                "/v1/products",
                {"id": product_id, "name": f"ACT 3 AI {entry['name']}", "metadata": metadata},
            )
        if entry["amount"] is None:
            continue  # enterprise: priced per contract
        plan_id = f"plan_act3_{entry['plan']}_monthly"
        if call(base, "GET", f"/v1/plans/{plan_id}").get("_status") == 404:
            call(
                base,
                "POST",
                "/v1/plans",
                {
                    "id": plan_id,
                    "product": product_id,
                    "amount": entry["amount"],
                    "currency": "usd",
                    "interval": "month",
                    "nickname": entry["name"],
                    "metadata": metadata,
                },
            )
        plan_ids.append(plan_id)
    return plan_ids


def webhook_secret(state_dir: Path) -> str:
    """The webhook signing secret, made once and kept in the state dir."""
    path = state_dir / "stripe_webhook_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("whsec_" + secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()


def register_webhook(base: str, url: str, secret: str) -> None:
    # localstripe keeps webhooks in memory only: registered again at every start.
    call(base, "POST", f"/_config/webhooks/{WEBHOOK_ID}", {"url": url, "secret": secret})


def sync_catalog(
    base: str, table_name: str, dynamodb_endpoint: str | None, region: str = "us-east-1"
) -> list[str]:
    """`make stripe-sync` against localstripe: its Products and monthly prices into the catalog items of
    DynamoDB, as the `product.*` / `price.*` webhooks would. localstripe has no Prices API: its (legacy)
    Plans stand in for them (Stripe accepts a Plan id wherever a Price id goes). Returns the synced plans."""
    from datetime import UTC, datetime

    from act3_billing.catalog import sync
    from act3_billing.store.models import bind
    from act3_billing.store.payments import PaymentsStore

    products = call(base, "GET", "/v1/products?limit=100").get("data", [])
    prices = call(base, "GET", "/v1/prices?limit=100")
    if prices.get("_status") == 404:
        prices = call(base, "GET", "/v1/plans?limit=100")
    payments = PaymentsStore(bind(table_name, region, dynamodb_endpoint))
    synced = sync(payments, products, prices.get("data", []), datetime.now(UTC))
    return sorted(p.id for p in synced.plans.values() if p.stripe_price_id)
