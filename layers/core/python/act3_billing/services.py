"""Use cases behind the HTTP routes: authorize in the domain, price with the rate card, call the store.

Nothing here sees an event, the environment, boto3 or the clock: the caller, `now` and the store
come in as arguments.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from act3_billing.domain.cycles import generation_refusal
from act3_billing.domain.errors import GenerationDisabled, InsufficientCredits, NotFound, ValidationFailed
from act3_billing.domain.holds import DEFAULT_HOLD_TTL
from act3_billing.domain.ids import new_id
from act3_billing.domain.lots import LotKind, Wallet
from act3_billing.domain.options import OutOfCreditOptions, out_of_credit_options
from act3_billing.domain.plans import Catalog, default_catalog
from act3_billing.domain.ratecard import Price, RateCard, Usage, load_rate_card
from act3_billing.domain.roles import Permission
from act3_billing.domain.spending import wallet_refusal
from act3_billing.domain.times import iso
from act3_billing.http import models as m
from act3_billing.http.caller import Caller

if TYPE_CHECKING:
    from act3_billing.domain.principals import Service
    from act3_billing.notifications import Notifier
    from act3_billing.store.idempotency import Idem, Outcome
    from act3_billing.store.wallets import BillingStore

QUOTE_TTL = timedelta(minutes=15)


@dataclass(frozen=True)
class Context:
    store: BillingStore
    caller: Caller
    now: datetime
    catalog: Catalog
    rate_card: RateCard
    notifier: Notifier | None = None


def context(store: BillingStore, caller: Caller, now: datetime, notifier: Notifier | None = None) -> Context:
    return Context(store, caller, now, default_catalog(), load_rate_card(), notifier)


class Pricing(Protocol):
    """What pricing needs of a use case's context (members' and the usage meter's alike)."""

    @property
    def catalog(self) -> Catalog: ...

    @property
    def rate_card(self) -> RateCard: ...


class Spending(Protocol):
    """What the usage alerts need of a use case's context (members' and the usage meter's alike)."""

    @property
    def store(self) -> BillingStore: ...

    @property
    def now(self) -> datetime: ...

    @property
    def notifier(self) -> Notifier | None: ...


class SpendingAndPricing(Spending, Pricing, Protocol):
    """A context that spends and prices (a member's, the usage meter's)."""


def spend(ctx: SpendingAndPricing, org_id: str, write: Callable[[], Outcome]) -> Outcome:
    """Runs a write that spends (a debit, a hold, an extension): a refusal for lack of credits gets its
    out-of-credit options, one for a plan that cannot generate its upgrade offer, and a committed
    spend its usage alerts."""
    try:
        result = write()
    except InsufficientCredits as exc:
        raise with_options(ctx, exc) from None
    except GenerationDisabled as exc:
        raise generation_off(ctx, exc) from None
    return alert_after_spend(ctx, org_id, result)


def alert_after_spend(ctx: Spending, org_id: str, result: Outcome) -> Outcome:
    """After a committed debit, hold, extension or capture: the monthly-usage thresholds this
    instance's view of the wallet is past, each delivered once (act3_billing.notifications)."""
    from act3_billing.notifications import notify_quietly, usage_alerts

    view = ctx.store.cached(org_id)
    if view is None or result.replayed:
        return result
    alerts = usage_alerts(view)
    if alerts:
        if ctx.notifier is None:
            from act3_billing import runtime

            notify_quietly(runtime.notifier(), alerts, ctx.now)
        else:
            notify_quietly(ctx.notifier, alerts, ctx.now)
    return result


def idem(key: str | None, operation: str, caller: Caller | Service, payload: Any) -> Idem:
    """The Idempotency-Key with a fingerprint of who sent what, so a reuse with another body is caught."""
    from act3_billing.domain.errors import IdempotencyKeyRequired
    from act3_billing.store.idempotency import Idem

    if not key:
        raise IdempotencyKeyRequired("send an Idempotency-Key header (1-255 visible ASCII characters)")
    if len(key) > 255 or not key.isascii() or not key.isprintable() or " " in key:
        raise IdempotencyKeyRequired("Idempotency-Key must be 1-255 visible ASCII characters without spaces")
    canonical = json.dumps(
        {"op": operation, "actor": caller.principal_id, "body": payload}, sort_keys=True, default=str
    )
    return Idem(key=key, operation=operation, fingerprint=hashlib.sha256(canonical.encode()).hexdigest())


def usage_of(spec: m.UsageIn) -> Usage:
    return Usage(
        gpu_seconds=dict(spec.gpu_seconds),
        cpu_seconds=spec.cpu_seconds,
        scratch_gb_hours=spec.scratch_gb_hours,
        model_uses=dict(spec.model_uses),
        tts_characters=spec.tts_characters,
        upscale_output_seconds=spec.upscale_output_seconds,
        mocap_capture_minutes=spec.mocap_capture_minutes,
        shots={str(tier): n for tier, n in spec.shots.items()},
    )


