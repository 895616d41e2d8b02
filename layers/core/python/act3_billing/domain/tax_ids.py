"""VAT / tax ids (SPEC §8): the formats of Stripe's tax id types, checked before Stripe sees them.

Patterns follow Stripe's documented examples for each `type` (https://docs.stripe.com/billing/customer/tax-ids);
Stripe verifies EU VAT numbers with VIES itself afterwards.
"""

from __future__ import annotations

import re

from act3_billing.domain.errors import DomainError

_EU_VAT = (
    r"(ATU\d{8}|BE[01]\d{9}|BG\d{9,10}|CY\d{8}[A-Z]|CZ\d{8,10}|DE\d{9}|DK\d{8}|EE\d{9}|EL\d{9}|ES[A-Z0-9]\d{7}[A-Z0-9]"
    r"|FI\d{8}|FR[A-HJ-NP-Z0-9]{2}\d{9}|HR\d{11}|HU\d{8}|IE\d{7}[A-W][A-I]?|IE\d[A-Z0-9+*]\d{5}[A-W]|IT\d{11}"
    r"|LT(\d{9}|\d{12})|LU\d{8}|LV\d{11}|MT\d{8}|NL\d{9}B\d{2}|PL\d{10}|PT\d{9}|RO\d{2,10}|SE\d{12}|SI\d{8}"
    r"|SK\d{10}|XI\d{9})"
)

FORMATS: dict[str, str] = {
    "eu_vat": _EU_VAT,
    "gb_vat": r"GB(\d{9}|\d{12}|GD\d{3}|HA\d{3})",
    "ch_vat": r"CHE-?\d{3}\.?\d{3}\.?\d{3} ?(MWST|TVA|IVA)",
    "no_vat": r"\d{9}MVA",
    "us_ein": r"\d{2}-\d{7}",
    "ca_bn": r"\d{9}",
    "ca_gst_hst": r"\d{9}RT\d{4}",
    "au_abn": r"\d{11}",
    "nz_gst": r"\d{8,9}",
    "in_gst": r"\d{2}[A-Z]{5}\d{4}[A-Z][1-9A-Z]Z[0-9A-Z]",
    "jp_cn": r"\d{13}",
    "sg_gst": r"M\d{8}[A-Z]",
    "za_vat": r"4\d{9}",
    "br_cnpj": r"\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}",
    "mx_rfc": r"[A-Z&Ñ]{3,4}\d{6}[A-Z0-9]{3}",
    "kr_brn": r"\d{3}-\d{2}-\d{5}",
    "ae_trn": r"\d{15}",
    "eu_oss_vat": r"EU\d{9}",
}


class InvalidTaxId(DomainError):
    code = "invalid_tax_id"
    title = "The tax id does not have the format of its type"


def check_tax_id(type_: str, value: str) -> str:
    """The value, normalized (upper case, no surrounding spaces), or `InvalidTaxId`."""
    pattern = FORMATS.get(type_)
    if pattern is None:
        raise InvalidTaxId(f"unsupported tax id type '{type_}'", field="type", supported=sorted(FORMATS))
    normalized = value.strip().upper()
    if not re.fullmatch(pattern, normalized):
        raise InvalidTaxId(f"'{value}' is not a valid {type_} number", field="value")
    return normalized
