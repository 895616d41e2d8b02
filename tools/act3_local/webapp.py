"""The web app on the local stack: the static files of ``web/``, its ``config.json`` and a local sign-in.

In AWS the same files sit in S3 behind CloudFront and the sign-in is Cognito's hosted UI; locally the
stack serves them from the work tree (edits show on reload) and mints tokens with its own issuer.
``POST /auth/local/sign-in`` exists only here: it is what the hosted UI plus LinkedIn do in AWS.
"""

from __future__ import annotations

import json
import mimetypes
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from . import events as ev
from .auth import IDENTITY_PROVIDERS, Issuer
from .stripe_local import PUBLISHABLE_KEY

WEB_ROOT = Path(__file__).resolve().parents[2] / "web"
SIGN_IN_PATH = "/auth/local/sign-in"
TOKEN_TTL_S = 8 * 3600
# Paths the app handles itself: the OAuth redirect and the invite links of e-mails (a GET there is the
# app's page; the API's POST /invites/accept is routed before static files are looked at).
APP_PATHS = ("/", "/index.html", "/auth/callback", "/invites/accept")
# Stripe Checkout returns to {AppUrl}/orgs/{org_id}/billing?pack=paid (issue 8's success/cancel URLs).
_APP_PATTERN = re.compile(r"^/orgs/[^/]+/billing/?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SECURITY_HEADERS = [("x-content-type-options", "nosniff"), ("referrer-policy", "no-referrer")]


def _csp(stripe_origin: str | None) -> str:
    """The template's policy, with localstripe's origin where the deployed app allows Stripe's."""
    stripe = f" {stripe_origin}" if stripe_origin else ""
    return (
        f"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'{stripe}; "
        f"connect-src 'self'{stripe}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


def _problem(status: int, code: str, title: str, detail: str) -> ev.HttpResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, "code": code}
    return ev.HttpResponse(status, [("content-type", "application/problem+json")], json.dumps(body).encode())


def config(issuer: Issuer, stripe_js: str | None = None) -> dict[str, Any]:
    """What the app needs to know about where it runs (in AWS, ``config.json`` written at deploy).
    With localstripe running, Stripe.js is localstripe's copy (cards typed into it go to localstripe)."""
    stripe = {"publishable_key": PUBLISHABLE_KEY, "js_url": stripe_js} if stripe_js else None
    return {
        **({"stripe": stripe} if stripe else {}),
        "api_base": "",
        "auth": {
            "kind": "local",
            "sign_in_url": SIGN_IN_PATH,
            "identity_providers": [
                {"id": key, "name": name} for key, (name, _kind) in IDENTITY_PROVIDERS.items()
            ],
            "issuer": issuer.issuer,
        },
    }


def sign_in(issuer: Issuer, body: bytes) -> ev.HttpResponse:
    """The member's token for this e-mail, as the hosted UI gives it after a password or LinkedIn login."""
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        return _problem(400, "malformed_json", "Malformed JSON", "the body is not JSON")
    if not isinstance(payload, dict):
        return _problem(422, "validation_error", "Invalid sign-in", "send {email, name?, idp?}")
    email = payload.get("email")
    name = payload.get("name")
    idp = payload.get("idp")
    if not isinstance(email, str) or len(email) > 254 or not _EMAIL.match(email.strip()):
        return _problem(
            422, "validation_error", "Invalid sign-in", "enter an e-mail address like ann@studio.example"
        )
    if name is not None and (not isinstance(name, str) or len(name) > 128):
        return _problem(
            422, "validation_error", "Invalid sign-in", "a name is text of at most 128 characters"
        )
    if idp is not None and (not isinstance(idp, str) or idp not in IDENTITY_PROVIDERS):
        return _problem(
            422,
            "validation_error",
            "Invalid sign-in",
            f"identity provider is one of {', '.join(IDENTITY_PROVIDERS)}",
        )
    token = issuer.mint(email.strip(), name=name or None, idp=idp, ttl=TOKEN_TTL_S)
    # What Cognito's token endpoint gives the web client: the access token is what the API takes.
    return ev.HttpResponse.json(
        200, {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_TTL_S}
    )


def static(
    raw_path: str, root: Path = WEB_ROOT, *, stripe_origin: str | None = None
) -> ev.HttpResponse | None:
    """The file of ``web/`` at this path (the app's page for its own paths), or None."""
    path = unquote(raw_path)
    if path in APP_PATHS or _APP_PATTERN.match(path):
        path = "/index.html"
    if "\x00" in path or not path.startswith("/"):
        return None
    base = root.resolve()
    try:
        target = (base / path.lstrip("/")).resolve()
        if not target.is_relative_to(base) or not target.is_file():
            return None
    except (OSError, ValueError):  # a name too long for the file system, say: no such file
        return None
    content_type = (
        _TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    )
    if content_type.startswith("text/") or content_type.endswith(("json", "javascript")):
        content_type += "; charset=utf-8"
    headers = [
        ("content-type", content_type),
        ("cache-control", "no-cache"),
        *_SECURITY_HEADERS,
        ("content-security-policy", _csp(stripe_origin)),
    ]
    return ev.HttpResponse(200, headers, target.read_bytes())
