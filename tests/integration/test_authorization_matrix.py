"""Authorization matrix (issue 4, grown by issue 9; SPEC §7 roles, §11, §12 principals and scopes).

Every HTTP route of template.yaml is called by every kind of principal:

- each role of the org in the path (owner, creator, billing, viewer),
- the owner of *another* org who is no member of this one (`other_owner`),
- a signed-in user with no membership anywhere (`nobody`),
- a call without verified claims (`anonymous`),
- the platform's machine identities with their client's scopes (`usage_meter`, `billing_ops`), and a
  machine token whose scope no route names (`wrong_scope`).

Each case goes through the HTTP API's JWT authorizer as the template declares it (a route's
AuthorizationScopes, else its authorizer's: at least one must be on the token, else 403 before any
function runs) and checks the final status; the handler is always called as well and must give the
expected answer on its own (authorization lives in the domain, the gateway is a second fence). Then:
a refusal or a read changes nothing anywhere in the table (profiles, idempotency records, every org);
an allowed change touches the org in the path and nothing else; the books still reconcile; and no
answer carries data of an org the caller may not see (its id, plan, balances, lot ids, members,
e-mails, jobs, holds, invites) beyond what the caller itself sent.

To add a route: one line in EXPECTED, e.g. `org_route(owner=200, creator=403, billing=200, viewer=403)`
(machine identities then get `forbidden_scope` from the handler, and the gateway refuses them unless
the route names their scope), a `given` that makes the call meaningful, and its sample event in
`events/http/`. A route of the template without an entry fails
`test_every_template_route_has_an_entry_in_the_matrix` and its own cases.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import boto3
import pytest

from act3_billing.domain.lots import LotKind
from act3_billing.domain.roles import Role
from act3_billing.store.cache import shared_cache
from act3_billing.store.models import org_pk
from act3_billing.store.orgs import OrgStore
from act3_billing.store.wallets import BillingStore
from act3_local.auth import scopes_allow
from act3_local.template import parse
from tests.integration.conftest import TABLE, MovableClock
from tests.support.books import assert_books
from tests.support.events import BILLING_OPERATIONS, EVENTS, USAGE_METER, Machine, http_event, machine
from tests.support.functions import Reply, invoke
from tests.support.moto_stack import handlers_on_moto, moto_items
from tests.support.template import TEMPLATE_PATH, http_routes
from tests.support.wallets import T0, Org, add_lot, new_org

ROLES = ("owner", "creator", "billing", "viewer")
MACHINES: dict[str, Machine] = {
    "usage_meter": machine(USAGE_METER),
    "billing_ops": machine(BILLING_OPERATIONS),
    "wrong_scope": machine("stranger-client", ("billing/reports.read",)),
}
CALLERS = (*ROLES, "other_owner", "nobody", "anonymous", *MACHINES)
MEMBER_TOKEN_SCOPES = ["openid", "email", "profile"]  # a member's access token (act3_local.auth)
SHOT = {"shots": {"Q1": 1}}  # 80 credits

Expect = tuple[int, str | None]

# The problem code each refusal status stands for in this matrix (SPEC §11).
_CODES: dict[int, str] = {401: "unauthenticated", 403: "forbidden_role", 404: "not_found"}
NOT_FOR_MACHINES: Expect = (403, "forbidden_scope")
GATEWAY_FORBIDDEN = {"message": "Forbidden"}


def _expect(status: int) -> Expect:
    return status, _CODES.get(status)


def org_route(
    *,
    owner: int,
    creator: int,
    billing: int,
    viewer: int,
    usage_meter: Expect = NOT_FOR_MACHINES,
    billing_ops: Expect = NOT_FOR_MACHINES,
) -> dict[str, Expect]:
    """A route under /orgs/{org_id}: members get their role's answer; non-members must not even learn
    that the org exists (404 not_found, as for an org id that was never made); machine identities get
    what their scopes allow (by default nothing: `forbidden_scope`)."""
    return {
        "owner": _expect(owner),
        "creator": _expect(creator),
        "billing": _expect(billing),
        "viewer": _expect(viewer),
        "other_owner": _expect(404),
        "nobody": _expect(404),
        "anonymous": _expect(401),
        "usage_meter": usage_meter,
        "billing_ops": billing_ops,
        "wrong_scope": NOT_FOR_MACHINES,
    }


def machine_route(*, usage_meter: int | None = None, billing_ops: int | None = None) -> dict[str, Expect]:
    """A route only a machine identity may call (the one given its success status): every member,
    owners too, is refused for their role; non-members learn nothing."""
    return org_route(
        owner=403,
        creator=403,
        billing=403,
        viewer=403,
        usage_meter=(usage_meter, None) if usage_meter else NOT_FOR_MACHINES,
        billing_ops=(billing_ops, None) if billing_ops else NOT_FOR_MACHINES,
    )


def signed_in(expect: Expect) -> dict[str, Expect]:
    """A caller-scoped route (/me, accepting an invite): the same for every member's verified token."""
    return {
        **dict.fromkeys(CALLERS, expect),
        "anonymous": _expect(401),
        **dict.fromkeys(MACHINES, NOT_FOR_MACHINES),
    }


def public(status: int) -> dict[str, Expect]:
    return dict.fromkeys(CALLERS, _expect(status))


# ---- the world of one case ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    params: dict[str, str] = field(default_factory=dict)
    body: Any = ...
    query: dict[str, str] = field(default_factory=dict)


def _suffix(org: Org) -> str:
    return org.org_id.removeprefix("org-")


