"""The rate card: versioned pricing data turning a job's usage into credits.

Every line is computed in `Decimal`; the job total is rounded up to a whole credit once, after summing,
so splitting a job into lines never costs the customer more than one credit of rounding.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from act3_billing.domain.errors import ValidationFailed

CURRENT_VERSION = "2026-11"


@dataclass(frozen=True)
class Usage:
    """What a job used (or will use). All quantities are non-negative."""

    gpu_seconds: Mapping[str, Decimal] = field(default_factory=dict)
    cpu_seconds: Decimal = Decimal(0)
    scratch_gb_hours: Decimal = Decimal(0)
    model_uses: Mapping[str, int] = field(default_factory=dict)
    tts_characters: int = 0
    upscale_output_seconds: Decimal = Decimal(0)
    mocap_capture_minutes: Decimal = Decimal(0)
    shots: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PriceLine:
    item: str
    quantity: Decimal
    unit: str
    rate: Decimal
    credits: Decimal


@dataclass(frozen=True)
class Price:
    credits: int
    lines: tuple[PriceLine, ...]
    rate_card_version: str


@dataclass(frozen=True)
class RateCard:
    version: str
    gpu_second: Mapping[str, Decimal]
    cpu_second: Decimal
    scratch_gb_hour: Decimal
    model_licence_per_use: Mapping[str, Decimal]
    tts_per_1000_chars: Decimal
    upscale_per_output_second: Decimal
    mocap_per_capture_minute: Decimal
    quality_tiers: Mapping[str, int]

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> RateCard:
        dec = Decimal
        return cls(
            version=str(data["version"]),
            gpu_second={k: dec(v) for k, v in data["gpu_second"].items()},
            cpu_second=dec(data["cpu_second"]),
            scratch_gb_hour=dec(data["scratch_gb_hour"]),
            model_licence_per_use={k: dec(v) for k, v in data["model_licence_per_use"].items()},
            tts_per_1000_chars=dec(data["tts_per_1000_chars"]),
            upscale_per_output_second=dec(data["upscale_per_output_second"]),
            mocap_per_capture_minute=dec(data["mocap_per_capture_minute"]),
            quality_tiers={k: int(v) for k, v in data["quality_tiers"].items()},
        )

    def with_overrides(self, overrides: Mapping[str, Any]) -> RateCard:
        """A plan's override of some rates (same shape as the data file); the version records it."""
        merged: dict[str, Any] = {
            "version": f"{self.version}+{overrides.get('version', 'override')}",
            "gpu_second": {**self.gpu_second, **overrides.get("gpu_second", {})},
            "cpu_second": overrides.get("cpu_second", self.cpu_second),
            "scratch_gb_hour": overrides.get("scratch_gb_hour", self.scratch_gb_hour),
            "model_licence_per_use": {
                **self.model_licence_per_use,
                **overrides.get("model_licence_per_use", {}),
            },
            "tts_per_1000_chars": overrides.get("tts_per_1000_chars", self.tts_per_1000_chars),
            "upscale_per_output_second": overrides.get(
                "upscale_per_output_second", self.upscale_per_output_second
            ),
            "mocap_per_capture_minute": overrides.get(
                "mocap_per_capture_minute", self.mocap_per_capture_minute
            ),
            "quality_tiers": {**self.quality_tiers, **overrides.get("quality_tiers", {})},
        }
        return RateCard.from_data(merged)

    def price(self, usage: Usage) -> Price:
        lines: list[PriceLine] = []

        def add(item: str, quantity: Decimal, unit: str, rate: Decimal, per: Decimal = Decimal(1)) -> None:
            if quantity:
                lines.append(PriceLine(item, quantity, unit, rate, quantity * rate / per))

        for gpu_class, seconds in sorted(usage.gpu_seconds.items()):
            add(
                f"gpu:{gpu_class}",
                Decimal(seconds),
                "second",
                self._rate(self.gpu_second, gpu_class, "GPU class"),
            )
        add("cpu", usage.cpu_seconds, "second", self.cpu_second)
        add("scratch_storage", usage.scratch_gb_hours, "GB-hour", self.scratch_gb_hour)
        for model, uses in sorted(usage.model_uses.items()):
            rate = self._rate(self.model_licence_per_use, model, "model")
            add(f"model:{model}", Decimal(uses), "use", rate)
        add("tts", Decimal(usage.tts_characters), "character", self.tts_per_1000_chars, Decimal(1000))
        add("upscale", usage.upscale_output_seconds, "output second", self.upscale_per_output_second)
        add("mocap", usage.mocap_capture_minutes, "capture minute", self.mocap_per_capture_minute)
        for tier, shots in sorted(usage.shots.items()):
            rate = Decimal(self._rate(self.quality_tiers, tier, "quality tier"))
            add(f"shots:{tier}", Decimal(shots), "shot", rate)
        total = sum((line.credits for line in lines), Decimal(0))
        return Price(credits=math.ceil(total), lines=tuple(lines), rate_card_version=self.version)

    @staticmethod
    def _rate(table: Mapping[str, Any], key: str, what: str) -> Any:
        try:
            return table[key]
        except KeyError:
            known = ", ".join(sorted(table))
            raise ValidationFailed(f"unknown {what} '{key}' (known: {known})", field=what) from None


@cache
def load_rate_card(version: str = CURRENT_VERSION) -> RateCard:
    text = resources.files("act3_billing.domain").joinpath(f"data/ratecard-{version}.json").read_text()
    return RateCard.from_data(json.loads(text))
