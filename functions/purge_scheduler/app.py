"""The purge schedule: the orgs whose media purge is due (an index query) go to the purge queue."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import runtime, storage
from act3_billing.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return {"queued": storage.schedule_purges(runtime.storage(), runtime.purge_queue(), runtime.now())}
