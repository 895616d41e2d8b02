"""The audit replays an org's stored items independently of the store: a clean history passes, and
each way of corrupting the stored data is caught (a reconciliation that cannot be fooled)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest

from act3_billing.domain.lots import LotKind
from act3_billing.domain.roles import Role
from act3_billing.store.audit import audit
from act3_billing.store.idempotency import Idem
from act3_billing.store.orgs import OrgStore
from act3_billing.store.wallets import BillingStore
from tests.integration.conftest import TABLE
from tests.support.wallets import T0, Org, add_lot, new_org


@dataclass
class History:
    store: BillingStore
    org: Org
    table: Any
    pack: str
    grant: str

    def items(self, prefix: str) -> list[dict[str, Any]]:
        got = self.table.query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues={":pk": f"ORG#{self.org.org_id}", ":p": prefix},
            ConsistentRead=True,
        )
        return list(got["Items"])

    def entries(self, type_: str) -> list[dict[str, Any]]:
        return sorted((e for e in self.items("LEDGER#") if e["type"] == type_), key=lambda e: str(e["sk"]))

    def put(self, item: dict[str, Any]) -> None:
        self.table.put_item(Item=item)

    def shift(self, lot: str, by: int) -> None:
        """Moves a wallet lot's remaining credits by `by` (a corruption must look balanced elsewhere)."""
        self.table.update_item(
            Key={"pk": f"ORG#{self.org.org_id}", "sk": "WALLET"},
            UpdateExpression="ADD lots.#l.remaining :n",
            ExpressionAttributeNames={"#l": lot},
            ExpressionAttributeValues={":n": by},
        )


def _at(step: int) -> datetime:
    return T0 + timedelta(minutes=step)


@pytest.fixture
def history(store: BillingStore) -> History:
    """Given an org whose history touches every kind of entry: lots of each kind, debits across lots,
    a hold captured in stages and released, a refund, a transfer out."""
    org = new_org(store, monthly=1_000, cap=2_000)
    pack = add_lot(store, org.org_id, LotKind.PACK, 5_000, now=_at(1))
    grant = add_lot(store, org.org_id, LotKind.GRANT, 800, expires_at=_at(40), now=_at(2))
    add_lot(store, org.org_id, LotKind.BANK, 300, expires_at=_at(500), now=_at(3))

    def debit(step: int, job: str, amount: int) -> None:
        store.debit(
            org.org_id,
            actor=org.creator,
            amount=amount,
            job_id=job,
            idem=Idem(f"debit-{job}", "debit", job),
            now=_at(step),
            rate_card_version="test",
        )

    debit(4, "script", 700)  # monthly
    debit(5, "shots", 900)  # monthly rest, bank, grant
    held = store.place_hold(
        org.org_id,
        actor=org.creator,
        amount=1_000,
        job_id="render",
        expires_at=_at(600),
        idem=Idem("hold-render", "hold", "render"),
        now=_at(6),
    )
    hold_id = str(held.body["hold_id"])
    for step, (credits, final) in enumerate(((200, False), (300, True)), start=7):
        store.settle_hold(
            org.org_id,
            actor=org.creator,
            hold_id=hold_id,
            capture=credits,
            final=final,
            idem=Idem(f"capture-{step}", "capture", str(step)),
            now=_at(step),
        )
    debit(10, "voices", 400)
    store.refund_job(
        org.org_id,
        actor=org.creator,
        job_id="voices",
        idem=Idem("refund-voices", "refund", "v"),
        now=_at(11),
        service="service:usage-meter",  # refunds come from the usage meter (SPEC §12)
    )
    other = new_org(store)
    OrgStore(store.connection).add_member(other.org_id, org.owner, Role.OWNER, email=None, now=_at(11))
    store.transfer(
        org.org_id,
        to_org_id=other.org_id,
        actor=org.owner,
        amount=250,
        idem=Idem("xfer-1", "transfer", "1"),
        now=_at(12),
    )
    debit(50, "late", 100)  # after the grant expired: skips it
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(TABLE)
    return History(store, org, table, pack, grant)


def test_a_clean_history_passes_the_audit(history: History) -> None:
    # When the org's items are audited
    report = audit(history.store.connection, history.org.org_id)

    # Then nothing is found, and every draw was checked against the spending order
    assert report.ok, report.findings
    assert report.unordered_draws == 0
    assert report.entries >= 12


def _charged_to(job: dict[str, Any], lot: str) -> dict[str, Any]:
    """The job's record, as if every credit it was charged came from `lot` (spender and cycle kept)."""
    charged: dict[str, Decimal] = {}
    for key, n in job["charged"].items():
        _, by, cycle = key.split("\x1f")
        moved = "\x1f".join([lot, by, cycle])
        charged[moved] = charged.get(moved, Decimal(0)) + Decimal(n)
    return {**job, "charged": charged}


