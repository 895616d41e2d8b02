"""act3_local.events: Lambda events shaped as AWS builds them, and payload-2.0 responses mapped back."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from act3_local.auth import claims_as_api_gateway, scopes_of
from act3_local.events import (
    HttpRequest,
    function_url_event,
    http_api_event,
    payload_v2_response,
    schedule_event,
)
from act3_local.template import Route, Schedule

NOW = datetime(2026, 3, 1, 12, 30, 45, tzinfo=UTC).timestamp()
ECHO = Route(method="POST", path="/echo/{item_id}", function="EchoFunction", auth=True)


def request(
    method: str = "POST",
    raw_path: str = "/echo/abc",
    raw_query: str = "",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    host: str = "127.0.0.1:3000",
) -> HttpRequest:
    return HttpRequest(
        method=method,
        raw_path=raw_path,
        raw_query=raw_query,
        headers=headers or [],
        body=body,
        source_ip="10.1.2.3",
        host=host,
    )


def test_the_event_carries_route_key_raw_path_and_path_parameters():
    # Given a request matched to POST /echo/{item_id}
    req = request(raw_path="/echo/a%20b", raw_query="x=1")
    # When the HTTP API event is built
    event = http_api_event(req, ECHO, {"item_id": "a b"}, None, None, now=NOW)
    # Then it is a payload-2.0 event naming the route, with the raw path and query kept encoded
    assert event["version"] == "2.0"
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "POST /echo/{item_id}"
    assert event["rawPath"] == "/echo/a%20b"
    assert event["rawQueryString"] == "x=1"
    assert event["pathParameters"] == {"item_id": "a b"}
    http = event["requestContext"]["http"]
    assert (http["method"], http["path"], http["sourceIp"]) == ("POST", "/echo/a b", "10.1.2.3")
    assert event["requestContext"]["stage"] == "$default"
    assert event["requestContext"]["timeEpoch"] == int(NOW * 1000)
    assert event["requestContext"]["time"] == "01/Mar/2026:12:30:45 +0000"


def test_absent_parts_are_left_out_rather_than_empty():
    event = http_api_event(request(raw_path="/public", method="GET"), ECHO, {}, None, None, now=NOW)
    for key in ("pathParameters", "queryStringParameters", "cookies", "body"):
        assert key not in event
    assert "authorizer" not in event["requestContext"]
    assert event["isBase64Encoded"] is False
    assert event["rawQueryString"] == ""


def test_repeated_query_parameters_are_joined_with_commas():
    req = request(raw_query="status=open&status=paid&q=a%20b&flag&plus=1+2")
    event = http_api_event(req, ECHO, None, None, None, now=NOW)
    assert event["queryStringParameters"] == {"status": "open,paid", "q": "a b", "flag": "", "plus": "1 2"}
    assert event["rawQueryString"] == "status=open&status=paid&q=a%20b&flag&plus=1+2"


def test_headers_are_lower_cased_repeats_comma_joined_and_cookies_moved_out():
    req = request(
        headers=[
            ("Content-Type", "application/json"),
            ("X-Trace", "a"),
            ("x-trace", "b"),
            ("Cookie", "session=abc; theme=dark"),
            ("cookie", "lang=en"),
            ("User-Agent", "pytest"),
        ]
    )
    event = http_api_event(req, ECHO, None, None, None, now=NOW)
    headers = event["headers"]
    assert headers["content-type"] == "application/json"
    assert headers["x-trace"] == "a,b"
    assert all(name == name.lower() for name in headers)
    assert "cookie" not in headers
    assert event["cookies"] == ["session=abc", "theme=dark", "lang=en"]
    assert event["requestContext"]["http"]["userAgent"] == "pytest"
    assert headers["x-forwarded-for"] == "10.1.2.3"
    assert headers["x-forwarded-port"] == "3000"
    assert headers["x-forwarded-proto"] == "http"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"a": "\xc3\xa9"}'),
        ("application/json; charset=utf-8", b"{}"),
        ("application/problem+json", b"{}"),
        ("text/plain", b"hello"),
        ("application/x-www-form-urlencoded", b"a=1&b=2"),
    ],
)
def test_text_bodies_are_passed_as_text(content_type: str, body: bytes):
    req = request(headers=[("Content-Type", content_type)], body=body)
    event = http_api_event(req, ECHO, None, None, None, now=NOW)
    assert event["isBase64Encoded"] is False
    assert event["body"] == body.decode("utf-8")


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ([("Content-Type", "image/png")], b"\x89PNG\r\n\x1a\n\x00\xff"),
        ([("Content-Type", "application/octet-stream")], b"plain ascii"),
        ([("Content-Type", "text/plain")], b"\xff\xfe not utf-8"),
        ([], b"no content type"),
    ],
)
def test_binary_bodies_are_base64_encoded_and_flagged(headers: list[tuple[str, str]], body: bytes):
    event = http_api_event(request(headers=headers, body=body), ECHO, None, None, None, now=NOW)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


def test_authorizer_claims_reach_the_handler_as_strings_with_scopes():
    # Given claims as the local issuer verifies them (mixed JSON types)
    verified = {
        "sub": "u-1",
        "email_verified": True,
        "iat": 1767225600,
        "scope": "openid email",
        "groups": ["admin", "billing"],
        "identities": [{"providerName": "LinkedIn", "primary": "true"}],
        "nickname": None,
    }
    # When they are handed to the event as the JWT authorizer does
    claims = claims_as_api_gateway(verified)
    event = http_api_event(request(), ECHO, None, claims, scopes_of(verified), now=NOW)
    # Then every claim value is a string and the scopes are listed
    jwt_context = event["requestContext"]["authorizer"]["jwt"]
    assert all(isinstance(v, str) for v in jwt_context["claims"].values())
    assert jwt_context["claims"]["sub"] == "u-1"
    assert jwt_context["claims"]["email_verified"] == "true"
    assert jwt_context["claims"]["iat"] == "1767225600"
    assert jwt_context["claims"]["groups"] == "[admin billing]"
    assert json.loads(jwt_context["claims"]["identities"]) == verified["identities"]
    assert jwt_context["claims"]["nickname"] == ""
    assert jwt_context["scopes"] == ["openid", "email"]


def test_scopes_come_from_scope_or_scp():
    assert scopes_of({"scope": "a b"}) == ["a", "b"]
    assert scopes_of({"scp": ["a", "b"]}) == ["a", "b"]
    assert scopes_of({}) is None


def test_a_function_url_event_has_the_default_route_and_no_authorizer():
    req = request(
        raw_path="/_lambda/WebhookFunction/hooks/stripe",
        raw_query="a=1&a=2",
        headers=[("Stripe-Signature", "t=1,v1=x"), ("Content-Type", "application/json"), ("Cookie", "c=1")],
        body=b'{"id": "evt_1"}',
    )
    event = function_url_event(req, "/hooks/stripe", "WebhookFunction", now=NOW)
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "$default"
    assert event["rawPath"] == "/hooks/stripe"
    assert event["requestContext"]["http"]["path"] == "/hooks/stripe"
    assert event["headers"]["stripe-signature"] == "t=1,v1=x"
    assert event["queryStringParameters"] == {"a": "1,2"}
    assert event["cookies"] == ["c=1"]
    assert event["body"] == '{"id": "evt_1"}'
    assert event["isBase64Encoded"] is False
    assert "authorizer" not in event["requestContext"]
    assert "pathParameters" not in event
    url_id = event["requestContext"]["apiId"]
    assert event["requestContext"]["domainName"] == f"{url_id}.lambda-url.us-east-1.on.aws"
    # The URL id is stable per function, distinct between functions.
    again = function_url_event(req, "/", "WebhookFunction", now=NOW)
    other = function_url_event(req, "/", "OtherFunction", now=NOW)
    assert again["requestContext"]["apiId"] == url_id
    assert other["requestContext"]["apiId"] != url_id


def _schedule(input_value: object) -> Schedule:
    return Schedule(
        name="Daily",
        function="TickFunction",
        expression="rate(1 day)",
        input=input_value,
        enabled=True,
        rule_arn="arn:aws:events:us-east-1:123456789012:rule/act3-local-TickFunction-Daily",
    )


def test_a_schedule_without_input_delivers_a_scheduled_event():
    event = schedule_event(_schedule(None), NOW)
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["time"] == "2026-03-01T12:30:45Z"
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/act3-local-TickFunction-Daily"]
    assert event["detail"] == {}


def test_a_schedule_with_input_delivers_exactly_the_input():
    assert schedule_event(_schedule({"job": "monthly"}), NOW) == {"job": "monthly"}


def test_a_full_response_maps_status_headers_cookies_and_base64_body():
    # Given a handler result with cookies and a base64 body
    result = {
        "statusCode": 201,
        "headers": {"Content-Type": "image/png", "X-Request-Id": 7},
        "cookies": ["session=abc; Path=/; HttpOnly", "theme=dark"],
        "body": base64.b64encode(b"\x89PNG\x00\xff").decode(),
        "isBase64Encoded": True,
    }
    # When it is mapped to HTTP
    response = payload_v2_response(result)
    # Then status, headers, one Set-Cookie per cookie, and the decoded bytes come back
    assert response.status == 201
    assert ("Content-Type", "image/png") in response.headers
    assert ("X-Request-Id", "7") in response.headers
    assert [v for k, v in response.headers if k.lower() == "set-cookie"] == [
        "session=abc; Path=/; HttpOnly",
        "theme=dark",
    ]
    assert response.body == b"\x89PNG\x00\xff"
    assert [k for k, _ in response.headers if k.lower() == "content-type"] == ["Content-Type"]


def test_a_result_without_status_code_is_the_json_body_of_a_200():
    response = payload_v2_response({"ok": True, "n": 1})
    assert response.status == 200
    assert ("content-type", "application/json") in response.headers
    assert json.loads(response.body) == {"ok": True, "n": 1}


def test_a_text_body_is_sent_as_is_and_an_empty_one_gets_no_content_type():
    text = payload_v2_response({"statusCode": "200", "body": '{"a": 1}'})
    assert (text.status, text.body) == (200, b'{"a": 1}')
    assert ("content-type", "application/json") in text.headers
    empty = payload_v2_response({"statusCode": 204})
    assert (empty.status, empty.body, empty.headers) == (204, b"", [])


def test_multi_value_headers_become_repeated_headers():
    response = payload_v2_response({"statusCode": 200, "multiValueHeaders": {"Vary": ["Origin", "Accept"]}})
    assert [v for k, v in response.headers if k == "Vary"] == ["Origin", "Accept"]


def test_an_undecodable_base64_body_is_a_500():
    response = payload_v2_response({"statusCode": 200, "body": "abc", "isBase64Encoded": True})
    assert response.status == 500
    assert json.loads(response.body) == {"message": "Internal Server Error"}
