"""`GET /orgs/{org_id}/entitlements`: what a member may run right now (domain/entitlements.py decides).

Members see their own view; the usage meter (a machine identity, scope `billing/usage.read`) asks on
behalf of any member of the org, named in `?member_id=`. One call reads four items in one
BatchGetItem; the live catalog is read at most once a minute per process (a second request then), so
a call costs at most two DynamoDB requests.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from threading import Lock
from typing import TYPE_CHECKING

from act3_billing.domain.entitlements import Contract, Entitlements, check_contract, entitlements
from act3_billing.domain.errors import ForbiddenRole, NotFound
from act3_billing.domain.plans import Catalog, Feature, default_catalog
from act3_billing.domain.principals import Service
from act3_billing.domain.roles import Permission
from act3_billing.domain.times import iso
from act3_billing.http.entitlement_models import (
    ContractResponse,
    CreditsOut,
    EntitlementsResponse,
    GenerationOut,
    StorageOut,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from act3_billing.http.caller import Caller
    from act3_billing.store.entitlements import EntitlementsStore
    from act3_billing.store.wallets import BillingStore

CATALOG_TTL = timedelta(seconds=60)


class CatalogCache:
    """The live catalog as last read, for `CATALOG_TTL` (plans change rarely; events are minutes late
    anyway). `read` is the query; the clock comes from the caller."""

    def __init__(self, read: Callable[[], Catalog]) -> None:
        self._read = read
        self._lock = Lock()
        self._at: datetime | None = None
        self._catalog: Catalog | None = None

    def get(self, now: datetime) -> Catalog:
        with self._lock:
            if self._catalog is None or self._at is None or not self._at <= now < self._at + CATALOG_TTL:
                self._catalog, self._at = self._read(), now
            return self._catalog


def view(
    store: EntitlementsStore,
    billing: BillingStore,
    catalog: Catalog,
    principal: Caller | Service,
    org_id: str,
    member_id: str | None,
    now: datetime,
) -> Entitlements:
    """The member's entitlements. A member asks for themselves; the usage meter (scope
    `billing/usage.read`) for the member it names. Strangers, and members no org has, get `not_found`."""
    if isinstance(principal, Service):
        principal.require(Permission.READ_METERS)
        if not member_id:
            from act3_billing.domain.errors import ValidationFailed

            raise ValidationFailed("member_id: the member to answer for is required", field="member_id")
        whose = member_id
    else:
        whose = principal.user_id
        if member_id not in (None, whose):
            # Only a member learns that the org exists; and a member sees only their own view.
            billing.require(org_id, principal.user_id, Permission.READ_METERS)
            raise ForbiddenRole("members see their own entitlements only", needed="billing/usage.read")
    snapshot = store.snapshot(org_id, whose)
    spender = snapshot.spender()
    if snapshot.wallet is None or spender is None:
        raise NotFound(f"organization {org_id} not found")
    plan = catalog.plans.get(snapshot.wallet.plan_id) or default_catalog().get(snapshot.wallet.plan_id)
    return entitlements(
        snapshot.wallet,
        spender,
        member_id=whose,
        plan=plan,
        contract=snapshot.contract,
        storage_used=snapshot.storage_bytes,
        now=now,
    )


def response(result: Entitlements) -> EntitlementsResponse:
    return EntitlementsResponse(
        org_id=result.org_id,
        member_id=result.member_id,
        plan_id=result.plan_id,
        status=result.status,
        generation=GenerationOut(
            enabled=result.generation_enabled, reason=result.reason.value if result.reason else None
        ),
        features=result.features,
        credits=CreditsOut(
            pool=result.pool,
            may_spend=result.may_spend,
            monthly_limit=result.monthly_limit,
            limit_left=result.limit_left,
            spendable=result.spendable,
        ),
        storage=StorageOut(used_bytes=result.storage_used, quota_bytes=result.storage_quota),
        as_of=iso(result.as_of),
        cache_seconds=result.cache_seconds,
    )


def set_contract(
    store: EntitlementsStore,
    billing: BillingStore,
    principal: Caller | Service,
    org_id: str,
    *,
    features: dict[str, Feature],
    storage_gb: int | None,
    catalog: Catalog,
    now: datetime,
) -> ContractResponse:
    """Billing operations (scope `billing/contracts.write`) record an enterprise org's contract terms;
    they apply while the org is on a contract plan. Members are refused as for any machine's route."""
    if not isinstance(principal, Service):
        billing.require(org_id, principal.user_id, Permission.MANAGE_CONTRACTS)
        raise ForbiddenRole("members may not set contract terms", needed=Permission.MANAGE_CONTRACTS.value)
    principal.require(Permission.MANAGE_CONTRACTS)
    contract = Contract(features=features, storage_gb=storage_gb)
    check_contract(contract)
    wallet = billing.wallet(org_id)  # an org that does not exist is not_found
    version = store.set_contract(org_id, contract, actor=principal.principal_id, now=now)
    plan = catalog.plans.get(wallet.plan_id)
    return ContractResponse(
        org_id=org_id,
        features=dict(features),
        storage_gb=storage_gb,
        version=version,
        applies=bool(plan and plan.contract),
    )
