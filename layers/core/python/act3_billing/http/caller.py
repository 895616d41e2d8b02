"""The caller, taken only from the JWT claims that API Gateway's authorizer has verified."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from act3_billing.domain.errors import Unauthenticated


@dataclass(frozen=True)
class Caller:
    user_id: str
    email: str | None
    email_verified: bool
    identity_provider: str | None

    @classmethod
    def from_claims(cls, claims: dict[str, Any] | None) -> Caller:
        if not claims or not claims.get("sub"):
            raise Unauthenticated("a verified bearer token is required")
        verified = str(claims.get("email_verified", "false")).lower() == "true"
        return cls(
            user_id=str(claims["sub"]),
            email=str(claims["email"]).lower() if claims.get("email") else None,
            email_verified=verified,
            identity_provider=_identity_provider(claims),
        )


def _identity_provider(claims: dict[str, Any]) -> str | None:
    """Cognito puts federated sign-ins in `identities` (a JSON string); local tokens add `custom:idp`."""
    if claims.get("custom:idp"):
        return str(claims["custom:idp"]).lower()
    raw = claims.get("identities")
    if not raw:
        return None
    try:
        identities = json.loads(raw) if isinstance(raw, str) else raw
        return str(identities[0]["providerName"]).lower()
    except (ValueError, LookupError, TypeError):
        return None
