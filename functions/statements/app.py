"""GET /orgs/{org_id}/statements/{cycle} — the monthly usage statement PDF (S3, presigned URL)."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import runtime, services, statements
from act3_billing.config import settings
from act3_billing.http.api import caller, make_resolver
from act3_billing.http.contract import problems
from act3_billing.http.money_models import StatementOut
from act3_billing.observability import logger
from act3_billing.store.statements import StatementFiles

app = make_resolver()


@cache
def files() -> StatementFiles:
    return StatementFiles(os.environ.get("STATEMENTS_BUCKET", "act3-billing-statements"), settings().region)


@app.get(
    "/orgs/<org_id>/statements/<cycle>",
    summary="The month's usage statement as a PDF (a download link valid for a short while)",
    openapi_extensions=problems("forbidden_role"),
)
def get_statement(org_id: str, cycle: str) -> StatementOut:
    ctx = services.context(runtime.store(), caller(app), runtime.now())
    return StatementOut.model_validate(statements.statement(ctx, files(), runtime.orgs(), org_id, cycle))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
