"""Session-wide fixtures. App-specific ones live in tests/integration and tests/emulator conftests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# The package makes its Metrics at import, reading the namespace from the environment (as every function
# in template.yaml has it). Set here, before any test imports it, so the order tests run in (or how
# `pytest -n 2` deals them out) cannot leave a process with a namespace-less metrics object.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Act3Billing")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "act3-billing")


def _share_botocore_loader() -> None:
    """Every botocore session of the test process shares one data loader, so the service models and
    endpoint rules are parsed once per process, not once per session.

    The tests make a fresh store, so fresh PynamoDB connections and boto3 sessions, for nearly every
    test; each new session parsed ~1 MB of JSON (about 40 % of an integration test's time). A Lambda
    container makes its sessions once, so production code is left as it is. The loader's own cache
    already hands one object to every caller of one session; this widens that to the process.
    """
    import botocore.loaders
    import botocore.session

    made: dict[str | None, botocore.loaders.Loader] = {}
    create = botocore.loaders.create_loader

    class Paths(list[str]):
        """Each boto3 Session appends its data folder to its loader's paths: once is enough here."""

        def append(self, path: str) -> None:
            if path not in self:
                super().append(path)

    def shared(search_path_string: str | None = None) -> botocore.loaders.Loader:
        if search_path_string not in made:
            loader = create(search_path_string)
            loader._search_paths = Paths(loader.search_paths)
            made[search_path_string] = loader
        return made[search_path_string]

    botocore.session.create_loader = shared


_share_botocore_loader()


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
