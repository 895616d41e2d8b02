"""Organizations, members and invites (SPEC §7): the rules, without storage.

- An org always keeps at least one owner.
- Whether a member may spend the org's pool: the member's override if set, else the org's toggle
  for the member's role.
- Invites carry a random single-use token that is stored only as its hash; they expire after 7 days
  and only a signed-in user with the same verified e-mail may accept them. Joining a free-tier org
  takes a LinkedIn sign-in.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from act3_billing.domain.errors import DomainError
from act3_billing.domain.roles import Role

INVITE_TTL = timedelta(days=7)
FREE_TIER_PLANS = frozenset({"starter_trial"})
LINKEDIN = "linkedin"
DEFAULT_SHARED_CREDITS: Mapping[Role, bool] = {
    Role.OWNER: True,
    Role.BILLING: False,
    Role.CREATOR: True,
    Role.VIEWER: False,
}


class LastOwner(DomainError):
    code = "last_owner"
    title = "An organization must keep at least one owner"


class MemberLimitExceeded(DomainError):
    code = "member_limit_exceeded"
    title = "Your monthly spending limit in this organization is reached"


class InviteNotFound(DomainError):
    code = "invite_not_found"
    title = "No such invite"


class InviteExpired(DomainError):
    code = "invite_expired"
    title = "The invite has expired"


class InviteUsed(DomainError):
    code = "invite_used"
    title = "The invite was already accepted"


class InviteRevoked(DomainError):
    code = "invite_revoked"
    title = "The invite was revoked"


class InviteEmailMismatch(DomainError):
    code = "invite_email_mismatch"
    title = "The invite was sent to another e-mail address"


class EmailNotVerified(DomainError):
    code = "email_not_verified"
    title = "Your e-mail address is not verified"


class LinkedInRequired(DomainError):
    code = "linkedin_sso_required"
    title = "Joining a free-tier organization requires signing in with LinkedIn"


class AlreadyMember(DomainError):
    code = "already_member"
    title = "Already a member of this organization"


class SameOrg(DomainError):
    code = "same_org"
    title = "A transfer needs two different organizations"


@dataclass(frozen=True)
class Org:
    org_id: str
    name: str
    owners: int
    personal: bool = False
    shared_credits: Mapping[Role, bool] = field(default_factory=lambda: dict(DEFAULT_SHARED_CREDITS))

    def may_spend(self, role: Role, override: bool | None) -> bool:
        return override if override is not None else self.shared_credits.get(role, False)


def owners_after(org: Org, old_role: Role | None, new_role: Role | None) -> int:
    """The owner count once a member goes from `old_role` to `new_role` (None: not a member)."""
    owners = org.owners - (old_role is Role.OWNER) + (new_role is Role.OWNER)
    if owners < 1:
        raise LastOwner(
            f"organization {org.org_id} would be left without an owner; make someone else owner first"
        )
    return owners


class InviteStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REVOKED = "revoked"


@dataclass(frozen=True)
class Invite:
    invite_id: str
    org_id: str
    email: str
    role: Role
    token_hash: str
    status: InviteStatus
    expires_at: datetime
    created_at: datetime
    invited_by: str
    accepted_by: str | None = None


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_acceptance(
    invite: Invite,
    *,
    user_id: str,
    email: str | None,
    email_verified: bool,
    identity_provider: str | None,
    org_plan: str,
    now: datetime,
) -> bool:
    """Whether the caller may accept; True when it is a repeat by the same user (a no-op)."""
    if invite.status is InviteStatus.REVOKED:
        raise InviteRevoked("this invite was revoked; ask for a new one")
    if invite.status is InviteStatus.ACCEPTED:
        if invite.accepted_by == user_id:
            return True
        raise InviteUsed("this invite was already accepted")
    if now >= invite.expires_at:
        raise InviteExpired(f"this invite expired at {invite.expires_at.isoformat()}; ask for a new one")
    if not email or not email_verified:
        raise EmailNotVerified("verify your e-mail address before accepting an invite")
    if normalize_email(email) != invite.email:
        raise InviteEmailMismatch("sign in with the e-mail address the invite was sent to")
    if org_plan in FREE_TIER_PLANS and identity_provider != LINKEDIN:
        raise LinkedInRequired("sign in with LinkedIn to join an organization on the free tier")
    return False
