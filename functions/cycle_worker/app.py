"""SQS (the cycle queue) -> one org's due work or one expired hold per message; failed messages
are reported back (partial batch response) and retried, then dead-lettered."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import cycles, runtime
from act3_billing.observability import logger, metrics

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> dict[str, Any]:
    message = json.loads(record.body)
    result = cycles.run_message(runtime.cycles(), message, runtime.now(), notifier=runtime.notifier())
    if result.get("rolled"):
        metrics.add_metric(name="CyclesStarted", unit=MetricUnit.Count, value=len(result["rolled"]))
    return result


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(process_partial_response(event, record_handler, processor, context))
