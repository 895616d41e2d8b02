"""Session-wide fixtures. App-specific ones live in tests/integration and tests/emulator conftests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[str]:
    """Endpoint URL of an in-memory DynamoDB Local on a free port, shared by the whole session.

    Started only when a test asks for it; the JVM is stopped at session end (and dies with pytest).
    """
    from act3_local import dynamodb_local as ddb

    server = ddb.start()
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and region, so nothing can reach a real AWS account."""
    from tests.support.moto_stack import fake_aws

    fake_aws(monkeypatch)
