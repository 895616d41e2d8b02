"""Request and response models of the HTTP API (they also generate its OpenAPI document)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

MAX_CREDITS = 1_000_000_000
MAX_QUANTITY = Decimal(100_000_000)

Id = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:#-]*$")
]
Credits = Annotated[int, Field(ge=1, le=MAX_CREDITS, strict=True)]
Quantity = Annotated[Decimal, Field(ge=0, le=MAX_QUANTITY, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=100_000_000, strict=True)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UsageIn(_In):
    """What a job used or will use, priced by the rate card."""

    gpu_seconds: dict[Annotated[str, StringConstraints(max_length=32)], Quantity] = Field(
        default_factory=dict, description='seconds per GPU class, e.g. {"a100": 3600}'
    )
    cpu_seconds: Quantity = Decimal(0)
    scratch_gb_hours: Quantity = Decimal(0)
    model_uses: dict[Annotated[str, StringConstraints(max_length=64)], Count] = Field(default_factory=dict)
    tts_characters: Count = 0
    upscale_output_seconds: Quantity = Decimal(0)
    mocap_capture_minutes: Quantity = Decimal(0)
    shots: dict[Literal["Q1", "Q2", "Q3"], Count] = Field(
        default_factory=dict, description="generated shots by tier"
    )


class QuoteRequest(_In):
    """What a job will use; the answer is its price in credits, held for 15 minutes."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"usage": {"shots": {"Q3": 10}}}]})
    usage: UsageIn
    job_id: Id | None = None


class DebitRequest(_In):
    """A member debits at a quote's binding price (`quote_id`); the usage meter debits finished usage by
    its metrics (`usage`, or a quote) on behalf of `member_id`, the member who started the job."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"job_id": "render-42", "quote_id": "qt_01JD5Z8Q7N3V2W4X6Y8Z0A1B2C-80"},
                {"job_id": "render-42", "usage": {"shots": {"Q1": 1}}, "member_id": "user-1"},
            ]
        }
    )
    job_id: Id
    quote_id: Id | None = None
    usage: UsageIn | None = None
    member_id: Id | None = Field(
        None, description="usage meter only (required there): the member on whose behalf the job ran"
    )

    @model_validator(mode="after")
    def _one_source(self) -> DebitRequest:
        if (self.quote_id is None) == (self.usage is None):
            raise ValueError("give exactly one of quote_id or usage")
        return self


class HoldRequest(_In):
    """A reservation for a long job: a number of credits, a quote, or usage to price."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"job_id": "render-42", "credits": 500}]})
    job_id: Id | None = None
    credits: Credits | None = None
    quote_id: Id | None = None
    usage: UsageIn | None = None
    expires_in_seconds: Annotated[int, Field(ge=60, le=7 * 86400, strict=True)] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> HoldRequest:
        if sum(x is not None for x in (self.credits, self.quote_id, self.usage)) != 1:
            raise ValueError("give exactly one of credits, quote_id or usage")
        return self


class ExtendRequest(_In):
    """More credits for an open hold and/or a later expiry."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"credits": 100, "expires_in_seconds": 3600}]})
    credits: Annotated[int, Field(ge=0, le=MAX_CREDITS, strict=True)] = 0
    expires_in_seconds: Annotated[int, Field(ge=60, le=7 * 86400, strict=True)] | None = None

    @model_validator(mode="after")
    def _something(self) -> ExtendRequest:
        if not self.credits and self.expires_in_seconds is None:
            raise ValueError("give credits and/or expires_in_seconds")
        return self


class CaptureRequest(_In):
    """What the job used since the last capture; `final` closes the hold."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"credits": 360, "final": True}]})
    credits: Annotated[int, Field(ge=0, le=MAX_CREDITS, strict=True)]
    final: bool = Field(False, description="release whatever the hold still holds after this capture")

    @model_validator(mode="after")
    def _positive_unless_final(self) -> CaptureRequest:
        if self.credits == 0 and not self.final:
            raise ValueError("a non-final capture needs credits >= 1")
        return self


class ReleaseRequest(_In):
    """Give the rest of a hold back (the reason goes to the ledger)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "render cancelled"}]})
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None


class RefundRequest(_In):
    """The job whose charges go back to the lots they came from."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"job_id": "render-42", "reason": "GPU failure"}]}
    )
    job_id: Id
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None
    member_id: Id | None = Field(None, description="the member who started the job (recorded in the ledger)")


# ---- responses -------------------------------------------------------------------------------


class PriceLineOut(BaseModel):
    item: str
    quantity: str
    unit: str
    rate: str
    credits: str


class UpgradeOut(BaseModel):
    plan_id: str
    name: str
    price_cents: int | None
    monthly_credits: int | None
    currency: str
    covers_shortfall: bool


