"""Roles and what each may do (SPEC §7). Checked in the domain for every route."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from act3_billing.domain.errors import ForbiddenRole, SpendingNotAllowed


class Role(StrEnum):
    OWNER = "owner"
    BILLING = "billing"
    CREATOR = "creator"
    VIEWER = "viewer"


class Permission(StrEnum):
    READ_METERS = "read_meters"
    READ_LEDGER = "read_ledger"
    SPEND = "spend"
    REFUND = "refund"
    READ_MEMBERS = "read_members"
    MANAGE_MEMBERS = "manage_members"
    TRANSFER = "transfer"
    # Money (issue 8): plan changes are the owners'; packs, payment methods, tax ids, invoices and
    # statements are the owners' and the billing members'.
    MANAGE_SUBSCRIPTION = "manage_subscription"
    BUY_CREDITS = "buy_credits"
    MANAGE_BILLING = "manage_billing"
    READ_BILLING = "read_billing"


_READ = frozenset({Permission.READ_METERS, Permission.READ_LEDGER, Permission.READ_MEMBERS})
RIGHTS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    Role.BILLING: _READ | {Permission.BUY_CREDITS, Permission.MANAGE_BILLING, Permission.READ_BILLING},
    # Refunds are the owners' (a creator refunding their own finished job would generate for free).
    Role.CREATOR: _READ | {Permission.SPEND},
    Role.VIEWER: _READ,
}


def roles_with(permission: Permission) -> tuple[Role, ...]:
    return tuple(role for role, rights in RIGHTS.items() if permission in rights)


@dataclass(frozen=True)
class Membership:
    org_id: str
    user_id: str
    role: Role
    may_spend: bool = True
    may_spend_override: bool | None = None
    monthly_limit: int | None = None
    email: str | None = None

    def require(self, permission: Permission) -> None:
        if permission not in RIGHTS[self.role]:
            raise ForbiddenRole(
                f"role '{self.role}' may not {permission.value.replace('_', ' ')}",
                role=self.role.value,
                needed=permission.value,
            )
        if permission == Permission.SPEND and not self.may_spend:
            raise SpendingNotAllowed("shared credits are disabled for this member")
