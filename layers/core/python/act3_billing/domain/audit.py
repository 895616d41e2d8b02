"""An audit that replays an org's stored items from its ledger, independently of the store's code.

`reconcile()` checks the flow identities the store maintains; this audit trusts nothing the store
computed. It reads the raw items (plain values, as DynamoDB returns them) and replays the ledger in
time order from the grants, checking what each entry claims against what the replay knows:

- flows: every entry posts between the accounts its type allows, its lot deltas equal its flow, no lot
  ever goes negative, every lot ends equal to the wallet's, and granted - spent - expired - forfeited -
  held = balance;
- spending order: every draw (debit, hold, transfer out) takes exactly what SPEC §4's order takes from
  the lots live at that moment (lot kinds and expiries come from the ledger's own `opened` records);
- refunds: each one reverses an earlier charge of its job, once, lot by lot, and the job's charge
  record agrees with the ledger;
- holds: hold entries sum to the hold's amount, captures to what it captured, releases and expiries to
  what it released, and a closed hold has nothing left;
- members: each member's spent counter for the current cycle equals their entries in that cycle;
- idempotency: every recorded answer points at entries that exist, under that key.

Entries with the same timestamp from different requests cannot be ordered; a draw among them is not
checked for spending order (counted in `unordered_draws`) rather than guessed at.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from act3_billing.domain.ledger import Account, EntryType, allowed_postings

_RANK = {"monthly": 0, "bank": 1, "grant": 2, "transfer": 2, "pack": 3}
_NEVER = datetime.max.replace(tzinfo=UTC)
_DRAWS = frozenset({EntryType.DEBIT, EntryType.HOLD, EntryType.TRANSFER_OUT})
_CHARGES = frozenset({EntryType.DEBIT, EntryType.CAPTURE})


@dataclass(frozen=True)
class Finding:
    code: str
    detail: str


@dataclass(frozen=True)
class AuditReport:
    org_id: str
    entries: int
    findings: tuple[Finding, ...]
    unordered_draws: int = 0

    @property
    def ok(self) -> bool:
        return not self.findings

    def codes(self) -> set[str]:
        return {f.code for f in self.findings}


@dataclass(frozen=True)
class _Entry:
    entry_id: str
    type: EntryType
    amount: int
    created_at: datetime
    lots: dict[str, int]
    sources: dict[str, int]
    from_account: str
    to_account: str
    actor: str | None
    job_id: str | None
    hold_id: str | None
    idempotency_key: str | None
    opened: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class _LotMeta:
    kind: str
    created_at: datetime
    expires_at: datetime | None

    def live_at(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at

    def key(self, lot_id: str) -> tuple[int, datetime, datetime, str]:
        return (_RANK.get(self.kind, 9), self.expires_at or _NEVER, self.created_at, lot_id)


@dataclass
class _Replay:
    balances: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    meta: dict[str, _LotMeta] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def flag(self, code: str, detail: str) -> None:
        self.findings.append(Finding(code, detail))


def _time(raw: Any) -> datetime:
    moment = datetime.fromisoformat(str(raw))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _int(raw: Any) -> int:
    value = Decimal(str(raw))
    if value != value.to_integral_value():
        raise ValueError(f"{raw!r} is not a whole number of credits")
    return int(value)


def _ints(raw: Any) -> dict[str, int]:
    return {str(k): _int(v) for k, v in (raw or {}).items()}


def _entry(item: Mapping[str, Any]) -> _Entry:
    return _Entry(
        entry_id=str(item["entry_id"]),
        type=EntryType(item["type"]),
        amount=_int(item["amount"]),
        created_at=_time(item["created_at"]),
        lots=_ints(item.get("lots")),
        sources=_ints(item.get("sources")),
        from_account=str(item.get("from_account")),
        to_account=str(item.get("to_account")),
        actor=item.get("actor"),
        job_id=item.get("job_id"),
        hold_id=item.get("hold_id"),
        idempotency_key=item.get("idempotency_key"),
        opened={str(k): dict(v) for k, v in (item.get("opened") or {}).items()},
    )


def _meta(raw: Mapping[str, Any]) -> _LotMeta:
    expires = raw.get("expires_at")
    return _LotMeta(str(raw["kind"]), _time(raw["created_at"]), _time(expires) if expires else None)


@dataclass(frozen=True)
class OrgItems:
    """An org's raw items, as DynamoDB returns them (numbers may be `Decimal`)."""

    org_id: str
    wallet: Mapping[str, Any]
    ledger: Sequence[Mapping[str, Any]]
    holds: Sequence[Mapping[str, Any]] = field(default_factory=list)
    members: Sequence[Mapping[str, Any]] = field(default_factory=list)
    jobs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # job id -> item
    idempotency: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # key -> item


