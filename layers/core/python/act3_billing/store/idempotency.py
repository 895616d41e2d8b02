"""Idempotency records: written in the same transaction as the change they answer for, replayed for a
retry with the same key and request, refused (409) for the same key with another request."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

from pynamodb.exceptions import DoesNotExist

from act3_billing.domain.errors import DomainError, IdempotencyKeyReuse
from act3_billing.domain.times import iso
from act3_billing.store.models import IdempotencyItem, org_pk
from act3_billing.store.tx import Tx

IDEMPOTENCY_TTL = timedelta(days=90)


@dataclass(frozen=True)
class Idem:
    """An Idempotency-Key, scoped to its org, with the fingerprint of the request it first came with."""

    key: str
    operation: str
    fingerprint: str


@dataclass(frozen=True)
class Outcome:
    body: dict[str, Any]
    replayed: bool = False


def add_idem(tx: Tx, org_id: str, idem: Idem, body: dict[str, Any], now: datetime) -> None:
    """The idempotency record, written in the same transaction as the change it answers for."""
    tx.put(
        "idem",
        IdempotencyItem(
            org_pk(org_id),
            f"IDEM#{idem.key}",
            operation=idem.operation,
            fingerprint=idem.fingerprint,
            response=json.dumps(body, separators=(",", ":")),
            created_at=iso(now),
            expires_ttl=now + IDEMPOTENCY_TTL,
        ),
        IdempotencyItem.pk.does_not_exist(),
    )


def replay(org_id: str, idem: Idem) -> Outcome:
    """The first answer to this key; another request under the same key is refused."""
    item = IdempotencyItem.get(org_pk(org_id), f"IDEM#{idem.key}", consistent_read=True)
    if item.operation != idem.operation or item.fingerprint != idem.fingerprint:
        raise IdempotencyKeyReuse(
            "this Idempotency-Key was already used with a different request", operation=item.operation
        )
    return Outcome(json.loads(item.response), replayed=True)


def previous(org_id: str, idem: Idem) -> Outcome | None:
    try:
        return replay(org_id, idem)
    except DoesNotExist:
        return None


P = ParamSpec("P")
S = TypeVar("S")
# Refusals that never fall back to an earlier answer: authorization ones (a stranger must not learn
# whether a key was used in an org) and those that are about the key or the database itself.
_NOT_REPLAYED = frozenset(
    {
        "idempotency_key_reuse",
        "unavailable",
        "conflict",
        "not_found",
        "forbidden_role",
        "forbidden_scope",
        "shared_credits_disabled",
    }
)


def replays(
    method: Callable[Concatenate[S, str, P], Outcome],
) -> Callable[Concatenate[S, str, P], Outcome]:
    """A refusal that a retry of an already-applied request would meet (the hold is closed now, the
    credits are spent now) answers with the first answer instead: the key, not the state, decides."""

    @functools.wraps(method)
    def wrapper(self: S, org_id: str, /, *args: P.args, **kwargs: P.kwargs) -> Outcome:
        try:
            return method(self, org_id, *args, **kwargs)
        except DomainError as refusal:
            idem = kwargs.get("idem")
            if not isinstance(idem, Idem) or refusal.code in _NOT_REPLAYED:
                raise
            earlier = previous(org_id, idem)
            if earlier is None:
                raise
            return earlier

    return wrapper
