"""Storage use cases (SPEC §9): the S3 events meter, inventory reconciliation, uploads, the storage view,
bulk media deletion, asset downloads and the archive purge. One function per capability.

Nothing here sees an event, the environment or boto3: the store, the bucket (`Objects`), the reports,
the queue, the notifier and `now` come in as arguments.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from act3_billing.domain.errors import GenerationDisabled, NotFound, ValidationFailed
from act3_billing.domain.inventory import Tally, fold, parse_manifest
from act3_billing.domain.plans import Catalog, default_catalog
from act3_billing.domain.roles import Permission
from act3_billing.domain.storage import (
    Counters,
    Kind,
    MediaPurged,
    ObjectEvent,
    StorageQuotaExceeded,
    Usage,
    check_upload,
    org_prefix,
    parse_key,
    percent_used,
    quota_bytes,
    sequencer,
    thresholds_reached,
    upload_key,
)
from act3_billing.domain.times import iso, parse_iso
from act3_billing.http.caller import Caller
from act3_billing.objects import PRESIGN_SECONDS, Objects, Queue, Reports
from act3_billing.observability import logger

if TYPE_CHECKING:
    from act3_billing.notifications import Notifier
    from act3_billing.store.idempotency import Outcome
    from act3_billing.store.storage import StorageStore
    from act3_billing.store.wallets import BillingStore

SYSTEM = "system"


@dataclass(frozen=True)
class StorageContext:
    store: BillingStore  # memberships and roles
    storage: StorageStore
    objects: Objects
    caller: Caller
    now: datetime
    catalog: Catalog


def context(
    store: BillingStore, storage: StorageStore, objects: Objects, caller: Caller, now: datetime
) -> StorageContext:
    return StorageContext(store, storage, objects, caller, now, default_catalog())


def _quota(catalog: Catalog, plan_id: str, storage: StorageStore, org_id: str) -> int | None:
    """The plan's quota, or an enterprise contract's (read only for a contract plan)."""
    from act3_billing.domain.entitlements import storage_gb_of

    plan = catalog.get(plan_id)
    return quota_bytes(storage_gb_of(plan, storage.contract(org_id) if plan.contract else None))


def upgrade_options(catalog: Catalog, plan_id: str) -> dict[str, Any]:
    """What lifts the limit: the next plan (with its storage), or deleting media."""
    nxt = catalog.next_plan(plan_id)
    upgrade = None
    if nxt is not None:
        upgrade = {
            "plan_id": nxt.id,
            "name": nxt.name,
            "price_cents": nxt.price_cents,
            "monthly_credits": nxt.monthly_credits,
            "storage_gb": nxt.storage_gb,
            "currency": nxt.currency,
        }
    return {"upgrade": upgrade, "delete_media": True, "cancel": True}


# ---- the S3 events meter -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MeterSummary:
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0
    notified: tuple[str, ...] = ()


def object_event(record: Mapping[str, Any]) -> ObjectEvent | None:
    """An S3 event record as the meter's event; None (logged) for keys outside the layout or records
    that are not a create or a remove with a sequencer."""
    name = str(record.get("eventName", ""))
    s3 = record.get("s3") or {}
    obj = s3.get("object") or {}
    raw_key = unquote_plus(str(obj.get("key", "")))
    key = parse_key(raw_key)
    if key is None or not (name.startswith("ObjectCreated:") or name.startswith("ObjectRemoved:")):
        logger.info("S3 event ignored", extra={"event_name": name, "key": raw_key[:300]})
        return None
    try:
        present = name.startswith("ObjectCreated:")
        size = int(obj.get("size") or 0) if present else 0
        if size < 0:
            raise ValueError("negative size")
        return ObjectEvent(
            key=key,
            sequencer=sequencer(str(obj.get("sequencer", ""))),
            present=present,
            size=size,
            at=datetime.fromisoformat(str(record["eventTime"]).replace("Z", "+00:00")),
        )
    except (KeyError, ValueError, TypeError) as exc:
        logger.warning(
            "S3 event without a usable sequencer, size or time",
            extra={"key": raw_key[:300], "error": str(exc)},
        )
        return None


def meter_events(
    storage: StorageStore,
    records: Iterable[Mapping[str, Any]],
    notifier: Callable[[], Notifier] | None,
    now: datetime,
) -> MeterSummary:
    applied = duplicates = ignored = 0
    grew: set[str] = set()
    for record in records:
        event = object_event(record)
        if event is None:
            ignored += 1
            continue
        result = storage.apply(event)
        if not result.changed:
            duplicates += 1
            continue
        applied += 1
        if result.counted and result.delta.bytes > 0:
            grew.add(event.key.org_id)
    notified: list[str] = []
    if notifier is not None:
        for org_id in sorted(grew):
            notified += notify_thresholds(storage, notifier, org_id, now)
    return MeterSummary(applied, duplicates, ignored, tuple(notified))


def notify_thresholds(
    storage: StorageStore, notifier: Callable[[], Notifier], org_id: str, now: datetime
) -> list[str]:
    """Storage at 80 % / 100 % of the plan: once per threshold and billing cycle."""
    wallet = storage.archive_state(org_id)
    if wallet is None:
        return []
    catalog = default_catalog()
    quota = _quota(catalog, wallet.plan_id, storage, org_id)
    used = storage.meter(org_id).totals.bytes
    sent: list[str] = []
    for threshold in thresholds_reached(used, quota):
        kind = f"storage_{threshold}"
        subject = f"Storage {threshold}% used"
        text = (
            f"Your organization {org_id} uses {used} of its {quota} bytes of storage "
            f"({threshold}% or more).\n"
            "Upgrade your plan or delete media to keep uploading.\n"
        )
        if notifier().once(
            org_id,
            wallet.cycle_id,
            kind,
            subject,
            text,
            {"used_bytes": used, "quota_bytes": quota, "threshold": threshold},
            now,
        ):
            sent.append(f"{org_id}:{kind}")
    return sent


# ---- inventory reconciliation ------------------------------------------------------------------------


@dataclass(frozen=True)
class InventorySummary:
    report_at: str
    lines: int
    skipped: int
    orgs: int
    reconciled: int
    stale: int
    read_seconds: float  # streaming and folding the report
    write_seconds: float  # the per-org reconciliations


def reconcile_inventory(
    storage: StorageStore, reports: Reports, bucket: str, manifest_key: str, now: datetime
) -> InventorySummary:
    """Set every org's counters to what the report says, keeping the events after the report's time.
    Orgs the meter knows but the report does not list hold nothing any more."""
    started = time.perf_counter()
    manifest = parse_manifest(reports.json(bucket, manifest_key))
    tally = Tally.empty()
    for data_file in manifest.files:
        fold(tally, manifest, reports.lines(bucket, data_file.key))
    reported = tally.usage()
    read_seconds = time.perf_counter() - started
    orgs = sorted(set(reported) | set(storage.metered_orgs()))

    def one(org_id: str) -> bool:
        return storage.reconcile(org_id, reported.get(org_id, Usage()), manifest.created_at, now)

    outcomes = [one(org_id) for org_id in orgs]
    reconciled = sum(outcomes)
    stale = len(outcomes) - reconciled
    logger.info(
        "inventory reconciled",
        extra={
            "manifest": manifest_key,
            "lines": tally.lines,
            "orgs": len(reported),
            "reconciled": reconciled,
        },
    )
    return InventorySummary(
        iso(manifest.created_at),
        tally.lines,
        tally.skipped,
        len(reported),
        reconciled,
        stale,
        round(read_seconds, 3),
        round(time.perf_counter() - started - read_seconds, 3),
    )


# ---- uploads -----------------------------------------------------------------------------------------


def _idem(key: str | None, operation: str, caller: Caller, payload: Any) -> Any:
    from act3_billing.services import idem

    return idem(key, operation, caller, payload)


def request_upload(
    ctx: StorageContext,
    org_id: str,
    *,
    project_id: str,
    kind: Kind,
    filename: str,
    size: int,
    content_type: str,
    key: str | None,
) -> Outcome:
    """A presigned PUT for one key and one size, when the plan's storage has room for it."""
    from act3_billing.store.idempotency import previous

    payload = {
        "project_id": project_id,
        "kind": kind.value,
        "filename": filename,
        "size": size,
        "content_type": content_type,
    }
    token = _idem(key, "upload", ctx.caller, payload)
    ctx.store.require(org_id, ctx.caller.user_id, Permission.UPLOAD)
    earlier = previous(org_id, token)
    if earlier is not None:
        return earlier
    target = upload_key(org_id, project_id, kind, filename)
    wallet = ctx.storage.archive_state(org_id)
    if wallet is None:
        raise NotFound(f"organization {org_id} has no plan")
    quota = _quota(ctx.catalog, wallet.plan_id, ctx.storage, org_id)
    used = ctx.storage.meter(org_id).totals.bytes
    try:
        check_upload(used, size, quota)
    except StorageQuotaExceeded as exc:
        exc.extra.update(plan_id=wallet.plan_id, options=upgrade_options(ctx.catalog, wallet.plan_id))
        raise
    url = ctx.objects.presign_put(target.key, size, content_type)
    body = {
        "upload_url": url,
        "method": "PUT",
        "headers": {"Content-Type": content_type, "Content-Length": str(size)},
        "key": target.relative,
        "project_id": project_id,
        "kind": kind.value,
        "size": size,
        "expires_at": iso(ctx.now + timedelta(seconds=PRESIGN_SECONDS)),
        "used_bytes": used,
        "quota_bytes": quota,
    }
    return _record(ctx, org_id, token, body)


