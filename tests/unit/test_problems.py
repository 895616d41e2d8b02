"""Every refusal the domain can raise has its own HTTP status, chosen in one place."""

from __future__ import annotations

import act3_billing.domain.errors as errors
import act3_billing.domain.orgs
import act3_billing.domain.storage  # noqa: F401 - storage refusals (quota, purged media)
from act3_billing.domain.errors import DomainError
from act3_billing.http.problems import STATUS_BY_CODE, from_domain


def _all_errors(cls: type[DomainError]) -> list[type[DomainError]]:
    return [cls, *(sub for direct in cls.__subclasses__() for sub in _all_errors(direct))]


def test_every_domain_error_code_has_a_status() -> None:
    codes = {cls.code for cls in _all_errors(DomainError) if cls is not DomainError}
    assert codes - set(STATUS_BY_CODE) == set()


def test_a_refusal_becomes_problem_json_with_its_code_and_extras() -> None:
    response = from_domain(errors.InsufficientCredits("short", shortfall=5))
    assert response.status_code == 402
    assert response.content_type == "application/problem+json"
    body = response.body or ""
    assert '"code": "insufficient_credits"' in body and '"shortfall": 5' in body
