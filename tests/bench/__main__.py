"""`python -m tests.bench`: prints one JSON object on stdout (progress goes to stderr).

Cold imports are timed first, while nothing else runs; then DynamoDB Local is started in memory on a
free port for the store benchmarks and stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from act3_local import dynamodb_local
from tests.bench import capacity, cycles, entitlements, init, store
from tests.bench.counting import RequestCounter

# Printed first, in this order; the details follow.
HEADLINE = (
    "timestamp",
    "python",
    "dynamodb_local_version",
    "requests_per_debit_fast_path",
    "requests_per_debit_multi_lot",
    "requests_per_entitlements_call",
    "requests_per_entitlements_call_cold",
    "hot_org_debits_per_s",
    "hot_org_retries_per_debit",
    "raw_conditional_updates_per_s",
    "hot_org_ratio",
    "hot_org_ratio_vs_raw_transaction",
    "realistic_requests_per_debit",
    "realistic_ms_per_debit",
    "wcu_per_debit",
    "wcu_per_debit_realistic",
    "org_ceiling_debits_per_s",
    "checks",
    "init_ms",
    "boto3_import_ms",
    "init_ratio",
    "init_top_imports",
    "inventory_lines_per_s",
    "inventory_read_lines_per_s",
    "inventory_peak_rss_mb",
    "inventory_dynamodb_requests_per_org",
    "rollover_requests_per_org",
    "rollover_10000_orgs_wall_s",
    "counts",
)


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--debits", type=int, default=200, help="debits counted per requests-per-debit case")
    parser.add_argument("--threads", type=int, default=16, help="client threads of the hot-org case")
    parser.add_argument("--per-thread", type=int, default=150, help="debits (and raw updates) per thread")
    parser.add_argument("--warmup", type=int, default=20, help="uncounted operations per thread first")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of each concurrent load")
    parser.add_argument("--init-runs", type=int, default=5, help="fresh processes per cold-import median")
    parser.add_argument(
        "--python",
        default=os.environ.get("ACT3_BENCH_PYTHON", "python3"),
        help="interpreter the bench venv is built from (env ACT3_BENCH_PYTHON)",
    )
    parser.add_argument("--skip-init", action="store_true", help="leave out the cold-import timings")
    parser.add_argument(
        "--inventory-lines", type=int, default=1_000_000, help="lines of the inventory report"
    )
    parser.add_argument(
        "--inventory-orgs", type=int, default=1_000, help="orgs the report's lines spread over"
    )
    parser.add_argument(
        "--skip-inventory", action="store_true", help="leave out the inventory reconciliation"
    )
    parser.add_argument(
        "--rollover-sample", type=int, default=200, help="orgs whose boundary requests are counted"
    )
    parser.add_argument(
        "--rollover-orgs", type=int, default=10_000, help="due orgs of the timed schedule run"
    )
    parser.add_argument("--rollover-workers", type=int, default=16, help="parallel workers of that run")
    parser.add_argument("--skip-rollover", action="store_true", help="leave out the cycle benchmarks")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="every measurement and correctness check once, on small counts, no cold-import timings (CI)",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.debits, args.threads, args.per_thread, args.warmup, args.rounds = 20, 4, 10, 2, 1
        args.inventory_lines, args.inventory_orgs = 5_000, 20
        args.skip_init = True
        args.rollover_sample, args.rollover_orgs, args.rollover_workers = 20, 200, 4
    return args


def _dummy_aws_env() -> None:
    """Dummy credentials and region, so nothing can reach a real AWS account."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_SESSION_TOKEN": "bench",
            "AWS_DEFAULT_REGION": store.REGION,
            "AWS_REGION": store.REGION,
        }
    )
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)


def _jar_version(install_dir: Path) -> str | None:
    """The version Maven metadata inside DynamoDBLocal.jar records."""
    with zipfile.ZipFile(install_dir / "DynamoDBLocal.jar") as jar:
        pom = jar.read("META-INF/maven/com/amazonaws/DynamoDBLocal/pom.properties").decode()
    for line in pom.splitlines():
        if line.startswith("version="):
            return line.partition("=")[2].strip()
    return None