def _record(ctx: StorageContext, org_id: str, token: Any, body: dict[str, Any]) -> Outcome:
    from act3_billing.store.idempotency import Outcome, add_idem, replay
    from act3_billing.store.tx import Tx, TxCancelled

    tx = Tx(ctx.store.connection)
    add_idem(tx, org_id, token, body, ctx.now)
    try:
        tx.run()
    except TxCancelled as exc:
        if "idem" in exc.failed:
            return replay(org_id, token)
        raise
    return Outcome(body)


# ---- the storage view --------------------------------------------------------------------------------


def _counters_out(c: Counters) -> dict[str, Any]:
    return {
        "bytes": c.bytes,
        "objects": c.objects,
        "media": {"bytes": c.media_bytes, "objects": c.media_objects},
        "text": {"bytes": c.text_bytes, "objects": c.text_objects},
    }


def storage_view(ctx: StorageContext, org_id: str) -> dict[str, Any]:
    ctx.store.require(org_id, ctx.caller.user_id, Permission.READ_METERS)
    wallet = ctx.storage.archive_state(org_id)
    meter = ctx.storage.meter(org_id)
    plan_id = wallet.plan_id if wallet else None
    quota = _quota(ctx.catalog, plan_id, ctx.storage, org_id) if plan_id else None
    used = meter.totals.bytes
    purge = ctx.storage.scheduled_purge(org_id)

    def when(moment: datetime | None) -> str | None:
        return iso(moment) if moment else None

    return {
        "org_id": org_id,
        "plan_id": plan_id,
        "quota_bytes": quota,
        "used_bytes": used,
        "used_percent": percent_used(used, quota),
        **_counters_out(meter.totals),
        "projects": [{"project_id": p, **_counters_out(c)} for p, c in sorted(meter.usage.projects.items())],
        "meter": {
            "updated_at": when(meter.updated_at),
            "inventory_at": when(meter.inventory_at),
            "reconciled_at": when(meter.reconciled_at),
        },
        "archive": {
            "archived_at": when(wallet.archived_at) if wallet else None,
            "media_purge_due_at": purge.due_at if purge else None,
        },
        "as_of": iso(ctx.now),
    }


