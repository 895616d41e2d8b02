"""The web app on the local stack: its files, its config and the local sign-in."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from act3_local.auth import Issuer
from act3_local.webapp import SIGN_IN_PATH, config, sign_in, static


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Issuer:
    return Issuer.load(tmp_path_factory.mktemp("auth"), issuer="http://127.0.0.1:1/auth")


@pytest.fixture
def web(tmp_path: Path) -> Path:
    (tmp_path / "js").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>app</title>")
    (tmp_path / "js" / "app.js").write_text("export {};")
    (tmp_path.parent / "secret.txt").write_text("not for the web")
    return tmp_path


def test_the_app_page_answers_its_own_paths(web: Path) -> None:
    for path in ("/", "/index.html", "/auth/callback", "/invites/accept", "/orgs/org_a/billing"):
        page = static(path, web)
        assert page is not None and page.status == 200
        assert page.body.startswith(b"<!doctype html>")
        headers = dict(page.headers)
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert "script-src 'self'" in headers["content-security-policy"]


def test_modules_are_served_as_javascript(web: Path) -> None:
    page = static("/js/app.js", web)
    assert page is not None
    assert dict(page.headers)["content-type"] == "text/javascript; charset=utf-8"


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/js/../../secret.txt",
        "/nope.js",
        "/js",
        "/js/\x00",
        "/orgs/a/b/billing",
        "/orgs/a/balance",
        "/" + "a" * 300,  # a name longer than the file system takes: was an OSError, a 500
        "/" + "a/" * 3000,  # a path longer than PATH_MAX
    ],
)
def test_nothing_outside_web_or_missing_is_served(web: Path, path: str) -> None:
    assert static(path, web) is None


@given(st.one_of(st.text(max_size=40), st.text(max_size=5000), st.text(alphabet="a/.%", max_size=5000)))
def test_any_path_is_served_from_web_or_refused(path: str) -> None:
    page = static("/" + path)
    assert page is None or page.status == 200


def test_config_points_the_app_at_the_local_sign_in(issuer: Issuer) -> None:
    cfg = config(issuer)
    assert cfg["auth"]["kind"] == "local"
    assert cfg["auth"]["sign_in_url"] == SIGN_IN_PATH
    assert {"id": "linkedin", "name": "LinkedIn"} in cfg["auth"]["identity_providers"]


def test_sign_in_mints_a_token_the_stack_accepts(issuer: Issuer) -> None:
    reply = sign_in(issuer, json.dumps({"email": "ann@studio.example", "idp": "linkedin"}).encode())
    assert reply.status == 200
    token = json.loads(reply.body)["access_token"]
    claims = issuer.verify(f"Bearer {token}")
    assert claims["email"] == "ann@studio.example"
    assert claims["custom:idp"] == "linkedin"
    assert jwt.get_unverified_header(token)["kid"] == issuer.kid


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b"[]", 422),
        (b'{"email": "not-an-address"}', 422),
        (b'{"email": 7}', 422),
        (b'{"email": "a@b.co", "idp": "myspace"}', 422),
        (b'{"email": "a@b.co", "name": 5}', 422),
    ],
)
def test_bad_sign_ins_are_refused_in_words(issuer: Issuer, body: bytes, status: int) -> None:
    reply = sign_in(issuer, body)
    assert reply.status == status
    problem = json.loads(reply.body)
    assert dict(reply.headers)["content-type"] == "application/problem+json"
    assert problem["code"] in ("malformed_json", "validation_error")
    assert problem["detail"]


def test_invite_links_and_the_sign_in_callback_point_at_the_local_web_app(tmp_path: Path) -> None:
    from act3_local.services import REPO_ROOT
    from act3_local.stack import web_parameters

    product = web_parameters(REPO_ROOT / "template.yaml", "http://127.0.0.1:4321")
    assert product == {
        "AppUrl": "http://127.0.0.1:4321",
        "AuthCallbackUrl": "http://127.0.0.1:4321/auth/callback",
    }
    bare = tmp_path / "template.yaml"
    bare.write_text("Resources: {}\n")
    assert web_parameters(bare, "http://127.0.0.1:4321") == {}


def test_with_localstripe_the_app_loads_its_stripe_js_and_may_reach_it(issuer: Issuer, web: Path) -> None:
    origin = "http://127.0.0.1:8420"
    cfg = config(issuer, f"{origin}/js.stripe.com/v3/")
    assert cfg["stripe"]["js_url"] == f"{origin}/js.stripe.com/v3/"
    assert cfg["stripe"]["publishable_key"].startswith("pk_test_")
    assert "stripe" not in config(issuer)
    page = static("/", web, stripe_origin=origin)
    assert page is not None
    policy = dict(page.headers)["content-security-policy"]
    assert f"script-src 'self' {origin};" in policy and f"connect-src 'self' {origin};" in policy
    bare = static("/", web)
    assert bare is not None and origin not in dict(bare.headers)["content-security-policy"]
