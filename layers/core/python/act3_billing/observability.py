"""One logger and one metrics object for the whole package (Powertools reads its settings from env).

Tracing is Lambda's own (`Tracing: Active` in the template); the X-Ray SDK is left out of the layer
to keep cold starts short.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()
