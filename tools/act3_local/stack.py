"""``python -m act3_local run``: start the emulators, create the template's resources, serve the API.

Everything started here is stopped on Ctrl-C / SIGTERM (``make stop``), and children die with this
process even if it is killed. ``<state>/stack.json`` says where everything is.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import resources, stripe_local
from .auth import CLIENT_ID, Issuer, machine_client_id, machine_clients
from .clock import Clock, describe
from .lambdas import Runtime
from .scheduler import Scheduler
from .server import URL_PREFIX, Api, ApiServer
from .services import (
    REPO_ROOT,
    ServiceError,
    free_port,
    require_port,
    start_localstripe,
    start_moto,
    write_json,
)
from .template import Schedule, Stack, TemplateError, load_yaml, parse

log = logging.getLogger("act3_local")

DEFAULT_PORTS = {"api": 3000, "dynamodb": 8000, "moto": 5050, "stripe": 8420}


def default_state_dir() -> Path:
    return Path(os.environ.get("ACT3_LOCAL_DIR") or REPO_ROOT / ".local").resolve()


def stack_file(state_dir: Path) -> Path:
    return state_dir / "stack.json"


@dataclass
class Options:
    template: Path = REPO_ROOT / "template.yaml"
    state_dir: Path = field(default_factory=default_state_dir)
    port: int = DEFAULT_PORTS["api"]
    dynamodb_port: int = DEFAULT_PORTS["dynamodb"]
    moto_port: int = DEFAULT_PORTS["moto"]
    stripe_port: int = DEFAULT_PORTS["stripe"]
    stripe: bool = True
    schedules: bool = True
    banner: bool = True


def _webhook_function(stack: Stack) -> str | None:
    """The function URL Stripe posts to: the one named like a Stripe webhook, else the only one."""
    urls = [name for name, fn in stack.functions.items() if fn.url]
    named = [n for n in urls if re.search("stripe", n, re.IGNORECASE)] or [
        n for n in urls if re.search("webhook", n, re.IGNORECASE)
    ]
    if named:
        return named[0]
    return urls[0] if len(urls) == 1 else None


def local_parameters(template: Path, secret: str) -> dict[str, str]:
    """Local values for the template's secret-like parameters (Stripe keys, webhook secret)."""
    from .template import load_yaml

    values: dict[str, str] = {}
    for name in load_yaml(template).get("Parameters") or {}:
        if re.search(r"webhook.*secret|signing.*secret", name, re.IGNORECASE):
            values[name] = secret
        elif re.search(r"stripe.*(secret|api).*key|stripe.*key", name, re.IGNORECASE):
            values[name] = stripe_local.API_KEY
    return values


def web_parameters(template: Path, base_url: str) -> dict[str, str]:
    """The web app is served by the local stack: invite links and the sign-in callback point at it."""
    from .template import load_yaml

    declared = load_yaml(template).get("Parameters") or {}
    wanted = {"AppUrl": base_url, "AuthCallbackUrl": f"{base_url}/auth/callback"}
    return {name: value for name, value in wanted.items() if name in declared}