def store_benchmarks(args: argparse.Namespace, result: dict[str, Any]) -> None:
    counter = RequestCounter()
    counter.install()
    install_dir = dynamodb_local.ensure_installed()
    result["dynamodb_local_version"] = _jar_version(install_dir)
    log("starting DynamoDB Local (in memory)")
    with dynamodb_local.start() as ddb:
        bench = store.Bench(ddb.endpoint, store.create_table(ddb.endpoint), counter)

        log(f"fast path: {args.debits} warm debits the monthly lot covers")
        fast = store.fast_path(bench, args.debits)
        result["requests_per_debit_fast_path"] = fast.pop("requests_per_debit")
        result["fast_path"] = fast

        log(f"multi-lot: {args.debits} warm debits spanning 2+ lots")
        multi = store.multi_lot(bench, args.debits)
        result["requests_per_debit_multi_lot"] = multi.pop("requests_per_debit")
        result["multi_lot"] = multi

        log(f"entitlements: {args.debits} warm answers (and a new instance's first)")
        result.update(entitlements.measure(bench, args.debits))

        result.update(store.contention(bench, args.threads, args.per_thread, args.warmup, args.rounds))

        if not args.skip_rollover:
            result.update(
                cycles.measure(
                    bench.store, counter, args.rollover_sample, args.rollover_orgs, args.rollover_workers
                )
            )

        log(f"realistic: {args.debits} debits, a member with a monthly limit, two instances alternating")
        real = capacity.realistic(bench, args.debits)
        result["realistic"] = real
        result["realistic_requests_per_debit"] = real["requests_per_debit"]
        result["realistic_ms_per_debit"] = real["ms_per_debit"]
        best = capacity.best_case_units(bench)
        result["capacity_best_case"] = best
        result["wcu_per_debit"] = best["wcu_per_debit"]
        result["wcu_per_debit_realistic"] = real["capacity"]["wcu_per_debit"]
        result["org_ceiling_debits_per_s"] = real["capacity"]["org_ceiling_debits_per_s"]
    counter.uninstall()
    if not counter.clients:
        raise RuntimeError("no DynamoDB client was hooked: the request counts are meaningless")
    for case in ("fast_path", "multi_lot"):
        for extra in result[case]["unexpected_requests"]:
            log(f"{case}: unexpected {extra['operation']} sent from:\n    " + "\n    ".join(extra["stack"]))


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    started = time.perf_counter()
    result: dict[str, Any] = {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": _load()},
        "counts": {
            "debits_per_case": args.debits,
            "threads": args.threads,
            "per_thread": args.per_thread,
            "rounds": args.rounds,
            "hot_org_debits": args.rounds * args.threads * args.per_thread,
            "raw_updates": args.rounds * args.threads * args.per_thread,
            "raw_transactions": args.rounds * args.threads * args.per_thread,
            "warmup_per_thread": args.warmup,
            "init_runs": args.init_runs,
        },
    }
    _dummy_aws_env()
    if not args.skip_init:
        result.update(init.measure(args.init_runs, args.python))
    store_benchmarks(args, result)
    if not args.skip_inventory:
        from tests.bench import inventory

        report = inventory.measure(args.inventory_lines, args.inventory_orgs, log)
        result["inventory_counters_ok"] = report["first_org_bytes"] == report["first_org_bytes_expected"]
        result["inventory_lines_per_s"] = report.pop("lines_per_s")
        result["inventory_read_lines_per_s"] = report.pop("read_lines_per_s")
        result["inventory_peak_rss_mb"] = report.pop("peak_rss_mb")
        result["inventory_dynamodb_requests_per_org"] = report.pop("dynamodb_requests_per_org")
        result["inventory"] = report
    result["machine"]["load_average_at_end"] = _load()
    result["bench_seconds"] = round(time.perf_counter() - started, 1)
    result["checks"] = correctness(result)
    ordered = {k: result[k] for k in HEADLINE if k in result}
    print(json.dumps(ordered | result, indent=2))
    failed = [name for name, ok in result["checks"].items() if not ok]
    if failed:
        log(f"FAILED correctness checks: {', '.join(failed)}")
        return 1
    return 0


def correctness(result: dict[str, Any]) -> dict[str, bool]:
    """What must hold whatever the speed: balances add up, nothing failed, no request was unexpected."""
    hot_outcomes = result.get("hot_org_outcomes", {})
    return {
        "fast_path_one_transaction_per_debit": result.get("requests_per_debit_fast_path") == 1.0
        and not result["fast_path"]["unexpected_requests"],
        "multi_lot_only_transactions": not result["multi_lot"]["unexpected_requests"],
        "multi_lot_draws_from_two_or_more_lots": min(map(int, result["multi_lot"]["lots_per_debit"])) >= 2,
        "hot_org_balance": bool(result.get("hot_org_balance_ok")),
        "hot_org_every_debit_succeeded": set(hot_outcomes) == {"ok"},
        "raw_transaction_balance": bool(result.get("raw_transaction_balance_ok")),
        "realistic_balance": bool(result["realistic"]["balance_ok"]),
        "realistic_member_spent": bool(result["realistic"]["member_spent_ok"]),
        "wcu_counted": result.get("wcu_per_debit", 0) >= 2 * 5,  # five items, 2 WCU per started KB each
        "inventory_counters": bool(result.get("inventory_counters_ok", True)),
    }


if __name__ == "__main__":
    raise SystemExit(main())
