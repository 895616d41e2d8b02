"""Conversions between stored items and domain values, and the JSON answers the store records."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from act3_billing.domain.holds import Hold, HoldStatus
from act3_billing.domain.ledger import Account, EntryType, LedgerEntry
from act3_billing.domain.lots import Lot, LotKind, Wallet, WalletStatus
from act3_billing.domain.roles import Membership, Role
from act3_billing.domain.spending import Spender
from act3_billing.domain.times import iso, parse_iso
from act3_billing.store.models import HoldItem, LedgerItem, MemberItem, WalletItem, org_pk


def plain(raw: Any) -> dict[str, Any]:
    """A stored map as a dict, whether PynamoDB hands it over as a MapAttribute or a dict."""
    if raw is None:
        return {}
    return dict(raw.as_dict()) if hasattr(raw, "as_dict") else dict(raw)


def _lot_from_map(lot_id: str, raw: dict[str, Any]) -> Lot:
    expires = raw.get("expires_at")
    return Lot(
        lot_id=lot_id,
        kind=LotKind(raw["kind"]),
        remaining=int(raw["remaining"]),
        granted=int(raw["granted"]),
        created_at=parse_iso(raw["created_at"]),
        expires_at=parse_iso(expires) if expires else None,
        label=raw.get("label") or "",
    )


LABEL_LIMIT = 100  # characters of a lot's label kept in the wallet (a transfer's label names its source)


def lot_to_map(lot: Lot) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "kind": lot.kind.value,
        "remaining": lot.remaining,
        "granted": lot.granted,
        "created_at": iso(lot.created_at),
        "label": lot.label[:LABEL_LIMIT],
    }
    if lot.expires_at is not None:
        raw["expires_at"] = iso(lot.expires_at)
    return raw


def lot_meta(lot: Lot) -> dict[str, str]:
    """What a ledger entry records of a lot it opens: what orders its spending."""
    meta = {"kind": lot.kind.value, "created_at": iso(lot.created_at)}
    if lot.expires_at is not None:
        meta["expires_at"] = iso(lot.expires_at)
    return meta


def wallet_from_item(item: WalletItem) -> Wallet:
    lots_raw = plain(item.lots)
    return Wallet(
        org_id=item.org_id,
        plan_id=item.plan_id,
        cycle_id=item.cycle_id,
        cycle_start=parse_iso(item.cycle_start),
        cycle_end=parse_iso(item.cycle_end),
        lots=tuple(_lot_from_map(k, plain(v)) for k, v in sorted(lots_raw.items())),
        held=int(item.held or 0),
        generation_enabled=bool(item.generation_enabled),
        monthly_allowance=int(item.monthly_allowance or 0),
        lots_version=int(item.lots_version or 0),
        status=WalletStatus(item.status or WalletStatus.ACTIVE.value),
        pending_plan_id=item.pending_plan_id,
        archived_at=_instant(item.archived_at),
        anchor=_instant(item.anchor),
        trial_ends_at=_instant(item.trial_ends_at),
        granted_cycle=item.granted_cycle,
        due_at=_instant(item.gsi1sk.split("#", 1)[0]) if item.gsi1sk else None,
        debt=int(item.debt or 0),
        payment_ts=int(item.payment_ts or 0),
        lots_seq=int(item.lots_seq or 0),
    )


def _instant(text: str | None) -> datetime | None:
    return parse_iso(text) if text else None


def ledger_item(entry: LedgerEntry) -> LedgerItem:
    item = LedgerItem(
        org_pk(entry.org_id),
        f"LEDGER#{iso(entry.created_at)}#{entry.entry_id}",
        entry_id=entry.entry_id,
        org_id=entry.org_id,
        type=entry.type.value,
        amount=entry.amount,
        from_account=str(entry.from_account),
        to_account=str(entry.to_account),
        lots=dict(entry.lots),
        sources=dict(entry.sources),
        actor=entry.actor,
        job_id=entry.job_id,
        hold_id=entry.hold_id,
        quote_id=entry.quote_id,
        idempotency_key=entry.idempotency_key,
        rate_card_version=entry.rate_card_version,
        memo=entry.memo,
        created_at=iso(entry.created_at),
        service=entry.service,
    )
    if entry.opened:
        item.opened = {lot_id: dict(meta) for lot_id, meta in entry.opened.items()}
    if entry.job_id:
        item.gsi1pk = f"{org_pk(entry.org_id)}#JOB#{entry.job_id}"
        item.gsi1sk = item.sk
    return item


def entry_from_item(item: LedgerItem) -> LedgerEntry:

    def ints(raw: Any) -> dict[str, int]:
        return {k: int(v) for k, v in plain(raw).items()}

    return LedgerEntry(
        entry_id=item.entry_id,
        org_id=item.org_id,
        type=EntryType(item.type),
        amount=int(item.amount),
        created_at=parse_iso(item.created_at),
        lots=ints(item.lots),
        sources=ints(item.sources),
        from_account=Account(item.from_account),
        to_account=Account(item.to_account),
        actor=item.actor,
        job_id=item.job_id,
        hold_id=item.hold_id,
        quote_id=item.quote_id,
        idempotency_key=item.idempotency_key,
        rate_card_version=item.rate_card_version,
        memo=item.memo,
        service=item.service,
    )


def hold_from_item(item: HoldItem) -> Hold:
    draws = tuple((str(d["lot"]), int(d["amount"])) for d in map(plain, item.draws or []))
    return Hold(
        hold_id=item.hold_id,
        org_id=item.org_id,
        amount=int(item.amount),
        captured=int(item.captured or 0),
        released=int(item.released or 0),
        draws=draws,
        status=HoldStatus(item.status),
        expires_at=parse_iso(item.expires_at),
        created_at=parse_iso(item.created_at),
        job_id=item.job_id,
        actor=item.actor,
        cycle_id=item.cycle_id,
    )


def membership_from_item(item: MemberItem) -> Membership:
    return Membership(
        org_id=item.org_id,
        user_id=item.user_id,
        role=Role(item.role),
        may_spend=bool(item.may_spend),
        may_spend_override=item.may_spend_override,
        monthly_limit=int(item.monthly_limit) if item.monthly_limit is not None else None,
        email=item.email,
    )


def entry_json(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "entry_id": entry.entry_id,
        "type": entry.type.value,
        "amount": entry.amount,
        "from_account": str(entry.from_account),
        "to_account": str(entry.to_account),
        "lots": dict(entry.lots),
        "sources": dict(entry.sources),
        "actor": entry.actor,
        "job_id": entry.job_id,
        "hold_id": entry.hold_id,
        "quote_id": entry.quote_id,
        "idempotency_key": entry.idempotency_key,
        "rate_card_version": entry.rate_card_version,
        "memo": entry.memo,
        "created_at": iso(entry.created_at),
        "service": entry.service,
    }


def hold_json(hold: Hold) -> dict[str, Any]:
    return {
        "hold_id": hold.hold_id,
        "job_id": hold.job_id,
        "amount": hold.amount,
        "captured": hold.captured,
        "released": hold.released,
        "remaining": hold.remaining,
        "status": hold.status.value,
        "expires_at": iso(hold.expires_at),
        "created_at": iso(hold.created_at),
        "lots": dict(_sum_draws(hold.draws)),
    }


def _sum_draws(draws: Iterable[tuple[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for lot_id, amount in draws:
        out[lot_id] = out.get(lot_id, 0) + amount
    return out


def spender_from_item(item: MemberItem, cycle_id: str) -> Spender:
    """The member's side of the spending decision, with what they spent in cycle `cycle_id`."""
    return Spender(
        role=Role(item.role),
        may_spend=bool(item.may_spend),
        monthly_limit=int(item.monthly_limit) if item.monthly_limit is not None else None,
        spent=int(plain(item.spent).get(cycle_id, 0)),
    )
