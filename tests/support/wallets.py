"""Given-steps shared by integration and emulator tests: an org with members and credits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from act3_billing.domain.ledger import EntryType
from act3_billing.domain.lots import Lot, LotKind
from act3_billing.domain.roles import Role
from act3_billing.store.idempotency import Idem
from act3_billing.store.orgs import OrgStore
from act3_billing.store.wallets import BillingStore

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Org:
    org_id: str
    owner: str
    creator: str
    billing: str
    viewer: str


def new_org(
    store: BillingStore,
    *,
    plan_id: str = "creator",
    monthly: int = 33_000,
    cap: int = 66_000,
    now: datetime = T0,
    cycle_days: int = 30,
) -> Org:
    """An org with one member per role, a wallet and the monthly allowance of its first cycle."""
    suffix = uuid.uuid4().hex[:10]
    org = Org(
        f"org-{suffix}", f"owner-{suffix}", f"creator-{suffix}", f"billing-{suffix}", f"viewer-{suffix}"
    )
    orgs = OrgStore(store.connection)
    orgs.create_org(org.org_id, name=f"Studio {suffix}", owner_id=org.owner, owner_email=None, now=now)
    for user, role in ((org.creator, Role.CREATOR), (org.billing, Role.BILLING), (org.viewer, Role.VIEWER)):
        orgs.add_member(org.org_id, user, role, email=f"{user}@studio.example", now=now)
    store.open_wallet(
        org.org_id,
        plan_id=plan_id,
        cycle_id="c1",
        cycle_start=now,
        cycle_end=now + timedelta(days=cycle_days),
        now=now,
    )
    store.start_cycle(
        org.org_id,
        cycle_id="c1",
        cycle_start=now,
        cycle_end=now + timedelta(days=cycle_days),
        allowance=monthly,
        rollover_cap=cap,
        now=now,
    )
    return org


def add_lot(
    store: BillingStore,
    org_id: str,
    kind: LotKind,
    credits: int,
    *,
    expires_at: datetime | None = None,
    now: datetime = T0,
    lot_id: str | None = None,
) -> str:
    lot_id = lot_id or f"{kind.value}#{uuid.uuid4().hex[:8]}"
    # A bank lot normally comes from a rollover; one added directly (an import) is an adjustment.
    entry_type = {
        LotKind.PACK: EntryType.PACK_PURCHASE,
        LotKind.GRANT: EntryType.GRANT,
        LotKind.BANK: EntryType.ADJUSTMENT,
        LotKind.MONTHLY: EntryType.GRANT_MONTHLY,
    }[kind]
    store.add_lot(
        org_id,
        Lot(lot_id, kind, credits, credits, now, expires_at, f"test {kind.value}"),
        entry_type=entry_type,
        idem=Idem(f"lot:{lot_id}", "add_lot", lot_id),
        now=now,
    )
    return lot_id
