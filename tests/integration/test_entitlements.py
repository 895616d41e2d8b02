"""`GET /orgs/{org_id}/entitlements` through its handler: generation and why not, features as data (the
live catalog, an enterprise contract), credits for this member, storage, and how long it may be cached."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from act3_billing import catalog, runtime
from act3_billing.domain.plans import default_catalog
from act3_billing.domain.storage import GB
from act3_billing.store.orgs import OrgStore
from act3_billing.store.wallets import BillingStore
from tests.integration.conftest import MovableClock
from tests.support.calls import debit
from tests.support.events import BILLING_OPERATIONS, USAGE_METER, http_event, machine
from tests.support.functions import Reply, invoke
from tests.support.wallets import Org, new_org


def ask(org: Org, user: str, member_id: str | None = None) -> Reply:
    query = {"member_id": member_id} if member_id is not None else None
    return invoke("entitlements", http_event("entitlements_get", org_id=org.org_id, user=user, query=query))


def put_contract(org: Org, terms: dict[str, object], client: str = BILLING_OPERATIONS) -> Reply:
    event = http_event("contract_put", org_id=org.org_id, service=machine(client), body=terms)
    return invoke("operations", event)


def test_a_creator_may_generate_and_sees_the_plans_features_credits_and_storage(
    store: BillingStore, clock: MovableClock
) -> None:
    # Given a studio org
    org = new_org(store, plan_id="studio", monthly=120_000, cap=360_000)
    # When its creator asks
    reply = ask(org, org.creator)
    # Then generation is on, with the studio's features and the whole pool to spend
    assert reply.status == 200, reply.body
    body = reply.body
    assert body["generation"] == {"enabled": True, "reason": None}
    assert body["member_id"] == org.creator and body["plan_id"] == "studio" and body["status"] == "active"
    assert body["features"]["priority_queue"] is True and body["features"]["max_resolution"] == "1080p"
    assert body["credits"] == {
        "pool": 120_000,
        "may_spend": True,
        "monthly_limit": None,
        "limit_left": None,
        "spendable": 120_000,
    }
    assert body["storage"] == {"used_bytes": 0, "quota_bytes": 500 * GB}
    assert body["as_of"].startswith(clock.now.strftime("%Y-%m-%dT%H:%M"))
    assert reply.headers["cache-control"] == f"private, max-age={body['cache_seconds']}"
    assert 0 < body["cache_seconds"] <= 30


def test_a_viewer_is_told_its_role_may_not_spend(store: BillingStore) -> None:
    org = new_org(store)
    body = ask(org, org.viewer).body
    assert body["generation"] == {"enabled": False, "reason": "forbidden_role"}
    assert body["credits"]["spendable"] == 0 and body["credits"]["pool"] == 33_000


def test_the_monthly_limit_caps_what_the_member_can_spend_and_then_stops_generation(
    store: BillingStore,
) -> None:
    # Given a creator with a monthly limit of 100 credits who spent 80
    org = new_org(store)
    OrgStore(store.connection).change_member(org.org_id, org.creator, monthly_limit=100)
    assert debit(org.org_id, org.creator, "job-1").status == 201  # 80 credits
    credits = ask(org, org.creator).body["credits"]
    assert (credits["monthly_limit"], credits["limit_left"], credits["spendable"]) == (100, 20, 20)
    # When the limit is used up
    OrgStore(store.connection).change_member(org.org_id, org.creator, monthly_limit=80)
    # Then generation is off, and the hold says the same
    assert ask(org, org.creator).body["generation"] == {"enabled": False, "reason": "member_limit_reached"}


def test_the_answer_is_cached_no_longer_than_until_the_trial_ends(
    store: BillingStore, clock: MovableClock
) -> None:
    # Given a trial that ends in 10 seconds
    org = new_org(store, plan_id="starter_trial", monthly=800, cap=1600)
    from act3_billing.domain.times import iso
    from act3_billing.store.models import WALLET_SK, WalletItem, org_pk

    WalletItem(org_pk(org.org_id), WALLET_SK).update(
        actions=[WalletItem.trial_ends_at.set(iso(clock.now + timedelta(seconds=10)))]
    )
    store.forget(org.org_id)
    reply = ask(org, org.creator)
    assert reply.body["cache_seconds"] == 10 and reply.body["generation"]["enabled"] is True
    # When the clock passes it: the trial is over
    clock.advance(seconds=10)
    assert ask(org, org.creator).body["generation"] == {"enabled": False, "reason": "trial_expired"}


def test_features_come_from_the_live_catalog_and_an_enterprise_contract(
    store: BillingStore, clock: MovableClock
) -> None:
    # Given Stripe product metadata giving studio 4K and enterprise terms with private 3D sets
    studio = default_catalog().get("studio")
    product = {
        "id": "prod_studio",
        "object": "product",
        "active": True,
        "name": "Studio",
        "created": 1,
        "metadata": {
            "act3_plan": "studio",
            "monthly_credits": str(studio.monthly_credits),
            "feature_max_resolution": "4k",
            "feature_collaborators": "25",
        },
    }
    catalog.sync(runtime.payments(), [product], [], datetime.now(UTC))
    clock.advance(minutes=2)  # past the process's catalog cache
    on_studio = new_org(store, plan_id="studio", monthly=120_000, cap=360_000)
    features = ask(on_studio, on_studio.owner).body["features"]
    assert features["max_resolution"] == "4k" and features["collaborators"] == 25
    assert features["priority_queue"] is True  # the built-in catalog's, Stripe said nothing else
    enterprise = new_org(store, plan_id="enterprise", monthly=1_000_000, cap=0)
    # When billing operations record an enterprise org's contract terms
    terms = {"features": {"private_3d_sets": True, "max_resolution": "4k"}, "storage_gb": 20_000}
    recorded = put_contract(enterprise, terms)
    assert recorded.status == 200 and recorded.body["applies"] is True and recorded.body["version"] == 1
    body = ask(enterprise, enterprise.creator).body
    assert body["features"]["private_3d_sets"] is True and body["features"]["sso"] is True
    assert body["storage"]["quota_bytes"] == 20_000 * GB
    # Terms recorded on an org that is not on a contract plan change nothing
    not_enterprise = put_contract(on_studio, {"features": {"private_3d_sets": True}, "storage_gb": 1})
    assert not_enterprise.status == 200 and not_enterprise.body["applies"] is False
    assert ask(on_studio, on_studio.owner).body["features"]["private_3d_sets"] is False


def test_strangers_and_unknown_orgs_get_the_same_not_found_and_members_only_their_own_view(
    store: BillingStore,
) -> None:
    org, other = new_org(store), new_org(store)
    stranger = ask(org, other.owner)
    missing = invoke(
        "entitlements", http_event("entitlements_get", org_id="org-never-made", user=other.owner)
    )
    assert (stranger.status, stranger.code) == (missing.status, missing.code) == (404, "not_found")
    assert org.org_id not in json.dumps(stranger.body).replace(f"organization {org.org_id}", "")
    # a stranger naming a member learns nothing either
    assert ask(org, other.owner, member_id=org.creator).code == "not_found"
    # a member may name only themselves
    assert ask(org, org.creator, member_id=org.creator).status == 200
    assert ask(org, org.creator, member_id=org.owner).code == "forbidden_role"
    assert ask(org, org.creator, member_id="bad id!").status == 422


def test_the_usage_meter_asks_for_any_member_it_names(store: BillingStore) -> None:
    org = new_org(store)

    def meter_asks(query: dict[str, str] | None, client: str | None = None) -> Reply:
        service = machine(client) if client else machine()
        event = http_event("entitlements_get", org_id=org.org_id, service=service, query=query)
        return invoke("entitlements", event)

    # the usage meter, for the creator and for the viewer
    creator = meter_asks({"member_id": org.creator})
    assert creator.status == 200 and creator.body["member_id"] == org.creator
    assert creator.body["generation"]["enabled"] is True
    viewer = meter_asks({"member_id": org.viewer}).body
    assert viewer["generation"] == {"enabled": False, "reason": "forbidden_role"}
    # it must name the member; someone who is no member is not found, as an org that does not exist
    assert meter_asks(None).status == 422
    assert meter_asks({"member_id": "someone-else"}).code == "not_found"
    # another machine identity, without billing/usage.read, is refused for its scopes
    assert meter_asks({"member_id": org.creator}, BILLING_OPERATIONS).code == "forbidden_scope"


def test_only_billing_operations_set_contract_terms_and_bad_terms_change_nothing(store: BillingStore) -> None:
    org = new_org(store, plan_id="enterprise", monthly=1_000_000, cap=0)
    assert put_contract(org, {"features": {"sla": False}}, USAGE_METER).code == "forbidden_scope"
    member = invoke(
        "operations", http_event("contract_put", org_id=org.org_id, user=org.owner, body={"features": {}})
    )
    assert member.status == 403
    bad: tuple[dict[str, object], ...] = (
        {"features": {"Private 3D": True}},
        {"features": {"x": 1.5}},
        {"features": {"x": ""}},
        {"storage_gb": -1},
        {"storage_gb": "10"},
        {"features": {}, "other": 1},
    )
    for terms in bad:
        assert put_contract(org, terms).status == 422, terms
    assert (
        invoke("entitlements", http_event("entitlements_get", org_id=org.org_id, user=org.owner)).body[
            "features"
        ]["sla"]
        is True
    )
    assert put_contract(new_org(store), {"features": {}}).status == 200
    missing = invoke(
        "operations",
        http_event("contract_put", org_id="org-never-made", service=machine(BILLING_OPERATIONS), body={}),
    )
    assert missing.code == "not_found"
