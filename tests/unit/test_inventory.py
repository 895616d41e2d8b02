"""Inventory reports in AWS's format: the manifest, and per-org counters folded from the CSV lines."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from act3_billing.domain.inventory import Manifest, ManifestInvalid, Tally, fold, parse_manifest
from act3_billing.domain.storage import Counters

EVENTS = Path(__file__).resolve().parents[2] / "events"
SAMPLE = json.loads((EVENTS / "s3" / "inventory_manifest.json").read_text())


def lines(rows: list[list[Any]]) -> list[str]:
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    return buffer.getvalue().splitlines(keepends=True)


def test_the_sample_manifest_parses() -> None:
    manifest = parse_manifest(SAMPLE)
    assert manifest.columns == ("Bucket", "Key", "Size", "LastModifiedDate")
    assert manifest.created_at.isoformat() == "2026-11-02T01:00:00+00:00"
    assert manifest.destination_bucket == "act3-inventory-dev-123456789012"
    assert len(manifest.files) == 1


@pytest.mark.parametrize(
    "change",
    [{"fileFormat": "ORC"}, {"fileSchema": "Bucket, Key"}, {"creationTimestamp": "soon"}, {"files": None}],
)
def test_a_manifest_this_meter_cannot_read_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ManifestInvalid):
        parse_manifest(SAMPLE | change)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
    )
)
def test_any_json_is_a_manifest_or_refused(data: Any) -> None:
    try:
        manifest = parse_manifest(data)
    except ManifestInvalid:
        return
    assert isinstance(manifest, Manifest)


def test_lines_fold_into_per_org_project_counters_current_versions_only() -> None:
    manifest = parse_manifest(
        SAMPLE | {"fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate"}
    )
    rows = [
        ["b", "orgs/o1/projects/p1/media/a+b.mp4", "v2", "true", "false", "100", "t"],
        ["b", "orgs/o1/projects/p1/media/a+b.mp4", "v1", "false", "false", "90", "t"],
        ["b", "orgs/o1/projects/p1/text/%E2%9C%93.md", "v1", "true", "false", "5", "t"],
        ["b", "orgs/o1/projects/p1/text/gone.md", "v3", "true", "true", "", "t"],
        ["b", "orgs/o2/projects/p9/media/x.wav", "v1", "true", "false", "7", "t"],
        ["b", "elsewhere/x", "v1", "true", "false", "1", "t"],
        ["b", "orgs/o1/projects/p1/media/short-row"],
        ["b", "orgs/o1/projects/p1/media/sup.mp4", "v1", "true", "false", "²", "t"],
    ]
    tally = fold(Tally.empty(), manifest, lines(rows))
    usage = tally.usage()
    assert usage["o1"].projects == {"p1": Counters(100, 1, 5, 1)}
    assert usage["o2"].totals == Counters(media_bytes=7, media_objects=1)
    assert (tally.lines, tally.skipped) == (8, 3)


@given(st.lists(st.text(max_size=40), max_size=20))
def test_garbage_lines_are_skipped_or_refuse_the_report_never_crash(garbage: list[str]) -> None:
    try:
        tally = fold(Tally.empty(), parse_manifest(SAMPLE), garbage)
    except ManifestInvalid:
        return
    assert all(v >= 0 for projects in tally.counts.values() for c in projects.values() for v in c)