@dataclass
class World:
    """The org in the path (`target`) and another org with distinguishable data (`other`), both fresh for
    each case. Every id the tests choose embeds its org's random suffix; ids the server makes (holds,
    invites) are listed in `private` so the leak check can look for them too."""

    store: BillingStore
    client: Any
    target: Org
    other: Org
    private: dict[str, set[str]]
    sister: str | None = None

    @classmethod
    def build(cls, store: BillingStore, client: Any) -> World:
        target, other = new_org(store), new_org(store)
        world = cls(store, client, target, other, {o.org_id: {_suffix(o)} for o in (target, other)})
        for org in (target, other):
            add_lot(store, org.org_id, LotKind.PACK, 5_000, lot_id=f"pack#{_suffix(org)}")
            # Data that does not carry the org's suffix: a lot id, and a balance no other org has.
            lot_id = f"grant#{secrets.token_hex(6)}"
            credits = 1_000 + secrets.randbelow(9_000)
            add_lot(
                store, org.org_id, LotKind.GRANT, credits, lot_id=lot_id, expires_at=T0 + timedelta(days=90)
            )
            world.private[org.org_id] |= {lot_id, str(store.wallet(org.org_id).total())}
        # Data of the other org that would show up in a leak: a debited job, an open hold, an invite.
        world.debit(other, other.creator, f"job-{_suffix(other)}-spent")
        world.place_hold(other, other.creator, 300)
        world.invite(other, f"invitee-{_suffix(other)}@elsewhere.example")
        return world

    @property
    def orgs(self) -> list[str]:
        return [self.target.org_id, self.other.org_id, *([self.sister] if self.sister else [])]

    def caller(self, who: str) -> str | None:
        if who in ROLES:
            return str(getattr(self.target, who))
        if who == "other_owner":
            return self.other.owner
        if who == "nobody":
            return f"nobody-{uuid.uuid4().hex[:10]}"
        return None  # anonymous, or a machine identity (`MACHINES`)

    def memberships(self, who: str) -> set[str]:
        if who == "owner":
            return {self.target.org_id, *([self.sister] if self.sister else [])}
        if who in ROLES:
            return {self.target.org_id}
        if who == "other_owner":
            return {self.other.org_id}
        return set()

    # -- Given steps, through the handlers (so they are authorized like any call) --

    @staticmethod
    def key() -> str:
        return f"authz-{uuid.uuid4().hex}"

    def debit(self, org: Org, user: str, job_id: str) -> None:
        """A finished job, reported by the usage meter for the member who ran it."""
        reply = invoke(
            "debits",
            http_event(
                "debit_create",
                org_id=org.org_id,
                service=MACHINES["usage_meter"],
                body={"job_id": job_id, "usage": SHOT, "member_id": user},
                headers={"idempotency-key": self.key()},
            ),
        )
        assert reply.status == 201, reply.body

    def quote(self, org: Org, usage: dict[str, Any]) -> str:
        reply = invoke(
            "quotes", http_event("quote_create", org_id=org.org_id, user=org.creator, body={"usage": usage})
        )
        assert reply.status == 201, reply.body
        return str(reply.body["quote_id"])

    def place_hold(self, org: Org, user: str, credits: int) -> str:
        reply = invoke(
            "holds",
            http_event(
                "hold_create",
                org_id=org.org_id,
                user=user,
                body={"job_id": f"job-{_suffix(org)}-held", "credits": credits},
                headers={"idempotency-key": self.key()},
            ),
        )
        assert reply.status == 201, reply.body
        hold_id = str(reply.body["hold_id"])
        self.private[org.org_id].add(hold_id)
        return hold_id

    def invite(self, org: Org, email: str) -> str:
        reply = invoke(
            "invites",
            http_event(
                "invite_create",
                org_id=org.org_id,
                user=org.owner,
                body={"email": email, "role": "viewer"},
                headers={"idempotency-key": self.key()},
            ),
        )
        assert reply.status == 201, reply.body
        invite_id = str(reply.body["invite_id"])
        self.private[org.org_id].add(invite_id)
        return invite_id

    def spare_member(self) -> str:
        """A member nobody minds losing (removing or demoting a real role would change the matrix)."""
        user = f"spare-{_suffix(self.target)}"
        OrgStore(self.store.connection).add_member(
            self.target.org_id, user, Role.VIEWER, email=f"{user}@studio.example", now=T0
        )
        return user

    def sister_org(self) -> str:
        """A second org owned by the target's owner (and by no one else of the target)."""
        sister = f"sister-{_suffix(self.target)}"
        OrgStore(self.store.connection).create_org(
            sister,
            name=f"Sister {_suffix(self.target)}",
            owner_id=self.target.owner,
            owner_email=None,
            now=T0,
        )
        self.store.open_wallet(
            sister,
            plan_id="creator",
            cycle_id="c1",
            cycle_start=T0,
            cycle_end=T0 + timedelta(days=30),
            now=T0,
        )
        self.sister = sister
        return sister

    # -- observations --

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every item of the table (each case has its own), by partition: every org's wallet, members,
        ledger, holds, quotes, invites and idempotency records, and every user's profile.

        Read from moto's backend (what a consistent Scan returns, in DynamoDB's JSON): a Scan through
        botocore spent most of a case's time in moto's response serializer."""
        items: dict[str, list[dict[str, Any]]] = {}
        for attributes in moto_items(TABLE):
            items.setdefault(str(attributes["pk"]["S"]), []).append(attributes)
        return {pk: sorted(v, key=lambda item: str(item["sk"]["S"])) for pk, v in sorted(items.items())}


# ---- each route's Given, and a body that a caller with the right role gets a 2xx for ---------------------


def no_body(world: World) -> Request:
    return Request()


def quote_body(world: World) -> Request:
    return Request(body={"usage": SHOT, "job_id": f"job-{_suffix(world.target)}-quoted"})


def debit_body(world: World) -> Request:
    """A member debits at a quote's price (the usage meter may debit it too, for the member)."""
    return Request(
        body={"job_id": f"job-{_suffix(world.target)}-debited", "quote_id": world.quote(world.target, SHOT)}
    )


