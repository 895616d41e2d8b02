"""The rate card: lines, the single round-up, the calibration fixture, and pack/upgrade options."""

from __future__ import annotations

from decimal import Decimal

import pytest

from act3_billing.domain.errors import ValidationFailed
from act3_billing.domain.options import out_of_credit_options, pack_for
from act3_billing.domain.plans import default_catalog
from act3_billing.domain.ratecard import Usage, load_rate_card

CARD = load_rate_card()


def test_quality_tiers_price_per_shot() -> None:
    price = CARD.price(Usage(shots={"Q1": 1, "Q2": 1, "Q3": 1}))
    assert price.credits == 80 + 200 + 400
    assert {line.item: line.credits for line in price.lines} == {
        "shots:Q1": Decimal(80),
        "shots:Q2": Decimal(200),
        "shots:Q3": Decimal(400),
    }


def test_full_two_hour_script_and_breakdown_quotes_8000_within_2_percent() -> None:
    # The job runner's spec for a 120-minute script plus breakdown (events/http/quote_create.json).
    usage = Usage(
        gpu_seconds={"a100": Decimal(7200)},
        cpu_seconds=Decimal(3600),
        scratch_gb_hours=Decimal(20),
        model_uses={"script-llm-70b": 2},
    )
    credits = CARD.price(usage).credits
    assert 7840 <= credits <= 8160


def test_total_is_rounded_up_once_after_summing() -> None:
    # 0.05 credit/CPU-second: 3 s = 0.15 and 0.35 credit/s on a10g: 1 s = 0.35; sum 0.5 -> 1 credit, not 2.
    price = CARD.price(Usage(cpu_seconds=Decimal(3), gpu_seconds={"a10g": Decimal(1)}))
    assert sum(line.credits for line in price.lines) == Decimal("0.50")
    assert price.credits == 1


def test_fractional_usage_stays_exact_in_decimal() -> None:
    price = CARD.price(Usage(tts_characters=1001))  # 30 credits per 1,000 characters
    assert price.lines[0].credits == Decimal("30.03")
    assert price.credits == 31


def test_unknown_gpu_class_or_model_is_a_validation_error() -> None:
    with pytest.raises(ValidationFailed, match="unknown GPU class 'z9000'"):
        CARD.price(Usage(gpu_seconds={"z9000": Decimal(1)}))
    with pytest.raises(ValidationFailed, match="unknown model"):
        CARD.price(Usage(model_uses={"nope": 1}))


def test_plan_override_changes_only_what_it_names_and_marks_the_version() -> None:
    studio = CARD.with_overrides({"version": "studio", "gpu_second": {"a100": "0.5"}})
    assert studio.price(Usage(gpu_seconds={"a100": Decimal(100)})).credits == 50
    assert studio.price(Usage(shots={"Q1": 1})).credits == 80
    assert studio.version == f"{CARD.version}+studio"


@pytest.mark.parametrize(
    ("shortfall", "credits"),
    [(1, 1000), (999, 1000), (1000, 1000), (1001, 2000), (25_500, 26_000)],
)
def test_packs_come_in_1000_credit_steps_covering_the_shortfall(shortfall: int, credits: int) -> None:
    assert pack_for(shortfall, Decimal(1), "usd").credits == credits


def test_pack_price_is_credits_times_plan_rate_plus_15_percent() -> None:
    catalog = default_catalog()
    # creator: $35 / 33,000 credits; 2,000 credits * 3500/33000 cents * 1.15 = 243.94 -> 244 cents
    creator = out_of_credit_options(catalog, "creator", 1500)
    assert creator.pack is not None
    assert (creator.pack.credits, creator.pack.price_cents) == (2000, 244)
    # the trial is priced at the paid starter rate: 1 cent per credit
    trial = out_of_credit_options(catalog, "starter_trial", 10)
    assert trial.pack is not None
    assert (trial.pack.credits, trial.pack.price_cents) == (1000, 1150)


def test_upgrade_option_is_the_next_plan_with_price_and_credits() -> None:
    catalog = default_catalog()
    options = out_of_credit_options(catalog, "starter", 5000)
    assert options.upgrade is not None
    assert (options.upgrade.plan_id, options.upgrade.price_cents, options.upgrade.monthly_credits) == (
        "creator",
        3500,
        33_000,
    )
    assert options.upgrade.covers_shortfall
    assert out_of_credit_options(catalog, "studio", 1).upgrade.plan_id == "enterprise"  # type: ignore[union-attr]
    assert out_of_credit_options(catalog, "enterprise", 1).upgrade is None
    archive = out_of_credit_options(catalog, "archive", 1)
    assert archive.pack is None  # generation is disabled on archive: only re-upgrading helps
    assert archive.upgrade is not None and archive.upgrade.plan_id == "starter"
    assert options.cancel
