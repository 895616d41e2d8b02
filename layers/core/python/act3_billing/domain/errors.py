"""Domain errors. Each carries a stable `code`; the HTTP layer maps codes to statuses in one place."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "domain_error"
    title = "Request refused"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class ValidationFailed(DomainError):
    code = "validation_error"
    title = "The request is not valid"


class NotFound(DomainError):
    code = "not_found"
    title = "Not found"


class Unauthenticated(DomainError):
    code = "unauthenticated"
    title = "Sign-in required"


class ForbiddenRole(DomainError):
    code = "forbidden_role"
    title = "Your role does not allow this"


class SpendingNotAllowed(DomainError):
    code = "shared_credits_disabled"
    title = "Spending the organization's credits is disabled for you"


class InsufficientCredits(DomainError):
    code = "insufficient_credits"
    title = "Not enough credits"


class GenerationDisabled(DomainError):
    code = "generation_disabled"
    title = "Generation is disabled on this plan"


class TrialExpired(GenerationDisabled):
    code = "trial_expired"
    title = "The free trial has ended; upgrade to keep generating"


class IdempotencyKeyReuse(DomainError):
    code = "idempotency_key_reuse"
    title = "Idempotency-Key already used with another request"


class IdempotencyKeyRequired(DomainError):
    code = "idempotency_key_required"
    title = "Idempotency-Key header required"


class QuoteExpired(DomainError):
    code = "quote_expired"
    title = "The quote has expired"


class QuoteUsed(DomainError):
    code = "quote_used"
    title = "The quote was already used"


class HoldNotOpen(DomainError):
    code = "hold_not_open"
    title = "The hold is no longer open"


class HoldExpired(DomainError):
    code = "hold_expired"
    title = "The hold has expired"


class CaptureExceedsHold(DomainError):
    code = "capture_exceeds_hold"
    title = "Capture larger than what is held"


class AlreadyRefunded(DomainError):
    code = "already_refunded"
    title = "This job was already refunded"


class NothingToRefund(DomainError):
    code = "nothing_to_refund"
    title = "No spending recorded for this job"


class WalletMissing(NotFound):
    """No wallet under that org id. The same answer as for a non-member (SPEC §12: whether an org exists
    is nobody's business but its members')."""


class Conflict(DomainError):
    """Concurrent writers kept winning; the caller may retry with the same Idempotency-Key."""

    code = "conflict"
    title = "Concurrent update, retry"


class Unavailable(DomainError):
    """The database did not answer (throttled, unreachable); nothing was changed."""

    code = "unavailable"
    title = "Temporarily unavailable, retry with the same Idempotency-Key"


# ---- money (issue 8) -------------------------------------------------------------------------------


class PackUnavailable(DomainError):
    code = "pack_unavailable"
    title = "Credit packs cannot be bought on this plan"


class PlanNotPurchasable(DomainError):
    code = "plan_not_purchasable"
    title = "This plan cannot be subscribed to here"


class NoSubscription(DomainError):
    code = "no_subscription"
    title = "The organization has no paid subscription"


class SubscriptionExists(DomainError):
    code = "subscription_exists"
    title = "The organization already has a subscription; change its plan instead"


class SamePlan(DomainError):
    code = "same_plan"
    title = "The organization is already on this plan"


# ---- machine identities and their scopes (issue 9) ----------------------------------------------------


class ForbiddenScope(DomainError):
    """A machine identity asked for something its client's scopes do not grant (or a member route)."""

    code = "forbidden_scope"
    title = "Your client's scopes do not allow this"


# ---- entitlements and the wallet's past_due state (issue 12) ----------------------------------------


class PastDue(GenerationDisabled):
    code = "past_due"
    title = "A renewal payment failed; pay it to keep generating"


# DynamoDB's limits (issue 11).
class TooManyLots(DomainError):
    code = "too_many_lots"
    title = "The organization holds too many credit lots to add another; spend or transfer some first"
