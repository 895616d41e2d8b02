"""The "sent" markers of threshold alerts: one conditional put per org, period, kind and threshold."""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import PutError, UpdateError

from act3_billing.domain.times import iso
from act3_billing.store.models import AlertItem, org_pk

MARKER_TTL = timedelta(days=400)  # longer than any period an alert is once-per (a cycle, a trial)


def marker_sk(period: str, kind: str, threshold: str) -> str:
    return f"ALERT#{period}#{kind}#{threshold}"


class AlertMarkers:
    def claim(self, org_id: str, period: str, kind: str, threshold: str, now: datetime) -> bool:
        """True for exactly one caller per (org, period, kind, threshold): that caller delivers."""
        item = AlertItem(
            org_pk(org_id),
            marker_sk(period, kind, threshold),
            org_id=org_id,
            kind=kind,
            threshold=threshold,
            period=period,
            claimed_at=iso(now),
            expires_ttl=now + MARKER_TTL,
        )
        try:
            item.save(condition=AlertItem.pk.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def mark_sent(self, org_id: str, period: str, kind: str, threshold: str, now: datetime) -> None:
        item = AlertItem(org_pk(org_id), marker_sk(period, kind, threshold))
        try:
            item.update(actions=[AlertItem.sent_at.set(iso(now))], condition=AlertItem.pk.exists())
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise

    def sent(self, org_id: str, period: str, kind: str, threshold: str) -> bool:
        try:
            item = AlertItem.get(org_pk(org_id), marker_sk(period, kind, threshold), consistent_read=True)
        except AlertItem.DoesNotExist:
            return False
        return item.sent_at is not None
