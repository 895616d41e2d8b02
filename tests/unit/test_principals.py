"""Principals (SPEC §12): members by role, machine identities by scope; who the claims say is calling."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from act3_billing.domain.errors import ForbiddenRole, ForbiddenScope, Unauthenticated, ValidationFailed
from act3_billing.domain.grants import EDUCATION_BUNDLES, MAX_GRANT_LIFETIME, GrantKind, GrantSpec, grant_lot
from act3_billing.domain.lots import LotKind
from act3_billing.domain.principals import (
    BILLING_OPERATIONS_SCOPES,
    USAGE_METER_SCOPES,
    Scope,
    Service,
)
from act3_billing.domain.roles import RIGHTS, Membership, Permission, Role
from act3_billing.http.caller import Caller, access_token_claims, principal_from_claims
from tests.support.functions import load
from tests.support.lambda_context import FakeLambdaContext
from tests.support.template import REPO_ROOT, load_template

NOW = datetime(2026, 11, 20, tzinfo=UTC)
MACHINE_ONLY = {Permission.REPORT_USAGE, Permission.REFUND, Permission.GRANT, Permission.ADJUST}


@pytest.mark.parametrize("role", list(Role))
def test_no_role_reports_usage_refunds_grants_or_adjusts(role: Role) -> None:
    assert not RIGHTS[role] & MACHINE_ONLY
    for permission in MACHINE_ONLY:
        with pytest.raises(ForbiddenRole):
            Membership("org", "u", role).require(permission)


def test_each_machine_client_may_do_what_its_scopes_say_and_nothing_else() -> None:
    meter = Service("meter", frozenset(USAGE_METER_SCOPES))
    operations = Service("ops", frozenset(BILLING_OPERATIONS_SCOPES))
    # the usage meter reads an org's meters (entitlements, issue 12) before it starts a job
    assert meter.permissions == {Permission.REPORT_USAGE, Permission.REFUND, Permission.READ_METERS}
    # billing operations grant, adjust and record enterprise contract terms (issue 12)
    assert operations.permissions == {Permission.GRANT, Permission.ADJUST, Permission.MANAGE_CONTRACTS}
    with pytest.raises(ForbiddenScope) as refused:
        meter.require(Permission.GRANT)
    assert refused.value.extra["needed"] == Scope.GRANTS_WRITE.value
    with pytest.raises(ForbiddenScope) as refused:
        operations.require(Permission.READ_METERS)  # billing operations read no org's meters
    assert refused.value.extra["needed"] == Scope.USAGE_READ.value
    writer = Service("meter", frozenset({Scope.USAGE_WRITE.value}))
    with pytest.raises(ForbiddenScope):
        writer.require(Permission.READ_METERS)  # reading is its own scope
    assert meter.principal_id == "service:meter"


def test_the_template_gives_each_app_client_exactly_the_domains_scopes() -> None:
    resources = load_template()["Resources"]
    scopes = {s["ScopeName"] for s in resources["BillingResourceServer"]["Properties"]["Scopes"]}
    assert {f"billing/{s}" for s in scopes} == {s.value for s in Scope}
    assert resources["UsageMeterClient"]["Properties"]["AllowedOAuthScopes"] == list(USAGE_METER_SCOPES)
    assert resources["BillingOperationsClient"]["Properties"]["AllowedOAuthScopes"] == list(
        BILLING_OPERATIONS_SCOPES
    )


def _member(**extra: str) -> dict[str, str]:
    return {"sub": "u-1", "client_id": "web", "token_use": "access", "username": "u-1", **extra}


def test_a_client_credentials_token_is_a_machine_and_a_user_token_a_member() -> None:
    machine = principal_from_claims(
        {"sub": "abc", "client_id": "abc", "token_use": "access", "scope": "billing/usage.write"}, None
    )
    assert machine == Service("abc", frozenset({"billing/usage.write"}))
    member = principal_from_claims(_member(email="A@B.example", email_verified="true"), ["openid"])
    assert isinstance(member, Caller) and (member.user_id, member.email) == ("u-1", "a@b.example")
    # a member's access token whose `sub` is not the client is never a machine, whatever its scopes
    assert isinstance(principal_from_claims(_member(scope="billing/grants.write"), None), Caller)


def test_a_member_route_refuses_a_machine_token_and_any_route_an_empty_one() -> None:
    with pytest.raises(ForbiddenScope):
        Caller.from_claims({"sub": "abc", "client_id": "abc", "token_use": "access"})
    with pytest.raises(Unauthenticated):
        principal_from_claims(None, None)


claim_values = st.one_of(st.none(), st.text(max_size=20), st.sampled_from(["access", "id", "abc", "true"]))


@given(
    claims=st.dictionaries(
        st.sampled_from(["sub", "client_id", "token_use", "scope", "email", "email_verified", "identities"]),
        claim_values,
    ),
    scopes=st.one_of(st.none(), st.lists(st.text(max_size=30), max_size=4)),
)
def test_any_claims_give_a_principal_or_a_clear_refusal(
    claims: dict[str, Any], scopes: list[str] | None
) -> None:
    try:
        principal = principal_from_claims(claims, scopes)
    except (Unauthenticated, ForbiddenScope):
        return
    if isinstance(principal, Service):
        assert principal.client_id == claims["sub"] == claims["client_id"]
        assert principal.permissions <= MACHINE_ONLY
    else:
        assert principal.user_id == claims["sub"]


def test_the_pre_token_trigger_puts_the_members_email_claims_in_the_access_token() -> None:
    event = json.loads((REPO_ROOT / "events" / "cognito" / "pre_token_generation_v2.json").read_text())
    answered = load("token_claims").lambda_handler(event, FakeLambdaContext(function_name="token_claims"))
    added = answered["response"]["claimsAndScopeOverrideDetails"]["accessTokenGeneration"][
        "claimsToAddOrOverride"
    ]
    assert added == {"email": "Editor@Studio.example", "email_verified": "true", "custom:idp": "linkedin"}
    # and the function reads them back as the member
    caller = Caller.from_claims(_member(**added))
    assert (caller.email, caller.email_verified, caller.identity_provider) == (
        "editor@studio.example",
        True,
        "linkedin",
    )
    assert access_token_claims({}) == {}


# ---- grants ---------------------------------------------------------------------------------------------


@given(
    kind=st.sampled_from(list(GrantKind)),
    label=st.one_of(st.none(), st.text(max_size=10)),
    credits=st.one_of(st.none(), st.integers(1, 2_000_000)),
    expires_in=st.one_of(st.none(), st.integers(-10, 2_000).map(lambda d: timedelta(days=d))),
    bundle=st.one_of(st.none(), st.sampled_from([*EDUCATION_BUNDLES, "edu-nope", ""])),
)
def test_a_grant_is_a_live_grant_lot_or_a_clear_validation_error(
    kind: GrantKind, label: str | None, credits: int | None, expires_in: timedelta | None, bundle: str | None
) -> None:
    spec = GrantSpec(kind, label, credits, NOW + expires_in if expires_in is not None else None, bundle)
    try:
        lot = grant_lot(spec, NOW)
    except ValidationFailed:
        return
    assert lot.kind is LotKind.GRANT and lot.remaining == lot.granted > 0
    assert lot.expires_at is not None and NOW < lot.expires_at <= NOW + MAX_GRANT_LIFETIME
    assert lot.label
    if kind is GrantKind.EDUCATION:
        assert bundle is not None and lot.granted == EDUCATION_BUNDLES[bundle].credits
