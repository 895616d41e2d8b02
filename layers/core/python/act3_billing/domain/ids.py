"""Time-ordered, collision-resistant ids (like ULIDs: 48-bit ms time + 80 random bits, Crockford base32)."""

from __future__ import annotations

import secrets
from datetime import datetime

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _b32(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        out.append(_ALPHABET[rem])
    return "".join(reversed(out))


def new_id(prefix: str, now: datetime) -> str:
    millis = int(now.timestamp() * 1000)
    return f"{prefix}_{_b32(millis, 10)}{_b32(secrets.randbits(80), 16)}"


def new_ids(prefix: str, now: datetime, count: int) -> list[str]:
    """`count` ids of one instant, in ascending order: entries one request writes at the same time sort
    (and are replayed) in the order they were made, e.g. a refund before the expiry of its dead lots."""
    return sorted(new_id(prefix, now) for _ in range(count))
