"""`make build`: deployable artifacts for python3.13 on arm64, on this machine, without Docker and
without python3.13 (what `sam build` cannot do: its Python builder needs the runtime's interpreter).

- each layer (AWS::Serverless::LayerVersion with ContentUri): its `requirements.txt` (beside the
  ContentUri folder, as in `layers/core/requirements.txt`) installed by pip for the target
  (`--platform manylinux2014_aarch64 --python-version 3.13 --only-binary=:all:`) under `python/`,
  plus the folder's own packages;
- each function: its CodeUri folder as is;
- `<out>/template.yaml`: the template with every CodeUri/ContentUri pointing at the built folders
  (what `sam package`/`sam deploy --template-file` take, as after `sam build`);
- every artifact zipped (deterministically) and checked against Lambda's limits: 50 MB zipped per
  upload, 250 MB unzipped for a function with all its layers.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .template import load_yaml

MB = 1024 * 1024
ZIPPED_LIMIT = 50 * MB  # a direct upload
UNZIPPED_LIMIT = 250 * MB  # function code plus all its layers
PLATFORM = "manylinux2014_aarch64"
PYTHON_VERSION = "3.13"
_SKIP = ("__pycache__", ".pytest_cache", ".mypy_cache", "*.pyc", "*.dist-info/RECORD")


@dataclass
class Artifact:
    logical_id: str
    folder: Path
    unzipped: int
    zipped: int


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _zip(folder: Path, target: Path) -> int:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(str(path.relative_to(folder)), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return target.stat().st_size


def build_layer(source: Path, requirements: Path | None, target: Path) -> None:
    site = target / "python"
    site.mkdir(parents=True)
    if requirements is not None and requirements.is_file():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-compile",
                "--platform",
                PLATFORM,
                "--python-version",
                PYTHON_VERSION,
                "--implementation",
                "cp",
                "--only-binary=:all:",
                "--target",
                str(site),
                "-r",
                str(requirements),
            ],
            check=True,
        )
    for entry in source.iterdir():
        if entry.is_dir() and (entry / "__init__.py").exists():
            shutil.copytree(entry, site / entry.name, ignore=shutil.ignore_patterns(*_SKIP))


def build(template_path: Path, out: Path) -> dict[str, Any]:
    template = load_yaml(template_path)
    base = template_path.parent
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with template_path.open() as fh:
        raw = fh.read()
    artifacts: dict[str, Artifact] = {}
    resources: dict[str, Any] = template["Resources"]
    for logical_id, resource in resources.items():
        properties = resource.get("Properties") or {}
        target = out / logical_id
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            source = (base / properties["ContentUri"]).resolve()
            build_layer(source, source.parent / "requirements.txt", target)
        elif resource["Type"] == "AWS::Serverless::Function" and isinstance(properties.get("CodeUri"), str):
            source = (base / properties["CodeUri"]).resolve()
            shutil.copytree(source, target, ignore=shutil.ignore_patterns(*_SKIP))
        else:
            continue
        zipped = _zip(target, out / f"{logical_id}.zip")
        artifacts[logical_id] = Artifact(logical_id, target, _size(target), zipped)
    report = check_limits(resources, artifacts, template)
    built = out / "template.yaml"
    built.write_text(_built_template(raw, resources, artifacts))
    rebuilt = load_yaml(built)["Resources"]
    for name in artifacts:
        uri = rebuilt[name]["Properties"].get("CodeUri") or rebuilt[name]["Properties"].get("ContentUri")
        assert uri == f"{name}/", f"{name}: the built template does not point at its build ({uri})"
    return report


def _layers_of(properties: dict[str, Any], template: dict[str, Any]) -> list[str]:
    layers = properties.get("Layers") or ((template.get("Globals") or {}).get("Function") or {}).get("Layers")
    return [layer["Ref"] for layer in layers or [] if isinstance(layer, dict) and "Ref" in layer]


def check_limits(
    resources: dict[str, Any], artifacts: dict[str, Artifact], template: dict[str, Any]
) -> dict[str, Any]:
    report: dict[str, Any] = {"functions": {}, "layers": {}, "problems": []}
    for name, artifact in artifacts.items():
        kind = "layers" if resources[name]["Type"].endswith("LayerVersion") else "functions"
        entry: dict[str, Any] = {
            "zipped_mb": round(artifact.zipped / MB, 2),
            "unzipped_mb": round(artifact.unzipped / MB, 2),
        }
        if artifact.zipped > ZIPPED_LIMIT:
            report["problems"].append(f"{name}: {artifact.zipped / MB:.1f} MB zipped > 50 MB")
        if kind == "functions":
            layers = [
                artifacts[layer]
                for layer in _layers_of(resources[name].get("Properties") or {}, template)
                if layer in artifacts
            ]
            total = artifact.unzipped + sum(layer.unzipped for layer in layers)
            entry["with_layers_unzipped_mb"] = round(total / MB, 2)
            if total > UNZIPPED_LIMIT:
                report["problems"].append(f"{name}: {total / MB:.1f} MB unzipped with its layers > 250 MB")
        report[kind][name] = entry
    return report


def _built_template(raw: str, resources: dict[str, Any], artifacts: dict[str, Artifact]) -> str:
    """The source template, with each built resource's CodeUri/ContentUri pointing at its folder.

    Edited as text so the short-form intrinsics (!Ref, !Sub) stay as written."""
    lines = raw.splitlines()
    current: str | None = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if line.startswith("  ") and not line.startswith("   ") and stripped.endswith(":"):
            current = stripped[:-1]
        if current in artifacts and stripped.startswith(("CodeUri:", "ContentUri:")):
            key = stripped.split(":", 1)[0]
            lines[i] = line[: len(line) - len(stripped)] + f"{key}: {current}/"
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m act3_local.build")
    parser.add_argument("template", type=Path)
    parser.add_argument("--out", type=Path, default=Path(".aws-sam/build"))
    args = parser.parse_args(argv)
    report = build(args.template.resolve(), args.out.resolve())
    print(json.dumps(report, indent=2))
    if report["problems"]:
        print("over Lambda's limits: " + "; ".join(report["problems"]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
