"""S3 Inventory: a new `manifest.json` in the inventory bucket -> every org's counters reconciled."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import runtime, storage
from act3_billing.domain.inventory import ManifestInvalid
from act3_billing.observability import logger


@logger.inject_lambda_context
@event_source(data_class=S3Event)
def lambda_handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    done = []
    for record in event.records:
        key = unquote_plus(record.s3.get_object.key)  # S3 sends keys URL-encoded
        if not key.endswith("manifest.json"):
            logger.info("not a manifest", extra={"key": key})
            continue
        try:
            summary = storage.reconcile_inventory(
                runtime.storage(), runtime.reports(), record.s3.bucket.name, key, runtime.now()
            )
        except ManifestInvalid as exc:
            # A retry cannot make it valid: say so loudly and leave the counters as they are.
            logger.error("inventory manifest refused", extra={"key": key, "reason": str(exc)})
            continue
        done.append(vars(summary))
    return {"reports": done}
