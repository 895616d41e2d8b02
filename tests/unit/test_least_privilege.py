"""Least privilege in template.yaml, for every function and every policy there is (so resources other
engineers add are held to it): inline statements only, no wildcard action or resource, each function
its own log group with a retention. Whether a policy is wide enough is checked by use: every handler
call in the integration tests must be allowed by its function's policy (tests/support/iam.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.support.iam import statements
from tests.support.template import load_template

RESOURCES: dict[str, Any] = load_template()["Resources"]
FUNCTIONS = sorted(k for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function")
# Services whose actions cannot name a resource (AWS documents "*" as their only resource).
RESOURCELESS = ("xray:", "cloudwatch:PutMetricData", "logs:CreateLogGroup")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def all_statements() -> list[tuple[str, dict[str, Any]]]:
    found = [(fn, s) for fn in FUNCTIONS for s in statements(fn)]
    for logical_id, resource in RESOURCES.items():
        if resource["Type"].startswith("AWS::IAM::") or resource["Type"].endswith("Policy"):
            text = json.dumps(resource.get("Properties", {}))
            for document in _documents(json.loads(text)):
                found.extend((logical_id, s) for s in _as_list(document.get("Statement", [])))
    return found


def _documents(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        here = [node] if "Statement" in node else []
        return here + [d for v in node.values() for d in _documents(v)]
    if isinstance(node, list):
        return [d for v in node for d in _documents(v)]
    return []


@pytest.mark.parametrize("function", FUNCTIONS)
def test_functions_use_their_own_inline_statements_only(function: str) -> None:
    for policy in RESOURCES[function]["Properties"].get("Policies", []):
        assert isinstance(policy, dict) and set(policy) <= {"Version", "Statement"}, (
            f"{function}: SAM policy templates and managed policies grant more than the function uses "
            f"(DynamoDBCrudPolicy: Scan, BatchWrite, every index); write the statements: {policy}"
        )


def _wildcard(resource: Any) -> bool:
    """A resource that is `*`, or a whole table, bucket, queue or bus by pattern. An object-key prefix
    (`${MediaBucket.Arn}/orgs/*`: objects are made at run time, under a layout the code owns) is not."""
    text = json.dumps(resource)
    if "*" not in text:
        return False
    stripped = text.replace("\\", "")
    return bool(re.search(r'"\*"|:\*|Arn\}/\*|:::[^/"]*/\*|/index/\*|\*[^"]', stripped))


def _one_of_our_services_only(statement: dict[str, Any]) -> bool:
    """A bucket policy's grant to an AWS service, held by `AWS:SourceArn` to one resource of this stack
    (CloudFront's origin access to the web app's bucket: the app's files are its whole content)."""
    principal = statement.get("Principal")
    source = (statement.get("Condition") or {}).get("StringEquals", {}).get("AWS:SourceArn")
    return isinstance(principal, dict) and set(principal) == {"Service"} and "${" in json.dumps(source)


def test_no_wildcard_action_or_resource_anywhere() -> None:
    for owner, statement in all_statements():
        if statement.get("Effect") != "Allow":
            continue  # a Deny (e.g. of plain-HTTP access to a bucket) may well cover everything
        if _one_of_our_services_only(statement):
            continue
        actions = _as_list(statement.get("Action", []))
        assert not any("*" in str(a) for a in actions), (owner, actions)
        if all(str(a).startswith(RESOURCELESS) for a in actions):
            continue
        for resource in _as_list(statement.get("Resource", [])):
            assert not _wildcard(resource), (owner, resource)


@pytest.mark.parametrize(
    ("resource", "wild"),
    [
        ("*", True),
        ({"Fn::Sub": "${MediaBucket.Arn}/*"}, True),
        ({"Fn::Sub": "arn:aws:s3:::bucket/*"}, True),
        ({"Fn::Sub": "${BillingTable.Arn}/index/*"}, True),
        ({"Fn::Sub": "${MediaBucket.Arn}/orgs/*"}, False),
        ({"Fn::GetAtt": ["BillingTable", "Arn"]}, False),
    ],
)
def test_what_counts_as_a_wildcard(resource: Any, wild: bool) -> None:
    assert _wildcard(resource) is wild


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_has_its_own_log_group_with_retention(function: str) -> None:
    groups = [
        r["Properties"]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::Logs::LogGroup"
        and r["Properties"].get("LogGroupName") == {"Fn::Sub": f"/aws/lambda/${{{function}}}"}
    ]
    assert len(groups) == 1, function
    assert 1 <= int(groups[0]["RetentionInDays"]) <= 3653