def price(ctx: Pricing, spec: m.UsageIn) -> Price:
    priced = ctx.rate_card.price(usage_of(spec))
    if priced.credits > m.MAX_CREDITS:
        raise ValidationFailed(
            f"a job of {priced.credits} credits is larger than the limit of {m.MAX_CREDITS}"
        )
    if priced.credits <= 0:
        raise ValidationFailed("the usage prices to zero credits; nothing to charge")
    return priced


def options_out(options: OutOfCreditOptions) -> m.OptionsOut:
    return m.OptionsOut.model_validate(
        {
            "shortfall": options.shortfall,
            "upgrade": vars(options.upgrade) if options.upgrade else None,
            "pack": vars(options.pack) if options.pack else None,
            "cancel": options.cancel,
        }
    )


def generation_off(ctx: Pricing, error: GenerationDisabled) -> GenerationDisabled:
    """A 403 generation_disabled (archive, an ended trial) carries the plans that turn generation back on."""
    from act3_billing.storage import with_reupgrade

    if error.code == "past_due":
        return error  # paying the failed renewal helps, not another plan
    return with_reupgrade(ctx.catalog, error)


def with_options(ctx: Pricing, error: InsufficientCredits) -> InsufficientCredits:
    """A 402 carries the same out-of-credit options as a quote."""
    plan_id = str(error.extra.get("plan_id", ""))
    shortfall = int(error.extra.get("shortfall", 0))
    if plan_id and "options" not in error.extra:
        options = out_of_credit_options(ctx.catalog, plan_id, shortfall)
        error.extra["options"] = m.dump(options_out(options))
    return error


# ---- reads ---------------------------------------------------------------------------------------


def plans(catalog: Catalog) -> m.PlansResponse:
    out = [
        m.PlanOut(
            id=p.id,
            name=p.name,
            price_cents=p.price_cents,
            currency=p.currency,
            monthly_credits=p.monthly_credits,
            storage_gb=p.storage_gb,
            rollover_cap=p.rollover_cap,
            generation=p.generation,
            priority_queue=p.priority_queue,
            contract=p.contract,
            trial_months=p.trial_months,
            price_per_credit_cents=str(p.price_per_credit_cents) if p.price_per_credit_cents else None,
        )
        for p in catalog.plans.values()
    ]
    return m.PlansResponse(plans=out, upgrade_order=list(catalog.upgrade_order))


def balance_of(wallet: Wallet, now: datetime, held_expired: int = 0) -> m.BalanceResponse:
    def lots(*kinds: LotKind) -> list[m.LotOut]:
        return [
            m.LotOut(
                lot_id=lot.lot_id,
                remaining=lot.remaining,
                granted=lot.granted,
                expires_at=iso(lot.expires_at) if lot.expires_at else None,
                label=lot.label,
            )
            for lot in sorted(wallet.lots, key=lambda x: x.spend_key())
            if lot.kind in kinds and lot.live_at(now)
        ]

    monthly = wallet.current_monthly()
    remaining = monthly.remaining if monthly and monthly.live_at(now) else 0
    refusal = wallet_refusal(wallet, now)  # the org side of the one spending decision (domain/spending.py)
    return m.BalanceResponse(
        org_id=wallet.org_id,
        plan_id=wallet.plan_id,
        generation_enabled=refusal is None,
        generation_reason=refusal.value if refusal else None,
        monthly=m.MonthlyOut(
            allowance=wallet.monthly_allowance,
            used=max(wallet.monthly_allowance - remaining, 0),
            remaining=remaining,
            cycle_id=wallet.cycle_id,
            cycle_start=iso(wallet.cycle_start),
            cycle_end=iso(wallet.cycle_end),
        ),
        bank=lots(LotKind.BANK),
        grants=lots(LotKind.GRANT, LotKind.TRANSFER),
        packs=lots(LotKind.PACK),
        held=wallet.held,
        spendable=wallet.spendable(now),
        as_of=iso(now),
        held_expired=held_expired,
        status=wallet.status.value,
        pending_plan_id=wallet.pending_plan_id,
        archived_at=iso(wallet.archived_at) if wallet.archived_at else None,
        trial_ends_at=iso(wallet.trial_ends_at) if wallet.trial_ends_at else None,
        debt=wallet.debt,
    )


def balance(ctx: Context, org_id: str) -> m.BalanceResponse:
    ctx.store.require(org_id, ctx.caller.user_id, Permission.READ_METERS)
    wallet = ctx.store.wallet(org_id)
    held_expired = 0
    if wallet.held:
        from act3_billing.store.cycles import CycleStore

        # Until the sweep releases them, expired holds' credits show apart, never as spendable.
        held_expired = CycleStore(ctx.store).held_expired(org_id, ctx.now)
    return balance_of(wallet, ctx.now, held_expired)


