"""DynamoDB failing (unreachable, throttled, 5xx) is 503 `unavailable` with Retry-After on every route,
and nothing changes; a bug (anything else raised) is still a 500, never dressed up as retryable."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from act3_billing.store.faults import is_unavailable
from act3_billing.store.wallets import BillingStore
from tests.integration.test_fuzz_contract import ROUTES, assert_contract, folder, table_items
from tests.support.events import http_event
from tests.support.functions import invoke
from tests.support.wallets import new_org


def _throttled() -> Exception:
    error: Exception = ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "slow down"}, "ResponseMetadata": {}},
        "GetItem",
    )
    return error


def _server_error() -> Exception:
    error: Exception = ClientError(
        {
            "Error": {"Code": "InternalServerError", "Message": "x"},
            "ResponseMetadata": {"HTTPStatusCode": 500},
        },
        "Query",
    )
    return error


FAULTS: dict[str, Callable[[], Exception]] = {
    "unreachable": lambda: EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
    "timeout": lambda: ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
    "throttled": _throttled,
    "server_error": _server_error,
}


@contextmanager
def dynamodb_failing(fault: Callable[[], Exception]) -> Iterator[list[str]]:
    """Every DynamoDB call (boto3's or PynamoDB's, both go through botocore's client) raises `fault`;
    yields the operations that were tried."""
    original = BaseClient._make_api_call
    tried: list[str] = []

    def failing(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            tried.append(operation)
            raise fault()
        return original(self, operation, params)

    BaseClient._make_api_call = failing
    try:
        yield tried
    finally:
        BaseClient._make_api_call = original


def _files() -> dict[str, dict[str, Any]]:
    from tests.support.events import EVENTS, _load

    return {p.stem: _load(p.stem) for p in EVENTS.glob("http/*.json")}


@pytest.mark.parametrize("route", ROUTES, ids=[r.route_key for r in ROUTES])
def test_a_failing_database_is_503_with_retry_after(store: BillingStore, route: Any) -> None:
    stems = {e["routeKey"]: stem for stem, e in _files().items()}
    if route.route_key not in stems:
        pytest.skip(f"no sample event for {route.route_key} in events/http")
    org = new_org(store)
    before = table_items()
    for name, fault in FAULTS.items():
        event = http_event(stems[route.route_key], org_id=org.org_id, user=org.owner)
        with dynamodb_failing(fault) as tried:
            reply = invoke(folder(route), event)
        assert_contract(reply, f"{route.route_key} {name}")
        if tried:  # it needed the table and could not have it: nothing else is the truth
            assert (reply.status, reply.code) == (503, "unavailable"), (name, tried, reply.body)
            assert reply.headers.get("retry-after", "").isdigit(), reply.headers
        assert table_items() == before


def test_what_counts_as_unavailable() -> None:
    assert is_unavailable(_throttled())
    assert is_unavailable(_server_error())
    assert is_unavailable(FAULTS["unreachable"]())
    wrapped = RuntimeError("pynamodb wrapper")
    wrapped.__cause__ = _throttled()
    assert is_unavailable(wrapped)
    validation = ClientError({"Error": {"Code": "ValidationException", "Message": "bad"}}, "PutItem")
    assert not is_unavailable(validation)
    assert not is_unavailable(KeyError("a bug"))


def test_a_bug_is_still_a_500(store: BillingStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from act3_billing import usage

    org = new_org(store)

    def broken(*_: Any, **__: Any) -> Any:
        raise KeyError("a bug")

    monkeypatch.setattr(usage, "debit", broken)
    with pytest.raises(KeyError):
        invoke("debits", http_event("debit_create", org_id=org.org_id, user=org.creator))
