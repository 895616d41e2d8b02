"""Lambda event payloads as AWS builds them, and the payload-2.0 response mapped back to HTTP."""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from .template import ACCOUNT_ID, REGION, Route, Schedule

_TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|.*\+json|xml|.*\+xml|x-www-form-urlencoded|javascript|graphql|x-yaml|yaml))\b",
    re.IGNORECASE,
)


@dataclass
class HttpRequest:
    method: str
    raw_path: str  # percent-encoded, without the query
    raw_query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str
    host: str
    protocol: str = "HTTP/1.1"


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @classmethod
    def json(cls, status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> HttpResponse:
        return cls(
            status, [("content-type", "application/json"), *(headers or [])], json.dumps(payload).encode()
        )


def _headers(request: HttpRequest) -> tuple[dict[str, str], list[str]]:
    """Lower-cased header map (repeated headers comma-joined, as API Gateway does) and the cookies."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    headers.setdefault("x-forwarded-for", request.source_ip)
    headers.setdefault("x-forwarded-port", request.host.rsplit(":", 1)[-1] if ":" in request.host else "80")
    headers.setdefault("x-forwarded-proto", "http")
    return headers, cookies


def _query(raw_query: str) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        params[key] = f"{params[key]},{value}" if key in params else value
    return params or None


def _body(request: HttpRequest, headers: dict[str, str]) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    content_type = headers.get("content-type", "")
    if content_type and _TEXT_TYPES.match(content_type):
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(request.body).decode("ascii"), True


def _request_context_http(request: HttpRequest, path: str, user_agent: str) -> dict[str, Any]:
    return {
        "method": request.method,
        "path": path,
        "protocol": request.protocol,
        "sourceIp": request.source_ip,
        "userAgent": user_agent,
    }


def _time_fields(now: float) -> dict[str, Any]:
    moment = datetime.fromtimestamp(now, UTC)
    return {"time": moment.strftime("%d/%b/%Y:%H:%M:%S +0000"), "timeEpoch": int(now * 1000)}


def http_api_event(
    request: HttpRequest,
    route: Route,
    path_parameters: dict[str, str] | None,
    claims: dict[str, str] | None,
    scopes: list[str] | None,
    now: float | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload-2.0 event for ``request`` matched to ``route``."""
    headers, cookies = _headers(request)
    body, is_base64 = _body(request, headers)
    path = unquote(request.raw_path)
    moment = time.time() if now is None else now
    domain = request.host.split(":", 1)[0]
    context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": "local",
        "domainName": request.host,
        "domainPrefix": domain.split(".", 1)[0],
        "http": _request_context_http(request, path, headers.get("user-agent", "")),
        "requestId": base64.b32encode(uuid.uuid4().bytes)[:16].decode().lower() + "=",
        "routeKey": route.route_key,
        "stage": "$default",
        **_time_fields(moment),
    }
    if claims is not None:
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": scopes}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": is_base64,
    }
    if cookies:
        event["cookies"] = cookies
    query = _query(request.raw_query)
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body is not None:
        event["body"] = body
    return event


def function_url_event(
    request: HttpRequest, raw_path: str, function_name: str, now: float | None = None
) -> dict[str, Any]:
    """A Lambda function-URL event (payload 2.0, ``$default`` route, no authorizer for AuthType NONE)."""
    headers, cookies = _headers(request)
    body, is_base64 = _body(request, headers)
    moment = time.time() if now is None else now
    url_id = uuid.uuid5(uuid.NAMESPACE_URL, function_name).hex[:32]
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": url_id,
            "domainName": f"{url_id}.lambda-url.{REGION}.on.aws",
            "domainPrefix": url_id,
            "http": _request_context_http(request, unquote(raw_path), headers.get("user-agent", "")),
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            **_time_fields(moment),
        },
        "isBase64Encoded": is_base64,
    }
    if cookies:
        event["cookies"] = cookies
    query = _query(request.raw_query)
    if query:
        event["queryStringParameters"] = query
    if body is not None:
        event["body"] = body
    return event


def schedule_event(schedule: Schedule, now: float) -> Any:
    """What EventBridge delivers for a scheduled rule: the configured ``Input``, else a Scheduled Event."""
    if schedule.input is not None:
        return schedule.input
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [schedule.rule_arn],
        "detail": {},
    }


def payload_v2_response(result: Any) -> HttpResponse:
    """Map a handler's payload-2.0 result to HTTP as API Gateway / function URLs do.

    Without ``statusCode`` the result is the JSON body of a 200; with it: status, headers, ``cookies``
    (one ``Set-Cookie`` each), and a body that is base64-decoded when ``isBase64Encoded``.
    """
    if not (isinstance(result, dict) and "statusCode" in result):
        if isinstance(result, str):
            return HttpResponse(200, [("content-type", "application/json")], result.encode())
        return HttpResponse.json(200, result)
    headers: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        headers.append((str(name), str(value)))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(name), str(v)) for v in values)
    for cookie in result.get("cookies") or []:
        headers.append(("set-cookie", str(cookie)))
    body = result.get("body")
    if body is None:
        raw = b""
    elif result.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=False)
        except (binascii.Error, ValueError):
            return HttpResponse.json(500, {"message": "Internal Server Error"})
    else:
        raw = (body if isinstance(body, str) else json.dumps(body)).encode()
    if not any(name.lower() == "content-type" for name, _ in headers) and raw:
        headers.append(("content-type", "application/json"))
    return HttpResponse(int(result["statusCode"]), headers, raw)
