"""``python -m act3_local <command>``: run, stop, token, tick, clock, seed, inventory, stripe-sync."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import inspect
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .clock import describe, parse_duration, parse_instant, read_offset, write_offset
from .stack import DEFAULT_PORTS, Options, default_state_dir, stack_file
from .template import TemplateError


def _fail(message: str) -> int:
    print(f"act3_local: {message}", file=sys.stderr)
    return 1


def _stack_info(state_dir: Path, running: bool = True) -> dict[str, Any] | None:
    path = stack_file(state_dir)
    if not path.exists():
        return None
    info: dict[str, Any] = json.loads(path.read_text())
    if running and not _alive(info.get("pid")):
        return None
    return info


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # An exited child not yet reaped by its parent (a zombie) still answers kill(0).
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _control(info: dict[str, Any], action: str, payload: dict[str, Any]) -> dict[str, Any]:
    from .server import ADMIN_HEADER

    request = urllib.request.Request(  # noqa: S310 - the local stack
        f"{info['api_url']}/_local/{action}",
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"content-type": "application/json", ADMIN_HEADER: info["admin_token"]},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as resp:  # noqa: S310
            return dict(json.loads(resp.read()))
    except urllib.error.HTTPError as exc:
        raise SystemExit(_fail(json.loads(exc.read() or b"{}").get("message", str(exc)))) from exc


def cmd_run(args: argparse.Namespace) -> int:
    from .stack import pick_free_ports, run

    options = Options(
        template=args.template.resolve(),
        state_dir=args.state_dir.resolve(),
        port=args.port,
        dynamodb_port=args.dynamodb_port,
        moto_port=args.moto_port,
        stripe_port=args.stripe_port,
        stripe=not args.no_stripe,
        schedules=not args.no_schedules,
    )
    if args.free_ports:
        pick_free_ports(options)
    running = _stack_info(options.state_dir)
    if running:
        return _fail(
            f"a stack already runs from {options.state_dir} "
            f"(pid {running['pid']}, {running['api_url']}); `make stop` first"
        )
    try:
        return run(options)
    except TemplateError as exc:
        return _fail(str(exc))


def cmd_stop(args: argparse.Namespace) -> int:
    info = _stack_info(args.state_dir)
    if info is None:
        print("act3_local: no stack is running")
        return 0
    pid = info["pid"]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    print(f"act3_local: stopped the stack (pid {pid})")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    """A member's token (``--email``), or a machine identity's client-credentials token (``--client``)."""
    from .auth import CLIENT_ID, Issuer, machine_clients
    from .template import load_yaml

    if bool(args.email) == bool(args.client):
        return _fail("give either --email (a member) or --client (a machine identity), not both")
    info = _stack_info(args.state_dir, running=False)
    issuer_url = info["auth"]["issuer"] if info else f"http://127.0.0.1:{args.port}/auth"
    template = Path(info["template"]) if info else args.template
    issuer = Issuer.load(
        args.state_dir / "auth",
        issuer=issuer_url,
        audience=CLIENT_ID,
        clients=machine_clients(load_yaml(template)),
    )
    try:
        if args.client:
            scopes = args.scope.split() if args.scope is not None else None
            print(issuer.mint_client(args.client, scopes=scopes, ttl=args.ttl))
        else:
            print(issuer.mint(args.email, name=args.name, idp=args.idp, ttl=args.ttl))
    except ValueError as exc:
        return _fail(str(exc))
    return 0


def cmd_tick(args: argparse.Namespace) -> int:
    info = _stack_info(args.state_dir)
    if info is None:
        return _fail("no stack is running: start it with `make run`")
    result = _control(info, "tick", {"schedule": args.schedule} if args.schedule else {})
    if result.get("note"):
        print(f"act3_local: {result['note']}")
    for fired in result["fired"]:
        status = "ok" if fired["ok"] else f"FAILED: {fired.get('error')}"
        print(f"{fired['name']} -> {fired['function']}: {status}")
    print(f"clock: {result['clock']}")
    return 0 if all(f["ok"] for f in result["fired"]) else 1


def cmd_inventory(args: argparse.Namespace) -> int:
    info = _stack_info(args.state_dir)
    if info is None:
        return _fail("no stack is running: start it with `make run`")
    result = _control(info, "inventory", {})
    for manifest in result["manifests"]:
        print(f"inventory report delivered: {manifest}")
    if not result["manifests"]:
        print("act3_local: the template configures no S3 Inventory")
    return 0


def cmd_clock(args: argparse.Namespace) -> int:
    path = args.state_dir / "clock_offset"
    if args.action == "advance":
        if not args.value:
            return _fail("clock advance needs a duration, e.g. 31d")
        write_offset(path, read_offset(path) + parse_duration(args.value))
    elif args.action == "set":
        if not args.value:
            return _fail("clock set needs an ISO instant, e.g. 2026-02-01T00:00:00Z")
        write_offset(path, int(parse_instant(args.value).timestamp() - time.time()))
    elif args.action == "reset":
        write_offset(path, 0)
    print(f"clock: {describe(path)}")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    info = _stack_info(args.state_dir)
    if info is None:
        return _fail("no stack is running: start it with `make run`, then `make seed`")
    os.environ.update(info["function_environment"])
    try:
        demo = importlib.import_module("act3_billing.demo")  # the product's own seeding code, when present
    except ImportError:
        return _fail(
            "act3_billing.demo (seed_demo) is not in this checkout yet: there is no demo data to load"
        )
    seed_demo = getattr(demo, "seed_demo", None)
    if seed_demo is None:
        return _fail("act3_billing.demo has no seed_demo()")
    from .auth import CLIENT_ID, Issuer, machine_client_id, sub_for
    from .clock import Clock

    issuer = Issuer.load(args.state_dir / "auth", issuer=info["auth"]["issuer"], audience=CLIENT_ID)
    # seed_demo asks for what it needs by parameter name; the store is built only if asked for.
    available: dict[str, Callable[[], Any]] = {
        "store": lambda: importlib.import_module("act3_billing.runtime").store(),
        "now": lambda: Clock(Path(info["clock_file"])).now(),
        "user_id_for": lambda: sub_for,
        "sub_for": lambda: sub_for,
        "table_name": lambda: next(iter(info["dynamodb"]["tables"].values()), None),
        "dynamodb_endpoint": lambda: info["dynamodb"]["endpoint"],
        "stack": lambda: info,
        "usage_meter": lambda: f"service:{machine_client_id('usage-meter')}",
    }
    params = inspect.signature(seed_demo).parameters
    missing = [n for n, p in params.items() if n not in available and p.default is inspect.Parameter.empty]
    if missing:
        return _fail(f"seed_demo() wants {', '.join(missing)}, which the local stack does not provide")
    result = seed_demo(**{name: available[name]() for name in params if name in available})
    _print_seed(_summary(result, getattr(demo, "DEMO_MEMBERS", {})), issuer, as_json=args.json)
    return 0


def cmd_stripe_sync(args: argparse.Namespace) -> int:
    """The plan catalog from Stripe into DynamoDB: the running local stack's localstripe, or (without a
    stack) Stripe itself with STRIPE_API_KEY and TABLE_NAME (and AWS credentials) from the environment."""
    info = _stack_info(args.state_dir)
    if info is not None:
        from . import stripe_local

        if not info["stripe"]["enabled"]:
            return _fail("the running stack has no localstripe (--no-stripe)")
        table = next(iter(info["dynamodb"]["tables"].values()))
        plans = stripe_local.sync_catalog(info["stripe"]["api_base"], table, info["dynamodb"]["endpoint"])
    else:
        if not os.environ.get("STRIPE_API_KEY") or not os.environ.get("TABLE_NAME"):
            return _fail("no local stack is running: set STRIPE_API_KEY and TABLE_NAME to sync from Stripe")
        from datetime import UTC, datetime

        from act3_billing import catalog, runtime

        gateway = runtime.gateway()
        synced = catalog.sync(runtime.payments(), gateway.products(), gateway.prices(), datetime.now(UTC))
        plans = sorted(p.id for p in synced.plans.values() if p.stripe_price_id)
    print(json.dumps({"synced_plans": plans}))
    return 0


def _summary(result: Any, roles: dict[str, Any]) -> dict[str, Any]:
    """The seed's result as JSON-able data, members as a list of {email, sub, role}."""
    is_instance = dataclasses.is_dataclass(result) and not isinstance(result, type)
    data: Any = dataclasses.asdict(result) if is_instance else result  # type: ignore[arg-type, unused-ignore]
    summary: dict[str, Any] = dict(data) if isinstance(data, dict) else {"result": data}
    members = summary.get("members") or []
    if isinstance(members, dict):  # e-mail -> sub
        members = [
            {
                "email": email,
                "sub": sub,
                "role": str(getattr(roles.get(email), "value", roles.get(email, ""))),
            }
            for email, sub in members.items()
        ]
    summary["members"] = members
    return summary


