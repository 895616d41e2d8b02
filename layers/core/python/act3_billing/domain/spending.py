"""May this member spend N credits now, and if not, why: the one decision behind every hold, debit,
extension and quote, and behind `GET /orgs/{org_id}/entitlements` (which asks it about 1 credit).

The reasons, in the order they are checked (the first that applies is the answer):

| reason                    | when                                                                  |
| ------------------------- | --------------------------------------------------------------------- |
| `forbidden_role`          | the member's role may not spend (billing, viewer)                     |
| `shared_credits_disabled` | the member may not spend the org's pool (role toggle or override)     |
| `trial_expired`           | the starter trial's six months have run out                           |
| `archived`                | the org is in archive (nothing is spent until re-upgrade)             |
| `past_due`                | a renewal payment failed and has not been paid yet                    |
| `linkedin_required`       | a starter trial whose credits wait for the first LinkedIn sign-in     |
| `generation_disabled`     | generation is off on the wallet for another reason (the plan's)       |
| `member_limit_reached`    | the amount would pass the member's monthly spending limit             |
| `insufficient_credits`    | the org's spendable credits do not cover the amount                   |

Who may not spend at all learns that first (the org's state is explained only to who may act); the
limit comes before the balance because a pack would not help a member past their limit.

Pure: the wallet, the member's side (`Spender`), the amount and `now` come in as values. The store
decides nothing itself; it conditions its transaction on what this decision rested on and, when a
condition fails, asks this function again with what it reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from act3_billing.domain.cycles import ARCHIVE_PLAN, TRIAL_PLAN
from act3_billing.domain.errors import (
    DomainError,
    ForbiddenRole,
    GenerationDisabled,
    InsufficientCredits,
    PastDue,
    SpendingNotAllowed,
    TrialExpired,
)
from act3_billing.domain.lots import Wallet, WalletStatus
from act3_billing.domain.roles import RIGHTS, Permission, Role


class Reason(StrEnum):
    TRIAL_EXPIRED = "trial_expired"
    ARCHIVED = "archived"
    PAST_DUE = "past_due"
    LINKEDIN_REQUIRED = "linkedin_required"
    GENERATION_DISABLED = "generation_disabled"
    FORBIDDEN_ROLE = "forbidden_role"
    SHARED_CREDITS_DISABLED = "shared_credits_disabled"
    MEMBER_LIMIT_REACHED = "member_limit_reached"
    INSUFFICIENT_CREDITS = "insufficient_credits"


@dataclass(frozen=True)
class Spender:
    """The member's side of the decision: role, the resolved shared-credit toggle, the monthly limit
    (None: none) and what they spent in the wallet's current cycle."""

    role: Role
    may_spend: bool
    monthly_limit: int | None = None
    spent: int = 0

    @property
    def can_spend_pool(self) -> bool:
        return Permission.SPEND in RIGHTS[self.role] and self.may_spend

    @property
    def limit_left(self) -> int | None:
        return None if self.monthly_limit is None else max(self.monthly_limit - self.spent, 0)


def wallet_refusal(wallet: Wallet, now: datetime) -> Reason | None:
    """Why nobody may spend from this wallet now (None: the org may generate)."""
    trial = wallet.plan_id == TRIAL_PLAN
    if trial and wallet.trial_ends_at is not None and now >= wallet.trial_ends_at:
        return Reason.TRIAL_EXPIRED
    if wallet.status is WalletStatus.ARCHIVED or wallet.plan_id == ARCHIVE_PLAN:
        return Reason.ARCHIVED
    if wallet.status is WalletStatus.PAST_DUE:
        return Reason.PAST_DUE
    if not wallet.generation_enabled:
        if trial and wallet.trial_ends_at is None:
            return Reason.LINKEDIN_REQUIRED
        return Reason.GENERATION_DISABLED
    return None


