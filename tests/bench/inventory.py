"""The S3 Inventory reconciliation on a large report: lines per second, peak RSS, DynamoDB requests.

The report (gzip CSV in AWS's format, N lines over M orgs) is written to a moto server; the
reconciliation runs in a fresh process (as a Lambda would), against DynamoDB Local, and reports its
own peak RSS and the DynamoDB requests it sent (counted with botocore event hooks).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

REGION = "us-east-1"
BUCKET = "act3-inventory-bench"
PROJECTS = 5


def _client(service: str, endpoint: str) -> Any:
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )


def write_report(moto: str, lines: int, orgs: int, at: datetime) -> tuple[str, int]:
    """A report of `lines` objects in `orgs` orgs; returns the manifest key and the total bytes."""
    s3 = _client("s3", moto)
    s3.create_bucket(Bucket=BUCKET)
    total = 0
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.csv.gz"
        with gzip.open(path, "wt", compresslevel=1, newline="") as out:
            for i in range(lines):
                org, project = i % orgs, (i // orgs) % PROJECTS
                kind = "media" if i % 4 else "text"
                size = 1000 + (i * 7919) % 5_000_000
                total += size
                out.write(
                    f'"act3-media-bench","orgs/org-{org:06d}/projects/p{project}/{kind}/file-{i}.bin",'
                    f'"{size}","2026-11-01T00:00:00.000Z"\n'
                )
        data_key = f"inventory/act3-media-bench/daily-usage/data/{uuid.uuid4()}.csv.gz"
        s3.upload_file(str(path), BUCKET, data_key)
        size = path.stat().st_size
    manifest = {
        "sourceBucket": "act3-media-bench",
        "destinationBucket": f"arn:aws:s3:::{BUCKET}",
        "version": "2016-11-30",
        "creationTimestamp": str(int(at.timestamp() * 1000)),
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size, LastModifiedDate",
        "files": [{"key": data_key, "size": size, "MD5checksum": "0" * 32}],
    }
    manifest_key = "inventory/act3-media-bench/daily-usage/2026-11-02T01-00Z/manifest.json"
    s3.put_object(Bucket=BUCKET, Key=manifest_key, Body=json.dumps(manifest).encode())
    return manifest_key, total


def peak_rss_mb() -> float:
    """This process's high-water RSS since its exec (VmHWM; getrusage's maxrss would also count the
    parent's pages a forked child started with)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def child(args: argparse.Namespace) -> None:
    """In a fresh process: reconcile, then print what it took."""
    from tests.bench.counting import RequestCounter

    counter = RequestCounter()
    counter.install()
    from act3_billing.objects import S3Reports
    from act3_billing.storage import reconcile_inventory
    from act3_billing.store.models import bind
    from act3_billing.store.storage import StorageStore

    storage = StorageStore(bind(args.table, REGION, args.ddb))
    rss_before = peak_rss_mb()
    with counter.window() as tally:
        started = time.perf_counter()
        summary = reconcile_inventory(storage, S3Reports(REGION), BUCKET, args.manifest, datetime.now(UTC))
        seconds = time.perf_counter() - started
    meter = storage.meter("org-000000")
    print(
        json.dumps(
            {
                "lines": summary.lines,
                "orgs": summary.orgs,
                "reconciled": summary.reconciled,
                "seconds": round(seconds, 2),
                "lines_per_s": round(summary.lines / seconds),
                "read_lines_per_s": round(summary.lines / max(summary.read_seconds, 1e-6)),
                "read_seconds": summary.read_seconds,
                "write_seconds": summary.write_seconds,
                "peak_rss_mb": peak_rss_mb(),
                "rss_after_imports_mb": rss_before,
                "dynamodb_requests": tally.requests,
                "dynamodb_requests_by_op": dict(tally.by_op),
                "dynamodb_requests_per_org": round(tally.requests / max(summary.orgs, 1), 2),
                "first_org_bytes": meter.totals.bytes,
            }
        )
    )


def measure(lines: int, orgs: int, log: Any) -> dict[str, Any]:
    from act3_local import dynamodb_local
    from act3_local.services import free_port, start_moto
    from tests.bench.store import create_table

    with tempfile.TemporaryDirectory() as folder:
        moto = start_moto(free_port(), Path(folder) / "moto.log")
        try:
            with dynamodb_local.start() as ddb:
                table = create_table(ddb.endpoint)
                log(f"inventory: writing a {lines:,}-line report over {orgs:,} orgs")
                manifest, total = write_report(
                    moto.endpoint, lines, orgs, datetime(2026, 11, 2, 1, tzinfo=UTC)
                )
                log("inventory: reconciling in a fresh process")
                env = os.environ | {"AWS_ENDPOINT_URL_S3": moto.endpoint, "TABLE_NAME": table}
                env.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
                done = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "tests.bench.inventory",
                        "--child",
                        "--ddb",
                        ddb.endpoint,
                        "--table",
                        table,
                        "--manifest",
                        manifest,
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if done.returncode != 0:
                    raise RuntimeError(f"inventory bench child failed:\n{done.stderr[-3000:]}")
                result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
                expected_first = sum(1000 + (i * 7919) % 5_000_000 for i in range(0, lines, orgs))
                result["first_org_bytes_expected"] = expected_first
                result["report_bytes"] = total
                return result
        finally:
            moto.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--ddb")
    parser.add_argument("--table")
    parser.add_argument("--manifest")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--orgs", type=int, default=1_000)
    args = parser.parse_args()
    if args.child:
        child(args)
    else:
        print(json.dumps(measure(args.lines, args.orgs, lambda m: print(m, file=sys.stderr)), indent=2))


if __name__ == "__main__":
    main()
