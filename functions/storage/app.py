"""GET /orgs/{org_id}/storage — used and quota, media vs text, per project, and the meter's freshness."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import runtime, storage
from act3_billing.http.api import caller, make_resolver
from act3_billing.http.models import StorageResponse
from act3_billing.http.problems import documented
from act3_billing.observability import logger

app = make_resolver()


@app.get(
    "/orgs/<org_id>/storage",
    responses={
        200: {"description": "the org's storage"},
        401: documented("unauthenticated"),
        404: documented("not_found (also for non-members)"),
        422: documented("validation_error"),
    },
)
def get_storage(org_id: str) -> StorageResponse:
    ctx = storage.context(runtime.store(), runtime.storage(), runtime.objects(), caller(app), runtime.now())
    return StorageResponse.model_validate(storage.storage_view(ctx, org_id))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
