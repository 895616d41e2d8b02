"""Threshold alerts (SPEC §10): each sent once per crossing per period, as an EventBridge event on the
project's bus and as an SES e-mail to the org's owners and billing members.

Generic on purpose: an `Alert` is an org, a `kind`, a `threshold` and the `period` it is once per
(the billing cycle id; for storage, whatever period the storage meter counts in), plus a detail.
Kinds sent today: `monthly_usage` (75 / 90 / 100, crossed by a debit, hold, extension or capture),
`bank_expiring` (7d), `trial_ending` (14d); the storage meter sends `storage_usage` (80 / 100)
through the same `Notifier.notify`. Each kind's event has a JSON schema in `docs/events/`.

Delivery comes after the spending transaction has committed, so the transaction stays one request.
The crossing is judged on what the spender's own view of the wallet says after the draw; that view
may only under-count the usage (another instance may have spent too), so an alert is never sent
early, and a crossing missed by a stale view is caught by the next spend that reads the wallet.
Never twice: a conditional put of the org's marker for (period, kind, threshold) claims the alert
and only the claimer sends. The order is claim, then send, then mark sent: a crash between claim
and send leaves a marker without `sent_at` (visible, never re-sent) rather than a duplicate e-mail.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from act3_billing.domain.lots import Wallet
from act3_billing.domain.times import iso

log = logging.getLogger(__name__)

SOURCE = "act3.billing"
USAGE_THRESHOLDS = (75, 90, 100)
DETAIL_TYPES: Mapping[str, str] = {
    "monthly_usage": "Monthly allowance threshold crossed",
    "bank_expiring": "Bank credits expiring",
    "trial_ending": "Trial ending",
    "storage_usage": "Storage threshold crossed",
}


@dataclass(frozen=True)
class Alert:
    org_id: str
    kind: str  # a key of DETAIL_TYPES
    threshold: str  # "75", "90", "100", "7d", "14d", "80"...
    period: str  # what the alert is once per: the cycle id
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.threshold}:{self.period}"

    def event_detail(self, now: datetime) -> dict[str, Any]:
        return {
            "org_id": self.org_id,
            "kind": self.kind,
            "threshold": self.threshold,
            "period": self.period,
            "occurred_at": iso(now),
            **self.detail,
        }


class Notifier(Protocol):
    def notify(self, alert: Alert, now: datetime) -> bool:
        """Deliver `alert` unless it was delivered before; True when this call delivered it."""
        ...


class Markers(Protocol):
    def claim(self, org_id: str, period: str, kind: str, threshold: str, now: datetime) -> bool: ...
    def mark_sent(self, org_id: str, period: str, kind: str, threshold: str, now: datetime) -> None: ...


class Bus(Protocol):
    def put(self, detail_type: str, detail: dict[str, Any], now: datetime) -> None: ...


class Mailer(Protocol):
    def send(self, to: str, subject: str, text: str) -> str: ...


@dataclass
class EventBridgeBus:
    """Events on the project's own bus (`BillingBus` in template.yaml)."""

    bus_name: str
    region: str
    _client: Any = None

    def put(self, detail_type: str, detail: dict[str, Any], now: datetime) -> None:
        if self._client is None:
            import boto3

            self._client = boto3.client("events", region_name=self.region)
        reply = self._client.put_events(
            Entries=[
                {
                    "Source": SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, separators=(",", ":")),
                    "EventBusName": self.bus_name,
                    "Time": now,
                }
            ]
        )
        if reply.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused the event: {reply.get('Entries')}")


def usage_alerts(wallet: Wallet) -> list[Alert]:
    """The monthly-allowance thresholds the wallet is past (judged on this view of it)."""
    monthly = wallet.current_monthly()
    if monthly is None or not monthly.granted:
        return []
    used = monthly.granted - monthly.remaining
    return [
        Alert(
            wallet.org_id,
            "monthly_usage",
            str(threshold),
            wallet.cycle_id,
            {
                "allowance": monthly.granted,
                "used": used,
                "percent_used": used * 100 // monthly.granted,
                "cycle_end": iso(wallet.cycle_end),
            },
        )
        for threshold in USAGE_THRESHOLDS
        if used * 100 >= threshold * monthly.granted
    ]


def alert_mail(alert: Alert, org_name: str) -> tuple[str, str]:
    d = alert.detail
    if alert.kind == "monthly_usage":
        subject = f"{org_name}: {alert.threshold} % of this month's credits used"
        body = (
            f"{d.get('used')} of {d.get('allowance')} monthly credits are used; "
            f"the cycle ends {d.get('cycle_end')}."
        )
    elif alert.kind == "bank_expiring":
        subject = f"{org_name}: {d.get('credits')} banked credits expire within 7 days"
        body = f"{d.get('credits')} rolled-over credits expire at {d.get('expires_at')}. Spend them first."
    elif alert.kind == "trial_ending":
        subject = f"{org_name}: your free trial ends within 14 days"
        body = f"The starter trial ends at {d.get('trial_ends_at')}; upgrade to keep generating."
    else:
        subject = f"{org_name}: {DETAIL_TYPES.get(alert.kind, alert.kind)} ({alert.threshold})"
        body = json.dumps(dict(d), sort_keys=True)
    return subject, f"{body}\n\nManage your plan and credits at ACT 3 AI.\n"


@dataclass
class Notifications:
    """The Notifier: claim the marker, then the bus event and the e-mails, then mark it sent."""

    markers: Markers
    bus: Bus
    mailer: Mailer
    recipients: Callable[[str], tuple[str, list[str]]]  # org id -> (org name, e-mail addresses)
    _seen: set[tuple[str, str]] = field(default_factory=set)

    def notify(self, alert: Alert, now: datetime) -> bool:
        memo = (alert.org_id, alert.key)
        if memo in self._seen:  # this instance claimed or saw it already: not even a request
            return False
        self._seen.add(memo)
        if not self.markers.claim(alert.org_id, alert.period, alert.kind, alert.threshold, now):
            return False
        self.bus.put(DETAIL_TYPES.get(alert.kind, alert.kind), alert.event_detail(now), now)
        name, addresses = self.recipients(alert.org_id)
        subject, text = alert_mail(alert, name)
        for address in addresses:
            self.mailer.send(address, subject, text)
        self.markers.mark_sent(alert.org_id, alert.period, alert.kind, alert.threshold, now)
        log.info("alert %s sent for %s to %d recipient(s)", alert.key, alert.org_id, len(addresses))
        return True


def notify_quietly(notifier: Notifier, alerts: list[Alert], now: datetime) -> list[str]:
    """After a committed spend: deliver, and never let a delivery problem fail the request."""
    sent = []
    for alert in alerts:
        try:
            if notifier.notify(alert, now):
                sent.append(alert.key)
        except Exception:
            log.exception("alert %s for %s could not be delivered", alert.key, alert.org_id)
    return sent