def for_the_creator(world: World, request: Request) -> Request:
    """The usage meter always names the member on whose behalf it reports."""
    assert isinstance(request.body, dict)
    return replace(request, body={**request.body, "member_id": world.target.creator})


def asks_for_the_creator(world: World, request: Request) -> Request:
    """The usage meter asks about the member who starts the job (`?member_id=`)."""
    return replace(request, query={"member_id": world.target.creator})


def hold_body(world: World) -> Request:
    return Request(body={"job_id": f"job-{_suffix(world.target)}-reserved", "credits": 500})


def extend_open_hold(world: World) -> Request:
    hold_id = world.place_hold(world.target, world.target.creator, 500)
    return Request(params={"hold_id": hold_id}, body={"credits": 100, "expires_in_seconds": 7200})


def capture_open_hold(world: World) -> Request:
    hold_id = world.place_hold(world.target, world.target.creator, 500)
    return Request(params={"hold_id": hold_id}, body={"credits": 200, "final": True})


def release_open_hold(world: World) -> Request:
    hold_id = world.place_hold(world.target, world.target.creator, 500)
    return Request(params={"hold_id": hold_id}, body={"reason": "job cancelled"})


def refund_debited_job(world: World) -> Request:
    job_id = f"job-{_suffix(world.target)}-failed"
    world.debit(world.target, world.target.creator, job_id)
    return Request(body={"job_id": job_id, "reason": "render failed"})


def patch_spare_member(world: World) -> Request:
    return Request(
        params={"user_id": world.spare_member()}, body={"role": "creator", "monthly_limit": 20_000}
    )


def remove_spare_member(world: World) -> Request:
    return Request(params={"user_id": world.spare_member()})


def settings_body(world: World) -> Request:
    return Request(body={"shared_credits": {"viewer": True}})  # off by default, so an allowed call changes it


def invite_body(world: World) -> Request:
    return Request(body={"email": f"invitee-{_suffix(world.target)}@studio.example", "role": "creator"})


def pending_invite(world: World) -> Request:
    return Request(
        params={"invite_id": world.invite(world.target, f"pending-{_suffix(world.target)}@x.example")}
    )


def unknown_token(world: World) -> Request:
    """A token that matches no invite (while the target has a pending one with another token)."""
    world.invite(world.target, f"pending-{_suffix(world.target)}@x.example")
    return Request(body={"token": secrets.token_urlsafe(32)})


def transfer_to_callers_other_org(world: World) -> Request:
    """To the sister org (owned by the target's owner); an outsider names the org it owns itself."""
    return Request(body={"to_org_id": world.sister_org(), "credits": 1_000})


def contract_terms(world: World) -> Request:
    return Request(body={"features": {"private_3d_sets": True, "max_resolution": "4k"}, "storage_gb": 2000})


def education_grant(world: World) -> Request:
    return Request(body={"kind": "education", "bundle": "edu-student"})


def negative_adjustment(world: World) -> Request:
    return Request(body={"credits": -100, "reason": "render charged twice (ticket 4411)"})


# storage (issue 10)
def upload_body(world: World) -> Request:
    return Request(
        body={
            "project_id": "pilot",
            "kind": "media",
            "filename": "a.mp4",
            "size": 1000,
            "content_type": "video/mp4",
        }
    )


def media_to_delete(world: World) -> Request:
    put_object(world.target, "projects/pilot/media/a.mp4")
    put_object(world.other, "projects/pilot/media/a.mp4")
    return Request(body={"project_id": "pilot"})


def text_asset(world: World) -> Request:
    put_object(world.target, "projects/pilot/text/script.fdx")
    return Request(params={"key": "projects/pilot/text/script.fdx"})


def put_object(org: Org, relative: str) -> None:
    from tests.support.storage import MEDIA_BUCKET

    boto3.client("s3", region_name="us-east-1").put_object(
        Bucket=MEDIA_BUCKET, Key=f"orgs/{org.org_id}/{relative}", Body=b"x" * 10
    )


# ---- money (issue 8): the Stripe stand-in of the module answers for api.stripe.com ----------------------


def _catalog_and_card(world: World) -> str:
    """The paid plans' Stripe Prices in the catalog, and a saved card of the target org's customer."""
    from act3_billing import catalog, runtime
    from act3_billing.packs import ensure_customer

    fake = MONEY["stripe"]
    products = [
        {
            "id": f"prod_{plan}",
            "object": "product",
            "active": True,
            "default_price": f"price_{plan}",
            "metadata": {"act3_plan": plan},
            "created": 1,
        }
        for plan in ("creator", "studio")
    ]
    prices = [fake.price(f"price_{p}", f"prod_{p}", c) for p, c in (("creator", 3500), ("studio", 9900))]
    catalog.sync(runtime.payments(), products, prices, T0)
    customer = ensure_customer(runtime.payments(), runtime.gateway(), world.target.org_id, None, T0)
    return str(fake.card(customer)["id"])


