"""Storage per org (SPEC §9): the object key layout, the per-key state that keeps the meter exact under
duplicate and out-of-order S3 events, usage counters, quotas and their thresholds, and the archive purge.

An S3 event carries a `sequencer` per key: of two events on one key, the one with the greater sequencer
happened later (compared as hex strings after left-padding the shorter with zeros). Each key keeps the
last sequencer applied, whether the object is there, and its size; an event that is not newer than that
changes nothing, and a newer one moves the counters by the difference between the key's old and new
contribution. So any order and any duplication of one history ends in the counters of its final state.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from act3_billing.domain.errors import DomainError

GB = 1024**3  # a plan's "GB" of storage, as S3 bills it
THRESHOLDS = (80, 100)  # percent of the quota that notify once per cycle (SPEC §10)
PURGE_AFTER = timedelta(days=30)  # media of an archived org is deleted this long after entering archive
SEQUENCER_WIDTH = 64

_ID = r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}"
_KEY = re.compile(
    rf"orgs/(?P<org>{_ID})/projects/(?P<project>{_ID})/(?P<kind>media|text)/(?P<name>.+)", re.DOTALL
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.()+-]{0,199}$")
_HEX = re.compile(r"^[0-9A-Fa-f]{1,64}$")


class StorageQuotaExceeded(DomainError):
    code = "storage_quota_exceeded"
    title = "Not enough storage on this plan"


class MediaPurged(DomainError):
    code = "media_purged"
    title = "The media of this organization was purged"


class Kind(StrEnum):
    MEDIA = "media"
    TEXT = "text"


@dataclass(frozen=True)
class ObjectKey:
    org_id: str
    project_id: str
    kind: Kind
    name: str

    @property
    def key(self) -> str:
        return f"orgs/{self.org_id}/projects/{self.project_id}/{self.kind.value}/{self.name}"

    @property
    def relative(self) -> str:
        """The key below the org's area (`projects/{p}/{kind}/{name}`): how the API names an asset."""
        return self.key.removeprefix(org_prefix(self.org_id))


def parse_key(key: str) -> ObjectKey | None:
    """The layout `orgs/{org}/projects/{project}/{media|text}/…`; None for any key outside it."""
    match = _KEY.fullmatch(key)
    if match is None or len(key.encode()) > 1024 or "\x00" in key:
        return None
    return ObjectKey(match["org"], match["project"], Kind(match["kind"]), match["name"])


_ID_ONLY = re.compile(_ID)


def key_parts(key: str) -> tuple[str, str, Kind] | None:
    """(org, project, kind) of a key of the layout, as `parse_key` says, without building a key
    object: the inventory calls it once per line of a report."""
    parts = key.split("/", 5)
    if len(parts) != 6 or parts[0] != "orgs" or parts[2] != "projects" or not parts[5]:
        return None
    kind = Kind.MEDIA if parts[4] == "media" else Kind.TEXT if parts[4] == "text" else None
    if kind is None or not _ID_ONLY.fullmatch(parts[1]) or not _ID_ONLY.fullmatch(parts[3]):
        return None
    if len(key.encode()) > 1024 or "\x00" in key:
        return None
    return parts[1], parts[3], kind


def org_prefix(org_id: str) -> str:
    return f"orgs/{org_id}/"


def media_prefix(org_id: str, project_id: str) -> str:
    return f"orgs/{org_id}/projects/{project_id}/media/"


def upload_key(org_id: str, project_id: str, kind: Kind, filename: str) -> ObjectKey:
    """Where an upload goes; a file name is one path segment of ordinary characters."""
    from act3_billing.domain.errors import ValidationFailed

    if not _NAME.match(filename) or ".." in filename:
        raise ValidationFailed(
            "filename must be 1-200 letters, digits, spaces or ._()+- and start with a letter or digit",
            field="filename",
        )
    return ObjectKey(org_id, project_id, kind, filename)


def sequencer(raw: str) -> str:
    """A sequencer in a form whose string order is the event order (upper case, left-padded)."""
    if not _HEX.match(raw):
        raise ValueError(f"not a sequencer: {raw[:80]!r}")
    return raw.upper().rjust(SEQUENCER_WIDTH, "0")


# ---- counters -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counters:
    media_bytes: int = 0
    media_objects: int = 0
    text_bytes: int = 0
    text_objects: int = 0

    @classmethod
    def of(cls, kind: Kind, size: int, objects: int = 1) -> Counters:
        if kind is Kind.MEDIA:
            return cls(media_bytes=size, media_objects=objects)
        return cls(text_bytes=size, text_objects=objects)

    def __add__(self, other: Counters) -> Counters:
        return Counters(
            self.media_bytes + other.media_bytes,
            self.media_objects + other.media_objects,
            self.text_bytes + other.text_bytes,
            self.text_objects + other.text_objects,
        )

    def __neg__(self) -> Counters:
        return Counters(-self.media_bytes, -self.media_objects, -self.text_bytes, -self.text_objects)

    def __sub__(self, other: Counters) -> Counters:
        return self + (-other)

    @property
    def bytes(self) -> int:
        return self.media_bytes + self.text_bytes

    @property
    def objects(self) -> int:
        return self.media_objects + self.text_objects

    @property
    def zero(self) -> bool:
        return self == Counters()


