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
    return Reply(raw["statusCode"], headers, body)


def call(name: str, event: dict[str, Any]) -> Any:
    """A non-HTTP function (S3, SQS, schedule): its plain result (its AWS calls checked as invoke's)."""
    from tests.support.iam import assert_allowed, recording

    with recording() as seen:
        result = load(name).lambda_handler(event, FakeLambdaContext(function_name=name))
    assert_allowed(name, seen)
    return result
