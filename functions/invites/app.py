"""Invites by e-mail: create, list, revoke, resend (owners), and accept (the invited user)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import organizations, runtime
from act3_billing.config import settings
from act3_billing.http.api import caller, make_resolver, outcome
from act3_billing.http.contract import problems
from act3_billing.http.models import AcceptRequest, AcceptResponse, InviteOut, InviteRequest, InvitesResponse
from act3_billing.observability import logger

app = make_resolver()


def _context() -> organizations.OrgContext:
    return organizations.org_context(runtime.store(), runtime.orgs(), caller(app), runtime.now())


@app.post(
    "/orgs/<org_id>/invites",
    status_code=201,
    summary="Invite someone by e-mail to a role",
    openapi_extensions=problems("forbidden_role", "already_member", "member_limit_exceeded"),
)
def create_invite(
    org_id: str,
    request: InviteRequest,
    idempotency_key: Annotated[str | None, Header(alias="idempotency-key")] = None,
) -> Response[InviteOut]:
    result = organizations.create_invite(
        _context(), runtime.mailer(), settings().app_url, org_id, request, idempotency_key
    )
    return outcome(result.body, result.replayed)


@app.get(
    "/orgs/<org_id>/invites",
    summary="The org's invites and their state",
    openapi_extensions=problems("forbidden_role"),
)
def list_invites(org_id: str) -> InvitesResponse:
    return organizations.list_invites(_context(), org_id)


@app.post(
    "/orgs/<org_id>/invites/<invite_id>/revoke",
    summary="Revoke an invite that was not accepted yet",
    openapi_extensions=problems("forbidden_role", "invite_not_found", "invite_used", "invite_revoked"),
)
def revoke_invite(org_id: str, invite_id: str) -> InviteOut:
    return organizations.revoke_invite(_context(), org_id, invite_id)


@app.post(
    "/orgs/<org_id>/invites/<invite_id>/resend",
    summary="Send an invite's e-mail again, with a new link",
    openapi_extensions=problems(
        "forbidden_role", "invite_not_found", "invite_used", "invite_revoked", "invite_expired"
    ),
)
def resend_invite(org_id: str, invite_id: str) -> InviteOut:
    return organizations.resend_invite(_context(), runtime.mailer(), settings().app_url, org_id, invite_id)


@app.post(
    "/invites/accept",
    summary="Join an organization with the token from an invite e-mail",
    openapi_extensions=problems(
        "invite_not_found",
        "invite_expired",
        "invite_used",
        "invite_revoked",
        "invite_email_mismatch",
        "email_not_verified",
        "linkedin_sso_required",
        "forbidden_scope",
        "already_member",
        "member_limit_exceeded",
    ),
)
def accept_invite(request: AcceptRequest) -> AcceptResponse:
    return organizations.accept_invite(_context(), request)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
