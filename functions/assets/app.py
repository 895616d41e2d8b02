"""GET /orgs/{org_id}/assets/{key} — a presigned download of one asset (text stays downloadable in archive).

The key is the asset's path below the org (`projects/{project}/{media|text}/{name}`), sent as is
(API Gateway's greedy `{key+}`) or URL-encoded as one segment.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import runtime, storage
from act3_billing.http.api import caller, make_resolver
from act3_billing.http.models import AssetResponse
from act3_billing.http.problems import documented
from act3_billing.observability import logger

app = make_resolver()


@app.get(
    "/orgs/<org_id>/assets/<key>",
    responses={
        200: {"description": "the download URL"},
        401: documented("unauthenticated"),
        404: documented("not_found (no such asset; also for non-members)"),
        422: documented("validation_error"),
        410: documented("media_purged: the archive purge deleted the org's media"),
    },
)
def get_asset(org_id: str, key: str) -> AssetResponse:
    ctx = storage.context(runtime.store(), runtime.storage(), runtime.objects(), caller(app), runtime.now())
    return AssetResponse.model_validate(storage.asset_url(ctx, org_id, unquote(key)))


def _one_segment(event: dict[str, Any]) -> dict[str, Any]:
    """Route a greedy key as one segment (its slashes encoded), as the resolver's route expects."""
    params = event.get("pathParameters") or {}
    org_id, key = params.get("org_id"), params.get("key")
    if org_id and key:
        try:
            raw_path = f"/orgs/{quote(org_id, safe='')}/assets/{quote(key, safe='')}"
        except UnicodeEncodeError:
            return event  # not text any path can hold (a lone surrogate): the resolver's guard refuses it
        event = {**event, "rawPath": raw_path}
    return event


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(_one_segment(event), context)