def ledger(
    ctx: Context,
    org_id: str,
    *,
    limit: int,
    cursor: str | None,
    entry_type: str | None,
    job_id: str | None,
    member: str | None,
) -> m.LedgerPage:
    ctx.store.require(org_id, ctx.caller.user_id, Permission.READ_LEDGER)
    entries, last = ctx.store.ledger_page(
        org_id,
        limit=limit,
        after=decode_cursor(cursor, org_id, job_id),
        entry_type=entry_type,
        job_id=job_id,
        actor=member,
    )
    from act3_billing.store.records import entry_json

    return m.LedgerPage(
        entries=[m.LedgerEntryOut.model_validate(entry_json(e)) for e in entries],
        next_cursor=encode_cursor(last, org_id, job_id),
    )


def encode_cursor(after: str | None, org_id: str, job_id: str | None) -> str | None:
    if not after:
        return None
    raw = json.dumps({"o": org_id, "j": job_id, "a": after}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, org_id: str, job_id: str | None) -> str | None:
    """Cursors are opaque to clients; one minted for another org or another filter, or garbled, is refused."""
    if not cursor:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after = data["a"]
        if data["o"] != org_id or data["j"] != job_id or not isinstance(after, str):
            raise ValueError
        if not after.startswith("LEDGER#") or len(after) > 200:
            raise ValueError
        return after
    except (ValueError, KeyError, TypeError):
        raise ValidationFailed("cursor is not valid for this ledger", field="cursor") from None


# ---- spending ------------------------------------------------------------------------------------


def quote(ctx: Context, org_id: str, request: m.QuoteRequest) -> m.QuoteResponse:
    ctx.store.require(org_id, ctx.caller.user_id, Permission.SPEND)
    priced = price(ctx, request.usage)
    wallet = ctx.store.wallet(org_id)
    if not wallet.can_generate(ctx.now):
        # Archive, a trial without its LinkedIn sign-in, or past its six months (`trial_expired`).
        raise generation_off(ctx, generation_refusal(wallet, ctx.now))
    before = wallet.spendable(ctx.now)
    affordable = before >= priced.credits
    options = None
    if not affordable:
        options = options_out(
            out_of_credit_options(
                ctx.catalog,
                wallet.plan_id,
                max(priced.credits - before, 0),
                can_generate=wallet.generation_enabled,
            )
        )
    # The id carries the price so a debit can condition on the stored quote without reading it first.
    quote_id = f"{new_id('qt', ctx.now)}-{priced.credits}"
    expires = ctx.now + QUOTE_TTL
    breakdown = [
        {
            "item": line.item,
            "quantity": str(line.quantity),
            "unit": line.unit,
            "rate": str(line.rate),
            "credits": str(line.credits),
        }
        for line in priced.lines
    ]
    ctx.store.save_quote(
        org_id,
        quote_id=quote_id,
        credits=priced.credits,
        breakdown=breakdown,
        rate_card_version=priced.rate_card_version,
        expires_at=expires,
        actor=ctx.caller.user_id,
        now=ctx.now,
    )
    return m.QuoteResponse(
        quote_id=quote_id,
        credits=priced.credits,
        breakdown=[m.PriceLineOut.model_validate(b) for b in breakdown],
        rate_card_version=priced.rate_card_version,
        balance_before=before,
        balance_after=max(before - priced.credits, 0) if affordable else before,
        affordable=affordable,
        options=options,
        expires_at=iso(expires),
        debt=wallet.debt,
    )


def quoted_credits(quote_id: str) -> int:
    """The price a quote id claims: only a hint for the write, whose condition is the stored quote's
    own price. A suffix that no quote could carry (not ASCII digits, out of range) is simply unknown."""
    head, _, tail = quote_id.rpartition("-")
    if not head or not tail.isascii() or not tail.isdigit() or len(tail) > len(str(m.MAX_CREDITS)):
        raise NotFound(f"quote {quote_id} not found")
    credits = int(tail)
    if not 1 <= credits <= m.MAX_CREDITS:
        raise NotFound(f"quote {quote_id} not found")
    return credits


def place_hold(ctx: Context, org_id: str, request: m.HoldRequest, key: str | None) -> Outcome:
    from act3_billing.store.quotes import QuoteRef

    token = idem(key, "hold", ctx.caller, request.model_dump(mode="json"))
    quote_ref: QuoteRef | None = None
    if request.credits is not None:
        amount = request.credits
    elif request.usage is not None:
        amount = price(ctx, request.usage).credits
    else:
        assert request.quote_id is not None  # the model guarantees one of the three
        amount = quoted_credits(request.quote_id)
        quote_ref = QuoteRef(request.quote_id, amount)
    ttl = timedelta(seconds=request.expires_in_seconds) if request.expires_in_seconds else DEFAULT_HOLD_TTL
    return spend(
        ctx,
        org_id,
        lambda: ctx.store.place_hold(
            org_id,
            actor=ctx.caller.user_id,
            amount=amount,
            job_id=request.job_id,
            expires_at=ctx.now + ttl,
            idem=token,
            now=ctx.now,
            quote=quote_ref,
            rate_card_version=ctx.rate_card.version,
        ),
    )
