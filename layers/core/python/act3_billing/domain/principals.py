"""Who may call: members (people, with a role per org) and the platform's machine identities (SPEC §12).

A machine identity is an OAuth client using the client-credentials grant. What it may do comes only from
the scopes on its token, each scope granting domain permissions; it acts on any org, always on behalf of
the org (and, for usage, the member who started the job), and it is never a member of anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from act3_billing.domain.errors import ForbiddenScope
from act3_billing.domain.roles import Permission

RESOURCE_SERVER = "billing"


class Scope(StrEnum):
    """The Cognito resource server's custom scopes (template.yaml `BillingResourceServer`)."""

    USAGE_WRITE = f"{RESOURCE_SERVER}/usage.write"
    REFUNDS_WRITE = f"{RESOURCE_SERVER}/refunds.write"
    GRANTS_WRITE = f"{RESOURCE_SERVER}/grants.write"
    ADJUSTMENTS_WRITE = f"{RESOURCE_SERVER}/adjustments.write"
    # Reads the usage meter needs before it starts a job: an org's meters and entitlements (issue 12's
    # `GET /orgs/{org_id}/entitlements` declares it next to the member scopes).
    USAGE_READ = f"{RESOURCE_SERVER}/usage.read"
    # Billing operations record an enterprise org's contract terms (issue 12: features, storage quota).
    CONTRACTS_WRITE = f"{RESOURCE_SERVER}/contracts.write"


SCOPE_RIGHTS: Mapping[Scope, frozenset[Permission]] = {
    Scope.USAGE_WRITE: frozenset({Permission.REPORT_USAGE}),
    Scope.REFUNDS_WRITE: frozenset({Permission.REFUND}),
    Scope.GRANTS_WRITE: frozenset({Permission.GRANT}),
    Scope.ADJUSTMENTS_WRITE: frozenset({Permission.ADJUST}),
    Scope.USAGE_READ: frozenset({Permission.READ_METERS}),
    Scope.CONTRACTS_WRITE: frozenset({Permission.MANAGE_CONTRACTS}),
}

# The two machine identities of the platform and the scopes their app clients are allowed.
USAGE_METER_SCOPES = (Scope.USAGE_WRITE, Scope.REFUNDS_WRITE, Scope.USAGE_READ)
BILLING_OPERATIONS_SCOPES = (Scope.GRANTS_WRITE, Scope.ADJUSTMENTS_WRITE, Scope.CONTRACTS_WRITE)


def scope_for(permission: Permission) -> Scope | None:
    return next((scope for scope, rights in SCOPE_RIGHTS.items() if permission in rights), None)


@dataclass(frozen=True)
class Service:
    """A machine identity: the OAuth client id (Cognito's `sub` and `client_id` of its tokens) and scopes."""

    client_id: str
    scopes: frozenset[str]

    @property
    def principal_id(self) -> str:
        """How the ledger and idempotency records name it (never confusable with a member's `sub`)."""
        return f"service:{self.client_id}"

    @property
    def permissions(self) -> frozenset[Permission]:
        granted: set[Permission] = set()
        for scope, rights in SCOPE_RIGHTS.items():
            if scope.value in self.scopes:
                granted |= rights
        return frozenset(granted)

    def require(self, permission: Permission) -> None:
        if permission in self.permissions:
            return
        scope = scope_for(permission)
        needed = f"the scope '{scope.value}'" if scope else "a member's token"
        raise ForbiddenScope(
            f"this client may not {permission.value.replace('_', ' ')}: it needs {needed}",
            needed=scope.value if scope else "member",
        )
