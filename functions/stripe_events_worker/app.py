"""SQS (the stripe-events queue) -> one verified Stripe event per message, applied with idempotent steps
and marked done with what it did. A retryable failure (DynamoDB unavailable, a conflict that kept
repeating) is reported back as a batch item failure; SQS delivers it again, then dead-letters it."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import runtime, stripe_events
from act3_billing.observability import logger, metrics

# every failed message is reported (all of them too), so SQS retries exactly those, then dead-letters them
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> str:
    event = json.loads(record.body)
    ports = stripe_events.Ports(runtime.store(), runtime.payments(), runtime.debts(), runtime.now())
    result = stripe_events.process(ports, event)
    logger.info(
        "stripe event applied", extra={"event": event.get("id"), "type": event.get("type"), "result": result}
    )
    metrics.add_metric(name="StripeEventsApplied", unit=MetricUnit.Count, value=1)
    return result


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(process_partial_response(event, record_handler, processor, context))
