"""A demo studio for the local stack (`make seed`): one member per role and a few weeks of history.

Every step goes through the store with its own idempotency key, so seeding twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from act3_billing.domain.ledger import EntryType
from act3_billing.domain.lots import Lot, LotKind
from act3_billing.domain.plans import default_catalog
from act3_billing.domain.roles import Role

if TYPE_CHECKING:
    from act3_billing.store.wallets import BillingStore

DEMO_ORG = "org_demo_studio"
DEMO_MEMBERS = {
    "owner@studio.example": Role.OWNER,
    "billing@studio.example": Role.BILLING,
    "creator@studio.example": Role.CREATOR,
    "viewer@studio.example": Role.VIEWER,
}


@dataclass(frozen=True)
class DemoOrg:
    org_id: str
    members: dict[str, str]  # e-mail -> user id (the token's `sub`)


def _cycle_id(start: datetime) -> str:
    return start.strftime("%Y-%m-%d")


def seed_demo(
    store: BillingStore,
    now: datetime,
    user_id_for: Callable[[str], str],
    usage_meter: str = "service:usage-meter",
) -> DemoOrg:
    """Create the demo studio (members refreshed, history written once).

    `user_id_for` maps an e-mail to the `sub` its tokens carry; `usage_meter` names the machine identity
    that reported the finished jobs and the capture (SPEC §12: members never report usage)."""
    from act3_billing.domain.errors import WalletMissing
    from act3_billing.store.idempotency import Idem

    plan = default_catalog().get("studio")
    allowance, cap = plan.monthly_credits or 0, plan.rollover_cap or 0
    from act3_billing.store.orgs import OrgStore

    members = {email: user_id_for(email) for email in DEMO_MEMBERS}
    orgs = OrgStore(store.connection)
    owner = "owner@studio.example"
    orgs.create_org(DEMO_ORG, name="Demo Studio", owner_id=members[owner], owner_email=owner, now=now)
    for email, role in DEMO_MEMBERS.items():
        if role is not Role.OWNER:
            orgs.add_member(DEMO_ORG, members[email], role, email=email, now=now)
    creator = members["creator@studio.example"]
    try:
        store.wallet(DEMO_ORG)
    except WalletMissing:
        pass
    else:
        return DemoOrg(DEMO_ORG, members)  # seeded before: history stays as it was

    previous_start = now - timedelta(days=50)
    current_start = previous_start + timedelta(days=30)
    current_end = current_start + timedelta(days=30)
    store.open_wallet(
        DEMO_ORG,
        plan_id=plan.id,
        cycle_id=_cycle_id(previous_start),
        cycle_start=previous_start,
        cycle_end=current_start,
        now=previous_start,
    )
    store.start_cycle(
        DEMO_ORG,
        cycle_id=_cycle_id(previous_start),
        cycle_start=previous_start,
        cycle_end=current_start,
        allowance=allowance,
        rollover_cap=cap,
        now=previous_start,
    )

    def debit(day: float, job: str, credits: int, start: datetime) -> None:
        at = start + timedelta(days=day)
        store.debit(
            DEMO_ORG,
            actor=creator,
            amount=credits,
            job_id=job,
            idem=Idem(f"seed-{job}", "debit", job),
            now=at,
            rate_card_version="2026-11",
            service=usage_meter,
        )

    for day, job, credits in (
        (2, "script-pilot", 8_000),
        (5, "storyboard-pilot", 12_400),
        (9, "shots-act1", 31_200),
        (15, "voices-act1", 6_500),
        (22, "shots-act2", 28_800),
    ):
        debit(day, job, credits, previous_start)

    store.start_cycle(
        DEMO_ORG,
        cycle_id=_cycle_id(current_start),
        cycle_start=current_start,
        cycle_end=current_end,
        allowance=allowance,
        rollover_cap=cap,
        now=current_start,
    )
    store.add_lot(
        DEMO_ORG,
        Lot(
            "pack#seed-1",
            LotKind.PACK,
            10_000,
            10_000,
            current_start + timedelta(days=3),
            label="pack of 10,000 credits",
        ),
        entry_type=EntryType.PACK_PURCHASE,
        idem=Idem("seed-pack-1", "pack", "1"),
        now=current_start + timedelta(days=3),
    )
    store.add_lot(
        DEMO_ORG,
        Lot(
            "grant#festival-2026",
            LotKind.GRANT,
            5_000,
            5_000,
            current_start + timedelta(days=4),
            current_start + timedelta(days=64),
            "film festival grant",
        ),
        entry_type=EntryType.GRANT,
        idem=Idem("seed-grant-1", "grant", "1"),
        now=current_start + timedelta(days=4),
    )
    for day, job, credits in (
        (1, "script-v2", 8_100),
        (6, "shots-act3", 40_000),
        (12, "upscale-trailer", 14_400),
    ):
        debit(day, job, credits, current_start)

    held_at = current_start + timedelta(days=14)
    hold = store.place_hold(
        DEMO_ORG,
        actor=creator,
        amount=20_000,
        job_id="render-final",
        expires_at=now + timedelta(hours=24),
        idem=Idem("seed-hold-1", "hold", "1"),
        now=held_at,
    )
    store.settle_hold(
        DEMO_ORG,
        actor=usage_meter,
        service=usage_meter,
        hold_id=str(hold.body["hold_id"]),
        capture=7_500,
        final=False,
        idem=Idem("seed-capture-1", "capture", "1"),
        now=held_at + timedelta(hours=3),
    )
    return DemoOrg(DEMO_ORG, members)