def pack_body(world: World) -> Request:
    return Request(body={"credits": 1000})


def subscribe_body(world: World) -> Request:
    _catalog_and_card(world)
    return Request(body={"plan_id": "creator"})


def subscribed(world: World) -> None:
    card = _catalog_and_card(world)
    reply = invoke(
        "subscription",
        http_event(
            "subscription_create",
            org_id=world.target.org_id,
            user=world.target.owner,
            body={"plan_id": "creator", "payment_method": card},
            headers={"idempotency-key": world.key()},
        ),
    )
    assert reply.status == 201, reply.body
    MONEY["clock"].advance(seconds=1)  # the call comes later (the audit replays the ledger in time order)


def upgrade_body(world: World) -> Request:
    subscribed(world)
    return Request(body={"plan_id": "studio"})


def cancel_body(world: World) -> Request:
    subscribed(world)
    return Request(body={})


def own_card(world: World) -> Request:
    return Request(params={"payment_method_id": _catalog_and_card(world)})


def own_tax_id(world: World) -> Request:
    _catalog_and_card(world)
    reply = invoke(
        "billing_account",
        http_event(
            "tax_id_create",
            org_id=world.target.org_id,
            user=world.target.owner,
            body={"type": "eu_vat", "value": "DE123456789"},
            headers={"idempotency-key": world.key()},
        ),
    )
    assert reply.status == 201, reply.body
    return Request(params={"tax_id": str(reply.body["tax_id"])})


def empty_body(world: World) -> Request:
    return Request(body={})


def tax_id_body(world: World) -> Request:
    return Request(body={"type": "eu_vat", "value": "FR12345678901"})


def this_month(world: World) -> Request:
    return Request(params={"cycle": "2026-11"})


MONEY: dict[str, Any] = {}


@dataclass(frozen=True)
class Route:
    event: str  # events/http/<event>.json
    expect: Mapping[str, Expect]
    given: Callable[[World], Request] = no_body
    # How a machine identity's request differs (e.g. the member it acts for); members send `given`'s.
    for_machine: Callable[[World, Request], Request] | None = None
    # The route may create the caller's own items (a personal org and profile on first sign-in).
    creates_own: bool = False


