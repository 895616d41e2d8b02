"""The spending decision, the wallet's payment status and the entitlements' rules, without storage."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from act3_billing.catalog import feature_value, merge
from act3_billing.domain.dunning import after_payment_event
from act3_billing.domain.entitlements import Contract, cache_seconds, check_contract, entitlements
from act3_billing.domain.errors import DomainError, ValidationFailed
from act3_billing.domain.lots import Lot, LotKind, Wallet, WalletStatus
from act3_billing.domain.plans import default_catalog
from act3_billing.domain.roles import Role
from act3_billing.domain.spending import (
    Reason,
    Spender,
    refusal_error,
    require_spend,
    spend_refusal,
    spendable_for,
)

NOW = datetime(2026, 11, 15, tzinfo=UTC)
CREATOR = Spender(Role.CREATOR, may_spend=True)


def wallet(credits: int = 100, **changes: object) -> Wallet:
    lot = Lot(
        "monthly#c1", LotKind.MONTHLY, credits, credits, NOW - timedelta(days=5), NOW + timedelta(days=20)
    )
    base = Wallet("org-1", "creator", "c1", NOW - timedelta(days=5), NOW + timedelta(days=20), lots=(lot,))
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "spender", "reason"),
    [
        ({}, CREATOR, None),
        (
            {"status": WalletStatus.ARCHIVED, "plan_id": "archive"},
            Spender(Role.VIEWER, False),
            "forbidden_role",
        ),
        ({"status": WalletStatus.PAST_DUE}, Spender(Role.CREATOR, False), "shared_credits_disabled"),
        (
            {"plan_id": "starter_trial", "trial_ends_at": NOW, "status": WalletStatus.PAST_DUE},
            CREATOR,
            "trial_expired",
        ),
        (
            {"status": WalletStatus.ARCHIVED, "plan_id": "archive", "generation_enabled": False},
            CREATOR,
            "archived",
        ),
        ({"status": WalletStatus.PAST_DUE, "generation_enabled": False}, CREATOR, "past_due"),
        ({"plan_id": "starter_trial", "generation_enabled": False}, CREATOR, "linkedin_required"),
        ({"generation_enabled": False}, CREATOR, "generation_disabled"),
        ({"credits": 0}, Spender(Role.CREATOR, True, monthly_limit=10, spent=10), "member_limit_reached"),
        ({"credits": 0}, CREATOR, "insufficient_credits"),
    ],
)
def test_the_first_reason_that_applies_is_the_answer(
    changes: dict[str, object], spender: Spender, reason: str | None
) -> None:
    credits = int(changes.pop("credits", 100))  # type: ignore[call-overload]
    decided = spend_refusal(wallet(credits, **changes), spender, 1, NOW)
    assert (decided.value if decided else None) == reason


def test_every_refusal_raises_an_error_that_carries_its_reason() -> None:
    for reason in Reason:
        the_wallet = wallet(trial_ends_at=NOW)
        spender = Spender(Role.CREATOR, True, monthly_limit=5, spent=5)
        error = refusal_error(reason, the_wallet, spender, 1, NOW)
        assert isinstance(error, DomainError) and error.extra["reason"] == reason.value
    # and each is one the spending routes document (problems() adds generation_disabled's forms)
    from act3_billing.http.contract import EXTENSION, SPEND_REFUSALS, problems

    documented = set(problems(*SPEND_REFUSALS)[EXTENSION])
    codes = set()
    for reason in Reason:
        limited = Spender(Role.VIEWER if reason is Reason.FORBIDDEN_ROLE else Role.CREATOR, True, 5, 5)
        codes.add(refusal_error(reason, wallet(trial_ends_at=NOW), limited, 1, NOW).code)
    assert codes <= documented, codes - documented
    past_due = refusal_error(Reason.PAST_DUE, wallet(), CREATOR, 1, NOW)
    assert past_due.code == "past_due"
    with pytest.raises(DomainError) as raised:
        require_spend(wallet(credits=3), CREATOR, 4, NOW)
    assert raised.value.code == "insufficient_credits" and raised.value.extra["shortfall"] == 1


def test_what_a_member_can_spend_is_the_pool_capped_by_their_limit() -> None:
    assert spendable_for(wallet(100), CREATOR, NOW) == 100
    assert spendable_for(wallet(100), Spender(Role.CREATOR, True, monthly_limit=30, spent=12), NOW) == 18
    assert spendable_for(wallet(100), Spender(Role.VIEWER, True), NOW) == 0
    assert spendable_for(wallet(100, status=WalletStatus.PAST_DUE), CREATOR, NOW) == 0


def test_a_renewal_failure_and_its_payment_are_ordered_by_stripes_time() -> None:
    active = wallet()
    assert after_payment_event(active, paid=False, stripe_ts=100) is WalletStatus.PAST_DUE
    past_due = dataclasses.replace(active, status=WalletStatus.PAST_DUE, payment_ts=100)
    assert after_payment_event(past_due, paid=True, stripe_ts=99) is None  # older than the failure
    assert after_payment_event(past_due, paid=True, stripe_ts=101) is WalletStatus.ACTIVE
    assert after_payment_event(past_due, paid=False, stripe_ts=100) is None  # applied already
    archived = dataclasses.replace(active, status=WalletStatus.ARCHIVED)
    assert after_payment_event(archived, paid=False, stripe_ts=500) is None
    assert after_payment_event(archived, paid=True, stripe_ts=500) is None


def test_the_answer_is_cached_until_the_clock_alone_would_change_it() -> None:
    assert cache_seconds(wallet(), NOW) == 30
    assert cache_seconds(wallet(trial_ends_at=NOW + timedelta(seconds=7)), NOW) == 7
    assert cache_seconds(wallet(cycle_end=NOW + timedelta(seconds=3)), NOW) == 3


def test_features_come_from_the_plan_and_a_contract_only_on_a_contract_plan() -> None:
    catalog = default_catalog()
    contract = Contract({"private_3d_sets": True, "max_resolution": "4k"}, storage_gb=2)
    on_enterprise = entitlements(
        wallet(plan_id="enterprise"),
        CREATOR,
        member_id="m",
        plan=catalog.get("enterprise"),
        contract=contract,
        storage_used=5,
        now=NOW,
    )
    assert on_enterprise.features["private_3d_sets"] is True and on_enterprise.features["sso"] is True
    assert on_enterprise.storage_quota == 2 * 1024**3 and on_enterprise.storage_used == 5
    on_studio = entitlements(
        wallet(plan_id="studio"), CREATOR, member_id="m", plan=catalog.get("studio"), contract=contract,
        storage_used=0, now=NOW,
    )  # fmt: skip
    assert on_studio.features["private_3d_sets"] is False and on_studio.features["priority_queue"] is True


def test_stripe_metadata_features_lay_over_the_built_in_ones() -> None:
    product = {
        "id": "prod_s",
        "metadata": {
            "act3_plan": "studio",
            "feature_max_resolution": "4k",
            "feature_seats": "25",
            "feature_": "x",
        },
    }
    plan = merge(default_catalog(), [product], []).get("studio")
    assert plan.all_features()["max_resolution"] == "4k" and plan.all_features()["seats"] == 25
    assert plan.all_features()["sso"] is False and "" not in plan.all_features()


@settings(max_examples=300)
@given(st.text(max_size=40))
def test_any_metadata_value_is_a_feature_value(raw: str) -> None:
    value = feature_value(raw)
    assert isinstance(value, bool | int | str)
    if isinstance(value, int) and not isinstance(value, bool):
        assert int(raw.strip()) == value and raw.strip().lstrip("-").isascii()


@settings(max_examples=300)
@given(
    st.dictionaries(st.text(max_size=70), st.booleans() | st.integers() | st.text(max_size=70), max_size=5)
)
def test_contract_terms_are_accepted_or_refused_as_a_validation_error(features: dict[str, object]) -> None:
    try:
        check_contract(Contract(features))  # type: ignore[arg-type]
    except ValidationFailed:
        return
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9_]{0,63}", name) for name in features)
    assert all(0 < len(value) <= 64 for value in features.values() if isinstance(value, str))


@settings(max_examples=200, deadline=None)
@given(
    plan=st.sampled_from(("starter_trial", "creator", "archive", "enterprise")),
    status=st.sampled_from(tuple(WalletStatus)),
    enabled=st.booleans(),
    trial_ends_in=st.none() | st.integers(-10, 10),
)
def test_the_balance_names_every_org_side_refusal_in_its_schema(
    plan: str, status: WalletStatus, enabled: bool, trial_ends_in: int | None
) -> None:
    """`BalanceResponse.generation_reason` is typed with the org-side reasons: whatever the wallet's
    state, the reason it gets is one its OpenAPI schema lists."""
    from typing import get_args

    from act3_billing.domain.spending import wallet_refusal
    from act3_billing.http.models import OrgRefusal

    ends = NOW + timedelta(days=trial_ends_in) if trial_ends_in is not None else None
    the_wallet = wallet(plan_id=plan, status=status, generation_enabled=enabled, trial_ends_at=ends)
    reason = wallet_refusal(the_wallet, NOW)
    assert reason is None or reason.value in get_args(OrgRefusal)
    assert set(get_args(OrgRefusal)) <= {r.value for r in Reason}
