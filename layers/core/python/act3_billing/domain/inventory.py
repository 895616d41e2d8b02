"""S3 Inventory reports (AWS's documented format): the manifest, and the per-org usage its CSV lines say.

A manifest names the source bucket, its creation time (ms since the epoch, as a string), the CSV
columns (`fileSchema`, e.g. "Bucket, Key, Size, LastModifiedDate, ...") and the gzip data files. Each
CSV line is one object version; keys are URL-encoded. Lines are folded into counters as they stream
by, so memory grows with the number of orgs and projects, never with the number of lines.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from act3_billing.domain.storage import Counters, Kind, Usage, key_parts


class ManifestInvalid(ValueError):
    """Not an inventory manifest this meter can read (wrong format, missing columns or files)."""


@dataclass(frozen=True)
class DataFile:
    key: str
    size: int


@dataclass(frozen=True)
class Manifest:
    source_bucket: str
    destination_bucket: str
    created_at: datetime
    columns: tuple[str, ...]
    files: tuple[DataFile, ...]

    def column(self, name: str) -> int | None:
        return self.columns.index(name) if name in self.columns else None


def parse_manifest(data: Any) -> Manifest:
    if not isinstance(data, dict):
        raise ManifestInvalid("the manifest is not a JSON object")
    if str(data.get("fileFormat", "")).upper() != "CSV":
        raise ManifestInvalid(f"fileFormat {data.get('fileFormat')!r} is not CSV")
    columns = tuple(c.strip() for c in str(data.get("fileSchema", "")).split(",") if c.strip())
    for needed in ("Key", "Size"):
        if needed not in columns:
            raise ManifestInvalid(f"fileSchema has no {needed} column")
    try:
        created_ms = int(str(data["creationTimestamp"]))
        created = datetime.fromtimestamp(created_ms / 1000, UTC)
        files = tuple(DataFile(str(f["key"]), int(f.get("size", 0))) for f in data["files"])
    except (KeyError, TypeError, ValueError, OverflowError, OSError) as exc:
        raise ManifestInvalid(f"the manifest lacks a valid creationTimestamp or files: {exc}") from None
    destination = str(data.get("destinationBucket", "")).removeprefix("arn:aws:s3:::")
    return Manifest(str(data.get("sourceBucket", "")), destination, created, columns, files)


@dataclass
class Tally:
    """Counters being folded from a report: per (org, project), plus what was skipped."""

    counts: dict[str, dict[str, list[int]]]
    lines: int = 0
    skipped: int = 0

    @classmethod
    def empty(cls) -> Tally:
        return cls({})

    def usage(self) -> dict[str, Usage]:
        return {
            org: Usage({p: Counters(*values) for p, values in projects.items() if any(values)})
            for org, projects in self.counts.items()
        }


def fold(tally: Tally, manifest: Manifest, lines: Iterable[str]) -> Tally:
    """Add the objects of one data file's lines to the tally (current versions only)."""
    key_at, size_at = manifest.column("Key"), manifest.column("Size")
    latest_at, marker_at = manifest.column("IsLatest"), manifest.column("IsDeleteMarker")
    assert key_at is not None and size_at is not None  # parse_manifest checked
    width = len(manifest.columns)
    counts = tally.counts
    try:
        for row in csv.reader(lines):
            _fold_row(tally, counts, row, width, key_at, size_at, latest_at, marker_at)
    except csv.Error as exc:
        # A damaged file: refuse the whole report rather than reconcile to part of it.
        raise ManifestInvalid(f"line {tally.lines + 1} of the report is not CSV: {exc}") from None
    return tally


def _fold_row(
    tally: Tally,
    counts: dict[str, dict[str, list[int]]],
    row: list[str],
    width: int,
    key_at: int,
    size_at: int,
    latest_at: int | None,
    marker_at: int | None,
) -> None:
    tally.lines += 1
    if len(row) != width:
        tally.skipped += 1
        return
    if latest_at is not None and row[latest_at].lower() == "false":
        return
    if marker_at is not None and row[marker_at].lower() == "true":
        return
    key = row[key_at]
    parts = key_parts(unquote_plus(key) if "%" in key or "+" in key else key)
    size = row[size_at]
    if parts is None or not (size.isascii() and size.isdigit()):
        tally.skipped += 1
        return
    org_id, project_id, kind = parts
    projects = counts.get(org_id)
    if projects is None:
        projects = counts[org_id] = {}
    values = projects.get(project_id)
    if values is None:
        values = projects[project_id] = [0, 0, 0, 0]
    offset = 0 if kind is Kind.MEDIA else 2
    values[offset] += int(size)
    values[offset + 1] += 1