EXPECTED: dict[tuple[str, str], Route] = {
    # public and caller-scoped
    ("GET", "/plans"): Route("plans_list", public(200)),
    ("GET", "/me"): Route("me_get", signed_in(_expect(200)), creates_own=True),
    ("POST", "/invites/accept"): Route("invite_accept", signed_in((404, "invite_not_found")), unknown_token),
    # meters: every member reads them
    ("GET", "/orgs/{org_id}/balance"): Route(
        "balance_get", org_route(owner=200, creator=200, billing=200, viewer=200)
    ),
    ("GET", "/orgs/{org_id}/ledger"): Route(
        "ledger_list", org_route(owner=200, creator=200, billing=200, viewer=200)
    ),
    # entitlements (issue 12): every member reads their own view; the usage meter any member's
    ("GET", "/orgs/{org_id}/entitlements"): Route(
        "entitlements_get",
        org_route(owner=200, creator=200, billing=200, viewer=200, usage_meter=(200, None)),
        for_machine=asks_for_the_creator,
    ),
    # spending: members authorize it (owners and creators); the usage meter reports what a job used
    ("POST", "/orgs/{org_id}/quotes"): Route(
        "quote_create", org_route(owner=201, creator=201, billing=403, viewer=403), quote_body
    ),
    ("POST", "/orgs/{org_id}/debits"): Route(
        "debit_create",
        org_route(owner=201, creator=201, billing=403, viewer=403, usage_meter=(201, None)),
        debit_body,
        for_machine=for_the_creator,
    ),
    ("POST", "/orgs/{org_id}/holds"): Route(
        "hold_create", org_route(owner=201, creator=201, billing=403, viewer=403), hold_body
    ),
    # settling holds and refunds: the usage meter only (a member capturing 1 credit of their own hold,
    # or refunding their own finished job, would render for free)
    ("POST", "/orgs/{org_id}/holds/{hold_id}/extend"): Route(
        "hold_extend", machine_route(usage_meter=200), extend_open_hold
    ),
    ("POST", "/orgs/{org_id}/holds/{hold_id}/capture"): Route(
        "hold_capture", machine_route(usage_meter=200), capture_open_hold
    ),
    ("POST", "/orgs/{org_id}/holds/{hold_id}/release"): Route(
        "hold_release", machine_route(usage_meter=200), release_open_hold
    ),
    ("POST", "/orgs/{org_id}/refunds"): Route(
        "refund_create", machine_route(usage_meter=201), refund_debited_job, for_machine=for_the_creator
    ),
    # billing operations only: grants and signed adjustments
    ("POST", "/orgs/{org_id}/grants"): Route("grant_create", machine_route(billing_ops=201), education_grant),
    ("POST", "/orgs/{org_id}/adjustments"): Route(
        "adjustment_create", machine_route(billing_ops=201), negative_adjustment
    ),
    # an enterprise org's contract terms (issue 12): billing operations only
    ("PUT", "/orgs/{org_id}/contract"): Route("contract_put", machine_route(billing_ops=200), contract_terms),
    # members and settings: every member reads them, only owners change them
    ("GET", "/orgs/{org_id}/members"): Route(
        "members_list", org_route(owner=200, creator=200, billing=200, viewer=200)
    ),
    ("PATCH", "/orgs/{org_id}/members/{user_id}"): Route(
        "member_patch", org_route(owner=200, creator=403, billing=403, viewer=403), patch_spare_member
    ),
    ("DELETE", "/orgs/{org_id}/members/{user_id}"): Route(
        "member_delete", org_route(owner=204, creator=403, billing=403, viewer=403), remove_spare_member
    ),
    ("GET", "/orgs/{org_id}/settings"): Route(
        "settings_get", org_route(owner=200, creator=200, billing=200, viewer=200)
    ),
    ("PATCH", "/orgs/{org_id}/settings"): Route(
        "settings_patch", org_route(owner=200, creator=403, billing=403, viewer=403), settings_body
    ),
    # invites: managing members is the owner's (the list holds invitees' e-mails, so it is owner-only too)
    ("POST", "/orgs/{org_id}/invites"): Route(
        "invite_create", org_route(owner=201, creator=403, billing=403, viewer=403), invite_body
    ),
    ("GET", "/orgs/{org_id}/invites"): Route(
        "invites_list", org_route(owner=200, creator=403, billing=403, viewer=403)
    ),
    ("POST", "/orgs/{org_id}/invites/{invite_id}/revoke"): Route(
        "invite_revoke", org_route(owner=200, creator=403, billing=403, viewer=403), pending_invite
    ),
    ("POST", "/orgs/{org_id}/invites/{invite_id}/resend"): Route(
        "invite_resend", org_route(owner=200, creator=403, billing=403, viewer=403), pending_invite
    ),
    # transfers: owners of both orgs
    ("POST", "/orgs/{org_id}/transfers"): Route(
        "transfer_create",
        org_route(owner=201, creator=403, billing=403, viewer=403),
        transfer_to_callers_other_org,
    ),
    # storage (issue 10): every member reads the meter and downloads; owners and creators upload;
    # owners delete media
    ("GET", "/orgs/{org_id}/storage"): Route(
        "storage_get", org_route(owner=200, creator=200, billing=200, viewer=200)
    ),
    ("POST", "/orgs/{org_id}/uploads"): Route(
        "upload_create", org_route(owner=201, creator=201, billing=403, viewer=403), upload_body
    ),
    ("POST", "/orgs/{org_id}/media-deletions"): Route(
        "media_deletion_create", org_route(owner=200, creator=403, billing=403, viewer=403), media_to_delete
    ),
    ("GET", "/orgs/{org_id}/assets/{key+}"): Route(
        "asset_get", org_route(owner=200, creator=200, billing=200, viewer=200), text_asset
    ),
    # money (issue 8): packs are bought by owners and billing members; plan changes are the owners'
    ("POST", "/orgs/{org_id}/credit-packs"): Route(
        "credit_pack_create", org_route(owner=201, creator=403, billing=201, viewer=403), pack_body
    ),
    ("GET", "/orgs/{org_id}/credit-packs"): Route(
        "credit_packs_list", org_route(owner=200, creator=403, billing=200, viewer=403)
    ),
    ("GET", "/orgs/{org_id}/subscription"): Route(
        "subscription_get", org_route(owner=200, creator=403, billing=200, viewer=403)
    ),
    ("POST", "/orgs/{org_id}/subscription"): Route(
        "subscription_create", org_route(owner=201, creator=403, billing=403, viewer=403), subscribe_body
    ),
    ("POST", "/orgs/{org_id}/subscription/plan"): Route(
        "subscription_plan_change", org_route(owner=200, creator=403, billing=403, viewer=403), upgrade_body
    ),
    ("POST", "/orgs/{org_id}/subscription/cancel"): Route(
        "subscription_cancel", org_route(owner=200, creator=403, billing=403, viewer=403), cancel_body
    ),
    # payment methods, portal, tax ids, invoices: owners and billing members
    ("POST", "/orgs/{org_id}/payment-methods/setup-intent"): Route(
        "setup_intent_create", org_route(owner=201, creator=403, billing=201, viewer=403), empty_body
    ),
    ("GET", "/orgs/{org_id}/payment-methods"): Route(
        "payment_methods_list", org_route(owner=200, creator=403, billing=200, viewer=403)
    ),
    ("POST", "/orgs/{org_id}/payment-methods/{payment_method_id}/default"): Route(
        "payment_method_default", org_route(owner=200, creator=403, billing=200, viewer=403), own_card
    ),
    ("DELETE", "/orgs/{org_id}/payment-methods/{payment_method_id}"): Route(
        "payment_method_delete", org_route(owner=204, creator=403, billing=204, viewer=403), own_card
    ),
    ("POST", "/orgs/{org_id}/billing-portal"): Route(
        "billing_portal_create", org_route(owner=201, creator=403, billing=201, viewer=403), empty_body
    ),
    ("GET", "/orgs/{org_id}/tax-ids"): Route(
        "tax_ids_list", org_route(owner=200, creator=403, billing=200, viewer=403)
    ),
    ("POST", "/orgs/{org_id}/tax-ids"): Route(
        "tax_id_create", org_route(owner=201, creator=403, billing=201, viewer=403), tax_id_body
    ),
    ("DELETE", "/orgs/{org_id}/tax-ids/{tax_id}"): Route(
        "tax_id_delete", org_route(owner=204, creator=403, billing=204, viewer=403), own_tax_id
    ),
    ("GET", "/orgs/{org_id}/invoices"): Route(
        "invoices_list", org_route(owner=200, creator=403, billing=200, viewer=403)
    ),
    ("GET", "/orgs/{org_id}/statements/{cycle}"): Route(
        "statement_get", org_route(owner=200, creator=403, billing=200, viewer=403), this_month
    ),
}

