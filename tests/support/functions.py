"""Load a function's handler module from its folder (they are all called `app`) and call it."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

from tests.support.lambda_context import FakeLambdaContext
from tests.support.template import REPO_ROOT


@cache
def load(name: str) -> ModuleType:
    path = REPO_ROOT / "functions" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"functions_{name}_app", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None


def invoke(name: str, event: dict[str, Any]) -> Reply:
    """Call the handler; the AWS calls it makes must be allowed by its function's template policy."""
    from tests.support.iam import assert_allowed, recording

    with recording() as seen:
        raw = load(name).lambda_handler(event, FakeLambdaContext(function_name=name))
    assert_allowed(name, seen)
    headers = {k.lower(): v for k, v in (raw.get("headers") or {}).items()}
    text = raw.get("body") or ""
    body: Any = json.loads(text) if "json" in headers.get("content-type", "") and text else text
    reply = Reply(raw["statusCode"], headers, body)
    assert_documented(name, event, reply)
    return reply


@cache
def _document(name: str) -> dict[str, Any]:
    return json.loads(load(name).app.get_openapi_json_schema())  # type: ignore[no-any-return]


# Answered before the route's own contract applies: the authorizer's 401 (API Gateway's shape in the
# served document) and a route the function does not have.
_OUTSIDE_THE_ROUTE = frozenset({"unauthenticated", "route_not_found"})


def assert_documented(name: str, event: dict[str, Any], reply: Reply) -> None:
    """The OpenAPI, checked by use: a problem a handler answers in a test is listed for its route,
    under its status, and a success status is one the route documents."""
    route_key = str(event.get("routeKey") or "")
    method, _, path = route_key.partition(" ")
    if not path or not hasattr(load(name), "app") or reply.code in _OUTSIDE_THE_ROUTE:
        return
    operation = _document(name)["paths"].get(path.replace("+}", "}"), {}).get(method.lower())
    if operation is None:
        return  # a route key the function does not serve: its own test says what it expects
    response = operation["responses"].get(str(reply.status))
    assert response is not None, f"{route_key} answered {reply.status}, which its OpenAPI does not list"
    if reply.status >= 400 and reply.code:
        schema = response["content"]["application/problem+json"]["schema"]
        listed = schema["allOf"][1]["properties"]["code"]["enum"]
        assert reply.code in listed, f"{route_key} answered {reply.status} {reply.code}, not in {listed}"


def call(name: str, event: dict[str, Any], **extra: Any) -> Any:
    """A non-HTTP function (S3, SQS, schedule): its plain result (its AWS calls checked as invoke's).
    `extra` goes to the handler as keyword arguments (a stand-in queue, say)."""
    from tests.support.iam import assert_allowed, recording

    with recording() as seen:
        result = load(name).lambda_handler(event, FakeLambdaContext(function_name=name), **extra)
    assert_allowed(name, seen)
    return result
