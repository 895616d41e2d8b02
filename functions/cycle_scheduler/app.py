"""EventBridge schedules -> the orgs (or holds) that are due, found through the due indexes, fanned
out to the cycle queue: `{"job": "cycles"}` every 15 minutes, `{"job": "holds"}` every 5 minutes."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import cycles, runtime
from act3_billing.observability import logger, metrics
from act3_billing.queue import Queue


def _queue() -> Queue:
    from act3_billing.config import settings
    from act3_billing.queue import SqsQueue

    url = settings().cycle_queue_url
    if not url:
        raise RuntimeError("CYCLE_QUEUE_URL is not set")
    return SqsQueue(url, settings().region)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, queue: Queue | None = None
) -> dict[str, Any]:
    job = str((event or {}).get("job") or "cycles")
    messages = cycles.due_messages(runtime.cycles(), job, runtime.now())
    sent = (queue or _queue()).send(messages)
    metrics.add_metric(name="CycleJobsEnqueued", unit=MetricUnit.Count, value=sent)
    logger.info("fanned out", extra={"job": job, "messages": sent})
    return {"job": job, "enqueued": sent}