ROUTES = {(method, path): code_uri for _, method, path, code_uri, _ in http_routes()}


def _function(code_uri: str) -> str:
    match = re.fullmatch(r"functions/([a-z0-9_]+)/?", code_uri)
    assert match, f"CodeUri {code_uri} is not a functions/<name>/ folder"
    return match.group(1)


# ---- one moto backend and one world for the module, the same fresh table for each case --------------------


@dataclass(frozen=True)
class Env:
    store: BillingStore
    client: Any
    world: World  # as built, before any case
    table: Any  # moto's table holding that world, copied back before each case


def _moto_tables() -> dict[str, Any]:
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    tables: dict[str, Any] = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables
    return tables


@pytest.fixture(scope="module")
def moto_env() -> Iterator[Env]:
    """As tests/integration/conftest.py `store`, but the moto backend, the clients and the world (two orgs
    with members, lots, a job, a hold, an invite: ~1.5 s of writes) are set up once for the module and the
    table restored from a copy for each of its ~400 cases, so each starts from exactly the same items."""
    from tests.support.stripe_api import fake_stripe

    with pytest.MonkeyPatch.context() as patch, fake_stripe() as stripe_api:
        patch.setenv("STRIPE_API_BASE", stripe_api.base)  # the money routes' Stripe (issue 8)
        patch.setenv("STRIPE_API_KEY", "sk_test_act3_fake")
        MONEY["stripe"] = stripe_api
        MONEY["clock"] = clock = MovableClock(T0 + timedelta(hours=1))
        with handlers_on_moto(patch, TABLE, clock) as store:
            boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="act3-billing-statements")
            client = boto3.client("dynamodb", region_name="us-east-1")
            world = World.build(store, client)
            yield Env(store, client, world, copy.deepcopy(_moto_tables()[TABLE]))


@pytest.fixture
def env(moto_env: Env) -> Env:
    """The module's world, in a table of its own for this case (a deep copy of the one built once)."""
    _moto_tables()[TABLE] = copy.deepcopy(moto_env.table)
    shared_cache().clear()
    return moto_env


def fresh_world(env: Env) -> World:
    """The module's world for one case: Given steps add their own private ids and a sister org."""
    return replace(env.world, private={org: set(ids) for org, ids in env.world.private.items()}, sister=None)


# ---- the matrix -------------------------------------------------------------------------------------


def test_every_template_route_has_an_entry_in_the_matrix() -> None:
    in_template, in_matrix = set(ROUTES), set(EXPECTED)
    assert not in_template - in_matrix, (
        f"routes of template.yaml without an entry in EXPECTED (add their expected status per caller): "
        f"{sorted(in_template - in_matrix)}"
    )
    assert not in_matrix - in_template, (
        f"EXPECTED names routes the template no longer has: {sorted(in_matrix - in_template)}"
    )
    for (method, path), route in EXPECTED.items():
        assert set(route.expect) == set(CALLERS), f"{method} {path}: expectations for {sorted(route.expect)}"
        fixture = json.loads((EVENTS / "http" / f"{route.event}.json").read_text())
        assert fixture["routeKey"] == f"{method} {path}", (
            f"events/http/{route.event}.json is not {method} {path}"
        )


CASES = [
    pytest.param(method, path, who, id=f"{method} {path} as {who}")
    for method, path in sorted(ROUTES)
    for who in CALLERS
]

# What the HTTP API's JWT authorizer knows of each route: whether it needs a token, and which scopes.
GATEWAY = {(r.method, r.path): (r.auth, r.scopes) for r in parse(TEMPLATE_PATH).routes}


def through_the_gateway(method: str, path: str, who: str) -> tuple[int, dict[str, str]] | None:
    """API Gateway's own refusal of this caller on this route (before any function runs), or None."""
    auth, scopes = GATEWAY[(method, path)]
    if not auth:
        return None
    if who == "anonymous":
        return 401, {"message": "Unauthorized"}
    token_scopes = list(MACHINES[who].scopes) if who in MACHINES else MEMBER_TOKEN_SCOPES
    return None if scopes_allow(scopes, token_scopes) else (403, GATEWAY_FORBIDDEN)


# All a refusal may tell someone who is no member of the org (no plan, balance, options, role, ...).
PROBLEM_FIELDS = {"type", "title", "status", "code", "detail"}


def _sent_values(request: Request, org_id: str) -> list[str]:
    """What the caller itself put in the request: an answer may echo it (e.g. "organization X not found")."""
    values = [org_id, *request.params.values()]

    def walk(node: Any) -> None:
        if isinstance(node, str):
            values.append(node)
        elif isinstance(node, dict):
            for item in node.values():
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    if request.body is not ...:
        walk(request.body)
    return sorted({v for v in values if v}, key=len, reverse=True)


def _leaks(world: World, who: str, reply: Reply, request: Request) -> list[str]:
    text = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
    for value in _sent_values(request, world.target.org_id):
        text = text.replace(value, "<sent>")
    mine = world.memberships(who)
    if who in MACHINES and reply.code != "forbidden_scope":
        mine = {world.target.org_id}  # a machine identity may act on the org, so it may learn why it cannot
    return sorted(
        f"{secret!r} of {org_id}"
        for org_id, private in world.private.items()
        if org_id not in mine
        for secret in private
        if secret in text
    )


