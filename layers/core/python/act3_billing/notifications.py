"""Threshold notifications (SPEC §10), sent once per org, cycle and threshold: an EventBridge event on
the project's bus and an e-mail (SES) to the org's owners and billing members.

Minimal version written for storage thresholds (issue 10); the cycles work (issue 7) owns this module.
The marker is written first (a conditional put: only one sender wins); a failed send removes it again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from act3_billing.domain.roles import Role
from act3_billing.domain.times import iso
from act3_billing.mail import Mailer
from act3_billing.observability import logger

SOURCE = "act3.billing"


class Marks(Protocol):
    def mark(self, org_id: str, cycle_id: str, kind: str, now: datetime) -> bool: ...
    def unmark(self, org_id: str, cycle_id: str, kind: str) -> None: ...


class Bus(Protocol):
    def put(self, detail_type: str, detail: dict[str, Any]) -> None: ...


@dataclass
class EventBridgeBus:
    name: str
    region: str
    _client: Any = field(default=None, repr=False)

    def put(self, detail_type: str, detail: dict[str, Any]) -> None:
        if self._client is None:
            import boto3

            self._client = boto3.client("events", region_name=self.region)
        reply = self._client.put_events(
            Entries=[
                {
                    "Source": SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                    "EventBusName": self.name,
                }
            ]
        )
        if reply.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused the event: {reply['Entries']}")


@dataclass
class Notifier:
    marks: Marks
    bus: Bus
    mailer: Mailer
    recipients: Callable[[str], list[str]]  # org -> e-mails of its owners and billing members

    def once(
        self,
        org_id: str,
        cycle_id: str,
        kind: str,
        subject: str,
        text: str,
        detail: dict[str, Any],
        now: datetime,
    ) -> bool:
        """Send `kind` for this org and cycle unless it was sent already; True when sent now."""
        if not self.marks.mark(org_id, cycle_id, kind, now):
            return False
        try:
            self.bus.put(kind, {"org_id": org_id, "cycle_id": cycle_id, "at": iso(now), **detail})
            for address in self.recipients(org_id):
                self.mailer.send(address, subject, text)
        except Exception:
            logger.exception("notification not sent", extra={"org_id": org_id, "kind": kind})
            self.marks.unmark(org_id, cycle_id, kind)
            raise
        return True


NOTIFIED_ROLES = (Role.OWNER, Role.BILLING)
