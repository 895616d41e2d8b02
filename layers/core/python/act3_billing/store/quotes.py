"""Quotes: stored with their price and rate-card version, honoured once at that price for their
15 minutes, even when a new rate card is deployed meanwhile (SPEC §12)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist

from act3_billing.domain.errors import NotFound, QuoteExpired, QuoteUsed
from act3_billing.domain.times import iso
from act3_billing.store.idempotency import Idem
from act3_billing.store.models import QuoteItem, org_pk
from act3_billing.store.tx import Tx

QUOTE_TTL_GRACE = timedelta(days=7)


class QuoteRepriced(Exception):
    """The quote was priced with another rate-card version than the caller assumed."""

    def __init__(self, version: str) -> None:
        super().__init__(version)
        self.version = version


@dataclass(frozen=True)
class QuoteRef:
    quote_id: str
    credits: int


def save_quote(
    org_id: str,
    *,
    quote_id: str,
    credits: int,
    breakdown: list[dict[str, Any]],
    rate_card_version: str,
    expires_at: datetime,
    actor: str,
    now: datetime,
) -> None:
    QuoteItem(
        org_pk(org_id),
        f"QUOTE#{quote_id}",
        quote_id=quote_id,
        org_id=org_id,
        credits=credits,
        breakdown=json.dumps(breakdown),
        rate_card_version=rate_card_version,
        expires_at=iso(expires_at),
        created_at=iso(now),
        actor=actor,
        expires_ttl=expires_at + QUOTE_TTL_GRACE,
    ).save()


def quote_item(org_id: str, quote_id: str) -> QuoteItem:
    try:
        return QuoteItem.get(org_pk(org_id), f"QUOTE#{quote_id}", consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"quote {quote_id} not found") from None


def use_quote(
    tx: Tx, org_id: str, quote: QuoteRef, idem: Idem, rate_card_version: str, now: datetime
) -> None:
    """A quote is honoured once, at its price, while it is valid: the transaction marks it used. The
    spender assumes the current rate card; a quote priced with another one fails this condition and
    `quote_refused` says at which version to try again."""
    tx.update(
        "quote",
        QuoteItem(org_pk(org_id), f"QUOTE#{quote.quote_id}"),
        [QuoteItem.used_by.set(idem.key)],
        QuoteItem.pk.exists()
        & (QuoteItem.credits == quote.credits)
        & (QuoteItem.rate_card_version == rate_card_version)
        & (QuoteItem.expires_at > iso(now))
        & QuoteItem.used_by.does_not_exist(),
    )


def quote_refused(org_id: str, quote: QuoteRef, rate_card_version: str, now: datetime) -> None:
    """Why the quote's condition failed: raises the refusal, or `QuoteRepriced` to go again."""
    item = quote_item(org_id, quote.quote_id)
    if int(item.credits) != quote.credits:
        raise NotFound(f"quote {quote.quote_id} not found")
    if item.used_by:
        raise QuoteUsed(f"quote {quote.quote_id} was already used")
    if item.rate_card_version != rate_card_version and item.expires_at > iso(now):
        # A new rate card was deployed meanwhile: the quote is still honoured, at its own version.
        raise QuoteRepriced(item.rate_card_version)
    raise QuoteExpired(f"quote {quote.quote_id} expired at {item.expires_at}")