class PackOut(BaseModel):
    credits: int
    price_cents: int
    currency: str


class OptionsOut(BaseModel):
    shortfall: int
    upgrade: UpgradeOut | None
    pack: PackOut | None
    cancel: bool = True


class QuoteResponse(BaseModel):
    quote_id: str
    credits: int
    breakdown: list[PriceLineOut]
    rate_card_version: str
    balance_before: int
    balance_after: int
    affordable: bool
    options: OptionsOut | None
    expires_at: str
    debt: int = Field(
        0, description="credits owed after a refunded or disputed pack; new credits pay it first"
    )


class DebitResponse(BaseModel):
    entry_id: str
    job_id: str
    credits: int
    lots: dict[str, int]
    quote_id: str | None
    rate_card_version: str
    created_at: str


class HoldResponse(BaseModel):
    hold_id: str
    job_id: str | None
    amount: int
    captured: int
    released: int
    remaining: int
    status: str
    expires_at: str
    created_at: str
    lots: dict[str, int]


class LedgerEntryOut(BaseModel):
    entry_id: str
    type: str
    amount: int
    from_account: str
    to_account: str
    lots: dict[str, int]
    sources: dict[str, int]
    actor: str | None
    job_id: str | None
    hold_id: str | None
    quote_id: str | None
    idempotency_key: str | None
    rate_card_version: str | None
    memo: str | None
    created_at: str
    service: str | None = Field(
        None, description="the machine identity that reported it; `actor` is then the member on whose behalf"
    )


class SettleResponse(BaseModel):
    hold: HoldResponse
    captured: int
    released: int
    expired: int
    entries: list[LedgerEntryOut]


class RefundResponse(BaseModel):
    job_id: str
    refunded: int
    expired: int
    lots: dict[str, int]
    entries: list[LedgerEntryOut]


class LotOut(BaseModel):
    lot_id: str
    remaining: int
    granted: int
    expires_at: str | None
    label: str


class MonthlyOut(BaseModel):
    allowance: int
    used: int
    remaining: int
    cycle_id: str
    cycle_start: str
    cycle_end: str


# The org-side reasons of domain/spending.py (tests/unit/test_spending_rules.py keeps them equal).
OrgRefusal = Literal["trial_expired", "archived", "past_due", "linkedin_required", "generation_disabled"]


class BalanceResponse(BaseModel):
    org_id: str
    plan_id: str
    generation_enabled: bool = Field(
        description="Whether the org may generate now: the org side of the spending decision (entitlements')"
    )
    monthly: MonthlyOut
    bank: list[LotOut]
    grants: list[LotOut]
    packs: list[LotOut]
    held: int
    spendable: int
    as_of: str
    # Plan state and holds in time (issue 7).
    held_expired: int = Field(
        0, description="Part of `held` whose holds expired and are being released by the schedule"
    )
    status: str = Field("active", description="active, past_due or archived")
    pending_plan_id: str | None = Field(None, description="The plan that takes effect at cycle_end")
    archived_at: str | None = None
    trial_ends_at: str | None = None
    debt: int = Field(
        0, description="credits owed after a refunded or disputed pack; new credits pay it first"
    )
    subscription_status: str | None = Field(
        None, description="Stripe's subscription status (active, past_due, …); none without a subscription"
    )
    generation_reason: OrgRefusal | None = Field(
        None, description="Why the org may not generate now (none when it may): the org side of the decision"
    )


class LedgerPage(BaseModel):
    entries: list[LedgerEntryOut]
    next_cursor: str | None


class PlanOut(BaseModel):
    id: str
    name: str
    price_cents: int | None
    currency: str
    monthly_credits: int | None
    storage_gb: int | None
    rollover_cap: int | None
    generation: bool
    priority_queue: bool
    contract: bool
    trial_months: int | None
    price_per_credit_cents: str | None


class PlansResponse(BaseModel):
    plans: list[PlanOut]
    upgrade_order: list[str]


# ---- organizations ---------------------------------------------------------------------------

RoleName = Literal["owner", "billing", "creator", "viewer"]
# What SES delivers to: an ASCII local part (RFC 5322 atext and dots) at a domain of ASCII labels
# (an internationalized domain in its punycode form). Anything else could only fail at sending.
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=254,
        pattern=r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$",
    ),
]


class MyOrgOut(BaseModel):
    org_id: str
    name: str
    role: str
    personal: bool
    may_spend: bool


class MeResponse(BaseModel):
    user_id: str
    email: str | None
    identity_provider: str | None
    personal_org_id: str
    orgs: list[MyOrgOut]


class MemberOut(BaseModel):
    user_id: str
    email: str | None
    role: str
    may_spend: bool
    may_spend_override: bool | None
    monthly_limit: int | None
    spent_this_cycle: int


class MembersResponse(BaseModel):
    members: list[MemberOut]


