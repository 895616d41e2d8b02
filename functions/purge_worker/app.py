"""The purge queue: one org per message, its media purged (resumable: an org not finished in time is queued
again to carry on); failed messages come back alone (partial batch failures)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import runtime, storage
from act3_billing.observability import logger

processor = BatchProcessor(event_type=EventType.SQS)
SPARE_MILLIS = 5_000  # stop starting batches this long before the timeout
_context: dict[str, LambdaContext | None] = {"current": None}


def _keep_going() -> bool:
    context = _context["current"]
    return context is None or context.get_remaining_time_in_millis() > SPARE_MILLIS


def purge(record: SQSRecord) -> None:
    org_id, archived_at = storage.purge_message(record.body)
    result = storage.purge_org(
        runtime.storage(), runtime.objects(), org_id, archived_at, runtime.now(), _keep_going
    )
    logger.info("purge", extra=vars(result))
    if result.status == "running":
        # Out of time, not failing: queue the rest as a new message (its receive count starts again,
        # so a very large org never reaches the dead-letter queue just for being large).
        runtime.purge_queue().send([{"org_id": org_id, "archived_at": archived_at}])


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _context["current"] = context
    response = process_partial_response(
        event=event, record_handler=purge, processor=processor, context=context
    )
    return dict(response)
