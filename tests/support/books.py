"""Then-steps: an org's books balance (the store's reconciliation) and survive the independent audit."""

from __future__ import annotations

from act3_billing.store.audit import audit
from act3_billing.store.wallets import BillingStore


def assert_books(store: BillingStore, *org_ids: str) -> None:
    for org_id in org_ids:
        reconciliation = store.reconcile(org_id)
        assert reconciliation.ok, reconciliation.problems
        report = audit(store.connection, org_id)
        assert report.ok, report.findings