@dataclass(frozen=True)
class Usage:
    """An org's counters: per project, and their sum."""

    projects: Mapping[str, Counters] = field(default_factory=dict)

    @property
    def totals(self) -> Counters:
        total = Counters()
        for counters in self.projects.values():
            total += counters
        return total

    def plus(self, project_id: str, delta: Counters) -> Usage:
        projects = dict(self.projects)
        projects[project_id] = projects.get(project_id, Counters()) + delta
        return Usage({p: c for p, c in projects.items() if not c.zero})


# ---- per-key state ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectEvent:
    """One S3 ObjectCreated / ObjectRemoved record on a key of the layout."""

    key: ObjectKey
    sequencer: str  # normalised by `sequencer()`
    present: bool  # created (True) or removed (False)
    size: int
    at: datetime


@dataclass(frozen=True)
class KeyState:
    sequencer: str
    present: bool
    size: int

    def contribution(self, kind: Kind) -> Counters:
        return Counters.of(kind, self.size) if self.present else Counters()


@dataclass(frozen=True)
class Transition:
    state: KeyState
    delta: Counters


def transition(state: KeyState | None, event: ObjectEvent) -> Transition | None:
    """What `event` does to its key: None when it is not newer than what the key has seen (a duplicate,
    or a late event that a later one already overtook); else the key's new state and the counter delta.
    A delete seen first leaves a tombstone, so its create arriving later changes nothing."""
    if state is not None and event.sequencer <= state.sequencer:
        return None
    new = KeyState(event.sequencer, event.present, event.size if event.present else 0)
    before = state.contribution(event.key.kind) if state is not None else Counters()
    return Transition(new, new.contribution(event.key.kind) - before)


def replay(events: Iterable[ObjectEvent], start: Usage | None = None) -> Usage:
    """Apply events one by one as the meter does (the reference model for the store and the tests)."""
    states: dict[str, KeyState] = {}
    usage = start or Usage()
    for event in events:
        step = transition(states.get(event.key.key), event)
        if step is None:
            continue
        states[event.key.key] = step.state
        usage = usage.plus(event.key.project_id, step.delta)
    return usage


def final_usage(events: Iterable[ObjectEvent]) -> Usage:
    """The counters of the final state: per key, its latest event alone decides."""
    latest: dict[str, ObjectEvent] = {}
    for event in events:
        seen = latest.get(event.key.key)
        if seen is None or event.sequencer > seen.sequencer:
            latest[event.key.key] = event
    usage = Usage()
    for event in latest.values():
        if event.present:
            usage = usage.plus(event.key.project_id, Counters.of(event.key.kind, event.size))
    return usage


# ---- quota and thresholds ------------------------------------------------------------------------------


def quota_bytes(storage_gb: int | None) -> int | None:
    """None: no limit in the catalog (enterprise, per contract)."""
    return None if storage_gb is None else storage_gb * GB


def check_upload(used: int, size: int, quota: int | None) -> None:
    if quota is not None and used + size > quota:
        raise StorageQuotaExceeded(
            f"{size} bytes more would pass the plan's {quota} bytes ({used} used)",
            used_bytes=used,
            quota_bytes=quota,
            requested_bytes=size,
        )


def thresholds_reached(used: int, quota: int | None) -> list[int]:
    if not quota:
        return []
    return [t for t in THRESHOLDS if used * 100 >= quota * t]


def percent_used(used: int, quota: int | None) -> float | None:
    if quota is None:
        return None
    if quota == 0:
        return 100.0 if used else 0.0
    return round(used * 100 / quota, 2)


# ---- archive ---------------------------------------------------------------------------------------------


def purge_due(archived_at: datetime) -> datetime:
    return archived_at + PURGE_AFTER


@dataclass(frozen=True)
class DeletionProgress:
    """A bulk media deletion: where it stands (resumable after the last fully recorded batch)."""

    deletion_id: str
    project_id: str | None
    status: str  # running | done
    cursor: str  # the last key of the last recorded batch ("" before the first)
    objects: int = 0
    bytes: int = 0
    pending_last: str | None = None  # a batch announced but not yet recorded (see store)
    pending_objects: int = 0
    pending_bytes: int = 0

    def recorded(self) -> DeletionProgress:
        """The announced batch is deleted: count it and move the cursor past it."""
        if self.pending_last is None:
            return self
        return replace(
            self,
            cursor=self.pending_last,
            objects=self.objects + self.pending_objects,
            bytes=self.bytes + self.pending_bytes,
            pending_last=None,
            pending_objects=0,
            pending_bytes=0,
        )
