"""GET /me — the caller's orgs and roles; makes the personal org on first sign-in."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import organizations, runtime
from act3_billing.http.api import caller, make_resolver
from act3_billing.http.contract import problems
from act3_billing.http.models import MeResponse
from act3_billing.observability import logger

app = make_resolver()


@app.get(
    "/me",
    summary="The caller's organizations and roles (the personal org is made on first sign-in)",
    openapi_extensions=problems("forbidden_scope"),
)
def get_me() -> MeResponse:
    ctx = organizations.org_context(runtime.store(), runtime.orgs(), caller(app), runtime.now())
    return organizations.me(ctx)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