def audit_org(items: OrgItems) -> AuditReport:
    replay = _Replay()
    try:
        entries = sorted((_entry(raw) for raw in items.ledger), key=lambda e: (e.created_at, e.entry_id))
    except (KeyError, ValueError, TypeError) as exc:
        return AuditReport(items.org_id, len(items.ledger), (Finding("entry_unreadable", str(exc)),))
    wallet_lots = {str(k): dict(v) for k, v in (items.wallet.get("lots") or {}).items()}
    _check_postings(entries, replay)
    unordered = _replay_lots(entries, wallet_lots, replay)
    _check_identity(entries, items, wallet_lots, replay)
    _check_refunds(entries, items.jobs, replay)
    _check_holds(entries, items.holds, replay)
    _check_members(entries, items, replay)
    _check_idempotency(entries, items.idempotency, replay)
    return AuditReport(items.org_id, len(entries), tuple(replay.findings), unordered)


def _check_postings(entries: Iterable[_Entry], replay: _Replay) -> None:
    for e in entries:
        if (e.from_account, e.to_account) not in {(a.value, b.value) for a, b in allowed_postings(e.type)}:
            replay.flag("posting", f"{e.entry_id}: {e.type} posts {e.from_account} -> {e.to_account}")
        if e.amount < 0:
            replay.flag("posting", f"{e.entry_id}: negative amount {e.amount}")
        flow = (e.amount if e.to_account == Account.AVAILABLE else 0) - (
            e.amount if e.from_account == Account.AVAILABLE else 0
        )
        if sum(e.lots.values()) != flow:
            replay.flag("entry_lots", f"{e.entry_id}: lot deltas {sum(e.lots.values())} != flow {flow}")
        if e.type in _DRAWS | _CHARGES | {EntryType.REFUND} and sum(e.sources.values()) != e.amount:
            replay.flag("entry_sources", f"{e.entry_id}: sources {sum(e.sources.values())} != {e.amount}")


def _replay_lots(entries: list[_Entry], wallet_lots: dict[str, dict[str, Any]], replay: _Replay) -> int:
    """Applies the entries in time order; checks each unambiguous draw against SPEC §4's order."""
    for lot_id, raw in wallet_lots.items():
        replay.meta.setdefault(lot_id, _meta(raw))
    requests_at: dict[datetime, set[str | None]] = defaultdict(set)
    for e in entries:
        requests_at[e.created_at].add(e.idempotency_key or e.entry_id)
    unordered = 0
    for e in entries:
        for lot_id, raw in e.opened.items():
            replay.meta[lot_id] = _meta(raw)
        if e.type in _DRAWS:
            if len(requests_at[e.created_at]) > 1:
                unordered += 1
            else:
                _check_draw(e, replay)
        for lot_id, delta in e.lots.items():
            replay.balances[lot_id] += delta
            if replay.balances[lot_id] < 0:
                replay.flag("lot_negative", f"{e.entry_id}: lot {lot_id} at {replay.balances[lot_id]}")
    return unordered


def _check_draw(e: _Entry, replay: _Replay) -> None:
    unknown = [lot for lot in e.lots if lot not in replay.meta]
    if unknown:
        replay.flag("lot_unknown", f"{e.entry_id}: draws from lots the ledger never opened: {unknown}")
        return
    live = sorted(
        (lot for lot, n in replay.balances.items() if n > 0 and lot in replay.meta),
        key=lambda lot: replay.meta[lot].key(lot),
    )
    expected: dict[str, int] = {}
    left = e.amount
    for lot in live:
        if left == 0:
            break
        if not replay.meta[lot].live_at(e.created_at):
            continue
        take = min(left, replay.balances[lot])
        expected[lot] = -take
        left -= take
    if expected != e.lots:
        replay.flag("spending_order", f"{e.entry_id}: drew {e.lots}, SPEC §4 order draws {expected}")


def _check_identity(
    entries: list[_Entry], items: OrgItems, wallet_lots: dict[str, dict[str, Any]], replay: _Replay
) -> None:
    for lot_id in set(replay.balances) | set(wallet_lots):
        stored = _int(wallet_lots[lot_id]["remaining"]) if lot_id in wallet_lots else 0
        if replay.balances.get(lot_id, 0) != stored:
            replay.flag(
                "lot_balance",
                f"lot {lot_id}: ledger replays to {replay.balances.get(lot_id, 0)}, wallet {stored}",
            )
    sums: dict[str, int] = defaultdict(int)
    for e in entries:
        sums[e.to_account] += e.amount
        sums[e.from_account] -= e.amount
    granted = -(sums[Account.ISSUED] + sums[Account.TRANSFER])
    spent_out = sums[Account.REVENUE]
    expired, forfeited = sums[Account.EXPIRED], sums[Account.FORFEITED]
    held = _int(items.wallet.get("held", 0))
    balance = sum(_int(raw["remaining"]) for raw in wallet_lots.values())
    if sums[Account.HELD] != held:
        replay.flag("held", f"held: ledger says {sums[Account.HELD]}, wallet {held}")
    open_remaining = sum(
        _int(h["amount"]) - _int(h.get("captured", 0)) - _int(h.get("released", 0))
        for h in items.holds
        if h.get("status") == "open"
    )
    if open_remaining != held:
        replay.flag("held", f"held: open holds keep {open_remaining}, wallet {held}")
    if granted - spent_out - expired - forfeited - held != balance:
        replay.flag(
            "identity",
            f"granted {granted} - spent {spent_out} - expired {expired} - forfeited {forfeited} "
            f"- held {held} != balance {balance}",
        )


