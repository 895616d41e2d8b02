"""CSV export of ledger entries (what a finance lead opens in a spreadsheet)."""

from __future__ import annotations

import csv
import io
import json

from act3_billing.http.models import LedgerPage

COLUMNS = (
    "created_at",
    "entry_id",
    "type",
    "amount",
    "from_account",
    "to_account",
    "actor",
    "job_id",
    "hold_id",
    "quote_id",
    "idempotency_key",
    "rate_card_version",
    "lots",
    "sources",
    "memo",
)


def _cell(value: object) -> str:
    """Text a spreadsheet will not run as a formula (cells starting with = + - @ are quoted)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def ledger_csv(page: LedgerPage) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for entry in page.entries:
        row = entry.model_dump()
        writer.writerow(
            json.dumps(row[c], sort_keys=True) if c in ("lots", "sources") else _cell(row[c]) for c in COLUMNS
        )
    return out.getvalue()
