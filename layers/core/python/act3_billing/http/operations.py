"""Request and response models of billing operations' routes (grants and adjustments)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints, model_validator

from act3_billing.http.models import MAX_CREDITS, Credits, LedgerEntryOut, _In


class GrantRequest(_In):
    """A promotional grant names its credits, label and expiry; an education grant names a bundle
    (`edu-student`, `edu-classroom`, `edu-institution`), which fixes the credits and a default expiry."""

    kind: Literal["promotional", "education"] = "promotional"
    label: Annotated[str, StringConstraints(min_length=1, max_length=120, strip_whitespace=True)] | None = (
        None
    )
    credits: Credits | None = None
    bundle: Annotated[str, StringConstraints(max_length=64)] | None = None
    expires_at: AwareDatetime | None = None


class GrantResponse(BaseModel):
    lot_id: str
    kind: str
    bundle: str | None
    label: str
    credits: int
    expires_at: str | None
    entry: LedgerEntryOut


class AdjustmentRequest(_In):
    """Signed credits (positive adds, negative takes back) and the reason, which the ledger keeps."""

    credits: Annotated[int, Field(ge=-MAX_CREDITS, le=MAX_CREDITS, strict=True)]
    reason: Annotated[str, StringConstraints(min_length=3, max_length=500)]

    @model_validator(mode="after")
    def _not_zero(self) -> AdjustmentRequest:
        if self.credits == 0:
            raise ValueError("an adjustment of 0 credits changes nothing")
        return self


class AdjustmentResponse(BaseModel):
    adjustment_id: str
    credits: int
    reason: str
    lots: dict[str, int]
    entry: LedgerEntryOut
    created_at: str
