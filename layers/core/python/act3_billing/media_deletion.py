"""Bulk media deletion (owner only): batched DeleteObjects, resumable and idempotent, with a dry run.
Split from `storage.py`; the counters follow from the resulting S3 events."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from act3_billing.domain.roles import Permission
from act3_billing.domain.storage import (
    Counters,
    DeletionProgress,
    Kind,
    media_prefix,
    org_prefix,
    parse_key,
)
from act3_billing.objects import Objects
from act3_billing.observability import logger

if TYPE_CHECKING:
    from act3_billing.store.storage import StorageStore

from act3_billing.storage import StorageContext, _idem

DELETE_BATCH = 1000  # S3 DeleteObjects takes at most 1,000 keys

# ---- bulk media deletion -----------------------------------------------------------------------------


def _media_batches(
    objects: Objects, org_id: str, project_id: str | None, start_after: str, until: str | None = None
) -> Iterable[list[tuple[str, int]]]:
    """Media keys in key order after `start_after` (up to `until`), in batches for DeleteObjects."""
    prefix = media_prefix(org_id, project_id) if project_id else org_prefix(org_id) + "projects/"
    cursor = start_after
    while True:
        page = objects.list_after(prefix, cursor, DELETE_BATCH)
        if not page:
            return
        batch: list[tuple[str, int]] = []
        for listed in page:
            if until is not None and listed.key > until:
                break
            parsed = parse_key(listed.key)
            if parsed is not None and parsed.kind is Kind.MEDIA and parsed.org_id == org_id:
                batch.append((listed.key, listed.size))
        cursor = page[-1].key
        if batch:
            yield batch
        if until is not None and cursor >= until:
            return
        if len(page) < DELETE_BATCH:
            return


def media_footprint(objects: Objects, org_id: str, project_id: str | None) -> Counters:
    total = Counters()
    for batch in _media_batches(objects, org_id, project_id, ""):
        total += Counters(media_bytes=sum(s for _, s in batch), media_objects=len(batch))
    return total


def run_deletion(
    storage: StorageStore,
    objects: Objects,
    org_id: str,
    progress: DeletionProgress,
    now: datetime,
    keep_going: Callable[[], bool],
) -> DeletionProgress:
    """Delete media batch by batch. Each batch is announced (count, bytes, last key) before it is deleted
    and recorded after, so an interrupted run resumes where it stopped and counts every object once."""
    if progress.status == "done":
        return progress
    if progress.pending_last is not None:
        # The interrupted batch: whatever of it is still there goes now, and it is counted as announced.
        for leftover in _media_batches(
            objects, org_id, progress.project_id, progress.cursor, progress.pending_last
        ):
            _delete(objects, [k for k, _ in leftover])
        progress = storage.record_batch(org_id, progress, now, done=False)
    while keep_going():
        batch = _first(_media_batches(objects, org_id, progress.project_id, progress.cursor))
        if batch is None:
            return storage.record_batch(org_id, progress, now, done=True)
        progress = storage.announce_batch(
            org_id, progress, batch[-1][0], len(batch), sum(s for _, s in batch)
        )
        _delete(objects, [k for k, _ in batch])
        progress = storage.record_batch(org_id, progress, now, done=False)
    return progress


def _first(batches: Iterable[list[tuple[str, int]]]) -> list[tuple[str, int]] | None:
    for batch in batches:
        return batch
    return None


def _delete(objects: Objects, keys: list[str]) -> None:
    failed = objects.delete(keys)
    if failed:
        from act3_billing.domain.errors import Unavailable

        raise Unavailable(f"S3 could not delete {len(failed)} objects (first: {failed[0]}); retry to resume")


def _deletion_out(progress: DeletionProgress) -> dict[str, Any]:
    return {
        "deletion_id": progress.deletion_id,
        "project_id": progress.project_id,
        "status": progress.status,
        "dry_run": False,
        "objects": progress.objects,
        "bytes": progress.bytes,
    }


def delete_media(
    ctx: StorageContext,
    org_id: str,
    *,
    project_id: str | None,
    dry_run: bool,
    key: str | None,
    keep_going: Callable[[], bool],
) -> tuple[dict[str, Any], bool]:
    """All media of a project or of the org (text stays). A dry run says what would go. Returns the
    answer and whether it is finished; the same Idempotency-Key resumes an unfinished one."""
    ctx.store.require(org_id, ctx.caller.user_id, Permission.DELETE_MEDIA)
    if dry_run:
        would = media_footprint(ctx.objects, org_id, project_id)
        return {
            "deletion_id": None,
            "project_id": project_id,
            "status": "dry_run",
            "dry_run": True,
            "objects": would.media_objects,
            "bytes": would.media_bytes,
        }, True
    token = _idem(key, "delete_media", ctx.caller, {"project_id": project_id})
    deletion_id = "del_" + hashlib.sha256(token.key.encode()).hexdigest()[:24]
    progress = ctx.storage.start_deletion(
        org_id,
        deletion_id,
        project_id=project_id,
        fingerprint=token.fingerprint,
        actor=ctx.caller.user_id,
        now=ctx.now,
    )
    progress = run_deletion(ctx.storage, ctx.objects, org_id, progress, ctx.now, keep_going)
    logger.info("media deletion", extra={"org_id": org_id, **_deletion_out(progress)})
    return _deletion_out(progress), progress.status == "done"
