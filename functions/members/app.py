"""Members and org settings: list, change role, shared credits or monthly limit, remove; role toggles."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import organizations, runtime
from act3_billing.http.api import caller, make_resolver
from act3_billing.http.contract import problems
from act3_billing.http.models import MemberOut, MemberPatch, MembersResponse, SettingsOut, SettingsPatch
from act3_billing.observability import logger

app = make_resolver()


def _context() -> organizations.OrgContext:
    return organizations.org_context(runtime.store(), runtime.orgs(), caller(app), runtime.now())


@app.get(
    "/orgs/<org_id>/members",
    summary="The org's members, roles, shared-credit overrides, monthly limits and spending",
    openapi_extensions=problems("forbidden_role"),
)
def list_members(org_id: str) -> MembersResponse:
    return organizations.list_members(_context(), org_id)


@app.patch(
    "/orgs/<org_id>/members/<user_id>",
    summary="Change a member's role, shared-credit override or monthly limit",
    openapi_extensions=problems("forbidden_role", "last_owner"),
)
def change_member(org_id: str, user_id: str, patch: MemberPatch) -> MemberOut:
    return organizations.change_member(_context(), org_id, user_id, patch)


@app.delete(
    "/orgs/<org_id>/members/<user_id>",
    status_code=204,
    summary="Remove a member (an org always keeps an owner)",
    openapi_extensions=problems("forbidden_role", "last_owner"),
)
def remove_member(org_id: str, user_id: str) -> Response[None]:
    organizations.remove_member(_context(), org_id, user_id)
    return Response(status_code=204)


@app.get(
    "/orgs/<org_id>/settings",
    summary="The org's settings: shared credits per role",
    openapi_extensions=problems("forbidden_role"),
)
def get_settings(org_id: str) -> SettingsOut:
    return organizations.get_settings(_context(), org_id)


@app.patch(
    "/orgs/<org_id>/settings",
    summary="Change the org's shared-credit toggles",
    openapi_extensions=problems("forbidden_role"),
)
def change_settings(org_id: str, patch: SettingsPatch) -> SettingsOut:
    return organizations.change_settings(_context(), org_id, patch)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