def _call(world: World, method: str, path: str, event: str, who: str, request: Request, org_id: str) -> Reply:
    """The handler the template wires the route to, called as `who` (a member's or a machine's token)."""
    return invoke(
        _function(ROUTES[(method, path)]),
        http_event(
            event,
            org_id=org_id,
            params=request.params,
            user=world.caller(who),
            service=MACHINES.get(who),
            body=request.body,
            headers={} if method == "GET" else {"idempotency-key": world.key()},
            query=request.query or None,
        ),
    )


def _request_of(world: World, route: Route, who: str, request: Request) -> Request:
    if who in MACHINES and route.for_machine is not None:
        request = route.for_machine(world, request)
    if who == "other_owner" and isinstance(request.body, dict) and "to_org_id" in request.body:
        # An outsider moves credits into the org it owns itself.
        request = Request(request.params, {**request.body, "to_org_id": world.other.org_id})
    return request


def _owner(pk: str, snapshot: Mapping[str, list[dict[str, Any]]]) -> str:
    """The org partition an item belongs to: a Stripe reference (`STRIPE#{id}`, issue 8) is its org's."""
    items = snapshot.get(pk) or []
    if pk.startswith("STRIPE#") and items and "org_id" in items[0]:
        return org_pk(str(items[0]["org_id"]["S"]))
    return pk


def _call_and_check(
    env: Env, world: World, method: str, path: str, route: Route, who: str, request: Request, expect: Expect
) -> None:
    """Call the route as `who` and check the answer, what changed, the books and what the answer tells."""
    request = _request_of(world, route, who, request)
    before = world.snapshot()

    # When the caller calls the route: the gateway answers first; the handler (a second fence) too
    gateway = through_the_gateway(method, path, who)
    reply = _call(world, method, path, route.event, who, request, world.target.org_id)

    # Then the handler's status (and problem code) is the expected one
    status, _ = expect
    assert (reply.status, reply.code) == expect, f"{method} {path} as {who}: {reply.status} {reply.body}"
    if status >= 400:
        assert reply.headers["content-type"] == "application/problem+json", reply.headers
    # and the gateway never lets through what the domain refuses for lack of scope, nor refuses what it allows
    if gateway is not None:
        assert status >= 400, f"the gateway refuses {who} on {method} {path}, the handler allows it"
    else:
        assert reply.code != "forbidden_scope", f"the template lets {who} through to {method} {path}"
    if who in ("other_owner", "nobody", "anonymous") or reply.code == "forbidden_scope":
        # a machine is told which scope it lacks, nothing more
        told = PROBLEM_FIELDS | ({"needed"} if reply.code == "forbidden_scope" else set())
        extra = sorted(set(reply.body) - told) if isinstance(reply.body, dict) else []
        assert status < 400 or not extra, f"{method} {path} tells {who} more than a refusal: {reply.body}"
    # and a refusal or a read changes nothing anywhere; an allowed change touches the org in the path only
    after = world.snapshot()
    changed = {
        _owner(pk, after if pk in after else before)
        for pk in {*before, *after}
        if before.get(pk) != after.get(pk)
    }
    if route.creates_own:
        changed -= set(after) - set(before)  # the caller's own first sign-in: new items only
    target, sister = org_pk(world.target.org_id), org_pk(world.sister or world.target.org_id)
    if status >= 400 or method == "GET":
        assert not changed, f"{method} {path} as {who} answered {status} but changed {sorted(changed)}"
    else:
        assert target in changed, "an allowed change changed nothing in the org"
        assert changed <= {target, sister}, f"an allowed change also changed {sorted(changed - {target})}"
    assert_books(env.store, world.target.org_id, world.other.org_id)
    # and the answer names nothing of an org the caller may not see (beyond what the caller sent)
    leaks = _leaks(world, who, reply, request)
    assert not leaks, f"{method} {path} as {who} ({reply.status}) leaks {leaks}: {reply.body}"


@pytest.mark.parametrize(("method", "path", "who"), CASES)
def test_route_answers_each_caller_as_the_matrix_says_and_leaks_no_other_org(
    env: Env, method: str, path: str, who: str
) -> None:
    route = EXPECTED.get((method, path))
    if route is None:
        pytest.fail(
            f"{method} {path} is in template.yaml but not in EXPECTED: add its expected status per caller"
        )
    # Given fresh orgs: the one in the path, another one with its own members, jobs, holds and invites
    world = fresh_world(env)
    request = route.given(world)
    _call_and_check(env, world, method, path, route, who, request, route.expect[who])


ORG_ROUTES = sorted(key for key in ROUTES if key[1].startswith("/orgs/{org_id}"))


@pytest.mark.parametrize(
    ("method", "path", "who"),
    [
        pytest.param(m, p, who, id=f"{m} {p} as {who}")
        for m, p in ORG_ROUTES
        for who in ("other_owner", "nobody")
    ],
)
def test_a_non_member_gets_the_same_answer_whether_the_org_exists_or_not(
    env: Env, method: str, path: str, who: str
) -> None:
    # Given the org in the path, and an org id that was never made
    world = fresh_world(env)
    route = EXPECTED[(method, path)]
    request = _request_of(world, route, who, route.given(world))
    ghost = f"org-{uuid.uuid4().hex[:10]}"
    # When a non-member calls the route on each
    answers = []
    for org_id in (world.target.org_id, ghost):
        reply = _call(world, method, path, route.event, who, request, org_id)
        body = json.dumps(reply.body).replace(org_id, "<org>")
        answers.append((reply.status, reply.headers.get("content-type"), body))
    # Then nothing tells them apart
    assert answers[0] == answers[1]