class MemberPatch(_In):
    """Only the fields sent change; `null` clears an override or a limit."""

    role: RoleName | None = None
    may_spend_override: bool | None = None
    monthly_limit: Annotated[int, Field(ge=0, le=MAX_CREDITS, strict=True)] | None = None

    @model_validator(mode="after")
    def _something(self) -> MemberPatch:
        if not self.model_fields_set:
            raise ValueError("send role, may_spend_override and/or monthly_limit")
        if "role" in self.model_fields_set and self.role is None:
            raise ValueError("role cannot be null (every member has one)")
        if "role" in self.model_fields_set and self.role is None:
            raise ValueError("role cannot be null")
        return self


class SharedCreditsIn(_In):
    owner: bool | None = None
    billing: bool | None = None
    creator: bool | None = None
    viewer: bool | None = None


class SettingsPatch(_In):
    shared_credits: SharedCreditsIn


class SettingsOut(BaseModel):
    org_id: str
    shared_credits: dict[str, bool]


class InviteRequest(_In):
    email: Email
    role: RoleName


class InviteOut(BaseModel):
    invite_id: str
    email: str
    role: str
    status: str
    expires_at: str
    created_at: str
    invited_by: str
    accepted_by: str | None = None


class InvitesResponse(BaseModel):
    invites: list[InviteOut]


class AcceptRequest(_In):
    token: Annotated[str, StringConstraints(min_length=16, max_length=256, pattern=r"^[A-Za-z0-9_-]+$")]


class AcceptResponse(BaseModel):
    org_id: str
    role: str
    already_member: bool


class TransferRequest(_In):
    to_org_id: Id
    credits: Credits


class TransferResponse(BaseModel):
    transfer_id: str
    from_org_id: str
    to_org_id: str
    credits: int
    lots_out: dict[str, int]
    lots_in: dict[str, int]
    debt_repaid: int = Field(
        0, description="Of the credits that arrived, what paid the receiving org's debt first"
    )
    created_at: str


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


# ---- storage (issue 10) ----------------------------------------------------------------------------

MAX_UPLOAD_BYTES = 5 * 1024**3  # S3's limit for one PUT


class UploadRequest(_In):
    project_id: Annotated[
        str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    ]
    kind: Literal["media", "text"]
    filename: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    size: Annotated[
        int, Field(ge=0, le=MAX_UPLOAD_BYTES, strict=True, description="bytes; S3 refuses any other")
    ]
    content_type: Annotated[
        str, StringConstraints(min_length=3, max_length=128, pattern=r"^[A-Za-z0-9][\w.+-]*/[\w.+-]+$")
    ]


class UploadResponse(BaseModel):
    upload_url: str = Field(description="presigned PUT for this key; send exactly these headers")
    method: Literal["PUT"]
    headers: dict[str, str]
    key: str = Field(description="the asset's key below the org (for GET /orgs/{org_id}/assets/{key})")
    project_id: str
    kind: str
    size: int
    expires_at: str
    used_bytes: int
    quota_bytes: int | None


class KindUsageOut(BaseModel):
    bytes: int
    objects: int


class ProjectUsageOut(BaseModel):
    project_id: str
    bytes: int
    objects: int
    media: KindUsageOut
    text: KindUsageOut


class MeterOut(BaseModel):
    updated_at: str | None = Field(description="time of the last S3 event counted")
    inventory_at: str | None = Field(description="time of the last S3 Inventory report applied")
    reconciled_at: str | None


class ArchiveOut(BaseModel):
    archived_at: str | None
    media_purge_due_at: str | None


class StorageResponse(BaseModel):
    org_id: str
    plan_id: str | None
    quota_bytes: int | None = Field(description="null: no limit in the catalog (enterprise)")
    used_bytes: int
    used_percent: float | None
    bytes: int
    objects: int
    media: KindUsageOut
    text: KindUsageOut
    projects: list[ProjectUsageOut]
    meter: MeterOut
    archive: ArchiveOut
    as_of: str


class MediaDeletionRequest(_In):
    project_id: (
        Annotated[
            str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
        ]
        | None
    ) = Field(None, description="one project; absent: every project of the org")
    dry_run: bool = Field(False, description="only count what would be deleted")


class MediaDeletionResponse(BaseModel):
    deletion_id: str | None
    project_id: str | None
    status: Literal["done", "running", "dry_run"]
    dry_run: bool
    objects: int
    bytes: int


class AssetResponse(BaseModel):
    key: str
    kind: str
    project_id: str
    size: int
    download_url: str
    expires_at: str


class ProblemOut(BaseModel):
    """RFC 9457 problem details, as every refusal is sent (`application/problem+json`); a refusal may
    add fields (e.g. `options`, `used_bytes`)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    code: str
    detail: str
