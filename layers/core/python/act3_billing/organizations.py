"""Use cases of organizations: who am I, members and roles, shared credits, invites, transfers.

Authorization is the domain's (`Membership.require`) on every call; nothing here sees an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from act3_billing.domain.cycles import add_months
from act3_billing.domain.errors import InsufficientCredits, NotFound, WalletMissing
from act3_billing.domain.orgs import (
    LINKEDIN,
    SameOrg,
    check_acceptance,
    new_token,
    normalize_email,
)
from act3_billing.domain.plans import Catalog, default_catalog
from act3_billing.domain.roles import Membership, Permission, Role
from act3_billing.domain.times import iso
from act3_billing.http import models as m
from act3_billing.http.caller import Caller
from act3_billing.mail import Mailer, invite_mail
from act3_billing.services import idem, with_options

if TYPE_CHECKING:
    from act3_billing.domain.orgs import Invite
    from act3_billing.services import Context
    from act3_billing.store.idempotency import Outcome
    from act3_billing.store.orgs import MemberView, OrgStore
    from act3_billing.store.wallets import BillingStore

TRIAL_PLAN = "starter_trial"


@dataclass(frozen=True)
class OrgContext:
    store: BillingStore
    orgs: OrgStore
    caller: Caller
    now: datetime
    catalog: Catalog

    def require(self, org_id: str, permission: Permission) -> Membership:
        return self.store.require(org_id, self.caller.user_id, permission)


def org_context(store: BillingStore, orgs: OrgStore, caller: Caller, now: datetime) -> OrgContext:
    return OrgContext(store, orgs, caller, now, default_catalog())


# ---- me and the personal org ---------------------------------------------------------------------


def ensure_personal_org(ctx: OrgContext) -> str:
    """Every user has an org: a personal one is made on first sign-in, on the free trial. The trial's
    credits need a LinkedIn sign-in; without it the org exists but cannot generate until upgraded."""
    org, created = ctx.orgs.personal_org(ctx.caller.user_id, email=ctx.caller.email, now=ctx.now)
    plan = ctx.catalog.get(TRIAL_PLAN)
    try:
        if created:
            raise WalletMissing("a new personal org")
        wallet = ctx.store.wallet(org.org_id)
    except WalletMissing:  # also mends a first sign-in that stopped between the org and its wallet
        wallet = ctx.store.open_wallet(
            org.org_id,
            plan_id=plan.id,
            cycle_id=ctx.now.strftime("%Y-%m-%d"),
            cycle_start=ctx.now,
            cycle_end=add_months(ctx.now, 1),
            now=ctx.now,
            generation_enabled=False,
        )
    if (
        ctx.caller.identity_provider == LINKEDIN
        and wallet.plan_id == TRIAL_PLAN
        and not wallet.monthly_allowance
        and wallet.trial_ends_at is None
    ):
        # The trial's first cycle and its six months start now, however late this sign-in is.
        from act3_billing.cycles import activate_trial
        from act3_billing.store.cycles import CycleStore

        activate_trial(org.org_id, ctx.now, CycleStore(ctx.store), catalog=ctx.catalog)
    return org.org_id


def me(ctx: OrgContext) -> m.MeResponse:
    personal = ensure_personal_org(ctx)
    orgs = [
        m.MyOrgOut(
            org_id=org.org_id,
            name=org.name,
            role=member.role.value,
            personal=org.org_id == personal,
            may_spend=member.may_spend,
        )
        for member, org in ctx.orgs.memberships_of(ctx.caller.user_id)
    ]
    return m.MeResponse(
        user_id=ctx.caller.user_id,
        email=ctx.caller.email,
        identity_provider=ctx.caller.identity_provider,
        personal_org_id=personal,
        orgs=sorted(orgs, key=lambda o: (not o.personal, o.name)),
    )


# ---- members -------------------------------------------------------------------------------------


def member_out(view: MemberView, cycle_id: str) -> m.MemberOut:
    member = view.membership
    return m.MemberOut(
        user_id=member.user_id,
        email=member.email,
        role=member.role.value,
        may_spend=member.may_spend,
        may_spend_override=member.may_spend_override,
        monthly_limit=member.monthly_limit,
        spent_this_cycle=view.spent.get(cycle_id, 0),
    )


def list_members(ctx: OrgContext, org_id: str) -> m.MembersResponse:
    ctx.require(org_id, Permission.READ_MEMBERS)
    cycle = ctx.store.wallet(org_id).cycle_id
    return m.MembersResponse(members=[member_out(v, cycle) for v in ctx.orgs.members(org_id)])


def change_member(ctx: OrgContext, org_id: str, user_id: str, patch: m.MemberPatch) -> m.MemberOut:
    ctx.require(org_id, Permission.MANAGE_MEMBERS)
    changes = patch.model_dump(exclude_unset=True)
    if "role" in changes:
        changes["role"] = Role(changes["role"])
    changed = ctx.orgs.change_member(org_id, user_id, **changes)
    return member_out(changed, ctx.store.wallet(org_id).cycle_id)


def remove_member(ctx: OrgContext, org_id: str, user_id: str) -> None:
    """Owners remove anyone; any member may leave. Never the last owner."""
    if user_id != ctx.caller.user_id:
        ctx.require(org_id, Permission.MANAGE_MEMBERS)
    else:
        ctx.require(org_id, Permission.READ_MEMBERS)
    ctx.orgs.remove_member(org_id, user_id)  # not_found for someone who is no member


def change_settings(ctx: OrgContext, org_id: str, patch: m.SettingsPatch) -> m.SettingsOut:
    ctx.require(org_id, Permission.MANAGE_MEMBERS)
    toggles = {Role(role): on for role, on in patch.shared_credits.model_dump(exclude_none=True).items()}
    org = ctx.orgs.set_shared_credits(org_id, toggles)
    return m.SettingsOut(org_id=org_id, shared_credits={r.value: v for r, v in org.shared_credits.items()})


def get_settings(ctx: OrgContext, org_id: str) -> m.SettingsOut:
    ctx.require(org_id, Permission.READ_MEMBERS)
    org = ctx.orgs.org(org_id)
    return m.SettingsOut(org_id=org_id, shared_credits={r.value: v for r, v in org.shared_credits.items()})


# ---- invites -------------------------------------------------------------------------------------


def invite_out(invite: Invite) -> m.InviteOut:
    return m.InviteOut(
        invite_id=invite.invite_id,
        email=invite.email,
        role=invite.role.value,
        status=invite.status.value,
        expires_at=iso(invite.expires_at),
        created_at=iso(invite.created_at),
        invited_by=invite.invited_by,
        accepted_by=invite.accepted_by,
    )


def _send_invite(ctx: OrgContext, mailer: Mailer, app_url: str, invite: Invite, token: str) -> None:
    org = ctx.orgs.org(invite.org_id)
    link = f"{app_url.rstrip('/')}/invites/accept?token={token}"
    subject, text = invite_mail(org.name, invite.role.value, link, ctx.caller.email)
    mailer.send(invite.email, subject, text)


def create_invite(
    ctx: OrgContext, mailer: Mailer, app_url: str, org_id: str, request: m.InviteRequest, key: str | None
) -> Outcome:
    ctx.require(org_id, Permission.MANAGE_MEMBERS)
    key_ = idem(key, "invite", ctx.caller, request.model_dump(mode="json"))
    token = new_token()
    invite, outcome = ctx.orgs.create_invite(
        org_id,
        email=normalize_email(request.email),
        role=Role(request.role),
        token=token,
        invited_by=ctx.caller.user_id,
        idem=key_,
        answer=lambda i: invite_out(i).model_dump(mode="json"),
        now=ctx.now,
    )
    if invite is not None:
        _send_invite(ctx, mailer, app_url, invite, token)
    return outcome


def list_invites(ctx: OrgContext, org_id: str) -> m.InvitesResponse:
    ctx.require(org_id, Permission.MANAGE_MEMBERS)
    invites = sorted(ctx.orgs.invites(org_id), key=lambda i: i.created_at, reverse=True)
    return m.InvitesResponse(invites=[invite_out(i) for i in invites])


def revoke_invite(ctx: OrgContext, org_id: str, invite_id: str) -> m.InviteOut:
    ctx.require(org_id, Permission.MANAGE_MEMBERS)
    return invite_out(ctx.orgs.revoke_invite(org_id, invite_id))


def resend_invite(ctx: OrgContext, mailer: Mailer, app_url: str, org_id: str, invite_id: str) -> m.InviteOut:
    ctx.require(org_id, Permission.MANAGE_MEMBERS)
    token = new_token()
    invite = ctx.orgs.resend_invite(org_id, invite_id, token=token, now=ctx.now)
    _send_invite(ctx, mailer, app_url, invite, token)
    return invite_out(invite)


def accept_invite(ctx: OrgContext, request: m.AcceptRequest) -> m.AcceptResponse:
    invite = ctx.orgs.invite_by_token(request.token)
    wallet = ctx.store.wallet(invite.org_id)
    repeat = check_acceptance(
        invite,
        user_id=ctx.caller.user_id,
        email=ctx.caller.email,
        email_verified=ctx.caller.email_verified,
        identity_provider=ctx.caller.identity_provider,
        org_plan=wallet.plan_id,
        now=ctx.now,
    )
    ensure_personal_org(ctx)
    if repeat:
        member = ctx.orgs.member(invite.org_id, ctx.caller.user_id).membership
        return m.AcceptResponse(org_id=invite.org_id, role=member.role.value, already_member=True)
    existing = ctx.store.membership(invite.org_id, ctx.caller.user_id)
    member = ctx.orgs.accept_invite(invite, user_id=ctx.caller.user_id, email=ctx.caller.email, now=ctx.now)
    return m.AcceptResponse(org_id=invite.org_id, role=member.role.value, already_member=existing is not None)


# ---- transfers -----------------------------------------------------------------------------------


def transfer(ctx: Context, org_id: str, request: m.TransferRequest, key: str | None) -> Outcome:
    if request.to_org_id == org_id:
        raise SameOrg("pick another organization to transfer to")
    token = idem(key, "transfer", ctx.caller, request.model_dump(mode="json"))
    for org in (org_id, request.to_org_id):
        member = ctx.store.membership(org, ctx.caller.user_id)
        if member is None:
            raise NotFound(f"organization {org} not found")
        member.require(Permission.TRANSFER)
    try:
        return ctx.store.transfer(
            org_id,
            to_org_id=request.to_org_id,
            actor=ctx.caller.user_id,
            amount=request.credits,
            idem=token,
            now=ctx.now,
        )
    except InsufficientCredits as exc:
        raise with_options(ctx, exc) from None
