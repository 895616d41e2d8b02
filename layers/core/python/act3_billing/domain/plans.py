"""The plan catalog (SPEC §3) as data, the upgrade order, and price per credit."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from act3_billing.domain.errors import NotFound

# A plan feature's value: a flag, a number (seats, …) or a word ("4k"). Features are data (issue 12): the
# built-in catalog's `features`, Stripe product metadata `feature_<name>`, an enterprise contract.
Feature = bool | int | str


@dataclass(frozen=True)
class Plan:
    id: str
    name: str
    price_cents: int | None
    monthly_credits: int | None
    storage_gb: int | None
    rollover_cap: int | None
    generation: bool
    currency: str
    trial_months: int | None = None
    requires_linkedin: bool = False
    priority_queue: bool = False
    contract: bool = False
    pack_rate_plan: str | None = None
    next_plan: str | None = None
    stripe_price_id: str | None = None  # the monthly Price, known once the catalog is synced from Stripe
    stripe_product_id: str | None = None
    features: Mapping[str, Feature] = field(default_factory=dict)

    def all_features(self) -> dict[str, Feature]:
        """Every feature the catalog gives the plan (the priority-queue flag is one of them)."""
        return {"priority_queue": self.priority_queue, **self.features}

    @property
    def price_per_credit_cents(self) -> Decimal | None:
        if not self.price_cents or not self.monthly_credits:
            return None
        return Decimal(self.price_cents) / Decimal(self.monthly_credits)


@dataclass(frozen=True)
class Catalog:
    plans: dict[str, Plan]
    upgrade_order: tuple[str, ...]
    currency: str

    def get(self, plan_id: str) -> Plan:
        try:
            return self.plans[plan_id]
        except KeyError:
            raise NotFound(f"unknown plan '{plan_id}'") from None

    def next_plan(self, plan_id: str) -> Plan | None:
        """The plan an "upgrade to next plan" offers: starter → creator → studio → enterprise."""
        plan = self.get(plan_id)
        if plan.next_plan:
            return self.get(plan.next_plan)
        if plan_id in self.upgrade_order:
            index = self.upgrade_order.index(plan_id)
            if index + 1 < len(self.upgrade_order):
                return self.get(self.upgrade_order[index + 1])
        return None

    def by_price(self, price_id: str | None) -> Plan | None:
        """The plan a Stripe Price stands for (None for a price that is no plan of ours)."""
        return next((p for p in self.plans.values() if price_id and p.stripe_price_id == price_id), None)

    def pack_rate_cents(self, plan_id: str) -> Decimal | None:
        """Price per credit a pack is based on (the trial is priced at the paid starter rate)."""
        plan = self.get(plan_id)
        rate_plan = self.get(plan.pack_rate_plan) if plan.pack_rate_plan else plan
        return rate_plan.price_per_credit_cents

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Catalog:
        currency = str(data["currency"])
        plans = {p["id"]: Plan(currency=currency, **p) for p in data["plans"]}
        return cls(plans=plans, upgrade_order=tuple(data["upgrade_order"]), currency=currency)


@cache
def default_catalog() -> Catalog:
    text = resources.files("act3_billing.domain").joinpath("data/plans.json").read_text()
    return Catalog.from_data(json.loads(text))
