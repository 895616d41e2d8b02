"""Cold import time of each function next to `import boto3`, in a venv holding only the layer.

The venv (`.local/bench-venv`) gets `layers/core/requirements.txt` and nothing else; the package comes
from `PYTHONPATH=layers/core/python` as the layer puts it on `/opt/python`, and each probe runs with its
function's directory as working directory (`/var/task`) and the environment template.yaml gives it.
The venv is rebuilt when the requirements or the interpreter change (a stamp file records both).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.template import load_template

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"
LAYER_PYTHON = REPO_ROOT / "layers" / "core" / "python"
LAYER_REQUIREMENTS = REPO_ROOT / "layers" / "core" / "requirements.txt"
BENCH_VENV = REPO_ROOT / ".local" / "bench-venv"
STAMP = BENCH_VENV / ".bench-stamp"
MARKER = "--bench-import-start--"

# argv[1] is "module" (import it by name) or "file" (load a path as module `app`, as Lambda does);
# a "+client" suffix also builds the DynamoDB client the code will use (boto3's for the module, the
# store's PynamoDB/botocore client for a function), so the work a handler defers to its first request
# is counted too. Nothing else runs between the marker and the end of the timed section.
PROBE = f"""
import importlib.util, sys, time
kind, target = sys.argv[1], sys.argv[2]
if kind.startswith("file"):
    spec = importlib.util.spec_from_file_location("app", target)
    module = importlib.util.module_from_spec(spec)
    sys.modules["app"] = module
print({MARKER!r}, file=sys.stderr, flush=True)
started, cpu = time.perf_counter(), time.process_time()
if kind.startswith("file"):
    spec.loader.exec_module(module)
else:
    importlib.import_module(target)
if kind == "file+client":
    from act3_billing import runtime
    runtime.store(); runtime.orgs(); runtime.connection().client
elif kind == "module+client":
    sys.modules[target].client("dynamodb")
print((time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000)
"""
_IMPORTTIME = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, text=True, check=False, **kwargs)


def _python_version(python: str) -> str:
    proc = _run([python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{python} does not run: {proc.stderr.strip()}")
    return proc.stdout.strip()


def ensure_venv(base_python: str) -> Path:
    """The bench venv's interpreter; (re)built from scratch when its stamp does not match."""
    stamp = json.dumps(
        {
            "requirements_sha256": hashlib.sha256(LAYER_REQUIREMENTS.read_bytes()).hexdigest(),
            "python": _python_version(base_python),
        },
        sort_keys=True,
    )
    python = BENCH_VENV / "bin" / "python"
    if python.exists() and STAMP.exists() and STAMP.read_text() == stamp:
        return python
    log(f"building {BENCH_VENV.relative_to(REPO_ROOT)} from {LAYER_REQUIREMENTS.relative_to(REPO_ROOT)}")
    shutil.rmtree(BENCH_VENV, ignore_errors=True)
    steps = [
        [base_python, "-m", "venv", str(BENCH_VENV)],
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-r",
            str(LAYER_REQUIREMENTS),
        ],
    ]
    for cmd in steps:
        # pip's chatter goes to stderr: stdout carries only the result.
        if _run(cmd, stdout=sys.stderr).returncode != 0:
            raise RuntimeError(f"building the bench venv failed: {' '.join(cmd)}")
    STAMP.write_text(stamp)
    return python


def function_names() -> list[str]:
    return sorted(p.parent.name for p in FUNCTIONS_DIR.glob("*/app.py"))


def function_env(name: str | None) -> dict[str, str]:
    """Globals plus the function's own variables from template.yaml (references get local values),
    dummy credentials, and the layer on PYTHONPATH; nothing from this shell but PATH and HOME."""
    template = load_template()
    variables: dict[str, Any] = dict(
        template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    )
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        code_uri = str(props.get("CodeUri", "")).rstrip("/")
        if name and resource.get("Type") == "AWS::Serverless::Function" and code_uri == f"functions/{name}":
            variables.update(props.get("Environment", {}).get("Variables", {}))
    env = {k: v for k, v in variables.items() if isinstance(v, str)}
    env.setdefault("TABLE_NAME", "act3-billing-bench")  # a !Ref in the template
    env.update(
        {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(LAYER_PYTHON),
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_SESSION_TOKEN": "bench",
        }
    )
    return env


@dataclass(frozen=True)
class Sample:
    wall_ms: float
    cpu_ms: float