# ---- assets ------------------------------------------------------------------------------------------


def asset_url(ctx: StorageContext, org_id: str, relative_key: str) -> dict[str, Any]:
    """A presigned GET for one of the org's objects. Text stays downloadable in archive; media that the
    purge deleted is refused as purged (410), other missing keys are not found."""
    ctx.store.require(org_id, ctx.caller.user_id, Permission.READ_METERS)
    target = parse_key(org_prefix(org_id) + relative_key)
    if target is None or any(part in (".", "..") for part in target.name.split("/")):
        raise NotFound(f"no asset {relative_key[:200]}")
    size = ctx.objects.size_of(target.key)
    if size is None:
        if target.kind is Kind.MEDIA and ctx.storage.purges(org_id):
            raise MediaPurged("the media of this organization was deleted 30 days after it entered archive")
        raise NotFound(f"no asset {relative_key[:200]}")
    return {
        "key": target.relative,
        "kind": target.kind.value,
        "project_id": target.project_id,
        "size": size,
        "download_url": ctx.objects.presign_get(target.key),
        "expires_at": iso(ctx.now + timedelta(seconds=PRESIGN_SECONDS)),
    }


# ---- the archive purge -------------------------------------------------------------------------------


def schedule_purges(storage: StorageStore, queue: Queue, now: datetime) -> int:
    """Fan out: one message per org whose purge is due (found through the due index)."""
    due = [{"org_id": org_id, "archived_at": archived_at} for org_id, archived_at in storage.due_purges(now)]
    queue.send(due)
    logger.info("purges due", extra={"count": len(due)})
    return len(due)


