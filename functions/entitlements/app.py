"""GET /orgs/{org_id}/entitlements — may this member generate now (and why not), the plan's features,
what they can spend, storage used / quota; cacheable for `cache_seconds` (Cache-Control)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import entitlements, runtime
from act3_billing.http.api import make_resolver, principal
from act3_billing.http.entitlement_models import EntitlementsResponse
from act3_billing.http.problems import documented
from act3_billing.observability import logger

app = make_resolver()

MemberId = Annotated[
    str | None,
    Query(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$",
        description="the member to answer for (the usage meter's; a member may name only themselves)",
    ),
]


@app.get(
    "/orgs/<org_id>/entitlements",
    responses={
        200: {
            "description": "the member's entitlements",
            "headers": {
                "Cache-Control": {
                    "description": "private, max-age=<cache_seconds>: how long the answer may be reused",
                    "schema": {"type": "string"},
                }
            },
        },
        401: documented("unauthenticated"),
        403: documented(
            "forbidden_role: a member asked for another member's view; forbidden_scope: a machine identity "
            "without billing/usage.read"
        ),
        404: documented("not_found (also for non-members, and for a member_id who is no member)"),
        422: documented("validation_error (also: the usage meter did not name the member)"),
    },
)
def get_entitlements(org_id: str, member_id: MemberId = None) -> Response[EntitlementsResponse]:
    now = runtime.now()
    catalog = runtime.catalog_cache().get(now)
    result = entitlements.view(
        runtime.entitlements(), runtime.store(), catalog, principal(app), org_id, member_id, now
    )
    return Response(
        status_code=200,
        content_type="application/json",
        body=entitlements.response(result),
        headers={"Cache-Control": f"private, max-age={result.cache_seconds}"},
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
