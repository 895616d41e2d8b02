"""Double-entry postings, reconciliation, hold slices and the start of a cycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from act3_billing.domain.cycles import add_months, plan_new_cycle
from act3_billing.domain.holds import slice_draws
from act3_billing.domain.ledger import Account, EntryType, LedgerEntry, reconcile
from act3_billing.domain.lots import Lot, LotKind, Wallet

NOW = datetime(2026, 11, 15, tzinfo=UTC)


def entry(n: int, kind: EntryType, amount: int, lots: dict[str, int]) -> LedgerEntry:
    return LedgerEntry(f"e{n}", "org", kind, amount, NOW, lots=lots)


def wallet(lots: list[Lot], held: int = 0, cycle_id: str = "c1") -> Wallet:
    return Wallet(
        "org", "creator", cycle_id, NOW - timedelta(days=14), NOW + timedelta(days=16), tuple(lots), held=held
    )


def test_books_balance_after_grant_debit_hold_and_release() -> None:
    entries = [
        entry(1, EntryType.GRANT_MONTHLY, 1000, {"m": 1000}),
        entry(2, EntryType.DEBIT, 300, {"m": -300}),
        entry(3, EntryType.HOLD, 200, {"m": -200}),
        entry(4, EntryType.CAPTURE, 50, {}),
        entry(5, EntryType.RELEASE, 100, {"m": 100}),
    ]
    result = reconcile(wallet([Lot("m", LotKind.MONTHLY, 600, 1000, NOW)], held=50), entries, 50)
    assert result.ok, result.problems
    assert (result.granted, result.spent, result.held, result.balance) == (1000, 350, 50, 600)


def test_reconciliation_catches_a_lost_debit() -> None:
    entries = [entry(1, EntryType.GRANT_MONTHLY, 1000, {"m": 1000})]
    result = reconcile(wallet([Lot("m", LotKind.MONTHLY, 900, 1000, NOW)]), entries, 0)
    assert not result.ok
    assert any("lot m" in p for p in result.problems)


def test_postings_move_credits_between_accounts() -> None:
    debit = entry(1, EntryType.DEBIT, 10, {"m": -10})
    assert (debit.from_account, debit.to_account) == (Account.AVAILABLE, Account.REVENUE)
    assert debit.flow(Account.AVAILABLE) == -10
    assert entry(2, EntryType.ROLLOVER, 10, {"m": -10, "b": 10}).flow(Account.AVAILABLE) == 0


def test_captures_consume_the_hold_from_the_front_and_release_the_rest() -> None:
    draws = (("monthly", 300), ("bank", 200), ("pack", 100))
    assert slice_draws(draws, 0, 250) == {"monthly": 250}
    assert slice_draws(draws, 250, 450) == {"monthly": 50, "bank": 150}
    assert slice_draws(draws, 450, 600) == {"bank": 50, "pack": 100}


def test_new_cycle_banks_the_old_allowance_up_to_the_cap_and_forfeits_the_rest() -> None:
    old = wallet(
        [
            Lot("monthly#c1", LotKind.MONTHLY, 700, 1000, NOW, NOW + timedelta(days=16)),
            Lot("bank#c0", LotKind.BANK, 1500, 1500, NOW, NOW + timedelta(days=100)),
            Lot("bank#dead", LotKind.BANK, 40, 40, NOW, NOW + timedelta(days=1)),
        ]
    )
    plan = plan_new_cycle(
        old,
        cycle_id="c2",
        cycle_start=NOW + timedelta(days=16),
        cycle_end=NOW + timedelta(days=46),
        allowance=1000,
        rollover_cap=2000,
        now=NOW + timedelta(days=16),
    )
    kinds = {(e.type, e.amount) for e in plan.entries}
    assert kinds == {
        (EntryType.EXPIRE, 40),
        (EntryType.ROLLOVER, 500),
        (EntryType.FORFEIT, 200),
        (EntryType.GRANT_MONTHLY, 1000),
    }
    assert plan.removed_lots == {"bank#dead": 40, "monthly#c1": 700}
    bank = next(lot for lot in plan.new_lots if lot.kind is LotKind.BANK)
    assert bank.remaining == 500
    assert bank.expires_at == add_months(NOW + timedelta(days=16), 6)  # end of cycle n + 6


def test_add_months_clamps_to_the_end_of_short_months() -> None:
    assert add_months(datetime(2026, 8, 31, tzinfo=UTC), 6) == datetime(2027, 2, 28, tzinfo=UTC)


def test_a_downgrade_cuts_the_bank_to_the_new_cap_soonest_expiring_first() -> None:
    # Given a studio-sized bank and a downgrade to starter (cap 1,600)
    old = wallet(
        [
            Lot("monthly#c1", LotKind.MONTHLY, 100, 120_000, NOW, NOW + timedelta(days=16)),
            Lot("bank#old", LotKind.BANK, 1_000, 1_000, NOW, NOW + timedelta(days=40)),
            Lot("bank#new", LotKind.BANK, 2_000, 2_000, NOW, NOW + timedelta(days=150)),
        ]
    )
    plan = plan_new_cycle(
        old,
        cycle_id="c2",
        cycle_start=NOW + timedelta(days=16),
        cycle_end=NOW + timedelta(days=46),
        allowance=800,
        rollover_cap=1_600,
        now=NOW + timedelta(days=16),
    )
    # Then nothing new is banked, the oldest bank lot goes first, and the forfeit is recorded
    assert not [lot for lot in plan.new_lots if lot.kind is LotKind.BANK]
    assert plan.cut_lots == {"bank#new": (2_000, 1_600)}
    assert plan.removed_lots["bank#old"] == 1_000  # emptied: it leaves the wallet
    forfeit = next(e for e in plan.entries if e.type is EntryType.FORFEIT)
    assert forfeit.amount == 100 + 1_000 + 400
    assert forfeit.lots == {"monthly#c1": -100, "bank#old": -1_000, "bank#new": -400}


def test_many_expired_lots_make_one_entry_and_empty_lots_are_dropped() -> None:
    lots = [Lot(f"grant#{n}", LotKind.GRANT, 5, 5, NOW, NOW - timedelta(days=1)) for n in range(150)]
    lots.append(Lot("pack#empty", LotKind.PACK, 0, 1_000, NOW))
    plan = plan_new_cycle(
        wallet(lots),
        cycle_id="c1",
        cycle_start=NOW,
        cycle_end=NOW + timedelta(days=30),
        allowance=0,
        rollover_cap=0,
        now=NOW,
    )
    assert [(e.type, e.amount) for e in plan.entries] == [(EntryType.EXPIRE, 750)]
    assert len(plan.removed_lots) == 151 and plan.removed_lots["pack#empty"] == 0


def test_add_months_crosses_years_and_knows_leap_februaries() -> None:
    assert add_months(datetime(2026, 12, 15, tzinfo=UTC), 1) == datetime(2027, 1, 15, tzinfo=UTC)
    assert add_months(datetime(2024, 1, 31, tzinfo=UTC), 1) == datetime(2024, 2, 29, tzinfo=UTC)
    assert add_months(datetime(2026, 11, 30, tzinfo=UTC), 3) == datetime(2027, 2, 28, tzinfo=UTC)


def test_a_second_cycle_with_the_same_id_banks_into_a_new_lot_not_over_the_first() -> None:
    # Given a cycle started within the second of the one before (subscribe, then an upgrade at once):
    # the first cycle's leftovers already sit in bank#c1, and the cycle rolling now is c1 again
    old = wallet(
        [
            Lot("monthly#c1", LotKind.MONTHLY, 120_000, 120_000, NOW, NOW + timedelta(days=16)),
            Lot("bank#c1", LotKind.BANK, 33_000, 33_000, NOW, NOW + timedelta(days=180)),
        ]
    )
    plan = plan_new_cycle(
        old,
        cycle_id="c2",
        cycle_start=NOW,
        cycle_end=NOW + timedelta(days=30),
        allowance=0,
        rollover_cap=None,
        now=NOW,
    )
    # Then the new bank lot has its own id, and both amounts stay
    (bank,) = [lot for lot in plan.new_lots if lot.kind is LotKind.BANK]
    assert bank.lot_id != "bank#c1" and bank.remaining == 120_000
    assert "bank#c1" not in plan.removed_lots and "bank#c1" not in plan.cut_lots