@dataclass(frozen=True)
class PurgeResult:
    org_id: str
    status: str  # purged | cancelled | not_due | running
    objects: int = 0
    bytes: int = 0


def purge_org(
    storage: StorageStore,
    objects: Objects,
    org_id: str,
    archived_at: str,
    now: datetime,
    keep_going: Callable[[], bool],
) -> PurgeResult:
    """Delete the media of an org 30 days after it entered archive, unless it left archive since (the
    purge is checked again before every batch), and record the purge."""
    scheduled = storage.scheduled_purge(org_id)
    if scheduled is None or scheduled.archived_at != archived_at:
        return PurgeResult(org_id, "cancelled")
    if parse_iso(scheduled.due_at) > now:
        return PurgeResult(org_id, "not_due")

    def still_archived() -> bool:
        current = storage.scheduled_purge(org_id)
        return keep_going() and current is not None and current.archived_at == archived_at

    deletion_id = "purge_" + hashlib.sha256(f"{org_id}#{archived_at}".encode()).hexdigest()[:24]
    progress = storage.start_deletion(
        org_id, deletion_id, project_id=None, fingerprint=f"purge:{archived_at}", actor=SYSTEM, now=now
    )
    from act3_billing.media_deletion import (
        run_deletion,  # the purge deletes media as an owner's bulk delete does
    )

    progress = run_deletion(storage, objects, org_id, progress, now, still_archived)
    if progress.status != "done":
        if storage.scheduled_purge(org_id) is None:
            return PurgeResult(org_id, "cancelled", progress.objects, progress.bytes)
        return PurgeResult(org_id, "running", progress.objects, progress.bytes)
    storage.record_purge(org_id, archived_at, progress.objects, progress.bytes, now)
    logger.info(
        "media purged", extra={"org_id": org_id, "objects": progress.objects, "bytes": progress.bytes}
    )
    return PurgeResult(org_id, "purged", progress.objects, progress.bytes)


def purge_message(body: str) -> tuple[str, str]:
    try:
        data = json.loads(body)
        return str(data["org_id"]), str(data["archived_at"])
    except (ValueError, KeyError, TypeError):
        raise ValidationFailed("not a purge message") from None


# ---- generation in archive ---------------------------------------------------------------------------


def with_reupgrade(catalog: Catalog, error: GenerationDisabled) -> GenerationDisabled:
    """A 403 generation_disabled carries the plans that turn generation back on."""
    plan_id = str(error.extra.get("plan_id") or error.extra.get("plan") or "")
    if plan_id and "options" not in error.extra:
        error.extra["options"] = {
            "reupgrade": [
                {
                    "plan_id": p.id,
                    "name": p.name,
                    "price_cents": p.price_cents,
                    "monthly_credits": p.monthly_credits,
                    "storage_gb": p.storage_gb,
                    "currency": p.currency,
                }
                for p in (catalog.get(pid) for pid in catalog.upgrade_order)
                if p.generation
            ]
        }
    return error