class LocalStack:
    def __init__(self, options: Options):
        self.options = options
        self.state_dir = options.state_dir
        self.logs = self.state_dir / "logs"
        self.children: list[Any] = []
        self.server: ApiServer | None = None
        self.scheduler: Scheduler | None = None
        self.pump: resources.S3EventPump | None = None
        self.sqs_pump: resources.SqsPump | None = None
        self.info: dict[str, Any] = {}
        self._stopped = threading.Event()

    # --- start -----------------------------------------------------------------------------------
    def start(self) -> dict[str, Any]:
        o = self.options
        self.state_dir.mkdir(parents=True, exist_ok=True)
        first_run = not (self.state_dir / "dynamodb").exists()
        for port, what, flag in (
            (o.port, "the API", "PORT=… / --port"),
            (o.dynamodb_port, "DynamoDB Local", "--dynamodb-port"),
            (o.moto_port, "moto", "--moto-port"),
            *([(o.stripe_port, "localstripe", "--stripe-port")] if o.stripe else []),
        ):
            require_port(port, what, flag)

        secret = stripe_local.webhook_secret(self.state_dir)
        base_url = f"http://127.0.0.1:{o.port}"
        stack = parse(o.template, local_parameters(o.template, secret) | web_parameters(o.template, base_url))
        clock_file = self.state_dir / "clock_offset"
        clock = Clock(clock_file)
        issuer = Issuer.load(
            self.state_dir / "auth",
            issuer=f"{base_url}/auth",
            audience=CLIENT_ID,
            clients=machine_clients(load_yaml(o.template)),
        )

        from . import dynamodb_local

        try:
            ddb = dynamodb_local.start(port=o.dynamodb_port, db_path=self.state_dir / "dynamodb")
        except dynamodb_local.DynamoDBLocalError as exc:
            raise ServiceError(f"DynamoDB Local: {exc}") from exc
        self.children.append(ddb)
        moto = start_moto(o.moto_port, self.logs / "moto.log")
        self.children.append(moto)
        stripe_base = f"http://127.0.0.1:{o.stripe_port}"
        webhook_fn = _webhook_function(stack)
        webhook_url = f"{base_url}{URL_PREFIX}{webhook_fn}" if webhook_fn else None
        if o.stripe:
            self.children.append(
                start_localstripe(
                    o.stripe_port, self.state_dir / "localstripe.pickle", self.logs / "localstripe.log"
                )
            )
            stripe_local.load_catalog(stripe_base)
            if webhook_url:
                stripe_local.register_webhook(stripe_base, webhook_url, secret)

        environment = {
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_ENDPOINT_URL_DYNAMODB": ddb.endpoint,
            **{
                f"AWS_ENDPOINT_URL_{s}": moto.endpoint
                for s in ("S3", "SES", "SESV2", "EVENTS", "SQS", "EVENTBRIDGE")
            },
            "POWERTOOLS_TRACE_DISABLED": "true",
            "ACT3_CLOCK_FILE": str(clock_file),
            "ACT3_LOCAL": "1",
            "ACT3_API_URL": base_url,
            "STRIPE_API_BASE": stripe_base,
            "STRIPE_API_KEY": stripe_local.API_KEY,
            "STRIPE_WEBHOOK_SECRET": secret,
        }
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.pop("AWS_PROFILE", None)
        resources.create_tables(stack, ddb.endpoint)
        moto_info = resources.create_moto_resources(stack, moto.endpoint, environment)

        runtime = Runtime(stack.functions, environment)
        runtime.apply_environment()
        if o.stripe and stack.tables:
            # The plan catalog of localstripe into DynamoDB, as `make stripe-sync` does (issue 8); the
            # built-in catalog stays the default if that fails.
            try:
                stripe_local.sync_catalog(stripe_base, stack.tables[0].name, ddb.endpoint)
            except Exception:
                log.exception(
                    "syncing the plan catalog from localstripe failed; GET /plans serves the built-in one"
                )

        admin_token = secrets.token_urlsafe(16)
        self.stack, self.runtime, self.clock = stack, runtime, clock
        api = Api(
            stack,
            runtime,
            issuer,
            clock,
            base_url,
            admin_token,
            {"tick": self._tick, "status": self._status, "inventory": self._inventory},
            stripe_js=f"{stripe_base}/js.stripe.com/v3/" if o.stripe else None,
        )
        self.server = ApiServer(api, o.port)
        self.server.start()

        if stack.schedules:
            self.scheduler = Scheduler(stack.schedules, clock, self._fire)
            if o.schedules:
                self.scheduler.start()
        if stack.s3:
            self.pump = resources.S3EventPump(
                moto.endpoint,
                moto_info["s3_events_queue"],
                self._deliver,
                {s.id: s.function for s in stack.s3},
            )
            self.pump.start()
        bus_log = resources.route_buses_to_log(stack, moto.endpoint)
        if stack.sqs or bus_log:
            self.sqs_pump = resources.SqsPump(
                moto.endpoint,
                [(s.queue, s.function, s.batch_size, s.partial_failures) for s in stack.sqs],
                self.runtime.invoke,
                bus_log,
            )
            self.sqs_pump.start()

        declared = set(environment).union(*(f.environment for f in stack.functions.values()))
        function_env = {k: v for k, v in os.environ.items() if k in declared}
        self.info = {
            "pid": os.getpid(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "template": str(o.template),
            "state_dir": str(self.state_dir),
            "api_url": base_url,
            "port": o.port,
            "docs_url": f"{base_url}/docs",
            "openapi_url": f"{base_url}/openapi.json",
            "auth": {
                "issuer": issuer.issuer,
                "audience": CLIENT_ID,
                "client_id": CLIENT_ID,
                "machine_clients": {name: machine_client_id(name) for name in issuer.clients},
                "jwks_url": f"{issuer.issuer}/.well-known/jwks.json",
                "keys_dir": str(self.state_dir / "auth"),
            },
            "dynamodb": {
                "endpoint": ddb.endpoint,
                "port": ddb.port,
                "tables": {t.logical_id: t.name for t in stack.tables},
            },
            "moto": {"endpoint": moto.endpoint, "port": o.moto_port, **moto_info},
            "stripe": {
                "enabled": o.stripe,
                "api_base": stripe_base,
                "port": o.stripe_port,
                "api_key": stripe_local.API_KEY,
                "webhook_function": webhook_fn,
                "webhook_url": webhook_url,
                "webhook_secret": secret,
            },
            "function_urls": {
                name: f"{base_url}{URL_PREFIX}{name}" for name, fn in stack.functions.items() if fn.url
            },
            "schedules": [
                {"name": s.name, "function": s.function, "expression": s.expression} for s in stack.schedules
            ],
            "s3_subscriptions": [
                {"id": s.id, "function": s.function, "bucket": s.bucket, "events": s.events} for s in stack.s3
            ],
            "sqs_subscriptions": [{"queue": s.queue, "function": s.function} for s in stack.sqs],
            "routes": [{"route": r.route_key, "function": r.function, "auth": r.auth} for r in stack.routes],
            "clock_file": str(clock_file),
            "admin_token": admin_token,
            "logs_dir": str(self.logs),
            "function_environment": function_env,
            "first_run": first_run,
        }
        write_json(stack_file(self.state_dir), self.info)
        return self.info

    # --- controls --------------------------------------------------------------------------------
    def _fire(self, schedule: Schedule, now: float) -> Any:
        from .events import schedule_event

        log.info("schedule %s -> %s", schedule.name, schedule.function)
        return self.runtime.invoke(schedule.function, schedule_event(schedule, now))

    def _deliver(self, function: str, event: dict[str, Any]) -> None:
        record = event["Records"][0]
        log.info("S3 %s %s -> %s", record.get("eventName"), record["s3"]["object"].get("key"), function)
        self.runtime.invoke(function, event)

    def _tick(self, payload: dict[str, Any]) -> dict[str, Any]:
        wanted = payload.get("schedule")
        if not self.stack.schedules:
            return {
                "fired": [],
                "clock": describe(self.clock.path),
                "note": "the template declares no schedules yet",
            }
        chosen = [
            s
            for s in self.stack.schedules
            if not wanted or wanted in (s.name, s.function, f"{s.function}.{s.name}")
        ]
        if not chosen:
            names = ", ".join(s.name for s in self.stack.schedules) or "none"
            raise KeyError(f"no schedule {wanted!r} (schedules: {names})")
        self.clock.invalidate()
        now = self.clock.time()
        fired = []
        for schedule in chosen:
            try:
                self._fire(schedule, now)
                fired.append({"name": schedule.name, "function": schedule.function, "ok": True})
            except Exception as exc:
                fired.append(
                    {"name": schedule.name, "function": schedule.function, "ok": False, "error": str(exc)}
                )
        return {"fired": fired, "clock": describe(self.clock.path)}

    def _inventory(self, _payload: dict[str, Any]) -> dict[str, Any]:
        """Deliver the S3 Inventory reports the template configures, as of the local clock."""
        self.clock.invalidate()
        manifests = resources.write_inventory_reports(
            self.stack, self.info["moto"]["endpoint"], self.clock.time()
        )
        return {"manifests": manifests, "clock": describe(self.clock.path)}

    def _status(self, _payload: dict[str, Any]) -> dict[str, Any]:
        return {
            "clock": describe(self.clock.path),
            "schedules": self.scheduler.describe() if self.scheduler else [],
            "children": {
                getattr(c, "name", "dynamodb-local"): c.process.poll() is None for c in self.children
            },
            "instances": {name: self.runtime.instances_running(name) for name in self.stack.functions}
            if self.runtime is not None
            else {},
        }

    # --- run / stop ------------------------------------------------------------------------------
    def wait(self) -> None:
        """Block until a signal asks to stop or a child dies."""
        while not self._stopped.wait(1.0):
            for child in self.children:
                if child.process.poll() is not None:
                    name = getattr(child, "name", "DynamoDB Local")
                    print(
                        f"act3_local: {name} stopped unexpectedly (code {child.process.returncode}); "
                        "stopping the stack",
                        file=sys.stderr,
                    )
                    return

    def request_stop(self, *_args: Any) -> None:
        self._stopped.set()

    def stop(self) -> None:
        for part in (self.pump, self.sqs_pump, self.scheduler):
            if part is not None:
                part.stop()
        if self.server is not None:
            self.server.stop()
        runtime: Runtime | None = getattr(self, "runtime", None)  # None when start() failed early
        if runtime is not None:
            runtime.stop()
        for child in reversed(self.children):
            try:
                child.stop()
            except Exception:
                log.exception("stopping %s", child)
        self.children.clear()
        path = stack_file(self.state_dir)
        if self.info and path.exists():
            write_json(
                path,
                self.info | {"pid": None, "stopped_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
            )


def banner(info: dict[str, Any]) -> str:
    api = info["api_url"]
    lines = [
        "",
        f"ACT 3 AI local stack is up — state in {info['state_dir']}  (Ctrl-C or `make stop` stops it)",
        f"  API        {api}    docs {info['docs_url']}    OpenAPI {info['openapi_url']}",
        f"  Auth       issuer {info['auth']['issuer']}   audience {info['auth']['audience']}",
        f"  Web app    {api}/   (sign in with any e-mail, e.g. owner@studio.example after `make seed`)",
    ]
    if info["stripe"]["webhook_url"]:
        lines.append(f"  Webhook    {info['stripe']['webhook_url']}   (secret in stack.json)")
    if info["stripe"]["enabled"]:
        lines.append(f"  Stripe     {info['stripe']['api_base']}   key {info['stripe']['api_key']}")
    lines += [
        f"  DynamoDB   {info['dynamodb']['endpoint']}   "
        f"moto (S3, SES, EventBridge, SQS) {info['moto']['endpoint']}",
        f"  Triggers   {len(info['routes'])} routes, {len(info['schedules'])} schedules, "
        f"{len(info['s3_subscriptions'])} S3 subscriptions",
        f"  Details    {Path(info['state_dir']) / 'stack.json'}   logs {info['logs_dir']}",
        "",
        "  Try:",
    ]
    public = next(
        (
            r["route"].split(" ", 1)[1]
            for r in info["routes"]
            if not r["auth"] and r["route"].startswith("GET ") and "{" not in r["route"]
        ),
        None,
    )
    lines.append(f"    curl -s {api}{public or '/openapi.json'}")
    lines.append("    TOKEN=$(make -s token EMAIL=creator@studio.example)   # after `make seed`")
    lines.append(f'    curl -s {api}/orgs/org_demo_studio/balance -H "Authorization: Bearer $TOKEN"')
    if info.get("first_run"):
        lines += [
            "",
            "  Fresh state: `make seed` loads a demo studio org (a member in each role, weeks of history).",
        ]
    return "\n".join(lines) + "\n"


def run(options: Options) -> int:
    logging.basicConfig(
        level=os.environ.get("ACT3_LOCAL_LOG", "INFO"), format="%(asctime)s %(message)s", datefmt="%H:%M:%S"
    )
    # The handlers' own loggers (Powertools) keep their level; boto and werkzeug stay quiet.
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stack = LocalStack(options)
    signal.signal(signal.SIGTERM, stack.request_stop)
    signal.signal(signal.SIGINT, stack.request_stop)
    try:
        info = stack.start()
    except (ServiceError, TemplateError) as exc:
        stack.stop()
        print(f"act3_local: {exc}", file=sys.stderr)
        return 1
    except BaseException:
        stack.stop()
        raise
    if options.banner:
        print(banner(info), flush=True)
    try:
        stack.wait()
    finally:
        print("act3_local: stopping…", flush=True)
        stack.stop()
        print("act3_local: stopped", flush=True)
    return 0


def pick_free_ports(options: Options) -> Options:
    """For tests and parallel stacks: every port chosen by the OS."""
    options.port, options.dynamodb_port, options.moto_port, options.stripe_port = (
        free_port() for _ in range(4)
    )
    return options
