"""The storage meter's DynamoDB side: per-key state, counters, inventory reconciliation, bulk deletions
and the archive purge schedule. The only storage code that touches DynamoDB.

An S3 event is applied with one read of its key's item and one transaction: the key's new state under
the condition that the key still holds what was read, the counters moved by the difference (ADD), and a
journal entry of that difference (kept a few days, for the inventory). Two events of one key racing
each other cannot both win; events of other keys never conflict, as counters only ADD.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from act3_billing.domain.errors import Conflict, IdempotencyKeyReuse, NotFound
from act3_billing.domain.storage import (
    Counters,
    DeletionProgress,
    KeyState,
    Kind,
    ObjectEvent,
    Usage,
    org_prefix,
    purge_due,
    transition,
)
from act3_billing.domain.times import iso, parse_iso
from act3_billing.store.models import (
    WALLET_SK,
    MediaDeletionItem,
    PurgeItem,
    StorageJournalItem,
    StorageUsageItem,
    StoredObjectItem,
    WalletItem,
    org_pk,
)
from act3_billing.store.tx import Tx, TxCancelled

if TYPE_CHECKING:
    from act3_billing.domain.entitlements import Contract

TOTALS_SK = "STORAGE"
PROJECT_SK = "STORAGE#P#"
JOURNAL_SK = "SJ#"
METERED = "STORAGE#"  # gsi1pk of every org's totals (sharded): the orgs an inventory must look at
METERED_SHARDS = 16  # the totals change with every event: spread their index entries over partitions
PURGE_SK = "PURGE"
PURGED_SK = "PURGED#"
PURGE_DUE = "PURGE_DUE"
TOMBSTONE_TTL = timedelta(days=7)
JOURNAL_TTL = timedelta(days=3)
MAX_ATTEMPTS = 20
_FIELDS = ("media_bytes", "media_objects", "text_bytes", "text_objects")


@dataclass(frozen=True)
class Meter:
    """An org's counters and the meter's freshness."""

    usage: Usage
    totals: Counters
    updated_at: datetime | None
    inventory_at: datetime | None
    reconciled_at: datetime | None
    version: int


@dataclass(frozen=True)
class Applied:
    """What one event did: nothing (duplicate/stale), moved the key only, or moved the counters too."""

    changed: bool
    delta: Counters
    counted: bool


@dataclass(frozen=True)
class ArchiveState:
    plan_id: str
    cycle_id: str
    archived_at: datetime | None


def _counters(item: StorageUsageItem | StorageJournalItem) -> Counters:
    return Counters(*(int(getattr(item, name) or 0) for name in _FIELDS))


def _add(model: type[StorageUsageItem], delta: Counters) -> list[Action]:
    return [getattr(model, name).add(getattr(delta, name)) for name in _FIELDS if getattr(delta, name)]


def _set(model: type[StorageUsageItem], counters: Counters) -> list[Action]:
    return [getattr(model, name).set(getattr(counters, name)) for name in _FIELDS]


def _object_sk(key: str, org_id: str) -> str:
    return "OBJ#" + key.removeprefix(org_prefix(org_id))


class StorageStore:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def contract(self, org_id: str) -> Contract | None:
        """An enterprise org's contract terms (its storage quota among them); None: none recorded."""
        from act3_billing.store.entitlements import EntitlementsStore

        found = EntitlementsStore(self._connection).contract(org_id)
        return found[0] if found else None

    # ---- the meter ---------------------------------------------------------------------------------

    def key_state(self, org_id: str, key: str) -> KeyState | None:
        try:
            item = StoredObjectItem.get(org_pk(org_id), _object_sk(key, org_id), consistent_read=True)
        except DoesNotExist:
            return None
        return KeyState(item.sequencer, bool(item.present), int(item.size))

    def apply(self, event: ObjectEvent) -> Applied:
        """Apply one S3 event exactly once, whatever came before or comes after it."""
        org_id, key = event.key.org_id, event.key.key
        pk = org_pk(org_id)
        at = iso(event.at)
        for _ in range(MAX_ATTEMPTS):
            state = self.key_state(org_id, key)
            step = transition(state, event)
            if step is None:
                return Applied(False, Counters(), False)
            new = step.state
            tx = Tx(self._connection)
            seen: Condition = (
                StoredObjectItem.pk.does_not_exist()
                if state is None
                else StoredObjectItem.sequencer == state.sequencer
            )
            tx.put(
                "key",
                StoredObjectItem(
                    pk,
                    _object_sk(key, org_id),
                    org_id=org_id,
                    project_id=event.key.project_id,
                    kind=event.key.kind.value,
                    sequencer=new.sequencer,
                    present=new.present,
                    size=new.size,
                    event_at=at,
                    expires_ttl=None if new.present else event.at + TOMBSTONE_TTL,
                ),
                seen,
            )
            not_reported = StorageUsageItem.inventory_at.does_not_exist() | (
                StorageUsageItem.inventory_at < at
            )
            counted = not step.delta.zero
            if counted:
                # Counted unless an inventory report from after this event already holds it.
                self._count(tx, org_id, event.key.project_id, step.delta, at, new.sequencer, key)
                tx.update(
                    "totals",
                    StorageUsageItem(pk, TOTALS_SK),
                    [
                        *_add(StorageUsageItem, step.delta),
                        StorageUsageItem.version.add(1),
                        StorageUsageItem.org_id.set(org_id),
                        StorageUsageItem.updated_at.set(at),
                        StorageUsageItem.gsi1pk.set(metered_shard(org_id)),
                        StorageUsageItem.gsi1sk.set(org_id),
                    ],
                    not_reported,
                )
            try:
                tx.run()
            except TxCancelled as exc:
                if "totals" in exc.failed and "key" not in exc.failed:
                    return self._apply_reported(event, state, new)
                continue
            return Applied(True, step.delta, counted)
        raise Conflict(f"the meter of {key} kept changing")

    def _apply_reported(self, event: ObjectEvent, state: KeyState | None, new: KeyState) -> Applied:
        """An event older than the last inventory report: the report already counts it; only the key moves."""
        org_id, key = event.key.org_id, event.key.key
        tx = Tx(self._connection)
        tx.update(
            "key",
            StoredObjectItem(org_pk(org_id), _object_sk(key, org_id)),
            [
                StoredObjectItem.org_id.set(org_id),
                StoredObjectItem.project_id.set(event.key.project_id),
                StoredObjectItem.kind.set(event.key.kind.value),
                StoredObjectItem.sequencer.set(new.sequencer),
                StoredObjectItem.present.set(new.present),
                StoredObjectItem.size.set(new.size),
                StoredObjectItem.event_at.set(iso(event.at)),
                StoredObjectItem.expires_ttl.remove()
                if new.present
                else StoredObjectItem.expires_ttl.set(event.at + TOMBSTONE_TTL),
            ],
            StoredObjectItem.pk.does_not_exist()
            if state is None
            else StoredObjectItem.sequencer == state.sequencer,
        )
        tx.check(
            "totals",
            StorageUsageItem,
            org_pk(org_id),
            TOTALS_SK,
            StorageUsageItem.inventory_at >= iso(event.at),
        )
        try:
            tx.run()
        except TxCancelled:
            return self.apply(event)
        return Applied(True, Counters(), False)

    @staticmethod
    def _count(tx: Tx, org_id: str, project_id: str, delta: Counters, at: str, seq: str, key: str) -> None:
        pk = org_pk(org_id)
        tx.update(
            "project",
            StorageUsageItem(pk, PROJECT_SK + project_id),
            [
                *_add(StorageUsageItem, delta),
                StorageUsageItem.org_id.set(org_id),
                StorageUsageItem.project_id.set(project_id),
            ],
        )
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        tx.put(
            "journal",
            StorageJournalItem(
                pk,
                f"{JOURNAL_SK}{at}#{seq}#{digest}",
                project_id=project_id,
                media_bytes=delta.media_bytes,
                media_objects=delta.media_objects,
                text_bytes=delta.text_bytes,
                text_objects=delta.text_objects,
                expires_ttl=parse_iso(at) + JOURNAL_TTL,
            ),
        )

    def meter(self, org_id: str) -> Meter:
        """The counters (totals and projects) in one query of the org's storage items."""
        totals: StorageUsageItem | None = None
        projects: dict[str, Counters] = {}
        for item in StorageUsageItem.query(
            org_pk(org_id), StorageUsageItem.sk.startswith(TOTALS_SK), consistent_read=True
        ):
            if item.sk == TOTALS_SK:
                totals = item
            elif item.project_id:
                counters = _counters(item)
                if not counters.zero:
                    projects[item.project_id] = counters

        def when(text: str | None) -> datetime | None:
            return parse_iso(text) if text else None

        return Meter(
            usage=Usage(projects),
            totals=_counters(totals) if totals else Counters(),
            updated_at=when(totals.updated_at) if totals else None,
            inventory_at=when(totals.inventory_at) if totals else None,
            reconciled_at=when(totals.reconciled_at) if totals else None,
            version=int(totals.version) if totals else 0,
        )

    # ---- inventory -------------------------------------------------------------------------------------

    def metered_orgs(self) -> Iterator[str]:
        """Every org the meter has counted: one query per shard of the index (a page per thousands)."""
        for shard in range(METERED_SHARDS):
            for item in StorageUsageItem.metered.query(f"{METERED}{shard}", attributes_to_get=["gsi1sk"]):
                if item.gsi1sk:
                    yield item.gsi1sk

    def reconcile(self, org_id: str, report: Usage, report_at: datetime, now: datetime) -> bool:
        """Set the org's counters to what the report says plus the events after the report's time.
        False when a report from the same time or later was already applied."""
        at = iso(report_at)
        pk = org_pk(org_id)
        for _ in range(MAX_ATTEMPTS):
            # One query: the journal after the report's time ("SJ#…") sorts just before the counters
            # ("STORAGE", "STORAGE#P#…"), so one range holds both.
            totals: StorageUsageItem | None = None
            after, known = report, set(report.projects)
            for item in StorageUsageItem.query(
                pk,
                StorageUsageItem.sk.between(f"{JOURNAL_SK}{at}~", f"{TOTALS_SK}~"),
                consistent_read=True,
            ):
                if item.sk == TOTALS_SK:
                    totals = item
                elif item.sk.startswith(PROJECT_SK) and item.project_id:
                    known.add(item.project_id)
                elif item.sk.startswith(JOURNAL_SK) and item.project_id:
                    after = after.plus(item.project_id, _counters(item))
            if totals is not None and totals.inventory_at is not None and totals.inventory_at >= at:
                return False
            projects = known | set(after.projects)
            totals_condition = (
                StorageUsageItem.pk.does_not_exist()
                if totals is None
                else StorageUsageItem.version == int(totals.version)
            )
            chunks = _chunks(sorted(projects), 98) or [[]]
            ok = True
            for index, chunk in enumerate(chunks):
                tx = Tx(self._connection)
                last = index == len(chunks) - 1
                for project_id in chunk:
                    tx.update(
                        f"project:{project_id}",
                        StorageUsageItem(pk, PROJECT_SK + project_id),
                        [
                            *_set(StorageUsageItem, after.projects.get(project_id, Counters())),
                            StorageUsageItem.org_id.set(org_id),
                            StorageUsageItem.project_id.set(project_id),
                        ],
                    )
                if last:
                    tx.update(
                        "totals",
                        StorageUsageItem(pk, TOTALS_SK),
                        [
                            *_set(StorageUsageItem, after.totals),
                            StorageUsageItem.version.add(1),
                            StorageUsageItem.org_id.set(org_id),
                            StorageUsageItem.inventory_at.set(at),
                            StorageUsageItem.reconciled_at.set(iso(now)),
                            StorageUsageItem.gsi1pk.set(metered_shard(org_id)),
                            StorageUsageItem.gsi1sk.set(org_id),
                        ],
                        totals_condition,
                    )
                else:
                    tx.check("totals", StorageUsageItem, pk, TOTALS_SK, totals_condition)
                try:
                    tx.run()
                except TxCancelled:
                    ok = False
                    break
            if ok:
                return True
        raise Conflict(f"the storage meter of {org_id} kept changing during reconciliation")

    # ---- wallet facts the storage rules need ------------------------------------------------------------

    def archive_state(self, org_id: str) -> ArchiveState | None:
        try:
            item = WalletItem.get(
                org_pk(org_id),
                WALLET_SK,
                consistent_read=True,
                attributes_to_get=["plan_id", "cycle_id", "archived_at"],
            )
        except DoesNotExist:
            return None
        return ArchiveState(
            item.plan_id, item.cycle_id, parse_iso(item.archived_at) if item.archived_at else None
        )

    # ---- bulk media deletion ----------------------------------------------------------------------------

    def start_deletion(
        self,
        org_id: str,
        deletion_id: str,
        *,
        project_id: str | None,
        fingerprint: str,
        actor: str,
        now: datetime,
    ) -> DeletionProgress:
        """The deletion under this id: made now, or the one an earlier call started (resumed)."""
        item = MediaDeletionItem(
            org_pk(org_id),
            f"MEDIADEL#{deletion_id}",
            deletion_id=deletion_id,
            org_id=org_id,
            project_id=project_id,
            status="running",
            cursor="",
            objects=0,
            bytes=0,
            pending_objects=0,
            pending_bytes=0,
            fingerprint=fingerprint,
            actor=actor,
            created_at=iso(now),
        )
        tx = Tx(self._connection)
        tx.put("deletion", item, MediaDeletionItem.pk.does_not_exist())
        try:
            tx.run()
        except TxCancelled:
            existing = self.deletion(org_id, deletion_id)
            if existing is None or existing[1] != fingerprint:
                raise IdempotencyKeyReuse(
                    "this Idempotency-Key was already used with a different request"
                ) from None
            return existing[0]
        return DeletionProgress(deletion_id, project_id, "running", "")

    def deletion(self, org_id: str, deletion_id: str) -> tuple[DeletionProgress, str] | None:
        try:
            item = MediaDeletionItem.get(org_pk(org_id), f"MEDIADEL#{deletion_id}", consistent_read=True)
        except DoesNotExist:
            return None
        progress = DeletionProgress(
            deletion_id=item.deletion_id,
            project_id=item.project_id,
            status=item.status,
            cursor=item.cursor or "",
            objects=int(item.objects),
            bytes=int(item.bytes),
            pending_last=item.pending_last,
            pending_objects=int(item.pending_objects),
            pending_bytes=int(item.pending_bytes),
        )
        return progress, item.fingerprint

    def announce_batch(
        self, org_id: str, progress: DeletionProgress, last: str, objects: int, size: int
    ) -> DeletionProgress:
        """Before a batch is deleted: what it holds (count, bytes, last key), so a resumed run counts
        exactly what the interrupted one deleted."""
        item = MediaDeletionItem(org_pk(org_id), f"MEDIADEL#{progress.deletion_id}")
        item.update(
            actions=[
                MediaDeletionItem.pending_last.set(last),
                MediaDeletionItem.pending_objects.set(objects),
                MediaDeletionItem.pending_bytes.set(size),
            ],
            condition=(MediaDeletionItem.cursor == progress.cursor)
            & MediaDeletionItem.pending_last.does_not_exist(),
            add_version_condition=False,
        )
        return DeletionProgress(
            progress.deletion_id,
            progress.project_id,
            progress.status,
            progress.cursor,
            progress.objects,
            progress.bytes,
            last,
            objects,
            size,
        )

    def record_batch(
        self, org_id: str, progress: DeletionProgress, now: datetime, done: bool
    ) -> DeletionProgress:
        """The announced batch is gone: count it, move the cursor; `done` when nothing is left."""
        after = progress.recorded()
        actions: list[Action] = [
            MediaDeletionItem.cursor.set(after.cursor),
            MediaDeletionItem.objects.set(after.objects),
            MediaDeletionItem.bytes.set(after.bytes),
            MediaDeletionItem.pending_last.remove(),
            MediaDeletionItem.pending_objects.set(0),
            MediaDeletionItem.pending_bytes.set(0),
        ]
        if done:
            actions += [MediaDeletionItem.status.set("done"), MediaDeletionItem.finished_at.set(iso(now))]
        condition: Condition = (
            MediaDeletionItem.pending_last == progress.pending_last
            if progress.pending_last is not None
            else (MediaDeletionItem.cursor == progress.cursor)
            & MediaDeletionItem.pending_last.does_not_exist()
        )
        MediaDeletionItem(org_pk(org_id), f"MEDIADEL#{progress.deletion_id}").update(
            actions=actions, condition=condition, add_version_condition=False
        )
        return DeletionProgress(
            after.deletion_id,
            after.project_id,
            "done" if done else after.status,
            after.cursor,
            after.objects,
            after.bytes,
        )

    # ---- the archive purge schedule -------------------------------------------------------------------

    @staticmethod
    def schedule_purge(tx: Tx, org_id: str, archived_at: datetime) -> None:
        """In the transaction that enters archive: the media purge, due 30 days later, on the due index."""
        due = iso(purge_due(archived_at))
        tx.put(
            "purge",
            PurgeItem(
                org_pk(org_id),
                PURGE_SK,
                org_id=org_id,
                archived_at=iso(archived_at),
                due_at=due,
                gsi1pk=PURGE_DUE,
                gsi1sk=f"{due}#{org_id}",
            ),
        )

    @staticmethod
    def cancel_purge(tx: Tx, org_id: str) -> None:
        """In the transaction that leaves archive (a re-upgrade): no purge any more."""
        tx.delete("purge", PurgeItem(org_pk(org_id), PURGE_SK))

    def scheduled_purge(self, org_id: str) -> PurgeItem | None:
        try:
            return PurgeItem.get(org_pk(org_id), PURGE_SK, consistent_read=True)
        except DoesNotExist:
            return None

    def due_purges(self, now: datetime) -> Iterator[tuple[str, str]]:
        """(org, archived_at) of every purge due by `now`: a query of the due index, never a scan."""
        for item in PurgeItem.due.query(PURGE_DUE, PurgeItem.gsi1sk <= f"{iso(now)}~"):
            yield item.org_id, item.archived_at

    def record_purge(self, org_id: str, archived_at: str, objects: int, size: int, now: datetime) -> None:
        """The purge is done: off the schedule, and recorded (what, when, how many bytes)."""
        pk = org_pk(org_id)
        tx = Tx(self._connection)
        tx.delete("purge", PurgeItem(pk, PURGE_SK), PurgeItem.archived_at == archived_at)
        tx.put(
            "record",
            PurgeItem(
                pk,
                f"{PURGED_SK}{iso(now)}",
                org_id=org_id,
                archived_at=archived_at,
                due_at=iso(purge_due(parse_iso(archived_at))),
                purged_at=iso(now),
                objects=objects,
                bytes=size,
            ),
        )
        try:
            tx.run()
        except TxCancelled:
            raise NotFound(f"no purge of {org_id} scheduled for archive of {archived_at}") from None

    def purges(self, org_id: str) -> list[PurgeItem]:
        return list(PurgeItem.query(org_pk(org_id), PurgeItem.sk.startswith(PURGED_SK), consistent_read=True))


def metered_shard(org_id: str) -> str:
    return f"{METERED}{int(hashlib.sha256(org_id.encode()).hexdigest()[:8], 16) % METERED_SHARDS}"


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def kind_of(value: str) -> Kind:
    return Kind(value)


def counters_map(counters: Counters) -> Mapping[str, int]:
    return {name: getattr(counters, name) for name in _FIELDS}
