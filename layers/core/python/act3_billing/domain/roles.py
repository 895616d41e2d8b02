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
    UPLOAD = "upload"  # storage: presigned uploads (owners and creators)
    DELETE_MEDIA = "delete_media"  # storage: bulk media deletion (owners)
    # Money (issue 8): plan changes are the owners'; packs, payment methods, tax ids, invoices and
    # statements are the owners' and the billing members'.
    MANAGE_SUBSCRIPTION = "manage_subscription"
    BUY_CREDITS = "buy_credits"
    MANAGE_BILLING = "manage_billing"
    READ_BILLING = "read_billing"
    # The platform's machine identities' (SPEC §12): no role has them, a client's scopes grant them.
    REPORT_USAGE = "report_usage"  # capture, extend and release holds; debit finished usage by metrics
    GRANT = "grant"
    ADJUST = "adjust"
    MANAGE_CONTRACTS = "manage_contracts"  # an enterprise org's contract terms (issue 12)


_READ = frozenset({Permission.READ_METERS, Permission.READ_LEDGER, Permission.READ_MEMBERS})
# Members authorize spending (quote, debit at a quote's price, hold); what a job really used, refunds,
# grants and adjustments come from machine identities (domain/principals.py), never from a member: a
# member capturing 1 credit of their own hold, or refunding their own finished job, would render for free.
RIGHTS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: _READ
    | {
        Permission.SPEND,
        Permission.MANAGE_MEMBERS,
        Permission.TRANSFER,
        Permission.UPLOAD,
        Permission.DELETE_MEDIA,
        Permission.MANAGE_SUBSCRIPTION,
        Permission.BUY_CREDITS,
        Permission.MANAGE_BILLING,
        Permission.READ_BILLING,
    },
    Role.BILLING: _READ | {Permission.BUY_CREDITS, Permission.MANAGE_BILLING, Permission.READ_BILLING},
    Role.CREATOR: _READ | {Permission.SPEND, Permission.UPLOAD},
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
