"""GET /orgs/{org_id}/ledger — the org's ledger, newest first, paginated, filterable; CSV on request."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import runtime, services
from act3_billing.domain.ledger import EntryType
from act3_billing.http.api import caller, make_resolver
from act3_billing.http.csv import ledger_csv
from act3_billing.http.models import LedgerPage
from act3_billing.observability import logger

app = make_resolver()


@app.get(
    "/orgs/<org_id>/ledger",
    summary="The org's append-only ledger, newest first, paginated and filterable",
)
def get_ledger(
    org_id: str,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    type: Annotated[EntryType | None, Query()] = None,
    job: Annotated[str | None, Query(max_length=128)] = None,
    member: Annotated[str | None, Query(max_length=128)] = None,
) -> Response[LedgerPage | str]:
    ctx = services.context(runtime.store(), caller(app), runtime.now())
    page = services.ledger(
        ctx,
        org_id,
        limit=limit,
        cursor=cursor,
        entry_type=type.value if type else None,
        job_id=job,
        member=member,
    )
    if "text/csv" in (app.current_event.headers.get("accept") or ""):
        headers = {"Content-Disposition": f'attachment; filename="ledger-{org_id}.csv"'}
        if page.next_cursor:
            headers["X-Next-Cursor"] = page.next_cursor
        return Response(200, "text/csv", ledger_csv(page), headers=headers)
    return Response(200, "application/json", page)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
