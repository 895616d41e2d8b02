"""The running local stack, started once per session, over real HTTP.

Two stacks: the product (``template.yaml``) and a small fixture template (``tests/fixtures/local_stack``)
that has one function of each trigger kind the product will grow (function URL, schedule, S3 events).
Each runs on free ports with its own temporary state folder, and is stopped at the end of the session.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.stack_process import REPO_ROOT, StackProcess

FIXTURE_TEMPLATE = REPO_ROOT / "tests" / "fixtures" / "local_stack" / "template.yaml"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def product_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    # With localstripe: the money routes (issue 8) answer from it instead of waiting on an unreachable Stripe.
    stack = StackProcess(REPO_ROOT / "template.yaml", tmp_path_factory.mktemp("local-product"), stripe=True)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def fixture_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    stack = StackProcess(FIXTURE_TEMPLATE, tmp_path_factory.mktemp("local-fixture"))
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def demo(product_stack: StackProcess) -> dict[str, Any]:
    """The demo studio (`make seed`) on the product stack: its org id and a member per role with a token."""
    seeded = product_stack.cli("seed", "--json")
    assert seeded.returncode == 0, seeded.stderr + seeded.stdout
    result: dict[str, Any] = json.loads(seeded.stdout)
    return result