def _print_seed(summary: dict[str, Any], issuer: Any, *, as_json: bool) -> None:
    """The seed's summary, with a 12-hour token for each member it names (by ``email``)."""
    members = [dict(m) for m in summary.get("members") or []]
    for member in members:
        if member.get("email"):
            member["token"] = issuer.mint(
                member["email"], name=member.get("name"), idp=member.get("idp"), ttl=12 * 3600
            )
    summary["members"] = members
    if as_json:
        print(json.dumps(summary, indent=2, default=str))
        return
    print("act3_local: demo data loaded")
    print(json.dumps({k: v for k, v in summary.items() if k != "members"}, indent=2, default=str))
    for member in members:
        role = str(member.get("role", "member"))
        print(f"  {role:<8} {member.get('email')}\n    export TOKEN_{role.upper()}={member.get('token')}")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m act3_local", description="The ACT 3 AI billing local stack")
    top.add_argument(
        "--state-dir",
        type=Path,
        default=default_state_dir(),
        help="state folder (default .local, or ACT3_LOCAL_DIR)",
    )
    sub = top.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start everything and serve the API (Ctrl-C stops)")
    run.add_argument("--port", type=int, default=int(os.environ.get("PORT") or DEFAULT_PORTS["api"]))
    run.add_argument("--dynamodb-port", type=int, default=DEFAULT_PORTS["dynamodb"])
    run.add_argument("--moto-port", type=int, default=DEFAULT_PORTS["moto"])
    run.add_argument("--stripe-port", type=int, default=DEFAULT_PORTS["stripe"])
    run.add_argument(
        "--free-ports", action="store_true", help="let the OS choose every port (see stack.json)"
    )
    run.add_argument("--template", type=Path, default=Path(__file__).resolve().parents[2] / "template.yaml")
    run.add_argument("--no-stripe", action="store_true", help="do not start localstripe")
    run.add_argument("--no-schedules", action="store_true", help="fire schedules only on `tick`")
    run.set_defaults(func=cmd_run)

    sub.add_parser("stop", help="stop the running stack").set_defaults(func=cmd_stop)

    token = sub.add_parser("token", help="print a bearer token from the local issuer")
    token.add_argument("--email", help="a member's token for this e-mail")
    token.add_argument("--client", help="a machine identity's token: usage-meter, billing-operations")
    token.add_argument("--scope", help="the machine token's scopes (space-separated; default all allowed)")
    token.add_argument("--template", type=Path, default=Path(__file__).resolve().parents[2] / "template.yaml")
    token.add_argument("--name")
    token.add_argument("--idp", help="identity provider, e.g. linkedin")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    token.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT") or DEFAULT_PORTS["api"]),
        help=argparse.SUPPRESS,
    )
    token.set_defaults(func=cmd_token)

    tick = sub.add_parser("tick", help="fire the template's schedules now (all, or --schedule NAME)")
    tick.add_argument("--schedule", help="schedule name or function logical id")
    tick.set_defaults(func=cmd_tick)

    sub.add_parser(
        "inventory", help="deliver S3 Inventory reports of the buckets now (moto has none of its own)"
    ).set_defaults(func=cmd_inventory)
    clock = sub.add_parser("clock", help="show or move the local clock: advance 31d | set ISO | reset | show")
    clock.add_argument("action", choices=["show", "advance", "set", "reset"], nargs="?", default="show")
    clock.add_argument("value", nargs="?")
    clock.set_defaults(func=cmd_clock)

    seed = sub.add_parser("seed", help="load the demo studio org (needs a running stack)")
    seed.add_argument(
        "--json", action="store_true", help="print the result (with a token per member) as JSON"
    )
    seed.set_defaults(func=cmd_seed)

    sync = sub.add_parser(
        "stripe-sync", help="store the plan catalog from Stripe (or the stack's localstripe)"
    )
    sync.set_defaults(func=cmd_stripe_sync)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.state_dir = args.state_dir.resolve()
    try:
        return int(args.func(args))
    except ValueError as exc:
        return _fail(str(exc))
