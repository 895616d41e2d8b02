"""Which exceptions from the database client mean "DynamoDB did not answer", so nothing changed and
the caller may retry: the HTTP layer answers those with 503 `unavailable`, and anything else raised
is a bug that must surface as one (never dressed up as a retryable answer)."""

from __future__ import annotations

# Error codes DynamoDB (or the network in front of it) answers when the request may be retried as is.
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TransactionConflictException",
        "TransactionInProgressException",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "LimitExceededException",
    }
)


def _code(error: BaseException) -> str | None:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return getattr(error, "cause_response_code", None)


def is_unavailable(error: BaseException) -> bool:
    """True when `error` (or what caused it) is the database being unreachable, throttled or failing."""
    from botocore.exceptions import (
        ConnectionError,
        ConnectTimeoutError,
        EndpointConnectionError,
        HTTPClientError,
        ReadTimeoutError,
    )

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        network = ConnectionError | ConnectTimeoutError | EndpointConnectionError | HTTPClientError
        if isinstance(current, network | ReadTimeoutError):
            return True
        if _code(current) in RETRYABLE_CODES:
            return True
        status = (getattr(current, "response", None) or {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(status, int) and status >= 500:
            return True
        wrapped = getattr(current, "cause", None)  # PynamoDB keeps botocore's error here
        current = wrapped if isinstance(wrapped, BaseException) else current.__cause__ or current.__context__
    return False
