"""Organizations, members and invites in DynamoDB.

The org item keeps its owner count; every change that adds, demotes or removes an owner updates it
under a condition in the same transaction, so two owners demoting each other at once cannot leave
an org without one. Member items keep their effective shared-credit toggle resolved, which is what
a spending transaction checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.update import Action

from act3_billing.domain.errors import Conflict, NotFound
from act3_billing.domain.ids import new_id
from act3_billing.domain.orgs import (
    DEFAULT_SHARED_CREDITS,
    INVITE_TTL,
    Invite,
    InviteNotFound,
    InviteRevoked,
    InviteStatus,
    InviteUsed,
    Org,
    owners_after,
    token_hash,
)
from act3_billing.domain.roles import Membership, Role
from act3_billing.domain.times import iso, parse_iso
from act3_billing.store.idempotency import Idem, Outcome, add_idem, replay
from act3_billing.store.models import InviteItem, MemberItem, OrgItem, UserItem, org_pk
from act3_billing.store.records import membership_from_item, plain
from act3_billing.store.tx import Tx, TxCancelled

ORG_SK = "ORG"
MAX_ATTEMPTS = 20
UNSET: Any = object()


@dataclass(frozen=True)
class MemberView:
    membership: Membership
    spent: Mapping[str, int]


@contextmanager
def _unless_condition_failed() -> Iterator[None]:
    try:
        yield
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise


def _org_from_item(item: OrgItem) -> Org:
    shared = plain(item.shared_credits)
    return Org(
        org_id=item.org_id,
        name=item.name,
        owners=int(item.owners or 0),
        personal=bool(item.personal),
        shared_credits={role: bool(shared.get(role.value, DEFAULT_SHARED_CREDITS[role])) for role in Role},
    )


def _invite_from_item(item: InviteItem) -> Invite:
    return Invite(
        invite_id=item.invite_id,
        org_id=item.org_id,
        email=item.email,
        role=Role(item.role),
        token_hash=item.token_hash,
        status=InviteStatus(item.status),
        expires_at=parse_iso(item.expires_at),
        created_at=parse_iso(item.created_at),
        invited_by=item.invited_by,
        accepted_by=item.accepted_by,
    )


def _member_item(
    org: Org,
    user_id: str,
    role: Role,
    *,
    email: str | None,
    now: datetime,
    may_spend_override: bool | None = None,
    monthly_limit: int | None = None,
) -> MemberItem:
    return MemberItem(
        org_pk(org.org_id),
        f"MEMBER#{user_id}",
        org_id=org.org_id,
        user_id=user_id,
        role=role.value,
        may_spend=org.may_spend(role, may_spend_override),
        may_spend_override=may_spend_override,
        monthly_limit=monthly_limit,
        spent={},
        email=email,
        created_at=iso(now),
        gsi1pk=f"USER#{user_id}",
        gsi1sk=f"ORG#{org.org_id}",
    )


class OrgStore:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    # ---- orgs and members --------------------------------------------------------------------

    def org(self, org_id: str) -> Org:
        try:
            return _org_from_item(OrgItem.get(org_pk(org_id), ORG_SK, consistent_read=True))
        except DoesNotExist:
            raise NotFound(f"organization {org_id} not found") from None

    def create_org(
        self,
        org_id: str,
        *,
        name: str,
        owner_id: str,
        owner_email: str | None,
        now: datetime,
        personal: bool = False,
    ) -> Org:
        """The org with its first owner; creating it again changes nothing."""
        org = Org(org_id=org_id, name=name, owners=1, personal=personal)
        tx = Tx(self._connection)
        tx.put("org", self._org_item(org, owner_id, now), OrgItem.pk.does_not_exist())
        tx.put(
            "member",
            _member_item(org, owner_id, Role.OWNER, email=owner_email, now=now),
            MemberItem.pk.does_not_exist(),
        )
        try:
            tx.run()
        except TxCancelled as exc:
            if not exc.failed:
                raise Conflict("concurrent update; retry") from None
        return self.org(org_id)

    def personal_org(self, user_id: str, *, email: str | None, now: datetime) -> tuple[Org, bool]:
        """The user's personal org, made on first sign-in (owner); True when it was made now."""
        try:
            existing = UserItem.get(f"USER#{user_id}", "PROFILE", consistent_read=True)
        except DoesNotExist:
            existing = None
        if existing is not None and existing.personal_org:
            return self.org(existing.personal_org), False
        owner = email.split("@", 1)[0] if email else "My"
        org = Org(org_id=new_id("org", now).lower(), name=f"{owner}'s studio", owners=1, personal=True)
        tx = Tx(self._connection)
        tx.put(
            "user",
            UserItem(
                f"USER#{user_id}",
                "PROFILE",
                user_id=user_id,
                email=email,
                personal_org=org.org_id,
                created_at=iso(now),
            ),
            UserItem.pk.does_not_exist(),
        )
        tx.put("org", self._org_item(org, user_id, now), OrgItem.pk.does_not_exist())
        tx.put(
            "member",
            _member_item(org, user_id, Role.OWNER, email=email, now=now),
            MemberItem.pk.does_not_exist(),
        )
        try:
            tx.run()
        except TxCancelled:
            return self.personal_org(user_id, email=email, now=now)  # a concurrent first sign-in won
        return org, True

    def add_member(
        self,
        org_id: str,
        user_id: str,
        role: Role,
        *,
        email: str | None,
        now: datetime,
        may_spend_override: bool | None = None,
        monthly_limit: int | None = None,
    ) -> Membership:
        """A new member (an existing one is left as is)."""
        for _ in range(MAX_ATTEMPTS):
            org = self.org(org_id)
            tx = Tx(self._connection)
            tx.put(
                "member",
                _member_item(
                    org,
                    user_id,
                    role,
                    email=email,
                    now=now,
                    may_spend_override=may_spend_override,
                    monthly_limit=monthly_limit,
                ),
                MemberItem.pk.does_not_exist(),
            )
            self._count_owners(tx, org, owners_after(org, None, role))
            try:
                tx.run()
            except TxCancelled as exc:
                if "member" in exc.failed:
                    return self.member(org_id, user_id).membership
                continue
            return self.member(org_id, user_id).membership
        raise Conflict("the organization kept changing; retry")

    def member(self, org_id: str, user_id: str) -> MemberView:
        try:
            item = MemberItem.get(org_pk(org_id), f"MEMBER#{user_id}", consistent_read=True)
        except DoesNotExist:
            raise NotFound(f"member {user_id} not found") from None
        return MemberView(membership_from_item(item), {k: int(v) for k, v in plain(item.spent).items()})

    def members(self, org_id: str) -> list[MemberView]:
        items = MemberItem.query(org_pk(org_id), MemberItem.sk.startswith("MEMBER#"), consistent_read=True)
        return [
            MemberView(membership_from_item(i), {k: int(v) for k, v in plain(i.spent).items()}) for i in items
        ]

    def memberships_of(self, user_id: str) -> list[tuple[Membership, Org]]:
        out = []
        for item in MemberItem.by_user.query(f"USER#{user_id}"):
            try:
                out.append((membership_from_item(item), self.org(item.org_id)))
            except NotFound:
                continue
        return out

    def change_member(
        self,
        org_id: str,
        user_id: str,
        *,
        role: Role = UNSET,
        may_spend_override: bool | None = UNSET,
        monthly_limit: int | None = UNSET,
    ) -> MemberView:
        """Change a member's role, shared-credit override or monthly limit; never the last owner away."""
        for _ in range(MAX_ATTEMPTS):
            org = self.org(org_id)
            current = self.member(org_id, user_id).membership
            new_role = current.role if role is UNSET else role
            override = current.may_spend_override if may_spend_override is UNSET else may_spend_override
            owners = owners_after(org, current.role, new_role)
            actions: list[Action] = [
                MemberItem.role.set(new_role.value),
                MemberItem.may_spend.set(org.may_spend(new_role, override)),
                MemberItem.may_spend_override.set(override)
                if override is not None
                else MemberItem.may_spend_override.remove(),
            ]
            if monthly_limit is not UNSET:
                actions.append(
                    MemberItem.monthly_limit.set(monthly_limit)
                    if monthly_limit is not None
                    else MemberItem.monthly_limit.remove()
                )
            tx = Tx(self._connection)
            tx.update(
                "member",
                MemberItem(org_pk(org_id), f"MEMBER#{user_id}"),
                actions,
                (MemberItem.role == current.role) & MemberItem.pk.exists(),
            )
            self._count_owners(tx, org, owners)
            try:
                tx.run()
            except TxCancelled:
                continue
            return self.member(org_id, user_id)
        raise Conflict("the organization kept changing; retry")

    def remove_member(self, org_id: str, user_id: str) -> None:
        for _ in range(MAX_ATTEMPTS):
            org = self.org(org_id)
            current = self.member(org_id, user_id).membership
            owners = owners_after(org, current.role, None)
            tx = Tx(self._connection)
            tx.delete(
                "member", MemberItem(org_pk(org_id), f"MEMBER#{user_id}"), MemberItem.role == current.role
            )
            self._count_owners(tx, org, owners)
            try:
                tx.run()
            except TxCancelled:
                continue
            return
        raise Conflict("the organization kept changing; retry")

    def set_shared_credits(self, org_id: str, settings: Mapping[Role, bool]) -> Org:
        """The per-role toggle, re-resolved onto every member without an override of their own."""
        org = self.org(org_id)
        merged = {**org.shared_credits, **settings}
        OrgItem(org_pk(org_id), ORG_SK).update(
            actions=[OrgItem.shared_credits.set({r.value: v for r, v in merged.items()})],
            condition=OrgItem.pk.exists(),
        )
        updated = Org(org.org_id, org.name, org.owners, org.personal, merged)
        for view in self.members(org_id):
            member = view.membership
            effective = updated.may_spend(member.role, member.may_spend_override)
            if effective != member.may_spend:
                with _unless_condition_failed():  # the member left or changed role: that change resolved it
                    MemberItem(org_pk(org_id), f"MEMBER#{member.user_id}").update(
                        actions=[MemberItem.may_spend.set(effective)],
                        condition=MemberItem.pk.exists() & (MemberItem.role == member.role),
                    )
        return updated

    # ---- invites -------------------------------------------------------------------------------

    def create_invite(
        self,
        org_id: str,
        *,
        email: str,
        role: Role,
        token: str,
        invited_by: str,
        idem: Idem,
        answer: Callable[[Invite], dict[str, Any]],
        now: datetime,
    ) -> tuple[Invite | None, Outcome]:
        """The invite and its idempotency record in one transaction. A retry with the same key gets the
        first answer and no invite (so no second e-mail)."""
        invite = Invite(
            new_id("inv", now),
            org_id,
            email,
            role,
            token_hash(token),
            InviteStatus.PENDING,
            now + INVITE_TTL,
            now,
            invited_by,
        )
        body = answer(invite)
        tx = Tx(self._connection)
        tx.put("invite", self._invite_item(invite), InviteItem.pk.does_not_exist())
        add_idem(tx, org_id, idem, body, now)
        try:
            tx.run()
        except TxCancelled as exc:
            if "idem" in exc.failed:
                return None, replay(org_id, idem)
            raise Conflict("concurrent update; retry") from None
        return invite, Outcome(body)

    def invites(self, org_id: str) -> list[Invite]:
        items = InviteItem.query(org_pk(org_id), InviteItem.sk.startswith("INVITE#"), consistent_read=True)
        return [_invite_from_item(i) for i in items]

    def invite(self, org_id: str, invite_id: str) -> Invite:
        try:
            return _invite_from_item(
                InviteItem.get(org_pk(org_id), f"INVITE#{invite_id}", consistent_read=True)
            )
        except DoesNotExist:
            raise InviteNotFound(f"invite {invite_id} not found") from None

    def invite_by_token(self, token: str) -> Invite:
        hashed = token_hash(token)
        for item in InviteItem.by_token.query(f"INVITE#{hashed}", limit=1):
            # The index may lag behind a resend: the item itself, read consistently, must still match.
            invite = self.invite(item.org_id, item.invite_id)
            if invite.token_hash == hashed:
                return invite
        raise InviteNotFound("no invite matches this link")

    def revoke_invite(self, org_id: str, invite_id: str) -> Invite:
        invite = self.invite(org_id, invite_id)
        if invite.status is InviteStatus.PENDING:
            with _unless_condition_failed():  # accepted or revoked meanwhile: it is no longer pending
                InviteItem(org_pk(org_id), f"INVITE#{invite_id}").update(
                    actions=[InviteItem.status.set(InviteStatus.REVOKED.value)],
                    condition=InviteItem.status == InviteStatus.PENDING.value,
                )
        return self.invite(org_id, invite_id)

    def resend_invite(self, org_id: str, invite_id: str, *, token: str, now: datetime) -> Invite:
        """A new token (the old link stops working) and a new 7-day expiry."""
        invite = self.invite(org_id, invite_id)
        if invite.status is InviteStatus.REVOKED:
            raise InviteRevoked("this invite was revoked; send a new one")
        if invite.status is InviteStatus.ACCEPTED:
            raise InviteUsed("this invite was already accepted")
        hashed = token_hash(token)
        try:
            InviteItem(org_pk(org_id), f"INVITE#{invite_id}").update(
                actions=[
                    InviteItem.token_hash.set(hashed),
                    InviteItem.gsi1pk.set(f"INVITE#{hashed}"),
                    InviteItem.expires_at.set(iso(now + INVITE_TTL)),
                ],
                condition=(InviteItem.status == InviteStatus.PENDING.value)
                & (InviteItem.token_hash == invite.token_hash),
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            raise Conflict("the invite changed meanwhile; look at it again") from None
        return self.invite(org_id, invite_id)

    def accept_invite(self, invite: Invite, *, user_id: str, email: str | None, now: datetime) -> Membership:
        """Marks the invite used and adds the member in one transaction; a member already keeps their role."""
        for _ in range(MAX_ATTEMPTS):
            org = self.org(invite.org_id)
            tx = Tx(self._connection)
            tx.update(
                "invite",
                InviteItem(org_pk(invite.org_id), f"INVITE#{invite.invite_id}"),
                [InviteItem.status.set(InviteStatus.ACCEPTED.value), InviteItem.accepted_by.set(user_id)],
                (InviteItem.status == InviteStatus.PENDING.value)
                & (InviteItem.token_hash == invite.token_hash),
            )
            tx.put(
                "member",
                _member_item(org, user_id, invite.role, email=email, now=now),
                MemberItem.pk.does_not_exist(),
            )
            self._count_owners(tx, org, owners_after(org, None, invite.role))
            try:
                tx.run()
            except TxCancelled as exc:
                if "invite" in exc.failed:
                    raise Conflict("the invite changed while it was being accepted; retry") from None
                if "member" in exc.failed:
                    InviteItem(org_pk(invite.org_id), f"INVITE#{invite.invite_id}").update(
                        actions=[
                            InviteItem.status.set(InviteStatus.ACCEPTED.value),
                            InviteItem.accepted_by.set(user_id),
                        ],
                        condition=InviteItem.status == InviteStatus.PENDING.value,
                    )
                    return self.member(invite.org_id, user_id).membership
                continue
            return self.member(invite.org_id, user_id).membership
        raise Conflict("the organization kept changing; retry")

    # ---- internals -----------------------------------------------------------------------------

    @staticmethod
    def _count_owners(tx: Tx, org: Org, owners: int) -> None:
        """Keep the org's owner count, on condition nobody changed it meanwhile (else the caller retries)."""
        if owners != org.owners:
            tx.update(
                "org",
                OrgItem(org_pk(org.org_id), ORG_SK),
                [OrgItem.owners.set(owners)],
                OrgItem.owners == org.owners,
            )

    @staticmethod
    def _org_item(org: Org, created_by: str, now: datetime) -> OrgItem:
        return OrgItem(
            org_pk(org.org_id),
            ORG_SK,
            org_id=org.org_id,
            name=org.name,
            owners=org.owners,
            personal=org.personal,
            shared_credits={r.value: v for r, v in org.shared_credits.items()},
            created_by=created_by,
            created_at=iso(now),
        )

    @staticmethod
    def _invite_item(invite: Invite) -> InviteItem:
        return InviteItem(
            org_pk(invite.org_id),
            f"INVITE#{invite.invite_id}",
            invite_id=invite.invite_id,
            org_id=invite.org_id,
            email=invite.email,
            role=invite.role.value,
            token_hash=invite.token_hash,
            status=invite.status.value,
            expires_at=iso(invite.expires_at),
            created_at=iso(invite.created_at),
            invited_by=invite.invited_by,
            gsi1pk=f"INVITE#{invite.token_hash}",
            gsi1sk=f"{org_pk(invite.org_id)}#{invite.invite_id}",
        )
