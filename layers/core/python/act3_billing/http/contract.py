"""The OpenAPI document says what the code does: statuses, problem codes, required headers, prose.

Powertools generates each function's document from its routes and pydantic models; `document()` then
makes it true to the API's own rules, the same for every route (so a route added later is covered):
- every refusal a route can give is listed under its status, as `application/problem+json` with the
  `code`s it carries: the ones that follow from the route's shape (every route: `validation_error`; a
  POST/PUT/PATCH: `malformed_json`, `unsupported_media_type`; an id in the path: `not_found` and
  `forbidden_scope` (a member's token on a machine's route or the other way round); an
  `Idempotency-Key`: `idempotency_key_required`, `idempotency_key_reuse`, `conflict`; every route:
  `unavailable` with `Retry-After`) and the domain's own, declared on the route with
  `openapi_extensions=problems(...)`;
- `Idempotency-Key` is a required header where the route takes one (the handler answers 400
  `idempotency_key_required` without it, so it is declared optional to the validator only);
- the summary and description come from the handler's docstring, examples from the models.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from typing import Any

from act3_billing.domain.errors import GenerationDisabled
from act3_billing.http.problems import PROBLEM_TYPE_BASE, RETRY_AFTER_SECONDS, STATUS_BY_CODE

EXTENSION = "x-problems"
IDEMPOTENCY_HEADER = "idempotency-key"
_METHODS = ("get", "put", "post", "delete", "patch")
_PROBLEM_REF = "#/components/schemas/Problem"

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `code` is stable, `detail` is for people. Some codes add "
    "fields (insufficient_credits: `shortfall` and `options`; validation_error: `errors`).",
    "type": "object",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string", "examples": [PROBLEM_TYPE_BASE + "insufficient_credits"]},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "code": {"type": "string", "examples": ["insufficient_credits"]},
        "detail": {"type": "string"},
    },
    "additionalProperties": True,
}

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying with the same Idempotency-Key",
        "schema": {"type": "integer", "minimum": 0, "examples": [RETRY_AFTER_SECONDS]},
    }
}


# What the one spending decision (domain/spending.py) refuses with, on every route that spends (holds,
# their extension, debits); `generation_disabled` brings its particular forms along in `problems`.
SPEND_REFUSALS = (
    "forbidden_role",
    "shared_credits_disabled",
    "generation_disabled",
    "insufficient_credits",
    "member_limit_exceeded",
)


def problems(*codes: str) -> dict[str, Any]:
    """The domain refusals a route can give, for `@app.post(..., openapi_extensions=problems(...))`."""
    unknown = [c for c in codes if c not in STATUS_BY_CODE]
    if unknown:
        raise ValueError(f"no status for problem codes {unknown}; add them to STATUS_BY_CODE")
    found = set(codes)
    if "generation_disabled" in found:
        # the same refusal, in its particular forms (a trial past its end, a renewal not paid, ...)
        found |= {cls.code for cls in _subclasses(GenerationDisabled)}
    return {EXTENSION: sorted(found)}


def _subclasses(cls: type[GenerationDisabled]) -> set[type[GenerationDisabled]]:
    direct: set[type[GenerationDisabled]] = set(cls.__subclasses__())
    return direct.union(*(_subclasses(c) for c in direct))


def shape_codes(method: str, operation: dict[str, Any]) -> set[str]:
    """The refusals that follow from the route's shape alone (and from `guard`, which reads every
    header and query value and, for POST/PUT/PATCH, the body, whether the route uses it or not)."""
    codes = {"unavailable", "validation_error"}
    parameters = operation.get("parameters") or []
    if operation.get("requestBody") or method in ("post", "put", "patch"):
        codes |= {"malformed_json", "unsupported_media_type"}
    if any(p.get("in") == "path" for p in parameters):
        # an org's route: a member's or a machine's, each refused the other's (forbidden_scope)
        codes |= {"not_found", "forbidden_scope"}
    if any(_is_idempotency_key(p) for p in parameters):
        codes |= {"idempotency_key_required", "idempotency_key_reuse", "conflict"}
    if operation.get("security"):
        codes.add("unauthenticated")
    return codes


def _is_idempotency_key(parameter: dict[str, Any]) -> bool:
    return parameter.get("in") == "header" and str(parameter.get("name", "")).lower() == IDEMPOTENCY_HEADER


def add_problems(operation: dict[str, Any], codes: Iterable[str]) -> None:
    """List `codes` (merged with what is there) under their statuses as problem+json responses."""
    responses = operation.setdefault("responses", {})
    by_status: dict[int, set[str]] = {}
    notes: dict[int, str] = {}
    for status_text, existing in responses.items():
        if not status_text.isdigit() or int(status_text) < 400 or not isinstance(existing, dict):
            continue
        status = int(status_text)
        known = existing.get("x-codes")
        if not known:  # declared by hand on the route (`responses=`): the codes its description names
            prose = str(existing.get("description", ""))
            known = [w for w in re.findall(r"[a-z][a-z_]+", prose) if STATUS_BY_CODE.get(w) == status]
            if prose and not set(prose.replace(",", " ").split()) <= set(known):
                notes[status] = prose
        by_status.setdefault(status, set()).update(known)
    for code in codes:
        by_status.setdefault(STATUS_BY_CODE[code], set()).add(code)
    for status, status_codes in sorted(by_status.items()):
        ordered = sorted(status_codes)
        listed = ", ".join(f"`{c}`" for c in ordered)
        response: dict[str, Any] = {
            "description": f"{listed}: {notes[status]}" if status in notes else listed,
            "x-codes": ordered,
            "content": {
                "application/problem+json": {
                    "schema": {
                        "allOf": [
                            {"$ref": _PROBLEM_REF},
                            {"type": "object", "properties": {"code": {"type": "string", "enum": ordered}}},
                        ]
                    }
                }
            },
        }
        if status == 503:
            response["headers"] = _RETRY_AFTER
        responses[str(status)] = response


def _prose(func: Any) -> tuple[str | None, str | None]:
    doc = inspect.getdoc(func) if func is not None else None
    if not doc:  # no docstring: the handler's name says what it does (create_media_deletion)
        name = getattr(func, "__name__", "")
        return (name.replace("_", " ").capitalize() or None), None
    first, _, rest = doc.partition("\n")
    return first.strip().rstrip("."), rest.strip() or None


def document(doc: dict[str, Any], handlers: dict[tuple[str, str], Any] | None = None) -> dict[str, Any]:
    """Make a Powertools OpenAPI document true to the API's contract (in place, and returned).

    `handlers` maps (method, path) to the handler function, for the summary and description."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for generated in ("HTTPValidationError", "ValidationError"):
        schemas.pop(generated, None)  # Powertools' 422 shape; ours is a Problem
    for path, item in (doc.get("paths") or {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            summary, description = _prose((handlers or {}).get((method, path)))
            if summary and operation.get("summary", "").startswith(method.upper() + " "):
                operation["summary"] = summary
            if description and not operation.get("description"):
                operation["description"] = description
            for parameter in operation.get("parameters") or []:
                if _is_idempotency_key(parameter):
                    parameter["name"] = "Idempotency-Key"
                    parameter["required"] = True
                    parameter["description"] = (
                        "Your key for this request: a retry with the same key and body returns the "
                        "first answer (Idempotent-Replayed: true), another body is 409."
                    )
                    parameter["schema"] = {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 255,
                        "pattern": "^[!-~]+$",
                        "examples": ["render-42-capture"],
                    }
            responses = operation.setdefault("responses", {})
            if "204" in responses:
                responses["204"].pop("content", None)  # No Content: no body, no Content-Type
            responses.pop("422", None)  # Powertools' own; re-added below as a Problem
            add_problems(operation, shape_codes(method, operation) | set(operation.pop(EXTENSION, [])))
    return doc


def handlers_of(routes: Iterable[Any]) -> dict[tuple[str, str], Any]:
    """(method, OpenAPI path) -> handler function, from Powertools' registered routes."""
    found: dict[tuple[str, str], Any] = {}
    for route in routes:
        path = getattr(route, "openapi_path", None)
        if path:
            found[(str(route.method).lower(), path)] = route.func
    return found
