"""Grants and adjustments, billing operations' tools (SPEC §4 grant lots, §6 `grant` / `adjustment`).

A grant is credits the platform gives: promotional (a label and an expiry of its choosing) or an
education grant, one of the catalog's credit bundles (its credits and how long they last). Either way it
arrives as one `grant` lot, spent after the monthly allowance and the bank, soonest-expiring first.

An adjustment is a signed correction with a mandatory reason: a positive one adds a non-expiring grant
lot, a negative one takes credits back from the live lots in spending order (refused whole if the
balance cannot cover it). Both are double-entry: `platform:issued` ↔ `org:available`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from act3_billing.domain.errors import ValidationFailed
from act3_billing.domain.ids import new_id
from act3_billing.domain.lots import Lot, LotKind

MAX_GRANT_LIFETIME = timedelta(days=3 * 366)


class GrantKind(StrEnum):
    PROMOTIONAL = "promotional"
    EDUCATION = "education"


@dataclass(frozen=True)
class Bundle:
    """An education credit bundle: what a student, a class or a school gets, and for how long."""

    bundle_id: str
    name: str
    credits: int
    valid_for: timedelta


EDUCATION_BUNDLES: Mapping[str, Bundle] = {
    b.bundle_id: b
    for b in (
        Bundle("edu-student", "Education: student", 10_000, timedelta(days=180)),
        Bundle("edu-classroom", "Education: classroom", 120_000, timedelta(days=180)),
        Bundle("edu-institution", "Education: institution", 1_000_000, timedelta(days=365)),
    )
}


@dataclass(frozen=True)
class GrantSpec:
    kind: GrantKind
    label: str | None
    credits: int | None
    expires_at: datetime | None
    bundle_id: str | None


def grant_lot(spec: GrantSpec, now: datetime) -> Lot:
    """The lot a grant adds. Promotional grants name their credits, label and expiry; education grants
    name a bundle (which fixes the credits) and may choose another expiry or label."""
    credits, label, expires_at = spec.credits, spec.label, spec.expires_at
    if spec.kind is GrantKind.EDUCATION:
        bundle = EDUCATION_BUNDLES.get(spec.bundle_id or "")
        if bundle is None:
            known = ", ".join(EDUCATION_BUNDLES)
            raise ValidationFailed(f"bundle: an education grant names one of {known}", field="bundle")
        if credits is not None and credits != bundle.credits:
            raise ValidationFailed(
                f"credits: the bundle {bundle.bundle_id} is {bundle.credits}", field="credits"
            )
        credits, label = bundle.credits, label or bundle.name
        expires_at = expires_at or now + bundle.valid_for
    elif spec.bundle_id is not None:
        raise ValidationFailed("bundle: only education grants come in bundles", field="bundle")
    if credits is None or not label or expires_at is None:
        raise ValidationFailed("a promotional grant needs credits, a label and an expiry", field="credits")
    if not now < expires_at <= now + MAX_GRANT_LIFETIME:
        raise ValidationFailed(
            "expires_at: a grant expires in the future, within three years", field="expires_at"
        )
    return Lot(new_id("grant", now), LotKind.GRANT, credits, credits, now, expires_at, label)


def positive_adjustment_lot(credits: int, reason: str, now: datetime) -> Lot:
    """Credits an adjustment adds: a grant lot that does not expire (spent after expiring grants)."""
    if credits <= 0:
        raise ValueError("a positive adjustment adds credits")
    return Lot(new_id("adj", now), LotKind.GRANT, credits, credits, now, None, f"adjustment: {reason}")


def clean_reason(reason: str) -> str:
    text = " ".join(reason.split())
    if len(text) < 3:
        raise ValidationFailed("reason: say why (at least 3 characters)", field="reason")
    return text