def _draw_out_of_order(h: History) -> None:
    first = h.entries("debit")[0]  # drew 700 from the monthly lot
    ((monthly, n),) = ((lot, -d) for lot, d in first["lots"].items())
    first["lots"] = {h.pack: -n}
    first["sources"] = {h.pack: n}
    h.put(first)
    h.shift(monthly, n)
    h.shift(h.pack, -n)
    h.put(_charged_to(h.items("JOB#script")[0], h.pack))


def _doubled_entry(h: History) -> None:
    entry = dict(h.entries("debit")[1])
    entry["entry_id"] = "le_copy"
    entry["sk"] = str(entry["sk"]) + "x"
    h.put(entry)


def _refund_never_charged(h: History) -> None:
    entry = dict(h.entries("refund")[0])
    entry.update(
        entry_id="le_ghost",
        sk=str(entry["sk"]) + "g",
        job_id="ghost",
        lots={h.pack: 100},
        sources={h.pack: 100},
        amount=100,
    )
    h.put(entry)
    h.shift(h.pack, 100)


def _credits_moved_between_lots(h: History) -> None:
    h.shift(h.pack, -50)
    h.shift(h.grant, 50)


def _hold_over_captured(h: History) -> None:
    hold = h.items("HOLD#")[0]
    hold["captured"] = Decimal(hold["captured"]) + 10
    h.put(hold)


def _member_counter_off_by_one(h: History) -> None:
    member = h.items(f"MEMBER#{h.org.creator}")[0]
    member["spent"]["c1"] = Decimal(member["spent"]["c1"]) + 1
    h.put(member)


def _answer_names_a_missing_entry(h: History) -> None:
    record = h.items("IDEM#debit-shots")[0]
    answer = json.loads(record["response"])
    answer["entry_id"] = "le_nowhere"
    record["response"] = json.dumps(answer)
    h.put(record)


def _entry_amount_changed(h: History) -> None:
    entry = h.entries("debit")[0]
    entry["amount"] = Decimal(entry["amount"]) - 1
    h.put(entry)


def _held_changed(h: History) -> None:
    h.table.update_item(
        Key={"pk": f"ORG#{h.org.org_id}", "sk": "WALLET"},
        UpdateExpression="ADD held :n",
        ExpressionAttributeValues={":n": 5},
    )


def _entry_type_changed(h: History) -> None:
    entry = h.entries("release")[0]
    entry["type"] = "grant"
    h.put(entry)


def _job_record_tampered(h: History) -> None:
    job = h.items("JOB#shots")[0]
    first = sorted(job["charged"])[0]
    job["charged"][first] = Decimal(job["charged"][first]) + 1
    h.put(job)


def _spent_from_an_expired_lot(h: History) -> None:
    late = h.entries("debit")[-1]  # at minute 50, after the grant's expiry at minute 40
    ((lot, n),) = ((lot, -d) for lot, d in late["lots"].items())
    late["lots"] = {h.grant: -n}
    late["sources"] = {h.grant: n}
    h.put(late)
    h.shift(lot, n)
    h.shift(h.grant, -n)
    h.put(_charged_to(h.items("JOB#late")[0], h.grant))


def _deleted_entry(h: History) -> None:
    entry = h.entries("capture")[0]
    h.table.delete_item(Key={"pk": entry["pk"], "sk": entry["sk"]})


def _refunded_twice(h: History) -> None:
    entry = dict(h.entries("refund")[0])
    entry.update(entry_id="le_again", sk=str(entry["sk"]) + "a")
    h.put(entry)
    for lot, n in entry["lots"].items():
        h.shift(lot, int(n))


MUTATIONS: dict[str, tuple[Callable[[History], None], str]] = {
    "a draw out of spending order": (_draw_out_of_order, "spending_order"),
    "a doubled entry": (_doubled_entry, "lot_balance"),
    "a refund of a job never charged": (_refund_never_charged, "refund_uncharged"),
    "credits moved between lots": (_credits_moved_between_lots, "lot_balance"),
    "a hold over-captured": (_hold_over_captured, "hold_captured"),
    "a member counter off by one": (_member_counter_off_by_one, "member_spent"),
    "an answer naming a missing entry": (_answer_names_a_missing_entry, "idempotency"),
    "an entry's amount changed": (_entry_amount_changed, "entry_lots"),
    "the held total changed": (_held_changed, "held"),
    "an entry's type changed": (_entry_type_changed, "posting"),
    "a job's charge record tampered": (_job_record_tampered, "job_charges"),
    "credits spent from an expired lot": (_spent_from_an_expired_lot, "spending_order"),
    "a deleted entry": (_deleted_entry, "hold_captured"),
    "a job refunded twice": (_refunded_twice, "refund_twice"),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_each_corruption_is_caught(history: History, name: str) -> None:
    corrupt, expected = MUTATIONS[name]
    # Given a clean history, when the stored data is corrupted in one way
    assert audit(history.store.connection, history.org.org_id).ok
    corrupt(history)

    # Then the audit finds it, under the check that owns that rule
    report = audit(history.store.connection, history.org.org_id)
    assert expected in report.codes(), report.findings
