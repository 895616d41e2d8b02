"""POST /orgs/{org_id}/uploads — a presigned PUT for one key and size, within the plan's storage."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import runtime, storage
from act3_billing.domain.storage import Kind
from act3_billing.http.api import caller, make_resolver, outcome
from act3_billing.http.models import UploadRequest, UploadResponse
from act3_billing.http.problems import documented
from act3_billing.observability import logger

app = make_resolver()

IdempotencyKey = Annotated[str | None, Header(alias="idempotency-key")]


@app.post(
    "/orgs/<org_id>/uploads",
    responses={
        201: {"description": "the upload URL (a replay: the same one)"},
        400: documented("idempotency_key_required, malformed_json"),
        415: documented("unsupported_media_type"),
        402: documented("storage_quota_exceeded, with the upgrade options"),
        403: documented("forbidden_role (owners and creators upload)"),
        401: documented("unauthenticated"),
        404: documented("not_found (also for non-members)"),
        409: documented("idempotency_key_reuse"),
        422: documented("validation_error"),
    },
)
def create_upload(
    org_id: str, request: UploadRequest, idempotency_key: IdempotencyKey = None
) -> Response[UploadResponse]:
    ctx = storage.context(runtime.store(), runtime.storage(), runtime.objects(), caller(app), runtime.now())
    result = storage.request_upload(
        ctx,
        org_id,
        project_id=request.project_id,
        kind=Kind(request.kind),
        filename=request.filename,
        size=request.size,
        content_type=request.content_type,
        key=idempotency_key,
    )
    return outcome(result.body, result.replayed)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
