"""Invites by e-mail: create, list, revoke, resend (owners), and accept (the invited user)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import organizations, runtime
from act3_billing.config import settings
from act3_billing.http.api import caller, make_resolver, outcome
from act3_billing.http.models import AcceptRequest, AcceptResponse, InviteOut, InviteRequest, InvitesResponse
from act3_billing.observability import logger

app = make_resolver()


def _context() -> organizations.OrgContext:
    return organizations.org_context(runtime.store(), runtime.orgs(), caller(app), runtime.now())


@app.post("/orgs/<org_id>/invites")
def create_invite(
    org_id: str,
    request: InviteRequest,
    idempotency_key: Annotated[str | None, Header(alias="idempotency-key")] = None,
) -> Response[InviteOut]:
    result = organizations.create_invite(
        _context(), runtime.mailer(), settings().app_url, org_id, request, idempotency_key
    )
    return outcome(result.body, result.replayed)


@app.get("/orgs/<org_id>/invites")
def list_invites(org_id: str) -> InvitesResponse:
    return organizations.list_invites(_context(), org_id)


@app.post("/orgs/<org_id>/invites/<invite_id>/revoke")
def revoke_invite(org_id: str, invite_id: str) -> InviteOut:
    return organizations.revoke_invite(_context(), org_id, invite_id)


@app.post("/orgs/<org_id>/invites/<invite_id>/resend")
def resend_invite(org_id: str, invite_id: str) -> InviteOut:
    return organizations.resend_invite(_context(), runtime.mailer(), settings().app_url, org_id, invite_id)


@app.post("/invites/accept")
def accept_invite(request: AcceptRequest) -> AcceptResponse:
    return organizations.accept_invite(_context(), request)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
