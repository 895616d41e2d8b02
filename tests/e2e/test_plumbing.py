"""The template-driven plumbing, on the fixture template: HTTP API events and responses, the function URL
with localstripe's signed webhooks, schedules on the movable clock, S3 events, OpenAPI and docs."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime
from typing import Any

from tests.e2e.stack_process import StackProcess

EMAIL = "ann@example.com"


def _records(stack: StackProcess, kind: str) -> list[dict[str, Any]]:
    reply = stack.request("GET", f"/records/{kind}", token=stack.token(EMAIL))
    assert reply.status == 200, reply.body
    return sorted(reply.json()["items"], key=lambda item: item["sk"])


def test_a_request_becomes_an_http_api_v2_event(fixture_stack: StackProcess) -> None:
    token = fixture_stack.token(EMAIL, idp="linkedin", name="Ann")
    reply = fixture_stack.request(
        "POST",
        "/echo/a%20b?x=1&x=2&empty=",
        token=token,
        body=b"\x00\x01binary",
        headers={"content-type": "application/octet-stream", "cookie": "c1=v1; c2=v2", "x-custom": "yes"},
    )
    assert reply.status == 200, reply.body
    event = reply.json()
    assert event["routeKey"] == "POST /echo/{item_id}"
    assert event["pathParameters"] == {"item_id": "a b"}
    assert event["rawQueryString"] == "x=1&x=2&empty="
    assert event["query"] == {"x": "1,2", "empty": ""}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"]["x-custom"] == "yes"
    assert event["isBase64Encoded"] is True
    assert event["body"] == "AAFiaW5hcnk="
    claims = event["claims"]
    assert claims["email"] == EMAIL
    assert claims["email_verified"] == "true"
    assert claims["custom:idp"] == "linkedin"
    assert json.loads(claims["identities"])[0]["providerName"] == "LinkedIn"
    assert claims["iss"] == fixture_stack.info["auth"]["issuer"]
    assert event["scopes"] == ["openid", "email", "profile"]
    assert event["env_table"] == fixture_stack.info["dynamodb"]["tables"]["FixtureTable"]


def test_the_sub_is_stable_per_email(fixture_stack: StackProcess) -> None:
    first = fixture_stack.request("GET", "/echo/1", token=fixture_stack.token(EMAIL)).json()["claims"]["sub"]
    second = fixture_stack.request("GET", "/echo/1", token=fixture_stack.token(EMAIL.upper())).json()[
        "claims"
    ]["sub"]
    assert first == second


def test_the_response_maps_back_status_headers_cookies_and_binary(fixture_stack: StackProcess) -> None:
    reply = fixture_stack.request("GET", "/binary", token=fixture_stack.token(EMAIL))
    assert reply.status == 201
    assert reply.body == bytes(range(256))
    assert reply.headers["content-type"] == "application/octet-stream"
    assert reply.headers["x-fixture"] == "yes"
    assert reply.set_cookies == ["a=1; Path=/", "b=2; HttpOnly; Secure"]


def test_public_route_skips_auth_and_unknown_route_is_404(fixture_stack: StackProcess) -> None:
    reply = fixture_stack.request("GET", "/public")
    assert (reply.status, reply.json()) == (200, {"ok": True, "authorizer": None})
    assert fixture_stack.request("GET", "/nowhere", token=fixture_stack.token(EMAIL)).status == 404
    assert fixture_stack.request("DELETE", "/public").status == 404


def test_localstripe_webhooks_reach_the_function_url_correctly_signed(fixture_stack: StackProcess) -> None:
    # When something happens in Stripe (here: a customer is created through its API)
    stripe = fixture_stack.info["stripe"]
    request = urllib.request.Request(
        f"{stripe['api_base']}/v1/customers",
        data=b"email=webhook%40example.com",
        method="POST",
        headers={"authorization": f"Bearer {stripe['api_key']}"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        customer = json.loads(resp.read())
    # Then the webhook function, behind its URL, verified the signature and saw the event
    seen = fixture_stack.wait_for(
        lambda: [r for r in _records(fixture_stack, "webhook") if r["type"] == "customer.created"]
    )
    assert seen[0]["function"] == "WebhookFunction"
    assert seen[0]["domain"].endswith(".lambda-url.us-east-1.on.aws")
    assert customer["id"].startswith("cus_")
    # And the catalog was loaded as Products and Plans
    catalog = urllib.request.Request(
        f"{stripe['api_base']}/v1/plans/plan_act3_studio_monthly",
        headers={"authorization": f"Bearer {stripe['api_key']}"},
    )
    with urllib.request.urlopen(catalog, timeout=10) as resp:
        assert json.loads(resp.read())["amount"] == 9900


def test_a_badly_signed_webhook_is_refused_by_the_function(fixture_stack: StackProcess) -> None:
    reply = fixture_stack.request(
        "POST",
        "/",
        base=fixture_stack.info["stripe"]["webhook_url"],
        body={"id": "evt_forged", "type": "invoice.paid"},
        headers={"stripe-signature": "t=1,v1=00"},
    )
    assert reply.status == 400


def test_tick_fires_the_schedules_now(fixture_stack: StackProcess) -> None:
    before = len(_records(fixture_stack, "tick"))
    ran = fixture_stack.cli("tick", "--schedule", "Monthly")
    assert ran.returncode == 0, ran.stderr
    assert "Monthly -> TickFunction: ok" in ran.stdout
    ticks = _records(fixture_stack, "tick")
    assert len(ticks) == before + 1
    assert json.loads(ticks[-1]["event"]) == {"job": "monthly"}  # the template's Input
    assert int(ticks[-1]["remaining_ms"]) > 0


def test_moving_the_clock_fires_a_due_schedule_with_the_moved_time(fixture_stack: StackProcess) -> None:
    def daily() -> list[dict[str, Any]]:
        return [
            json.loads(r["event"]) for r in _records(fixture_stack, "tick") if "detail-type" in r["event"]
        ]

    before = len(daily())
    moved = fixture_stack.cli("clock", "advance", "1d2h")
    try:
        assert moved.returncode == 0, moved.stderr
        fired = fixture_stack.wait_for(lambda: daily()[before:])
        event = fired[0]
        assert event["detail-type"] == "Scheduled Event"
        assert event["resources"] == [
            "arn:aws:events:us-east-1:123456789012:rule/act3-local-TickFunction-Daily"
        ]
        moment = datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert abs(moment.timestamp() - (time.time() + 26 * 3600)) < 120
    finally:
        assert fixture_stack.cli("clock", "reset").returncode == 0


def test_an_upload_to_a_presigned_url_reaches_the_storage_function_as_an_s3_event(
    fixture_stack: StackProcess,
) -> None:
    token = fixture_stack.token(EMAIL)
    presigned = fixture_stack.request("POST", "/uploads", token=token, body={"text": "scene 1.txt"}).json()
    upload = urllib.request.Request(presigned["url"], data=b"INT. STUDIO - DAY", method="PUT")
    with urllib.request.urlopen(upload, timeout=10) as resp:
        assert resp.status == 200
    records = fixture_stack.wait_for(
        lambda: [r for r in _records(fixture_stack, "s3") if r["key"] == presigned["key"]]
    )
    assert records[0]["eventName"] == "ObjectCreated:Put"
    assert int(records[0]["size"]) == len(b"INT. STUDIO - DAY")
    assert records[0]["bucket"] == "act3-uploads-local"
    assert len(records[0]["sequencer"]) >= 16


def test_openapi_merges_the_resolvers_and_docs_work_offline(fixture_stack: StackProcess) -> None:
    doc = fixture_stack.request("GET", "/openapi.json").json()
    assert {"/public", "/echo/{item_id}", "/binary", "/records/{kind}", "/uploads"} <= set(doc["paths"])
    assert doc["paths"]["/echo/{item_id}"]["get"]["security"] == [{"jwt": []}]
    assert "security" not in doc["paths"]["/public"]["get"]
    assert "Note" in json.dumps(doc["components"]["schemas"])
    page = fixture_stack.request("GET", "/docs")
    assert page.status == 200
    assert page.headers["content-type"].startswith("text/html")
    assert b"openapi.json" in page.body
    assert b"http://" not in page.body and b"https://" not in page.body  # nothing fetched from elsewhere


def test_stack_json_lists_what_runs(fixture_stack: StackProcess) -> None:
    info = json.loads((fixture_stack.state_dir / "stack.json").read_text())
    assert info["api_url"] == f"http://127.0.0.1:{fixture_stack.ports['port']}"
    assert info["stripe"]["webhook_secret"].startswith("whsec_")
    assert info["function_urls"] == {"WebhookFunction": info["stripe"]["webhook_url"]}
    assert {s["name"] for s in info["schedules"]} == {"Daily", "Monthly"}
    assert info["s3_subscriptions"][0]["function"] == "StorageFunction"
