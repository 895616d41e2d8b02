"""Organizations (SPEC §7): me and the personal org, members and roles, shared credits, limits,
invites by e-mail and transfers — through the handlers, on moto."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3

from act3_billing.domain.orgs import token_hash
from act3_billing.domain.roles import Role
from act3_billing.store.orgs import OrgStore
from act3_billing.store.wallets import BillingStore
from tests.integration.conftest import TABLE, MovableClock
from tests.support.books import assert_books
from tests.support.calls import debit
from tests.support.events import http_event, machine
from tests.support.functions import Reply, invoke
from tests.support.wallets import new_org

METER = machine()  # the usage meter: job metrics, settling holds

LINKEDIN = {"custom:idp": "linkedin"}


def patch_member(org_id: str, actor: str, user_id: str, body: dict[str, Any]) -> Reply:
    return invoke(
        "members",
        http_event("member_patch", org_id=org_id, params={"user_id": user_id}, user=actor, body=body),
    )


# ---- me and the personal org ----------------------------------------------------------------------


def test_first_sign_in_makes_a_personal_org_with_trial_credits_for_linkedin(store: BillingStore) -> None:
    first = invoke("me", http_event("me_get", user="new-user", claims=LINKEDIN))
    assert first.status == 200, first.body
    personal = first.body["personal_org_id"]
    assert [(o["org_id"], o["role"], o["personal"]) for o in first.body["orgs"]] == [
        (personal, "owner", True)
    ]
    again = invoke("me", http_event("me_get", user="new-user", claims=LINKEDIN))
    assert again.body["personal_org_id"] == personal  # made once
    balance = invoke("balance", http_event("balance_get", org_id=personal, user="new-user")).body
    assert (balance["plan_id"], balance["monthly"]["allowance"], balance["generation_enabled"]) == (
        "starter_trial",
        800,
        True,
    )
    assert_books(store, personal)


def test_without_linkedin_the_trial_cannot_generate_until_linkedin_sign_in(store: BillingStore) -> None:
    me = invoke("me", http_event("me_get", user="email-user"))
    org_id = me.body["personal_org_id"]
    refused = debit(org_id, "email-user", "d1")
    assert (refused.status, refused.code) == (403, "generation_disabled")
    invoke("me", http_event("me_get", user="email-user", claims=LINKEDIN))
    assert debit(org_id, "email-user", "d2").status == 201


# ---- members and roles --------------------------------------------------------------------------


def test_members_are_listed_and_owner_changes_roles(store: BillingStore) -> None:
    org = new_org(store)
    listed = invoke("members", http_event("members_list", org_id=org.org_id, user=org.viewer))
    assert {m["role"] for m in listed.body["members"]} == {"owner", "billing", "creator", "viewer"}
    promoted = patch_member(org.org_id, org.owner, org.viewer, {"role": "creator"})
    assert (promoted.status, promoted.body["role"], promoted.body["may_spend"]) == (200, "creator", True)
    assert debit(org.org_id, org.viewer, "now-a-creator").status == 201
    refused = patch_member(org.org_id, org.creator, org.billing, {"role": "owner"})
    assert (refused.status, refused.code) == (403, "forbidden_role")


def test_the_last_owner_cannot_be_demoted_or_removed(store: BillingStore) -> None:
    org = new_org(store)
    demote = patch_member(org.org_id, org.owner, org.owner, {"role": "viewer"})
    assert (demote.status, demote.code) == (409, "last_owner")
    remove = invoke(
        "members",
        http_event("member_delete", org_id=org.org_id, params={"user_id": org.owner}, user=org.owner),
    )
    assert (remove.status, remove.code) == (409, "last_owner")
    # With a second owner, the first may step down
    assert patch_member(org.org_id, org.owner, org.creator, {"role": "owner"}).status == 200
    assert patch_member(org.org_id, org.owner, org.owner, {"role": "viewer"}).status == 200
    left = invoke(
        "members",
        http_event("member_delete", org_id=org.org_id, params={"user_id": org.viewer}, user=org.viewer),
    )
    assert left.status == 204  # anyone may leave
    gone = invoke("balance", http_event("balance_get", org_id=org.org_id, user=org.viewer))
    assert (gone.status, gone.code) == (404, "not_found")


def test_shared_credit_toggle_per_role_with_member_override(store: BillingStore) -> None:
    org = new_org(store)
    off = invoke(
        "members",
        http_event(
            "settings_patch", org_id=org.org_id, user=org.owner, body={"shared_credits": {"creator": False}}
        ),
    )
    assert off.body["shared_credits"]["creator"] is False
    refused = debit(org.org_id, org.creator, "toggle-1")
    assert (refused.status, refused.code) == (403, "shared_credits_disabled")
    assert patch_member(org.org_id, org.owner, org.creator, {"may_spend_override": True}).status == 200
    assert debit(org.org_id, org.creator, "toggle-2").status == 201
    assert (
        patch_member(org.org_id, org.owner, org.creator, {"may_spend_override": None}).body["may_spend"]
        is False
    )


def test_monthly_spending_limit_counts_debits_and_holds_and_refuses_beyond(
    store: BillingStore, clock: MovableClock
) -> None:
    org = new_org(store)
    assert patch_member(org.org_id, org.owner, org.creator, {"monthly_limit": 300}).status == 200
    assert debit(org.org_id, org.creator, "l1").status == 201  # 80
    hold = invoke(
        "holds",
        http_event(
            "hold_create",
            org_id=org.org_id,
            user=org.creator,
            body={"credits": 200},
            headers={"idempotency-key": "l2"},
        ),
    )
    assert hold.status == 201  # 280 counted
    refused = debit(org.org_id, org.creator, "l3")
    assert (refused.status, refused.code) == (403, "member_limit_exceeded")
    assert refused.body["remaining"] == 20
    # Releasing the hold gives its credits back to the limit
    invoke(
        "holds",
        http_event(
            "hold_release",
            org_id=org.org_id,
            hold_id=hold.body["hold_id"],
            service=METER,
            headers={"idempotency-key": "l4"},
        ),
    )
    assert debit(org.org_id, org.creator, "l5").status == 201
    members = invoke("members", http_event("members_list", org_id=org.org_id, user=org.owner)).body["members"]
    creator = next(m for m in members if m["user_id"] == org.creator)
    assert (creator["monthly_limit"], creator["spent_this_cycle"]) == (300, 160)
    # Other members are not limited by it
    assert debit(org.org_id, org.owner, "owner-1").status == 201
    assert_books(store, org.org_id)


def test_every_ledger_entry_records_the_member_and_filters_by_it(store: BillingStore) -> None:
    org = new_org(store)
    debit(org.org_id, org.creator, "m1")
    debit(org.org_id, org.owner, "m2")
    page = invoke(
        "ledger", http_event("ledger_list", org_id=org.org_id, user=org.viewer, query={"member": org.creator})
    )
    assert [(e["actor"], e["job_id"]) for e in page.body["entries"]] == [(org.creator, "m1")]


# ---- invites ------------------------------------------------------------------------------------


def invite(org_id: str, owner: str, email: str, role: str = "creator", key: str = "inv-1") -> Reply:
    return invoke(
        "invites",
        http_event(
            "invite_create",
            org_id=org_id,
            user=owner,
            body={"email": email, "role": role},
            headers={"idempotency-key": key},
        ),
    )


def token_from(outbox: list[Any], to: str) -> str:
    message = [m for m in outbox if to in m.destinations["ToAddresses"]][-1]
    found = re.search(r"token=([A-Za-z0-9_-]+)", message.body)
    assert found, message.body
    return found.group(1)


def accept(token: str, user: str, email: str, claims: dict[str, str] | None = None) -> Reply:
    return invoke(
        "invites", http_event("invite_accept", user=user, email=email, body={"token": token}, claims=claims)
    )


def test_invite_by_email_then_accept_joins_with_the_role(store: BillingStore, outbox: list[Any]) -> None:
    org = new_org(store)
    sent = invite(org.org_id, org.owner, "New.Editor@Studio.example")
    assert sent.status == 201, sent.body
    assert sent.body["email"] == "new.editor@studio.example"
    again = invite(org.org_id, org.owner, "New.Editor@Studio.example")
    assert again.body == sent.body and len(outbox) == 1  # a retried invite sends no second e-mail
    token = token_from(outbox, "new.editor@studio.example")
    table = json.dumps(boto3.client("dynamodb", region_name="us-east-1").scan(TableName=TABLE)["Items"])
    assert token not in table and token_hash(token) in table  # the token is stored only as its hash
    joined = accept(token, "editor-1", "NEW.editor@studio.example")
    assert (joined.status, joined.body["role"], joined.body["already_member"]) == (200, "creator", False)
    twice = accept(token, "editor-1", "new.editor@studio.example")
    assert (twice.status, twice.body["already_member"]) == (200, True)
    members = invoke("members", http_event("members_list", org_id=org.org_id, user=org.owner)).body["members"]
    assert sum(m["user_id"] == "editor-1" for m in members) == 1
    assert debit(org.org_id, "editor-1", "first-job").status == 201


def test_bad_invite_tokens_get_distinct_codes_and_change_nothing(
    store: BillingStore, outbox: list[Any], clock: MovableClock
) -> None:
    org = new_org(store)
    invite(org.org_id, org.owner, "a@studio.example", key="a")
    token_a = token_from(outbox, "a@studio.example")
    assert accept("x" * 43, "u", "a@studio.example").code == "invite_not_found"
    mismatch = accept(token_a, "u-other", "other@studio.example")
    assert (mismatch.status, mismatch.code) == (403, "invite_email_mismatch")
    unverified = accept(token_a, "u-a", "a@studio.example", claims={"email_verified": "false"})
    assert (unverified.status, unverified.code) == (403, "email_not_verified")
    assert accept(token_a, "u-a", "a@studio.example").status == 200
    used = accept(token_a, "u-someone", "a@studio.example")
    assert (used.status, used.code) == (409, "invite_used")

    created = invite(org.org_id, org.owner, "b@studio.example", key="b")
    revoked = invoke(
        "invites",
        http_event(
            "invite_revoke",
            org_id=org.org_id,
            user=org.owner,
            params={"invite_id": created.body["invite_id"]},
        ),
    )
    assert revoked.body["status"] == "revoked"
    assert accept(token_from(outbox, "b@studio.example"), "u-b", "b@studio.example").code == "invite_revoked"

    invite(org.org_id, org.owner, "c@studio.example", key="c")
    clock.advance(days=8)
    late = accept(token_from(outbox, "c@studio.example"), "u-c", "c@studio.example")
    assert (late.status, late.code) == (410, "invite_expired")
    members = invoke("members", http_event("members_list", org_id=org.org_id, user=org.owner)).body["members"]
    assert {m["user_id"] for m in members} == {org.owner, org.creator, org.billing, org.viewer, "u-a"}


def test_resend_replaces_the_link(store: BillingStore, outbox: list[Any]) -> None:
    org = new_org(store)
    created = invite(org.org_id, org.owner, "d@studio.example", key="d")
    old = token_from(outbox, "d@studio.example")
    resent = invoke(
        "invites",
        http_event(
            "invite_resend",
            org_id=org.org_id,
            user=org.owner,
            params={"invite_id": created.body["invite_id"]},
        ),
    )
    assert resent.status == 200
    new = token_from(outbox, "d@studio.example")
    assert new != old
    assert accept(old, "u-d", "d@studio.example").code == "invite_not_found"
    assert accept(new, "u-d", "d@studio.example").status == 200


def test_joining_a_free_tier_org_requires_linkedin(store: BillingStore, outbox: list[Any]) -> None:
    org = new_org(store, plan_id="starter_trial", monthly=800, cap=1600)
    invite(org.org_id, org.owner, "e@studio.example", key="e")
    token = token_from(outbox, "e@studio.example")
    refused = accept(token, "u-e", "e@studio.example")
    assert (refused.status, refused.code) == (403, "linkedin_sso_required")
    assert accept(token, "u-e", "e@studio.example", claims=LINKEDIN).status == 200


def test_only_owners_invite(store: BillingStore) -> None:
    org = new_org(store)
    for user in (org.creator, org.billing, org.viewer):
        reply = invite(org.org_id, user, "f@studio.example", key=f"f-{user}")
        assert (reply.status, reply.code) == (403, "forbidden_role")


# ---- transfers ----------------------------------------------------------------------------------


def transfer(org_id: str, user: str, to_org_id: str, credits: int, key: str) -> Reply:
    return invoke(
        "transfers",
        http_event(
            "transfer_create",
            org_id=org_id,
            user=user,
            body={"to_org_id": to_org_id, "credits": credits},
            headers={"idempotency-key": key},
        ),
    )


def test_owner_of_both_orgs_transfers_credits_with_their_expiry(store: BillingStore) -> None:
    source, target = new_org(store, monthly=1000), new_org(store, monthly=500)
    # Given the source owner is not a member of the target yet
    stranger = transfer(source.org_id, source.owner, target.org_id, 300, "t0")
    assert (stranger.status, stranger.code) == (404, "not_found")
    # When they become an owner of the target too
    OrgStore(store.connection).add_member(
        target.org_id, source.owner, Role.OWNER, email=None, now=store.wallet(source.org_id).cycle_start
    )
    moved = transfer(source.org_id, source.owner, target.org_id, 300, "t1")
    assert moved.status == 201, moved.body
    assert transfer(source.org_id, source.owner, target.org_id, 300, "t1").body == moved.body  # idempotent
    # Then the credits left in spending order and arrived with their expiry
    assert store.wallet(source.org_id).total() == 700
    target_wallet = store.wallet(target.org_id)
    assert target_wallet.total() == 800
    arrived = [lot for lot in target_wallet.lots if lot.lot_id.startswith("xfer#")]
    assert [(lot.kind.value, lot.remaining) for lot in arrived] == [("transfer", 300)]
    assert arrived[0].expires_at == store.wallet(source.org_id).cycle_end  # the monthly lot's expiry
    assert_books(store, source.org_id, target.org_id)
    too_much = transfer(source.org_id, source.owner, target.org_id, 5000, "t2")
    assert (too_much.status, too_much.code) == (402, "insufficient_credits")
    by_creator = transfer(source.org_id, source.creator, target.org_id, 5, "t3")
    assert (by_creator.status, by_creator.code) == (403, "forbidden_role")


def test_a_revoked_or_accepted_invite_cannot_be_resent(store: BillingStore, outbox: list[Any]) -> None:
    org = new_org(store)
    revoked = invite(org.org_id, org.owner, "g@studio.example", key="g")
    invoke(
        "invites",
        http_event(
            "invite_revoke",
            org_id=org.org_id,
            user=org.owner,
            params={"invite_id": revoked.body["invite_id"]},
        ),
    )
    again = invoke(
        "invites",
        http_event(
            "invite_revoke",
            org_id=org.org_id,
            user=org.owner,
            params={"invite_id": revoked.body["invite_id"]},
        ),
    )
    assert (again.status, again.body["status"]) == (200, "revoked")  # revoking twice is a no-op
    resent = invoke(
        "invites",
        http_event(
            "invite_resend",
            org_id=org.org_id,
            user=org.owner,
            params={"invite_id": revoked.body["invite_id"]},
        ),
    )
    assert (resent.status, resent.code) == (410, "invite_revoked")
    accepted = invite(org.org_id, org.owner, "h@studio.example", key="h")
    accept(token_from(outbox, "h@studio.example"), "u-h", "h@studio.example")
    used = invoke(
        "invites",
        http_event(
            "invite_resend",
            org_id=org.org_id,
            user=org.owner,
            params={"invite_id": accepted.body["invite_id"]},
        ),
    )
    assert (used.status, used.code) == (409, "invite_used")
