"""What an org and one of its members may run right now (issue 12), for the job platform and the pages.

Generation is the spending decision itself (domain/spending.py) asked about one credit, so the answer
agrees with what a hold would decide at the same moment. Features are data: the plan's (the live
catalog, the built-in one as default) with an enterprise org's contract laid over them. The answer may
be cached for `CACHE_SECONDS`, never past the next moment the org's state changes by the clock alone
(the trial's end, the cycle's end).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from act3_billing.domain.errors import ValidationFailed
from act3_billing.domain.lots import Wallet
from act3_billing.domain.plans import Feature, Plan
from act3_billing.domain.spending import Reason, Spender, spend_refusal, spendable_for
from act3_billing.domain.storage import quota_bytes

CACHE_SECONDS = 30
MAX_FEATURES = 50
FEATURE_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


@dataclass(frozen=True)
class Contract:
    """An enterprise org's contract terms, set by billing operations: features over the plan's, and a
    storage quota (None: the plan's)."""

    features: Mapping[str, Feature] = field(default_factory=dict)
    storage_gb: int | None = None


def check_contract(contract: Contract) -> None:
    """Feature names are lower-case words (`private_3d_sets`); values flags, whole numbers or short words."""
    if len(contract.features) > MAX_FEATURES:
        raise ValidationFailed(f"at most {MAX_FEATURES} features", field="features")
    for name, value in contract.features.items():
        if not name or len(name) > 64 or not set(name) <= FEATURE_NAME_CHARS or name[0] == "_":
            raise ValidationFailed(f"feature name '{name[:64]}' must be a lower-case word", field="features")
        if isinstance(value, str) and not 0 < len(value) <= 64:
            raise ValidationFailed(f"feature '{name}': a word of 1-64 characters", field="features")
    if contract.storage_gb is not None and not 0 <= contract.storage_gb <= 10_000_000:
        raise ValidationFailed("storage_gb must be between 0 and 10,000,000", field="storage_gb")


@dataclass(frozen=True)
class Entitlements:
    org_id: str
    member_id: str
    plan_id: str
    status: str
    generation_enabled: bool
    reason: Reason | None
    features: dict[str, Feature]
    pool: int  # the org's spendable credits
    may_spend: bool  # the member's role and shared-credit toggle let them spend the pool
    monthly_limit: int | None
    limit_left: int | None
    spendable: int  # what this member could spend now
    storage_used: int
    storage_quota: int | None
    as_of: datetime
    cache_seconds: int


def cache_seconds(wallet: Wallet, now: datetime) -> int:
    """How long the answer stays true by the clock alone: until the trial or the cycle ends."""
    horizon = CACHE_SECONDS
    for moment in (wallet.trial_ends_at, wallet.cycle_end):
        if moment is not None and moment > now:
            horizon = min(horizon, int((moment - now).total_seconds()))
    return max(horizon, 0)


def storage_gb_of(plan: Plan, contract: Contract | None) -> int | None:
    """The org's storage quota in GB (None: unlimited): its contract's while on a contract plan, when the
    contract names one, else the plan's. Uploads, the 80 %/100 % alerts and every view use this."""
    if contract is not None and plan.contract and contract.storage_gb is not None:
        return contract.storage_gb
    return plan.storage_gb


def entitlements(
    wallet: Wallet,
    spender: Spender,
    *,
    member_id: str,
    plan: Plan,
    contract: Contract | None,
    storage_used: int,
    now: datetime,
) -> Entitlements:
    """The member's view. A contract applies only while the org is on a contract (enterprise) plan."""
    reason = spend_refusal(wallet, spender, 1, now)
    features = plan.all_features()
    storage_gb = storage_gb_of(plan, contract)
    if contract is not None and plan.contract:
        features |= dict(contract.features)
    return Entitlements(
        org_id=wallet.org_id,
        member_id=member_id,
        plan_id=wallet.plan_id,
        status=wallet.status.value,
        generation_enabled=reason is None,
        reason=reason,
        features=features,
        pool=wallet.spendable(now),
        may_spend=spender.can_spend_pool,
        monthly_limit=spender.monthly_limit,
        limit_left=spender.limit_left,
        spendable=spendable_for(wallet, spender, now),
        storage_used=storage_used,
        storage_quota=quota_bytes(storage_gb),
        as_of=now,
        cache_seconds=cache_seconds(wallet, now),
    )
