"""README says what the code does: error codes by status, roles' rights, machine clients' scopes."""

from __future__ import annotations

import re

from act3_billing.domain.principals import BILLING_OPERATIONS_SCOPES, USAGE_METER_SCOPES
from act3_billing.domain.roles import RIGHTS, Permission, Role
from act3_billing.http.problems import STATUS_BY_CODE
from tests.support.template import REPO_ROOT, load_template

README = (REPO_ROOT / "README.md").read_text()


def _table_after(heading: str) -> list[list[str]]:
    """The rows of the first table under `heading` (past its header and rule)."""
    lines = README.split(heading, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))])
    return table[2:]


def test_the_error_code_table_is_the_code_to_status_map() -> None:
    documented = {
        (code, int(status))
        for status, codes in _table_after("### Error codes")
        for code in re.findall(r"`([a-z_]+)`", re.sub(r"\(.*?\)", "", codes))  # not the (explanations)
    }
    assert documented == set(STATUS_BY_CODE.items())


# What each right is called in the README's role table.
WORDS = {
    Permission.SPEND: "authorize spending",
    Permission.MANAGE_MEMBERS: "members, invites, settings",
    Permission.TRANSFER: "transfers",
    Permission.READ_METERS: "read meters",
    Permission.UPLOAD: "upload",
    Permission.DELETE_MEDIA: "media deletion",
}


def test_the_role_table_gives_each_role_the_domains_rights_and_no_machine_right() -> None:
    rows = {row[0]: row[1] for row in _table_after("## Organizations and roles")}
    assert set(rows) == {role.value for role in Role}
    for role in Role:
        for permission, words in WORDS.items():
            assert (words in rows[role.value]) == (permission in RIGHTS[role]), (role, permission)
        for machine_word in ("capture", "release", "refund", "grant", "adjust"):
            assert machine_word not in rows[role.value], (role, machine_word)


def test_the_principals_table_names_each_clients_scopes_as_the_template_does() -> None:
    rows = {row[0]: row[1] for row in _table_after("## Principals and scopes")}
    resources = load_template()["Resources"]
    for name, logical_id, scopes in (
        ("usage meter", "UsageMeterClient", USAGE_METER_SCOPES),
        ("billing operations", "BillingOperationsClient", BILLING_OPERATIONS_SCOPES),
    ):
        (token,) = [cell for row, cell in rows.items() if row.startswith(name)]
        assert re.findall(r"`(billing/[a-z.]+)`", token) == list(scopes)
        assert resources[logical_id]["Properties"]["AllowedOAuthScopes"] == list(scopes)
