"""The caller, taken only from the JWT claims that API Gateway's authorizer has verified.

Two kinds of token reach the functions: a member's (Cognito user token: `sub` is the user, with the
e-mail claims) and a machine identity's (Cognito client-credentials access token: `token_use` is
`access` and `sub` is the app client's own id, `client_id`; what it may do is its `scope`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from act3_billing.domain.errors import ForbiddenScope, Unauthenticated
from act3_billing.domain.principals import Service


@dataclass(frozen=True)
class Caller:
    user_id: str
    email: str | None
    email_verified: bool
    identity_provider: str | None

    @property
    def principal_id(self) -> str:
        return self.user_id

    @classmethod
    def from_claims(cls, claims: dict[str, Any] | None) -> Caller:
        """A member; a machine identity's token is refused (members' routes are for people)."""
        if not claims or not claims.get("sub"):
            raise Unauthenticated("a verified bearer token is required")
        if is_machine(claims):
            raise ForbiddenScope(
                "this route is for members; a machine identity may not call it", needed="member"
            )
        verified = str(claims.get("email_verified", "false")).lower() == "true"
        return cls(
            user_id=str(claims["sub"]),
            email=str(claims["email"]).lower() if claims.get("email") else None,
            email_verified=verified,
            identity_provider=_identity_provider(claims),
        )


def is_machine(claims: dict[str, Any]) -> bool:
    """A client-credentials token: an access token whose subject is the app client itself."""
    client_id = claims.get("client_id")
    return claims.get("token_use") == "access" and bool(client_id) and claims.get("sub") == client_id


def principal_from_claims(claims: dict[str, Any] | None, scopes: list[str] | None = None) -> Caller | Service:
    """A member or a machine identity. Scopes come from the authorizer's list or the `scope` claim."""
    if claims and claims.get("sub") and is_machine(claims):
        granted = set(scopes or []) | set(str(claims.get("scope") or "").split())
        return Service(client_id=str(claims["client_id"]), scopes=frozenset(granted))
    return Caller.from_claims(claims)


def access_token_claims(user_attributes: dict[str, Any]) -> dict[str, str]:
    """What the pre token generation trigger adds to a member's access token: the claims `Caller`
    reads (`email`, `email_verified`, the identity provider) from the user's attributes."""
    claims: dict[str, str] = {}
    if user_attributes.get("email"):
        claims["email"] = str(user_attributes["email"])
        claims["email_verified"] = str(user_attributes.get("email_verified", "false")).lower()
    provider = _identity_provider({"identities": user_attributes.get("identities")})
    if provider:
        claims["custom:idp"] = provider
    return claims


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
