"""The local API endpoint: HTTP API routes, function URLs, the issuer's JWKS, OpenAPI and the docs page.

Served paths, in order:
- ``/auth/.well-known/{jwks.json,openid-configuration}`` — the local issuer;
- ``/openapi.json``, ``/docs`` — the merged OpenAPI document and Swagger UI over it (offline);
- ``/_url/<FunctionLogicalId>/…`` — each function URL of the template (Lambda function-URL events);
- ``/_local/…`` — the stack's own controls (tick, status), for the CLI, behind a token from stack.json;
- ``/config.json``, ``POST /auth/local/sign-in`` — the web app's settings and its local sign-in;
- anything else — the template's ``HttpApi`` routes (API Gateway HTTP API v2 events), else a file of
  ``web/`` (the web app, ``/`` is its page); 404 otherwise.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import events as ev
from . import swagger
from .auth import Issuer, Unauthorized, claims_as_api_gateway, scopes_allow, scopes_of
from .clock import Clock
from .lambdas import FunctionError, Runtime
from .openapi import build
from .routing import Router
from .template import Stack
from .webapp import SIGN_IN_PATH, config, sign_in, static

log = logging.getLogger("act3_local")

ADMIN_HEADER = "x-act3-local-admin"
URL_PREFIX = "/_url/"


class Api:
    """Request dispatch, independent of the HTTP server plumbing (so it can be driven directly)."""

    def __init__(
        self,
        stack: Stack,
        runtime: Runtime,
        issuer: Issuer,
        clock: Clock,
        base_url: str,
        admin_token: str,
        admin: dict[str, Callable[[dict[str, Any]], Any]],
        stripe_js: str | None = None,
    ):
        self.stack = stack
        self.runtime = runtime
        self.issuer = issuer
        self.clock = clock
        self.base_url = base_url
        self.admin_token = admin_token
        self.admin = admin
        self.stripe_js = stripe_js
        self.stripe_origin = stripe_js.split("/js.stripe.com/")[0] if stripe_js else None
        self.router = Router(stack.routes)
        self.url_functions = {name: fn for name, fn in stack.functions.items() if fn.url}
        self._openapi: dict[str, Any] | None = None

    def openapi(self) -> dict[str, Any]:
        if self._openapi is None:
            self._openapi = build(self.runtime, self.stack.routes, self.base_url)
        return self._openapi

    def handle(self, request: ev.HttpRequest) -> tuple[ev.HttpResponse, str]:
        """The response and the name of what served it (for the access log)."""
        path = request.raw_path
        if path == "/auth/.well-known/jwks.json":
            return ev.HttpResponse.json(200, self.issuer.jwks()), "issuer"
        if path == "/auth/.well-known/openid-configuration":
            return ev.HttpResponse.json(200, self.issuer.openid_configuration()), "issuer"
        if path == "/openapi.json" and request.method in ("GET", "HEAD"):
            return ev.HttpResponse.json(200, self.openapi()), "openapi"
        if path in ("/docs", "/docs/") and request.method in ("GET", "HEAD"):
            return ev.HttpResponse(
                200, [("content-type", "text/html; charset=utf-8")], swagger.PAGE.encode()
            ), "docs"
        if path == "/config.json" and request.method in ("GET", "HEAD"):
            return ev.HttpResponse.json(200, config(self.issuer, self.stripe_js)), "web"
        if path == SIGN_IN_PATH and request.method == "POST":
            return sign_in(self.issuer, request.body), "web"
        if path.startswith(swagger.PREFIX) and request.method in ("GET", "HEAD"):
            found = swagger.asset(path)
            if found is None:
                return ev.HttpResponse.json(404, {"message": "Not Found"}), "docs"
            body, content_type = found
            headers = [("content-type", content_type), ("cache-control", "max-age=86400")]
            return ev.HttpResponse(200, headers, body), "docs"
        if path.startswith(URL_PREFIX):
            return self._function_url(request)
        if path.startswith("/_local/"):
            return self._admin(request), "local"
        return self._http_api(request)

    def _http_api(self, request: ev.HttpRequest) -> tuple[ev.HttpResponse, str]:
        matched = self.router.match(request.method, request.raw_path)
        if matched is None:
            page = (
                static(request.raw_path, stripe_origin=self.stripe_origin)
                if request.method in ("GET", "HEAD")
                else None
            )
            if page is not None:
                return page, "web"
            return ev.HttpResponse.json(404, {"message": "Not Found"}), "-"
        route, params = matched
        claims = scopes = None
        if route.auth:
            authorization = next((v for k, v in request.headers if k.lower() == "authorization"), None)
            try:
                verified = self.issuer.verify(authorization)
            except Unauthorized as exc:
                log.info("401 %s %s: %s", request.method, request.raw_path, exc)
                return (
                    ev.HttpResponse.json(
                        401,
                        {"message": "Unauthorized"},
                        [("www-authenticate", 'Bearer error="invalid_token"')],
                    ),
                    "authorizer",
                )
            scopes = scopes_of(verified)
            if not scopes_allow(route.scopes, scopes):
                return ev.HttpResponse.json(403, {"message": "Forbidden"}), "authorizer"
            claims = claims_as_api_gateway(verified)
        event = ev.http_api_event(request, route, params, claims, scopes, now=time.time())
        return self._invoke(route.function, event), route.function

    def _function_url(self, request: ev.HttpRequest) -> tuple[ev.HttpResponse, str]:
        rest = request.raw_path[len(URL_PREFIX) :]
        name, _, tail = rest.partition("/")
        if name not in self.url_functions:
            return ev.HttpResponse.json(404, {"message": "Not Found"}), "-"
        if self.url_functions[name].url_auth != "NONE":
            # AWS_IAM URLs need SigV4 from an AWS principal: there is none locally.
            return ev.HttpResponse.json(403, {"Message": "Forbidden"}), name
        event = ev.function_url_event(request, "/" + tail, name, now=time.time())
        return self._invoke(name, event), name

    def _invoke(self, name: str, event: dict[str, Any]) -> ev.HttpResponse:
        try:
            result = self.runtime.invoke(name, event)
        except FunctionError:
            return ev.HttpResponse.json(500, {"message": "Internal Server Error"})
        return ev.payload_v2_response(result)

    def _admin(self, request: ev.HttpRequest) -> ev.HttpResponse:
        token = next((v for k, v in request.headers if k.lower() == ADMIN_HEADER), "")
        if not hmac.compare_digest(token, self.admin_token):
            return ev.HttpResponse.json(403, {"message": "the stack's controls need the token in stack.json"})
        action = request.raw_path[len("/_local/") :].strip("/")
        handler = self.admin.get(action)
        if handler is None or request.method != "POST":
            return ev.HttpResponse.json(
                404, {"message": f"no control {action!r}", "controls": sorted(self.admin)}
            )
        try:
            payload = json.loads(request.body or b"{}")
            return ev.HttpResponse.json(200, handler(payload))
        except (ValueError, KeyError) as exc:
            return ev.HttpResponse.json(400, {"message": str(exc)})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "act3-local"
    api: Api

    def _serve(self) -> None:
        started = time.monotonic()
        raw_path, _, raw_query = self.path.partition("?")
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        request = ev.HttpRequest(
            method=self.command,
            raw_path=raw_path,
            raw_query=raw_query,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            host=self.headers.get("host") or f"127.0.0.1:{getattr(self.server, 'server_port', 80)}",
            protocol=self.request_version,
        )
        try:
            response, served_by = self.api.handle(request)
        except Exception:
            log.exception("local stack failed on %s %s", self.command, self.path)
            response, served_by = ev.HttpResponse.json(500, {"message": "Internal Server Error"}), "stack"
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
        if served_by not in ("issuer", "local"):
            elapsed = (time.monotonic() - started) * 1000
            log.info("%s %s -> %s %d (%.0f ms)", self.command, raw_path, served_by, response.status, elapsed)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        return  # the access log above replaces http.server's


class ApiServer:
    def __init__(self, api: Api, port: int, host: str = "127.0.0.1"):
        handler = type("Handler", (_Handler,), {"api": api})
        server = type(
            "Server", (ThreadingHTTPServer,), {"allow_reuse_address": True, "request_queue_size": 128}
        )
        # A backlog of 128 (socketserver has 5): many clients at once must queue, not be reset.
        self.httpd = server((host, port), handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="act3-api", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
