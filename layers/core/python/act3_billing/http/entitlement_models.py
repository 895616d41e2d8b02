"""Request and response models of `GET /orgs/{org_id}/entitlements` (issue 12)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from act3_billing.domain.spending import Reason

REASONS = ", ".join(f"`{reason.value}`" for reason in Reason)


class GenerationOut(BaseModel):
    enabled: bool = Field(description="whether a 1-credit hold by this member would be accepted now")
    reason: str | None = Field(
        None, description=f"why not, the first that applies, in this order: {REASONS}; null when enabled"
    )


class CreditsOut(BaseModel):
    pool: int = Field(description="the org's spendable credits (live lots, holds already taken out)")
    may_spend: bool = Field(description="the member's role and shared-credit toggle let them spend the pool")
    monthly_limit: int | None = Field(None, description="the member's monthly spending limit; null: none")
    limit_left: int | None = Field(None, description="what is left of it this cycle; null: no limit")
    spendable: int = Field(description="what this member could spend now (0 when generation is off)")


class StorageOut(BaseModel):
    used_bytes: int
    quota_bytes: int | None = Field(None, description="null: no quota (an enterprise plan without one)")


class EntitlementsResponse(BaseModel):
    org_id: str
    member_id: str = Field(description="whose view this is")
    plan_id: str
    status: str = Field(description="active, past_due or archived")
    generation: GenerationOut
    features: dict[str, bool | int | str] = Field(
        description="the plan's features (catalog product metadata, the built-in catalog by default) with "
        "an enterprise contract's overrides: priority_queue, max_resolution, private_3d_sets, sso, …"
    )
    credits: CreditsOut
    storage: StorageOut
    as_of: str
    cache_seconds: int = Field(description="how long the answer may be cached (also in Cache-Control)")


FeatureIn = StrictBool | StrictInt | StrictStr


class ContractRequest(BaseModel):
    """An enterprise org's contract terms, replacing the ones recorded (billing operations)."""

    model_config = ConfigDict(extra="forbid")

    features: dict[str, FeatureIn] = Field(
        default_factory=dict,
        max_length=50,
        description="over the plan's: lower-case names; flags, whole numbers or 1-64 character words",
    )
    storage_gb: Annotated[int, Field(ge=0, le=10_000_000, strict=True)] | None = Field(
        None, description="the storage quota in GB; null: the plan's"
    )


class ContractResponse(BaseModel):
    org_id: str
    features: dict[str, bool | int | str]
    storage_gb: int | None
    version: int
    applies: bool = Field(description="whether the org is on a contract plan now (the terms apply only then)")
