"""Pure rules of the money work: pack prices, tax id formats, the catalog from Stripe metadata, statements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from act3_billing.catalog import merge
from act3_billing.domain.errors import DomainError, PackUnavailable, ValidationFailed
from act3_billing.domain.ledger import Account, EntryType, LedgerEntry
from act3_billing.domain.packs import price_pack
from act3_billing.domain.plans import default_catalog
from act3_billing.domain.statements import month_bounds, summarize
from act3_billing.domain.tax_ids import FORMATS, InvalidTaxId, check_tax_id


@pytest.mark.parametrize(
    ("plan", "credits", "cents"),
    [
        ("creator", 5000, 610),  # 5000 x 3500/33000 x 1.15 = 609.85
        ("studio", 1000, 95),  # 1000 x 9900/120000 x 1.15 = 94.875
        ("starter", 1000, 1150),  # 1000 x 800/800 x 1.15
        ("starter_trial", 1000, 1150),  # the trial at the paid starter rate
        ("enterprise", 10_000, 949),  # packs at the studio rate
    ],
)
def test_pack_prices(plan: str, credits: int, cents: int) -> None:
    assert price_pack(default_catalog(), plan, credits).price_cents == cents


def test_packs_come_in_1000_credit_steps_and_not_on_archive() -> None:
    for credits in (0, 999, 1500, 10**9):
        with pytest.raises(ValidationFailed):
            price_pack(default_catalog(), "creator", credits)
    with pytest.raises(PackUnavailable):
        price_pack(default_catalog(), "archive", 1000)


@given(steps=st.integers(min_value=1, max_value=9_999))
def test_a_bigger_pack_never_costs_less(steps: int) -> None:
    small = price_pack(default_catalog(), "creator", steps * 1000).price_cents
    assert price_pack(default_catalog(), "creator", (steps + 1) * 1000).price_cents >= small


@pytest.mark.parametrize(
    ("type_", "value"),
    [
        ("eu_vat", "DE123456789"),
        ("eu_vat", "fr12345678901"),
        ("gb_vat", "GB123456789"),
        ("us_ein", "12-3456789"),
        ("au_abn", "12345678912"),
        ("in_gst", "12ABCDE3456FGZH"),
        ("ch_vat", "CHE-123.456.789 MWST"),
    ],
)
def test_valid_tax_ids(type_: str, value: str) -> None:
    assert check_tax_id(type_, value) == value.strip().upper()


@pytest.mark.parametrize(
    ("type_", "value"),
    [
        ("eu_vat", "DE12345678"),
        ("eu_vat", "US123456789"),
        ("gb_vat", "123456789"),
        ("us_ein", "123456789"),
        ("xx_vat", "123"),
        ("eu_vat", ""),
    ],
)
def test_invalid_tax_ids(type_: str, value: str) -> None:
    with pytest.raises(InvalidTaxId):
        check_tax_id(type_, value)


@given(type_=st.sampled_from(sorted(FORMATS)), value=st.text(max_size=40))
def test_any_input_is_accepted_normalized_or_refused_with_a_domain_error(type_: str, value: str) -> None:
    try:
        assert check_tax_id(type_, value) == value.strip().upper()
    except DomainError as exc:
        assert exc.code == "invalid_tax_id"


def test_the_catalog_takes_stripe_metadata_and_prices_over_the_built_in_one() -> None:
    products = [
        {
            "id": "prod_c",
            "object": "product",
            "active": True,
            "default_price": "price_c2",
            "metadata": {
                "act3_plan": "creator",
                "monthly_credits": "36000",
                "rollover_cap": "72000",
                "rank": "2",
            },
        },
        {
            "id": "prod_s",
            "object": "product",
            "active": True,
            "metadata": {"act3_plan": "starter", "rank": "1"},
        },
        {"id": "prod_x", "object": "product", "active": True, "metadata": {}},  # not a plan
    ]
    prices = [
        {
            "id": "price_c1",
            "product": "prod_c",
            "unit_amount": 3500,
            "recurring": {"interval": "month"},
            "created": 1,
        },
        {
            "id": "price_c2",
            "product": "prod_c",
            "unit_amount": 3900,
            "recurring": {"interval": "month"},
            "created": 2,
        },
        {
            "id": "price_y",
            "product": "prod_c",
            "unit_amount": 39000,
            "recurring": {"interval": "year"},
            "created": 3,
        },
    ]
    catalog = merge(default_catalog(), products, prices)
    creator = catalog.get("creator")
    assert (creator.price_cents, creator.monthly_credits, creator.rollover_cap) == (3900, 36000, 72000)
    assert creator.stripe_price_id == "price_c2" and catalog.by_price("price_c2") is creator
    assert catalog.get("starter").price_cents == 800 and catalog.get("starter").stripe_price_id is None
    assert catalog.upgrade_order == ("starter", "creator")
    assert catalog.get("studio") == default_catalog().get("studio")


def test_a_statement_counts_only_its_month_and_gives_refunds_back_to_the_spender() -> None:
    t = datetime(2026, 11, 3, tzinfo=UTC)

    def e(n: int, type_: EntryType, amount: int, when: datetime, **kw: object) -> LedgerEntry:
        return LedgerEntry(f"e{n}", "o", type_, amount, when, **kw)  # type: ignore[arg-type]

    entries = [
        e(1, EntryType.DEBIT, 500, t - timedelta(days=10), actor="ann", job_id="old"),  # October
        e(2, EntryType.GRANT_MONTHLY, 33000, t),
        e(3, EntryType.DEBIT, 800, t, actor="ann", job_id="j1"),
        e(4, EntryType.REFUND, 200, t + timedelta(days=1), actor="owner", job_id="j1"),
        e(5, EntryType.FORFEIT, 70, t),
        e(6, EntryType.ADJUSTMENT, 30, t, from_account=Account.AVAILABLE, to_account=Account.ISSUED),
    ]
    s = summarize("o", "2026-11", entries, debt_now=40)
    assert s.granted == {"grant_monthly": 33000} and s.spent == 800 and s.refunded == 200
    assert (
        s.spent_by_member == [("ann", 600)] and s.forfeited == 70 and s.taken_back == 30 and s.debt_now == 40
    )
    assert month_bounds("2026-12")[1] == datetime(2027, 1, 1, tzinfo=UTC)
