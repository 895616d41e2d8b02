"""Functions that never pay never load stripe (nor the PDF library): their cold start stays as it was."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.template import REPO_ROOT

PAYING = {"credit_packs", "subscription", "billing_account", "stripe_webhook"}
PROBE = """
import importlib.util, json, os, sys
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Act3Billing")
seen = {}
for name in sys.argv[1:]:
    spec = importlib.util.spec_from_file_location(f"app_{name}", f"functions/{name}/app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    roots = {m.split(".")[0] for m in sys.modules}
    seen[name] = sorted(roots & {"stripe", "fpdf", "PIL"})
print(json.dumps(seen))
"""


def test_functions_that_do_not_pay_import_neither_stripe_nor_fpdf() -> None:
    names = sorted(
        p.parent.name for p in (REPO_ROOT / "functions").glob("*/app.py") if p.parent.name not in PAYING
    )
    names.remove("statements")
    # One process, the non-paying functions first: nothing they import may pull stripe or fpdf in.
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *names], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {name: [] for name in names}


def test_the_paying_functions_load_stripe_only_when_they_call_it() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *sorted(PAYING)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert all(not loaded for loaded in json.loads(out.stdout.strip().splitlines()[-1]).values())