@dataclass(frozen=True)
class Probe:
    python: Path
    kind: str  # "file" or "module"
    target: str
    cwd: Path
    env: dict[str, str]

    def run(self, *options: str) -> tuple[Sample, str]:
        """Import time (wall clock and the process's CPU) of one fresh process, and its stderr after
        the marker (where `-X importtime` writes)."""
        proc = _run(
            [str(self.python), *options, "-c", PROBE, self.kind, self.target],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
        )
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-3:]
            raise RuntimeError(" | ".join(tail) or f"exit code {proc.returncode}")
        wall, cpu = proc.stdout.strip().splitlines()[-1].split()
        return Sample(float(wall), float(cpu)), proc.stderr.partition(MARKER)[2]


def top_imports(importtime: str, limit: int = 5) -> list[dict[str, Any]]:
    """Top-level packages by the time their modules took to execute (`-X importtime` self time),
    each with its most expensive module by cumulative time."""
    self_us: dict[str, int] = {}
    modules: dict[str, int] = {}
    heaviest: dict[str, tuple[int, str]] = {}
    for line in importtime.splitlines():
        match = _IMPORTTIME.match(line)
        if not match:
            continue
        own, cumulative, name = int(match.group(1)), int(match.group(2)), match.group(4)
        package = name.split(".")[0]
        self_us[package] = self_us.get(package, 0) + own
        modules[package] = modules.get(package, 0) + 1
        if cumulative > heaviest.get(package, (-1, ""))[0]:
            heaviest[package] = (cumulative, name)
    total = sum(self_us.values()) or 1
    ranked = sorted(self_us.items(), key=lambda kv: kv[1], reverse=True)[:limit]
    return [
        {
            "package": package,
            "self_ms": round(us / 1000, 1),
            "share": round(us / total, 3),
            "modules": modules[package],
            "heaviest_module": heaviest[package][1],
            "heaviest_module_cumulative_ms": round(heaviest[package][0] / 1000, 1),
        }
        for package, us in ranked
    ]


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def measure(runs: int, base_python: str) -> dict[str, Any]:
    """Each probe once to warm caches (discarded), then `runs` rounds over all probes in turn, so load
    from elsewhere on the machine falls on every target alike."""
    python = ensure_venv(base_python)
    probes: dict[str, Probe] = {
        "boto3": Probe(python, "module", "boto3", BENCH_VENV, function_env(None)),
        "boto3+client": Probe(python, "module+client", "boto3", BENCH_VENV, function_env(None)),
    }
    for name in function_names():
        app = FUNCTIONS_DIR / name / "app.py"
        probes[name] = Probe(python, "file", str(app), app.parent, function_env(name))
        probes[f"{name}+client"] = Probe(python, "file+client", str(app), app.parent, function_env(name))
    log(f"cold imports: {', '.join(probes)}; median of {runs} rounds")
    errors: dict[str, str] = {}
    for name, probe in list(probes.items()):
        try:
            probe.run()
        except RuntimeError as exc:
            if name.startswith("boto3"):
                raise
            errors[name] = str(exc)
            log(f"  {name}: import failed: {exc}")
            del probes[name]
    samples: dict[str, list[Sample]] = {name: [] for name in probes}
    for _ in range(runs):
        for name, probe in probes.items():
            samples[name].append(probe.run()[0])
    boto3_ms = _median([s.wall_ms for s in samples["boto3"]])
    boto3_client_ms = _median([s.wall_ms for s in samples["boto3+client"]])
    functions = [name for name in probes if not name.startswith("boto3") and not name.endswith("+client")]
    init_ms = {name: _median([s.wall_ms for s in samples[name]]) for name in functions}
    ready_ms = {name: _median([s.wall_ms for s in samples[f"{name}+client"]]) for name in functions}
    for name in functions:
        log(f"  {name}: {init_ms[name]} ms, with its client {ready_ms[name]} ms (boto3 {boto3_ms} ms)")
    result: dict[str, Any] = {
        "init_ms": init_ms,
        "boto3_import_ms": boto3_ms,
        "init_ratio": {name: round(ms / boto3_ms, 2) for name, ms in init_ms.items()},
        "cold_ready_ms": ready_ms,
        "boto3_with_client_ms": boto3_client_ms,
        "cold_ready_ratio": {name: round(ms / boto3_client_ms, 2) for name, ms in ready_ms.items()},
        "init_cpu_ms": {name: _median([s.cpu_ms for s in samples[name]]) for name in probes},
        "init_samples_ms": {name: [round(s.wall_ms, 1) for s in taken] for name, taken in samples.items()},
        "init_python": _python_version(str(python)),
        "init_venv": str(BENCH_VENV.relative_to(REPO_ROOT)),
    }
    if errors:
        result["init_errors"] = errors
    if functions:
        slowest = max(functions, key=init_ms.__getitem__)
        _, importtime = probes[slowest].run("-X", "importtime")
        result["init_slowest_function"] = slowest
        result["init_top_imports"] = top_imports(importtime)
    return result