# ---- refusals that depend on the org's state are explained only to those who may act ----------------------
#
# An org that cannot pay (too few credits: 402 with its plan and upgrade options; a plan without generation)
# or a hold that is closed: members allowed to act learn why; other roles get forbidden_role; outsiders
# get the same 404 as for an org that does not exist, and a bare problem body.

BROKE = (402, "insufficient_credits")
OFF = (403, "generation_disabled")
CLOSED = (409, "hold_not_open")
MEMBERS_MAY_NOT = _expect(403)
STATE_CALLERS = ("owner", "creator", "viewer", "other_owner", "nobody", "usage_meter")  # billing ~ viewer


def refusal(*, owner: Expect, creator: Expect, usage_meter: Expect = NOT_FOR_MACHINES) -> dict[str, Expect]:
    return {
        "owner": owner,
        "creator": creator,
        "viewer": _expect(403),
        "other_owner": _expect(404),
        "nobody": _expect(404),
        "usage_meter": usage_meter,
    }


def disable_generation(world: World) -> None:
    """As a downgrade to archive: a new cycle without allowance and without generation."""
    world.store.start_cycle(
        world.target.org_id,
        cycle_id="c2",
        cycle_start=T0 + timedelta(hours=1),
        cycle_end=T0 + timedelta(days=31),
        allowance=0,
        rollover_cap=0,
        now=T0 + timedelta(hours=1),
        plan_id="archive",
        generation_enabled=False,
    )


def too_big_debit(world: World) -> Request:
    quote_id = world.quote(world.target, {"shots": {"Q3": 10_000}})
    return Request(body={"job_id": f"job-{_suffix(world.target)}-huge", "quote_id": quote_id})


def too_big_hold(world: World) -> Request:
    return Request(body={"job_id": f"job-{_suffix(world.target)}-huge", "credits": 1_000_000})


def too_big_extension(world: World) -> Request:
    hold_id = world.place_hold(world.target, world.target.creator, 500)
    return Request(params={"hold_id": hold_id}, body={"credits": 1_000_000})


def too_big_transfer(world: World) -> Request:
    return Request(body={"to_org_id": world.sister_org(), "credits": 1_000_000})


def archived(given: Callable[[World], Request]) -> Callable[[World], Request]:
    def then_archive(world: World) -> Request:
        request = given(world)
        disable_generation(world)
        return request

    return then_archive


def closed_hold(world: World) -> Request:
    hold_id = world.place_hold(world.target, world.target.creator, 500)
    reply = invoke(
        "holds",
        http_event(
            "hold_release",
            org_id=world.target.org_id,
            hold_id=hold_id,
            service=MACHINES["usage_meter"],
            body={},
            headers={"idempotency-key": world.key()},
        ),
    )
    assert reply.status == 200, reply.body
    return Request(params={"hold_id": hold_id}, body={"credits": 100})


DEBITS, HOLDS, TRANSFERS = "/orgs/{org_id}/debits", "/orgs/{org_id}/holds", "/orgs/{org_id}/transfers"
QUOTES, UPLOADS = "/orgs/{org_id}/quotes", "/orgs/{org_id}/uploads"
FULL = (402, "storage_quota_exceeded")
EXTEND = "/orgs/{org_id}/holds/{hold_id}/extend"
STATEFUL: dict[tuple[str, str], tuple[Callable[[World], Request], dict[str, Expect]]] = {
    ("unaffordable", DEBITS): (too_big_debit, refusal(owner=BROKE, creator=BROKE, usage_meter=BROKE)),
    ("unaffordable", HOLDS): (too_big_hold, refusal(owner=BROKE, creator=BROKE)),
    ("unaffordable", EXTEND): (
        too_big_extension,
        refusal(owner=MEMBERS_MAY_NOT, creator=MEMBERS_MAY_NOT, usage_meter=BROKE),
    ),
    ("unaffordable", TRANSFERS): (too_big_transfer, refusal(owner=BROKE, creator=_expect(403))),
    ("archived", DEBITS): (archived(debit_body), refusal(owner=OFF, creator=OFF, usage_meter=OFF)),
    ("archived", HOLDS): (archived(hold_body), refusal(owner=OFF, creator=OFF)),
    ("archived", EXTEND): (
        archived(extend_open_hold),
        refusal(owner=MEMBERS_MAY_NOT, creator=MEMBERS_MAY_NOT, usage_meter=OFF),
    ),
    ("archived", TRANSFERS): (
        archived(transfer_to_callers_other_org),
        refusal(owner=OFF, creator=_expect(403)),
    ),
    ("hold closed", EXTEND): (
        closed_hold,
        refusal(owner=MEMBERS_MAY_NOT, creator=MEMBERS_MAY_NOT, usage_meter=CLOSED),
    ),
    # storage and archive (issue 10)
    ("archived", QUOTES): (archived(quote_body), refusal(owner=OFF, creator=OFF)),
    ("archived", UPLOADS): (archived(upload_body), refusal(owner=FULL, creator=FULL)),
}


@pytest.mark.parametrize(
    ("state", "path", "who"),
    [
        pytest.param(state, path, who, id=f"POST {path} on {state} as {who}")
        for state, path in STATEFUL
        for who in STATE_CALLERS
    ],
)
def test_a_refusal_that_depends_on_the_orgs_state_is_explained_only_to_who_may_act(
    env: Env, state: str, path: str, who: str
) -> None:
    given, expect = STATEFUL[(state, path)]
    # Given fresh orgs, the one in the path in the state
    world = fresh_world(env)
    request = given(world)
    _call_and_check(env, world, "POST", path, EXPECTED[("POST", path)], who, request, expect[who])
