"""act3_local.routing: a request finds the HttpApi route API Gateway would choose."""

from __future__ import annotations

from pathlib import Path

import pytest

from act3_local.routing import Router
from act3_local.template import Route, parse

FIXTURE_TEMPLATE = Path(__file__).resolve().parents[1] / "fixtures" / "local_stack" / "template.yaml"


def route(method: str, path: str, function: str | None = None) -> Route:
    return Route(method=method, path=path, function=function or f"{method} {path}", auth=False)


def matched(router: Router, method: str, path: str) -> tuple[str, dict[str, str]] | None:
    found = router.match(method, path)
    return None if found is None else (found[0].route_key, found[1])


def test_a_static_path_matches_only_itself():
    # Given a router with one literal route
    router = Router([route("GET", "/public")])
    # When / Then: the same path matches with no parameters, a different path does not
    assert matched(router, "GET", "/public") == ("GET /public", {})
    assert matched(router, "GET", "/publicity") is None
    assert matched(router, "GET", "/public/extra") is None
    assert matched(router, "GET", "/") is None


def test_a_param_segment_captures_one_segment_and_is_percent_decoded():
    router = Router([route("GET", "/orgs/{org_id}/quotes/{quote_id}")])
    assert matched(router, "GET", "/orgs/o-1/quotes/q%201") == (
        "GET /orgs/{org_id}/quotes/{quote_id}",
        {"org_id": "o-1", "quote_id": "q 1"},
    )
    # A parameter never spans a slash, and is never empty.
    assert matched(router, "GET", "/orgs/o-1/x/quotes/q") is None
    assert matched(router, "GET", "/orgs//quotes/q") is None
    assert matched(router, "GET", "/orgs/o-1/quotes/") is None


def test_an_encoded_slash_stays_inside_its_parameter():
    router = Router([route("GET", "/files/{name}")])
    assert matched(router, "GET", "/files/a%2Fb") == ("GET /files/{name}", {"name": "a/b"})


def test_a_greedy_proxy_captures_the_rest_of_the_path():
    router = Router([route("ANY", "/files/{proxy+}")])
    assert matched(router, "GET", "/files/a/b/c.txt") == ("ANY /files/{proxy+}", {"proxy": "a/b/c.txt"})
    assert matched(router, "DELETE", "/files/x") == ("ANY /files/{proxy+}", {"proxy": "x"})
    # Like API Gateway, a greedy variable needs at least one character.
    assert matched(router, "GET", "/files/") is None
    assert matched(router, "GET", "/files") is None


def test_a_root_greedy_proxy_does_not_match_the_root_itself():
    router = Router([route("ANY", "/{proxy+}")])
    assert matched(router, "GET", "/anything/at/all") == ("ANY /{proxy+}", {"proxy": "anything/at/all"})
    assert matched(router, "GET", "/") is None


def test_a_method_mismatch_is_no_match():
    router = Router([route("GET", "/public"), route("POST", "/echo/{item_id}")])
    assert matched(router, "POST", "/public") is None
    assert matched(router, "GET", "/echo/1") is None
    assert matched(router, "DELETE", "/echo/1") is None


def test_the_request_method_is_matched_case_insensitively():
    router = Router([route("POST", "/uploads")])
    assert matched(router, "post", "/uploads") == ("POST /uploads", {})


def test_any_accepts_every_method():
    router = Router([route("ANY", "/hook")])
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        assert matched(router, method, "/hook") == ("ANY /hook", {})


def test_a_trailing_slash_is_ignored_as_api_gateway_does():
    router = Router([route("GET", "/public"), route("GET", "/echo/{item_id}")])
    assert matched(router, "GET", "/public/") == ("GET /public", {})
    assert matched(router, "GET", "/echo/7/") == ("GET /echo/{item_id}", {"item_id": "7"})


def test_the_root_route_matches_only_the_root():
    router = Router([route("GET", "/")])
    assert matched(router, "GET", "/") == ("GET /", {})
    assert matched(router, "GET", "") == ("GET /", {})
    assert matched(router, "GET", "/x") is None


@pytest.mark.parametrize("order", [1, -1])
def test_a_static_route_wins_over_a_parameterized_one(order: int):
    # Given both /orgs/me and /orgs/{org_id}, declared in either order
    routes = [route("GET", "/orgs/{org_id}"), route("GET", "/orgs/me")][::order]
    router = Router(routes)
    # When /orgs/me is requested, the literal route serves it; other ids go to the parameter
    assert matched(router, "GET", "/orgs/me") == ("GET /orgs/me", {})
    assert matched(router, "GET", "/orgs/o-9") == ("GET /orgs/{org_id}", {"org_id": "o-9"})


@pytest.mark.parametrize("order", [1, -1])
def test_more_literal_segments_win_among_parameterized_routes(order: int):
    routes = [route("GET", "/orgs/{org_id}/{section}"), route("GET", "/orgs/{org_id}/quotes")][::order]
    router = Router(routes)
    assert matched(router, "GET", "/orgs/o-1/quotes") == ("GET /orgs/{org_id}/quotes", {"org_id": "o-1"})
    assert matched(router, "GET", "/orgs/o-1/members") == (
        "GET /orgs/{org_id}/{section}",
        {"org_id": "o-1", "section": "members"},
    )


@pytest.mark.parametrize("order", [1, -1])
def test_parameterized_beats_greedy_and_greedy_beats_default(order: int):
    routes = [
        route("ANY", "$default"),
        route("ANY", "/{proxy+}"),
        route("ANY", "/files/{proxy+}"),
        route("GET", "/files/{name}"),
    ][::order]
    router = Router(routes)
    assert matched(router, "GET", "/files/a") == ("GET /files/{name}", {"name": "a"})
    assert matched(router, "GET", "/files/a/b") == ("ANY /files/{proxy+}", {"proxy": "a/b"})
    assert matched(router, "GET", "/other/a") == ("ANY /{proxy+}", {"proxy": "other/a"})
    assert matched(router, "GET", "/") == ("$default", {})


@pytest.mark.parametrize("order", [1, -1])
def test_an_exact_method_beats_any_on_the_same_path(order: int):
    router = Router([route("ANY", "/hook"), route("POST", "/hook")][::order])
    assert matched(router, "POST", "/hook") == ("POST /hook", {})
    assert matched(router, "GET", "/hook") == ("ANY /hook", {})


def test_default_route_catches_what_nothing_else_matches():
    router = Router([route("GET", "/public"), route("ANY", "$default")])
    assert matched(router, "GET", "/public") == ("GET /public", {})
    assert matched(router, "POST", "/public") == ("$default", {})
    assert matched(router, "PUT", "/a/b/c") == ("$default", {})


def test_the_fixture_templates_routes_are_served_with_their_auth():
    # Given the routes parsed from the e2e fixture template
    stack = parse(FIXTURE_TEMPLATE)
    router = Router(stack.routes)
    # When requests come in, they find the declared route, function and authorizer setting
    public = router.match("GET", "/public")
    echo = router.match("POST", "/echo/abc")
    assert public is not None
    assert echo is not None
    assert (public[0].function, public[0].auth) == ("EchoFunction", False)
    assert (echo[0].route_key, echo[1], echo[0].auth) == ("POST /echo/{item_id}", {"item_id": "abc"}, True)
    assert router.match("DELETE", "/echo/abc") is None
    assert router.match("GET", "/records") is None
