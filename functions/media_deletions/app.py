"""POST /orgs/{org_id}/media-deletions — delete all media of a project or of the org (text stays).

Batched DeleteObjects, resumable: when the time runs short the answer is 202 `running`, and the same
request with the same Idempotency-Key carries on where it stopped. A dry run only counts.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import media_deletion, runtime, storage
from act3_billing.http.api import caller, make_resolver
from act3_billing.http.models import MediaDeletionRequest, MediaDeletionResponse
from act3_billing.http.problems import documented
from act3_billing.observability import logger

app = make_resolver()

IdempotencyKey = Annotated[str | None, Header(alias="idempotency-key")]
SPARE_MILLIS = 3000  # stop starting batches this long before the function's timeout


@app.post(
    "/orgs/<org_id>/media-deletions",
    responses={
        200: {"description": "done (or the dry run's count)"},
        202: {"description": "running: repeat with the same Idempotency-Key to carry on"},
        400: documented("idempotency_key_required (not for a dry run), malformed_json"),
        415: documented("unsupported_media_type"),
        403: documented("forbidden_role (owners only)"),
        401: documented("unauthenticated"),
        404: documented("not_found (also for non-members)"),
        409: documented("idempotency_key_reuse"),
        422: documented("validation_error"),
        503: documented("unavailable: S3 did not delete everything; repeat to resume"),
    },
)
def delete_media(
    org_id: str, request: MediaDeletionRequest, idempotency_key: IdempotencyKey = None
) -> Response[MediaDeletionResponse]:
    ctx = storage.context(runtime.store(), runtime.storage(), runtime.objects(), caller(app), runtime.now())
    context = app.lambda_context

    def keep_going() -> bool:
        return context is None or context.get_remaining_time_in_millis() > SPARE_MILLIS

    body, done = media_deletion.delete_media(
        ctx,
        org_id,
        project_id=request.project_id,
        dry_run=request.dry_run,
        key=idempotency_key,
        keep_going=keep_going,
    )
    return Response(
        status_code=200 if done else 202,
        content_type="application/json",
        body=MediaDeletionResponse.model_validate(body),
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
