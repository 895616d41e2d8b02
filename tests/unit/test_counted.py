"""A mutating call's answer and its business metric: counted once, never again on a replay."""

from __future__ import annotations

from act3_billing.http.api import counted
from act3_billing.observability import metrics
from act3_billing.store.idempotency import Outcome


def test_a_replay_answers_the_same_and_is_not_counted_again() -> None:
    metrics.clear_metrics()
    first = counted(Outcome({"credits": 3}), "CreditsDebited", 3)
    again = counted(Outcome({"credits": 3}, replayed=True), "CreditsDebited", 3)
    settled = counted(Outcome({"captured": 2}), "CreditsCaptured", 2, status=200)
    assert (first.status_code, again.status_code, settled.status_code) == (201, 201, 200)
    assert (first.headers["Idempotent-Replayed"], again.headers["Idempotent-Replayed"]) == ("false", "true")
    assert metrics.metric_set["CreditsDebited"]["Value"] == [3.0]
    assert metrics.metric_set["CreditsCaptured"]["Value"] == [2.0]
    metrics.clear_metrics()
