"""The error contract, fuzzed: every route of template.yaml, any body, header, id, query or caller.

Routes come from the template (a route added later is fuzzed without touching this file); a route's
sample event in `events/http/` (matched by its routeKey) seeds well-formed bodies that Hypothesis then
breaks one field at a time. Whatever is sent, the handler answers: no exception (API Gateway's 500),
no status >= 500 except `unavailable`, every refusal a problem+json whose `code` has that status, and a
refusal changes nothing in the table. `ACT3_FUZZ_EXAMPLES` raises the examples per route (default 25).
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from act3_billing.http.problems import STATUS_BY_CODE
from act3_billing.store.wallets import BillingStore
from act3_local import events as ev
from act3_local.template import Route, parse
from tests.integration.conftest import TABLE
from tests.support.events import EVENTS
from tests.support.functions import Reply, invoke
from tests.support.moto_stack import moto_items
from tests.support.template import TEMPLATE_PATH
from tests.support.wallets import Org, new_org

EXAMPLES = int(os.environ.get("ACT3_FUZZ_EXAMPLES", "25"))
STACK = parse(TEMPLATE_PATH)
ROUTES = [r for r in STACK.routes if r.path != "$default" and r.method != "ANY"]


@cache
def samples() -> dict[str, dict[str, Any]]:
    """Sample events by routeKey."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(EVENTS.glob("http/*.json")):
        event = json.loads(path.read_text())
        found.setdefault(event.get("routeKey", ""), event)
    return found


def sample_body(route: Route) -> Any:
    event = samples().get(route.route_key)
    if not event or not event.get("body"):
        return None
    try:
        return json.loads(event["body"])
    except ValueError:
        return None


def folder(route: Route) -> str:
    return STACK.functions[route.function].code_dir.name


# ---- strategies ---------------------------------------------------------------------------------

ugly_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\ud800", "a\udfffb", "\x00", "%00", "../..", "-1", "NaN", "null", "é" * 3]),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
)
big_numbers = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([2**63, -(2**63) - 1, 10**38, 10**39, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
)
json_leaf = st.one_of(st.none(), st.booleans(), big_numbers, ugly_text)
json_value = st.recursive(
    json_leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(ugly_text, children, max_size=4)
    ),
    max_leaves=12,
)


def _dump(value: Any) -> bytes:
    # allow_nan: NaN/Infinity literals are what a sloppy client really sends
    return json.dumps(value, allow_nan=True).encode()


# ids with a suffix in digits that are not ASCII (Arabic-Indic, superscript two): str.isdigit() says yes
SUFFIXED_ID = r"[a-z]{2,5}_[0-9A-Za-z]{1,30}(-[0-9\u0660-\u0669\u00b2]{1,12})?"


def _id_like(draw: Any, real: list[str]) -> str:
    return str(
        draw(
            st.one_of(
                st.sampled_from(real or ["x"]),
                ugly_text,
                st.from_regex(r"qt_[0-9A-Z]{26}-[0-9]{1,60}", fullmatch=True),
                st.from_regex(SUFFIXED_ID, fullmatch=True),
                st.just("x" * 5000),
            )
        )
    )


@st.composite
def mutated(draw: Any, sample: Any) -> Any:
    """The sample body with one field replaced, removed or added (or the sample wrapped)."""
    if not isinstance(sample, dict) or not sample:
        return draw(json_value)
    body = json.loads(json.dumps(sample))
    key = draw(st.sampled_from(sorted(body)))
    action = draw(st.sampled_from(["replace", "drop", "add", "nest", "wrap"]))
    if action == "replace":
        body[key] = draw(json_value)
    elif action == "drop":
        body.pop(key)
    elif action == "add":
        body[draw(ugly_text)] = draw(json_value)
    elif action == "nest" and isinstance(body[key], dict) and body[key]:
        inner = draw(st.sampled_from(sorted(body[key])))
        body[key][inner] = draw(json_value)
    elif action == "wrap":
        return [body]
    return body


def bodies(route: Route) -> st.SearchStrategy[bytes | None]:
    sample = sample_body(route)
    depth = st.integers(min_value=20, max_value=3000)
    return st.one_of(
        st.none(),
        st.builds(_dump, mutated(sample)),
        st.builds(_dump, json_value),
        st.binary(max_size=200),
        st.builds(lambda n: (b"[" * n) + (b"]" * n), depth),
        st.builds(lambda n: b'{"a":' * n + b"1" + b"}" * n, depth),
        st.builds(lambda n: b'{"credits": 1' + b"0" * n + b"}", st.integers(min_value=10, max_value=6000)),
        st.sampled_from(
            [
                b"{",
                b"[]",
                b'"text"',
                b"123",
                b"null",
                b'{"credits": NaN}',
                b'{"credits": Infinity}',
                b'{"credits": 1e999}',
                b'{"a": 1, "a": 2}',
                b'{"job_id": "\\ud800"}',
                b'{"job_id": "j", "usage": {"shots": {"Q1": 1}}, "quote_id": "qt_\\udfff-80"}',
                b"\xff\xfe{}",
                b"   ",
            ]
        ),
    )


CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/problem+json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "multipart/form-data",
            "application/xml",
            "application/octet-stream",
            "",
            "json",
        ]
    ),
    ugly_text,
)


@st.composite
def requests(draw: Any, route: Route, org: Org, extra_ids: dict[str, list[str]]) -> dict[str, Any]:
    params: dict[str, str] = {}
    path = route.path
    for name in [p.strip("{}+") for p in route.path.split("/") if p.startswith("{")]:
        real = extra_ids.get(name, [])
        params[name] = _id_like(draw, real)
        encoded = quote(params[name].encode("utf-8", "surrogatepass"), safe="")
        path = path.replace("{" + name + "}", encoded).replace("{" + name + "+}", encoded)
    headers: list[tuple[str, str]] = []
    content_type = draw(CONTENT_TYPES)
    if content_type is not None:
        headers.append(("content-type", content_type))
    if draw(st.booleans()):
        headers.append(("idempotency-key", draw(st.one_of(ugly_text, st.just("k-" + "x" * 300)))))
    other_headers = st.sampled_from(["accept", "x-forwarded-for", "user-agent", "cookie"])
    for name in draw(st.lists(other_headers, max_size=2)):
        headers.append((name, draw(ugly_text)))
    names = st.sampled_from(["limit", "cursor", "type", "job", "x"])
    query = draw(st.dictionaries(names, ugly_text, max_size=3))
    raw_query = "&".join(
        f"{quote(k)}={quote(v.encode('utf-8', 'surrogatepass'), safe='')}" for k, v in query.items()
    )
    request = ev.HttpRequest(
        method=route.method,
        raw_path=path,
        raw_query=raw_query,
        headers=headers,
        body=draw(bodies(route)) or b"",
        source_ip="203.0.113.9",
        host="api.act3.test",
    )
    caller = draw(st.sampled_from([org.owner, org.creator, org.viewer, "stranger", None]))
    claims = None
    if caller is not None:
        claims = {"sub": caller, "email": f"{caller}@studio.example", "email_verified": "true"}
    event = ev.http_api_event(request, route, params or None, claims, None)
    if query:
        event["queryStringParameters"] = query  # as API Gateway decodes them, surrogates included
    return event


# ---- the contract -------------------------------------------------------------------------------


def table_items() -> list[str]:
    return sorted(json.dumps(i, sort_keys=True) for i in moto_items(TABLE))


# What may answer 5xx: a dependency that did not answer (nothing changed; retry with the same key).
RETRYABLE = frozenset({"unavailable", "payment_provider_unavailable"})


def assert_contract(reply: Reply, what: str) -> None:
    assert reply.status < 500 or reply.code in RETRYABLE, (what, reply.status, reply.body)
    if reply.status >= 500:
        assert reply.headers.get("retry-after", "").isdigit(), (what, reply.headers)
    if reply.status >= 400:
        assert reply.headers.get("content-type") == "application/problem+json", (what, reply.headers)
        assert isinstance(reply.body, dict), (what, reply.body)
        code = reply.code
        assert code in STATUS_BY_CODE, (what, reply.body)
        assert STATUS_BY_CODE[code] == reply.status == reply.body["status"], (what, reply.body)
        assert reply.body.get("detail"), (what, reply.body)


@pytest.fixture
def world(stripe_api: Any, store: BillingStore) -> tuple[Org, dict[str, list[str]]]:
    """An org, with the Stripe stand-in behind the money routes (so they reach their own refusals) and
    the statements bucket (the default name, as the statements function has it without STATEMENTS_BUCKET)."""
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="act3-billing-statements")
    org = new_org(store)
    ids = {
        "org_id": [org.org_id],
        "user_id": [org.owner, org.creator, org.viewer],
        "hold_id": ["hold_unknown"],
        "invite_id": ["inv_unknown"],
        "payment_method_id": ["pm_card_visa", "pm_unknown"],
        "tax_id": ["txi_unknown"],
        "cycle": ["2026-11", "2026-13", "1999-01"],
    }
    return org, ids


@pytest.mark.parametrize("route", ROUTES, ids=[r.route_key for r in ROUTES])
def test_no_input_reaches_a_500_and_refusals_change_nothing(
    route: Route, world: tuple[Org, dict[str, list[str]]]
) -> None:
    org, ids = world

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(event=requests(route, org, ids))
    def run(event: dict[str, Any]) -> None:
        before = table_items()
        reply = invoke(folder(route), event)
        what = f"{route.route_key}: {json.dumps(event, default=str)[:1500]}"
        assert_contract(reply, what)
        if reply.status >= 400:
            assert table_items() == before, what

    run()
