"""S3 ObjectCreated / ObjectRemoved events of the media bucket -> the per-org storage meter."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import runtime, storage
from act3_billing.observability import logger, metrics


@logger.inject_lambda_context
@metrics.log_metrics
@event_source(data_class=S3Event)
def lambda_handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    summary = storage.meter_events(
        runtime.storage(), (record.raw_event for record in event.records), runtime.notifier, runtime.now()
    )
    metrics.add_metric(name="StorageEventsApplied", unit=MetricUnit.Count, value=summary.applied)
    return {
        "applied": summary.applied,
        "duplicates": summary.duplicates,
        "ignored": summary.ignored,
        "notified": list(summary.notified),
    }
