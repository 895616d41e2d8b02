"""The bench's own arithmetic: item sizes by DynamoDB's rules, and its exit on a failed check."""

from __future__ import annotations

import copy
from typing import Any

from tests.bench.__main__ import correctness
from tests.bench.capacity import item_size, transactional_wcu
from tests.support.dynamo_limits import value_size


def test_sizes_follow_dynamodbs_rules() -> None:
    assert value_size({"S": "héllo"}) == 6  # UTF-8 bytes
    assert value_size({"N": "12345"}) == 4  # 5 significant digits: 3 bytes + 1
    assert value_size({"N": "1000"}) == 2  # trailing zeros do not count
    assert value_size({"BOOL": True}) == value_size({"NULL": True}) == 1
    assert value_size({"L": []}) == value_size({"M": {}}) == 3
    assert value_size({"M": {"a": {"S": "xy"}}}) == 3 + 1 + 1 + 2
    assert item_size({"pk": {"S": "ORG#o"}, "n": {"N": "7"}}) == 2 + 5 + 1 + 2


def test_transactional_writes_cost_two_units_per_started_kb() -> None:
    assert transactional_wcu(1) == 2
    assert transactional_wcu(1024) == 2
    assert transactional_wcu(1025) == 4
    assert transactional_wcu(400 * 1024) == 800


def _good() -> dict[str, Any]:
    return {
        "requests_per_debit_fast_path": 1.0,
        "fast_path": {"unexpected_requests": []},
        "multi_lot": {"unexpected_requests": [], "lots_per_debit": {"2": 10, "3": 4}},
        "hot_org_balance_ok": True,
        "hot_org_outcomes": {"ok": 100},
        "raw_transaction_balance_ok": True,
        "realistic": {"balance_ok": True, "member_spent_ok": True},
        "wcu_per_debit": 10,
    }


def test_a_failed_check_is_reported() -> None:
    assert all(correctness(_good()).values())
    for path, bad in (
        (("hot_org_balance_ok",), False),
        (("hot_org_outcomes",), {"ok": 90, "Conflict": 10}),
        (("realistic", "member_spent_ok"), False),
        (("multi_lot", "lots_per_debit"), {"1": 3, "2": 7}),
    ):
        result = copy.deepcopy(_good())
        target = result
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = bad
        assert not all(correctness(result).values()), path
