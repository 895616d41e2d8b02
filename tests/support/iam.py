"""Least privilege, checked by use: every AWS call a handler makes in a test must be allowed by its
function's own policy in template.yaml (and nothing there may use a wildcard on our resources).

`tests.support.functions.invoke` records the calls a handler makes (botocore's client is where boto3
and PynamoDB meet) and asserts them against `allowed_by_template`: a policy that is too narrow fails
the test that needed more, a route added later is covered by its own tests, with no list kept here.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore.client import BaseClient
from botocore.signers import RequestSigner, S3PostPresigner

from tests.support.template import load_template

# The item-level action each part of a transaction needs (TransactWriteItems is not an IAM action).
_TRANSACT_PARTS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
# Reads and writes of items only: describing or changing the table is never a handler's business.
_SERVICE_PREFIX = {
    "dynamodb": "dynamodb",
    "ses": "ses",
    "sesv2": "ses",
    "s3": "s3",
    "sqs": "sqs",
    "events": "events",
}


@dataclass(frozen=True)
class Need:
    action: str  # e.g. dynamodb:GetItem
    resource: str  # a symbolic resource: "BillingTable", "BillingTable/index/gsi1", "*"


# API operations whose IAM action has another name.
_ACTION_OF = {
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjects": "s3:ListBucket",
    "s3:HeadObject": "s3:GetObject",
    "s3:DeleteObjects": "s3:DeleteObject",
    "s3:HeadBucket": "s3:ListBucket",
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sesv2:SendEmail": "ses:SendEmail",
}


def needs(service: str, operation: str, params: dict[str, Any]) -> list[Need]:
    prefix = _SERVICE_PREFIX.get(service, service)
    if service != "dynamodb":
        action = f"{prefix}:{operation}"
        return [Need(_ACTION_OF.get(f"{service}:{operation}", _ACTION_OF.get(action, action)), "*")]
    if operation == "TransactWriteItems":
        found: list[Need] = []
        for item in params.get("TransactItems", []):
            for part, action in _TRANSACT_PARTS.items():
                if part in item:
                    found.append(Need(f"dynamodb:{action}", "BillingTable"))
        return found
    if operation == "TransactGetItems":
        return [Need("dynamodb:GetItem", "BillingTable")]
    index = params.get("IndexName")
    return [Need(f"dynamodb:{operation}", f"BillingTable/index/{index}" if index else "BillingTable")]


def _resource_symbol(resource: Any) -> str:
    """The template's resource expression, as a symbol `needs` can be compared with."""
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        return str(resource["Fn::GetAtt"][0])
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        text = resource["Fn::Sub"] if isinstance(resource["Fn::Sub"], str) else resource["Fn::Sub"][0]
        # ${BillingTable.Arn}/index/gsi1 -> BillingTable/index/gsi1; arn:...:identity/${MailIdentity}
        text = str(text).replace(".Arn}", "}")
        if text.startswith("${") and "}" in text:
            name, _, rest = text[2:].partition("}")
            return name + rest
        return text
    return str(resource)


def statements(logical_id: str) -> list[dict[str, Any]]:
    """The inline policy statements of a function (SAM policy templates are not used: see template)."""
    properties = load_template()["Resources"][logical_id].get("Properties", {})
    found: list[dict[str, Any]] = []
    for policy in properties.get("Policies", []):
        if isinstance(policy, dict) and "Statement" in policy:
            found.extend(policy["Statement"])
    return found


@cache
def _grants(logical_id: str) -> tuple[tuple[frozenset[str], frozenset[str]], ...]:
    grants = []
    for statement in statements(logical_id):
        if statement.get("Effect") != "Allow":
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        grants.append((frozenset(actions), frozenset(_resource_symbol(r) for r in resources)))
    return tuple(grants)


