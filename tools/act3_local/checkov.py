"""`make checkov`: checkov on template.yaml, with the template-wide skips that template.yaml itself
lists (top-level `Metadata.checkov.skip`, each with its reason); 0 failed checks or it fails.

Checkov reads skips from a resource's own Metadata; checks that apply to no resource of the stack are
listed once at the top instead, so resources added later are held to every other check."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from .template import load_yaml


def template_skips(template: dict[str, Any]) -> list[str]:
    skips = ((template.get("Metadata") or {}).get("checkov") or {}).get("skip") or []
    ids: list[str] = []
    for skip in skips:
        if not str(skip.get("comment") or "").strip():
            raise SystemExit(f"checkov skip {skip.get('id')} in template.yaml has no reason (comment)")
        ids.append(str(skip["id"]))
    return ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m act3_local.checkov")
    parser.add_argument("template", type=Path)
    parser.add_argument("--checkov", default="checkov", help="the checkov executable")
    args = parser.parse_args(argv)
    skips = template_skips(load_yaml(args.template))
    command = [
        args.checkov,
        "-f",
        str(args.template),
        "--framework",
        "cloudformation",
        "--quiet",
        "-o",
        "json",
    ]
    if skips:
        command += ["--skip-check", ",".join(skips)]
    run = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        report = json.loads(run.stdout)
    except ValueError:
        print(run.stdout, run.stderr, file=sys.stderr)
        return 2
    reports = report if isinstance(report, list) else [report]
    failed = [f for r in reports for f in r.get("results", {}).get("failed_checks", [])]
    summary = [r.get("summary", {}) for r in reports]
    for check in failed:
        print(f"FAILED {check['check_id']} {check['check_name']}: {check['resource']}", file=sys.stderr)
    passed = sum(s.get("passed", 0) for s in summary)
    skipped = sum(s.get("skipped", 0) for s in summary)
    print(
        f"checkov: {passed} passed, {len(failed)} failed, {skipped} skipped in resources, "
        f"{len(skips)} skipped template-wide"
    )
    return 1 if failed or run.returncode not in (0, 1) else 0


if __name__ == "__main__":
    sys.exit(main())