def _check_refunds(entries: list[_Entry], jobs: Mapping[str, Mapping[str, Any]], replay: _Replay) -> None:
    """A refund reverses charges made before it (or in the same instant: those cannot be ordered)."""
    charged: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    charged_by: dict[str, dict[datetime, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    for e in entries:
        if e.type in _CHARGES and e.job_id:
            for lot, n in e.sources.items():
                charged[e.job_id][lot] += n
                charged_by[e.job_id][e.created_at][lot] += n
    refunded: set[str] = set()
    for e in (e for e in entries if e.type is EntryType.REFUND):
        before: dict[str, int] = defaultdict(int)
        for moment, lots in charged_by.get(e.job_id or "", {}).items():
            if moment <= e.created_at:
                for lot, n in lots.items():
                    before[lot] += n
        if not e.job_id or not before:
            replay.flag("refund_uncharged", f"{e.entry_id}: refund of job {e.job_id!r}, never charged before")
            continue
        if e.job_id in refunded:
            replay.flag("refund_twice", f"{e.entry_id}: job {e.job_id} refunded again")
        refunded.add(e.job_id)
        over = {lot: n for lot, n in e.sources.items() if n > before.get(lot, 0)}
        if over:
            replay.flag(
                "refund_exceeds", f"{e.entry_id}: refunds {over} beyond what job {e.job_id} was charged"
            )
    for job_id, item in jobs.items():
        stored: dict[str, int] = defaultdict(int)
        for lot, n, _, _ in _job_charges(item):
            stored[lot] += n
        if dict(stored) != {k: v for k, v in charged.get(job_id, {}).items() if v}:
            replay.flag(
                "job_charges",
                f"job {job_id}: record says {dict(stored)}, ledger {dict(charged.get(job_id, {}))}",
            )
        if item.get("refunded_by") and job_id not in refunded:
            replay.flag("job_charges", f"job {job_id} is marked refunded with no refund entry")
    for job_id in refunded - set(jobs):
        replay.flag("job_charges", f"job {job_id} refunded with no charge record")


def _job_charges(item: Mapping[str, Any]) -> list[tuple[str, int, str | None, str | None]]:
    """A job record's charges as (lot, credits, spender, cycle): the added-up map `charged` (keys are
    `lot␟by␟cycle`, joined by U+001F), and the per-charge list `charges` of records made before it."""
    out = [
        (str(c["lot"]), _int(c["n"]), c.get("by") or None, c.get("cycle") or None)
        for c in item.get("charges") or []
    ]
    for key, n in (item.get("charged") or {}).items():
        lot, by, cycle = str(key).split("\x1f")
        out.append((str(lot), _int(n), by or None, cycle or None))
    return out


def _check_holds(entries: list[_Entry], holds: Sequence[Mapping[str, Any]], replay: _Replay) -> None:
    per: dict[str, dict[EntryType, int]] = defaultdict(lambda: defaultdict(int))
    for e in entries:
        if e.hold_id and e.type in (EntryType.HOLD, EntryType.CAPTURE, EntryType.RELEASE, EntryType.EXPIRE):
            per[e.hold_id][e.type] += e.amount
    stored = {str(h["hold_id"]): h for h in holds}
    for hold_id in per.keys() - stored.keys():
        replay.flag("hold_unknown", f"entries for hold {hold_id}, which does not exist")
    for hold_id, h in stored.items():
        sums = per.get(hold_id, {})
        amount, captured, released = _int(h["amount"]), _int(h.get("captured", 0)), _int(h.get("released", 0))
        # A release names every credit it gives back; those whose lot is gone expire in an `expire`
        # entry of their own beside it, which settles nothing more.
        settled = sums.get(EntryType.RELEASE, 0)
        if sums.get(EntryType.HOLD, 0) != amount:
            replay.flag(
                "hold_amount", f"hold {hold_id}: entries hold {sums.get(EntryType.HOLD, 0)}, item {amount}"
            )
        if sums.get(EntryType.CAPTURE, 0) != captured:
            replay.flag(
                "hold_captured",
                f"hold {hold_id}: entries capture {sums.get(EntryType.CAPTURE, 0)}, item {captured}",
            )
        if settled != released:
            replay.flag("hold_released", f"hold {hold_id}: entries release {settled}, item {released}")
        if captured + released > amount or (h.get("status") != "open" and captured + released != amount):
            replay.flag(
                "hold_balance",
                f"hold {hold_id}: {captured} + {released} vs amount {amount} ({h.get('status')})",
            )


def _check_members(entries: list[_Entry], items: OrgItems, replay: _Replay) -> None:
    """Spent counters of the current cycle: debits and holds placed since the cycle began, less what
    releases gave back to holds counted in this cycle and what refunds gave back to its spenders."""
    cycle_id = str(items.wallet.get("cycle_id"))
    start = _cycle_began(entries, items, cycle_id)
    holds = {str(h["hold_id"]): h for h in items.holds}
    expected: dict[str, int] = defaultdict(int)
    placed: set[str] = set()  # holds whose placing entry has been seen (the rest are extensions)
    for e in entries:
        if e.type is EntryType.HOLD and start is not None and e.created_at < start:
            placed.add(e.hold_id or "")
        if start is not None and e.created_at < start:
            continue
        if e.type is EntryType.DEBIT and e.actor:
            expected[e.actor] += e.amount
        if e.type is EntryType.REFUND and e.job_id:
            # A refund gives the job's charges back to whoever spent them in this cycle (SPEC §12).
            for _, n, by, cycle in _job_charges(items.jobs.get(e.job_id, {})):
                if by and cycle == cycle_id:
                    expected[by] -= n
        hold = holds.get(e.hold_id or "")
        if e.type is EntryType.HOLD and e.actor:
            # a hold counts in the cycle it was placed in; an extension where it happens (even for
            # a hold placed in an earlier cycle)
            extension = (e.hold_id or "") in placed
            placed.add(e.hold_id or "")
            if extension or (hold is not None and hold.get("cycle_id") == cycle_id):
                expected[e.actor] += e.amount
        if hold is None or hold.get("cycle_id") != cycle_id:
            continue
        if e.type is EntryType.RELEASE and hold.get("actor"):
            expected[str(hold["actor"])] -= e.amount
    for member in items.members:
        user = str(member["user_id"])
        spent = _int((member.get("spent") or {}).get(cycle_id, 0))
        if spent != expected.get(user, 0):
            replay.flag(
                "member_spent",
                f"member {user}: counter {spent}, entries {expected.get(user, 0)} in {cycle_id}",
            )


def _cycle_began(entries: list[_Entry], items: OrgItems, cycle_id: str) -> datetime | None:
    """When the wallet entered the current cycle: the boundary's idempotency record (every boundary
    writes one, answering with its `cycle_id`), even one that granted nothing (archive, or a paid plan
    whose payment comes later); else, once that record is gone, the cycle's monthly grant."""
    began = []
    for record in items.idempotency.values():
        try:
            answer = json.loads(str(record.get("response") or "{}"))
        except ValueError:
            continue
        if isinstance(answer, dict) and answer.get("cycle_id") == cycle_id and record.get("created_at"):
            began.append(_time(record["created_at"]))
    if began:
        return min(began)
    monthly = f"monthly#{cycle_id}"
    return next((e.created_at for e in entries if e.lots.get(monthly, 0) > 0), None)


def _answer_entries(response: Any) -> set[str]:
    """Entry ids an answer names: `entry_id`, `entry.entry_id`, `entries[].entry_id`."""
    found: set[str] = set()
    if isinstance(response, dict):
        if isinstance(response.get("entry_id"), str):
            found.add(response["entry_id"])
        for value in response.values():
            if isinstance(value, dict | list):
                found |= _answer_entries(value)
    elif isinstance(response, list):
        for value in response:
            found |= _answer_entries(value)
    return found


def _check_idempotency(
    entries: list[_Entry], records: Mapping[str, Mapping[str, Any]], replay: _Replay
) -> None:
    by_id = {e.entry_id: e for e in entries}
    for key, record in records.items():
        try:
            response = json.loads(str(record.get("response") or "{}"))
        except ValueError:
            replay.flag("idempotency", f"record {key}: answer is not JSON")
            continue
        for entry_id in _answer_entries(response):
            entry = by_id.get(entry_id)
            if entry is None:
                replay.flag(
                    "idempotency", f"record {key} answers with entry {entry_id}, which does not exist"
                )
            elif entry.idempotency_key != key:
                replay.flag(
                    "idempotency", f"record {key} names entry {entry_id} of key {entry.idempotency_key}"
                )
