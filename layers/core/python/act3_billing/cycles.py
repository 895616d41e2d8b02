"""Plan changes that touch the archive (the part issue 10 needs; issue 7 owns this module and the rest of
the cycle work): entering archive disables generation and schedules the media purge for day 30; a
re-upgrade before then turns generation back on and cancels the purge."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from act3_billing.domain.plans import default_catalog

if TYPE_CHECKING:
    from act3_billing.store.cycles import CycleStore


def _store(store: CycleStore | None) -> CycleStore:
    if store is not None:
        return store
    from act3_billing import runtime
    from act3_billing.store.cycles import CycleStore

    return CycleStore(runtime.connection())


def enter_archive(org_id: str, now: datetime, store: CycleStore | None = None) -> datetime:
    """Cancel, or a downgrade reaching archive: returns when the org entered archive."""
    return _store(store).enter_archive(org_id, now)


def change_plan_now(org_id: str, plan_id: str, now: datetime, store: CycleStore | None = None) -> None:
    """An upgrade taking effect at once (a re-upgrade out of archive included)."""
    plan = default_catalog().get(plan_id)
    _store(store).change_plan_now(org_id, plan.id, generation=plan.generation, now=now)