def allowed(logical_id: str, need: Need) -> bool:
    """Whether one of the function's statements grants the action on that resource (or, for services
    whose resource the request does not name here, on any resource of its own)."""
    return any(
        need.action in actions and (need.resource == "*" or need.resource in resources)
        for actions, resources in _grants(logical_id)
    )


@cache
def function_of_folder(folder: str) -> str | None:
    for logical_id, resource in load_template()["Resources"].items():
        if resource.get("Type") == "AWS::Serverless::Function":
            code_uri = str(resource.get("Properties", {}).get("CodeUri", "")).strip("/")
            if code_uri.split("/")[-1] == folder:
                return str(logical_id)
    return None


_recordings = threading.local()  # per thread: the recordings open on it, innermost last


def _open_here() -> list[list[Need]]:
    if not hasattr(_recordings, "stack"):
        _recordings.stack = []
    return _recordings.stack  # type: ignore[no-any-return]


@contextmanager
def recording() -> Iterator[list[Need]]:
    """The AWS calls made inside the block, as the permissions they need.

    Only the handler's own calls count: those on this thread while this is its innermost recording (a
    handler invoked inside another, say a webhook a test server answers, records its own), and those of
    threads this thread starts inside the block (a handler's thread pool). Other threads' calls at the
    same time (a test harness serving a stand-in, and the threads it starts) are not the handler's."""
    original = BaseClient._make_api_call
    original_start = threading.Thread.start
    seen: list[Need] = []
    here = threading.get_ident()

    def start(thread: threading.Thread) -> None:
        thread._act3_started_by = threading.get_ident()  # type: ignore[attr-defined]
        original_start(thread)

    def mine() -> bool:
        if threading.get_ident() == here:
            open_here = _open_here()
            return bool(open_here) and open_here[-1] is seen
        started_by = getattr(threading.current_thread(), "_act3_started_by", None)
        return started_by == here and not _open_here()

    def record(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if mine():
            seen.extend(needs(self.meta.service_model.service_name, operation, params))
        return original(self, operation, params)

    # A presigned URL or POST is used later, by someone else, with this function's permissions: the
    # operation it signs is a call the function makes as far as IAM is concerned.
    original_url = RequestSigner.generate_presigned_url
    original_post = S3PostPresigner.generate_presigned_post

    def presign_url(self: Any, request_dict: Any, operation_name: str, *args: Any, **kwargs: Any) -> Any:
        if mine():
            seen.extend(needs(str(self._signing_name), operation_name, {}))
        return original_url(self, request_dict, operation_name, *args, **kwargs)

    def presign_post(self: Any, *args: Any, **kwargs: Any) -> Any:
        if mine():
            seen.extend(needs("s3", "PutObject", {}))
        return original_post(self, *args, **kwargs)

    BaseClient._make_api_call = record
    threading.Thread.start = start  # type: ignore[method-assign, assignment]
    RequestSigner.generate_presigned_url = presign_url
    S3PostPresigner.generate_presigned_post = presign_post
    _open_here().append(seen)
    try:
        yield seen
    finally:
        open_here = _open_here()
        del open_here[next(i for i, s in enumerate(open_here) if s is seen)]
        BaseClient._make_api_call = original
        threading.Thread.start = original_start  # type: ignore[method-assign]
        RequestSigner.generate_presigned_url = original_url
        S3PostPresigner.generate_presigned_post = original_post


def assert_allowed(folder: str, seen: list[Need]) -> None:
    logical_id = function_of_folder(folder)
    if logical_id is None:
        return
    record = os.environ.get("ACT3_IAM_RECORD")  # a file: list what each function used, check nothing
    if record:
        with open(record, "a") as out:
            out.writelines(f"{logical_id} {n.action} {n.resource}\n" for n in seen)
        return
    missing = sorted({f"{n.action} on {n.resource}" for n in seen if not allowed(logical_id, n)})
    assert not missing, f"{logical_id}'s policy in template.yaml does not allow: {missing}"