def role_refusal(spender: Spender) -> Reason | None:
    """Why this member may not spend the org's pool at all (None: they may)."""
    if Permission.SPEND not in RIGHTS[spender.role]:
        return Reason.FORBIDDEN_ROLE
    if not spender.may_spend:
        return Reason.SHARED_CREDITS_DISABLED
    return None


def spend_refusal(wallet: Wallet, spender: Spender, amount: int, now: datetime) -> Reason | None:
    """The decision: None when the member may spend `amount` credits now, else the first reason."""
    reason = role_refusal(spender) or wallet_refusal(wallet, now)
    if reason is not None:
        return reason
    if spender.monthly_limit is not None and spender.spent + amount > spender.monthly_limit:
        return Reason.MEMBER_LIMIT_REACHED
    if wallet.spendable(now) < amount:
        return Reason.INSUFFICIENT_CREDITS
    return None


def spendable_for(wallet: Wallet, spender: Spender, now: datetime) -> int:
    """What this member could spend now: the pool, capped by what is left of their monthly limit;
    0 when the org or the member may not spend at all."""
    if wallet_refusal(wallet, now) is not None or not spender.can_spend_pool:
        return 0
    pool = wallet.spendable(now)
    left = spender.limit_left
    return pool if left is None else min(pool, left)


def refusal_error(
    reason: Reason, wallet: Wallet, spender: Spender | None, amount: int, now: datetime
) -> DomainError:
    """The domain error a refused spend raises. Each carries `reason` (the entitlements' code) next to
    its problem `code`, which stays what clients already know (`generation_disabled` for archive, …)."""
    plan = wallet.plan_id
    error: DomainError
    if reason is Reason.TRIAL_EXPIRED:
        ends = wallet.trial_ends_at
        assert ends is not None
        error = TrialExpired(
            f"the starter trial ended at {ends.isoformat()}; upgrade to keep generating",
            plan=plan,
            trial_ended_at=ends.isoformat(),
        )
    elif reason is Reason.PAST_DUE:
        error = PastDue(
            "the last renewal payment failed; update the payment method or pay the open invoice to "
            "keep generating",
            plan=plan,
        )
    elif reason is Reason.LINKEDIN_REQUIRED:
        error = GenerationDisabled(
            "the starter trial's credits start with your first LinkedIn sign-in; sign in with LinkedIn "
            "or upgrade",
            plan=plan,
        )
    elif reason in (Reason.ARCHIVED, Reason.GENERATION_DISABLED):
        error = GenerationDisabled(f"generation is disabled on plan '{plan}'", plan=plan)
    elif reason is Reason.FORBIDDEN_ROLE:
        role = spender.role.value if spender else "none"
        error = ForbiddenRole(f"role '{role}' may not spend", role=role, needed=Permission.SPEND.value)
    elif reason is Reason.SHARED_CREDITS_DISABLED:
        error = SpendingNotAllowed("shared credits are disabled for this member")
    elif reason is Reason.MEMBER_LIMIT_REACHED:
        from act3_billing.domain.orgs import MemberLimitExceeded

        assert spender is not None and spender.monthly_limit is not None
        limit, spent = spender.monthly_limit, spender.spent
        error = MemberLimitExceeded(
            f"{amount} credits would pass your monthly limit of {limit} ({spent} spent this cycle)",
            limit=limit,
            spent=spent,
            remaining=max(limit - spent, 0),
        )
    else:
        available = wallet.spendable(now)
        error = InsufficientCredits(
            f"{amount} credits needed, {available} available",
            required=amount,
            available=available,
            shortfall=max(amount - available, 0),
            plan_id=plan,
        )
    error.extra["reason"] = reason.value
    return error


def require_spend(wallet: Wallet, spender: Spender, amount: int, now: datetime) -> None:
    """Raises the refusal's domain error; returns when the member may spend `amount` now."""
    reason = spend_refusal(wallet, spender, amount, now)
    if reason is not None:
        raise refusal_error(reason, wallet, spender, amount, now)
