"""The "sent once" markers of notifications: one conditional put per org, cycle and threshold."""

from __future__ import annotations

from datetime import datetime

from pynamodb.connection import Connection

from act3_billing.domain.times import iso
from act3_billing.store.models import NotifiedItem, org_pk
from act3_billing.store.tx import Tx, TxCancelled


class NotificationMarks:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def mark(self, org_id: str, cycle_id: str, kind: str, now: datetime) -> bool:
        """True for the first caller only: it sends; everyone after it sees the marker and does not."""
        tx = Tx(self._connection)
        tx.put(
            "mark",
            NotifiedItem(
                org_pk(org_id), f"NOTIFY#{cycle_id}#{kind}", org_id=org_id, kind=kind, created_at=iso(now)
            ),
            NotifiedItem.pk.does_not_exist(),
        )
        try:
            tx.run()
        except TxCancelled as exc:
            if "mark" in exc.failed:
                return False
            raise
        return True

    def unmark(self, org_id: str, cycle_id: str, kind: str) -> None:
        """Sending failed: the next crossing (or retry) sends again."""
        NotifiedItem(org_pk(org_id), f"NOTIFY#{cycle_id}#{kind}").delete()
