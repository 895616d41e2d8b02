"""The request as a client sent it is checked here, once, before any handler or parser sees it.

API Gateway hands a function whatever the client sent: bytes that are not UTF-8, base64 that is not
base64, JSON with NaN or a 10,000-digit number, strings with lone surrogates (valid JSON escapes that
no database can store), nesting deeper than any parser's stack, form or multipart bodies. Each of
those becomes a 4xx problem here, with a stable code, so no client input can reach a 500 and nothing
downstream has to re-check it.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 32
MAX_INT_DIGITS = 30  # beyond every amount the API accepts (credits <= 10^9), far below int()'s limits
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class Refused(Exception):
    """The request cannot be read; `code` is the problem's stable code."""

    def __init__(self, code: str, title: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.title = title
        self.detail = detail


def _bad_json(detail: str) -> Refused:
    return Refused("malformed_json", "The body is not valid JSON", detail)


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise Refused("validation_error", "The request is not valid", "a number in the body is out of range")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise Refused("validation_error", "The request is not valid", "a number in the body is out of range")
    return value


def _constant(name: str) -> Any:
    raise _bad_json(f"{name} is not JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _bad_json("an object repeats a key")
    return result


def loads(text: str | bytes) -> Any:
    """JSON as RFC 8259 defines it: no NaN/Infinity, no repeated keys, numbers in range, valid Unicode,
    bounded nesting. Raises `Refused`."""
    try:
        value = json.loads(
            text,
            parse_int=_int,
            parse_float=_float,
            parse_constant=_constant,
            object_pairs_hook=_no_duplicates,
        )
    except Refused:
        raise
    except RecursionError:
        raise _bad_json(f"the body nests deeper than {MAX_DEPTH} levels") from None
    except (ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
        raise _bad_json("the request body could not be parsed") from exc
    _check_tree(value)
    return value


def _check_tree(value: Any) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _bad_json(f"the body nests deeper than {MAX_DEPTH} levels")
        if isinstance(node, str):
            _unicode(node, "a string in the body")
        elif isinstance(node, dict):
            for key, item in node.items():
                _unicode(key, "a key in the body")
                stack.append((item, depth + 1))
        elif isinstance(node, list):
            stack.extend((item, depth + 1) for item in node)


def _unicode(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad_json(f"{what} is not valid Unicode (a lone surrogate)") from None


def _text_values(where: str, values: Any) -> None:
    if values is None:
        return
    if not isinstance(values, Mapping):
        raise Refused("validation_error", "The request is not valid", f"the {where} cannot be read")
    for name, value in values.items():
        for text in (name, value):
            if text is None:
                continue
            if not isinstance(text, str):
                raise Refused("validation_error", "The request is not valid", f"the {where} cannot be read")
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise Refused(
                    "validation_error", "The request is not valid", f"a {where} value is not valid Unicode"
                ) from None


def check_text(where: str, values: Any) -> None:
    """`Refused` unless `values` (headers, query parameters) maps text to text, all valid Unicode."""
    _text_values(where, values)


def is_json_media_type(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def body_text(event: Mapping[str, Any]) -> str | None:
    """The body as text (base64 undone), or `Refused` when it is not UTF-8 or not base64."""
    body = event.get("body")
    if body is None or body == "":
        return None
    if not isinstance(body, str):
        raise _bad_json("the request body could not be read")
    if not event.get("isBase64Encoded"):
        return body
    try:
        return base64.b64decode(body.encode("ascii"), validate=True).decode("utf-8")
    except (UnicodeError, binascii.Error, ValueError):
        raise _bad_json("the request body is not UTF-8 JSON") from None


def method_of(event: Mapping[str, Any]) -> str:
    context = event.get("requestContext") or {}
    http = context.get("http") if isinstance(context, Mapping) else None
    method = (http or {}).get("method") if isinstance(http, Mapping) else None
    return str(method or event.get("httpMethod") or "").upper()


def check(event: Mapping[str, Any]) -> None:
    """Refuse what no handler can read: text that is not Unicode anywhere, and bodies that are not JSON."""
    headers = event.get("headers")
    _text_values("header", headers)
    _text_values("query parameter", event.get("queryStringParameters"))
    path_parameters = event.get("pathParameters")
    if path_parameters is not None:
        try:
            _text_values("path", path_parameters)
        except Refused:
            raise Refused("not_found", "Not found", "no such resource") from None
    if method_of(event) not in _BODY_METHODS:
        return
    content_type = next(
        (str(v) for k, v in (headers or {}).items() if str(k).lower() == "content-type" and v), ""
    )
    if content_type.strip() and not is_json_media_type(content_type):
        raise Refused(
            "unsupported_media_type",
            "Send JSON",
            f"the body must be application/json (got '{content_type[:100]}')",
        )
    text = body_text(event)
    if text is not None:
        loads(text)
