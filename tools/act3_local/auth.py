"""The local identity provider: an RS256 key pair in ``<state>/auth``, a JWKS, tokens like Cognito's.

Two kinds of token, as the user pool issues them:
- a member's access token from the web client (``scope`` ``openid email profile``), with the e-mail and
  identity-provider claims the pre token generation trigger adds (``functions/token_claims``);
- a machine identity's client-credentials access token: ``sub`` and ``client_id`` are the app client,
  ``scope`` its custom scopes (the template's ``AllowedOAuthScopes`` of that client).

Verification follows the HTTP API JWT authorizer: signature by ``kid`` from the JWKS, ``iss`` equal to
the issuer, ``aud`` (or ``client_id``) among the audiences (the web client and every machine client),
``exp``/``nbf`` checked. Route scopes are the gateway's (``server.py``).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ID = "act3-local-client"
_SUB_NAMESPACE = uuid.UUID("6f1c3a8e-4b5d-4c1e-9a7b-2d3f4e5a6b7c")
IDENTITY_PROVIDERS = {"linkedin": ("LinkedIn", "OIDC")}


MEMBER_SCOPES = "openid email profile"


def machine_client_id(name: str) -> str:
    """The local client id of a machine client (Cognito makes random ones; these read well in ledgers)."""
    return f"act3-local-{name}"


def machine_clients(template: dict[str, Any]) -> dict[str, list[str]]:
    """Client-credentials app clients of the template, by local name (``UsageMeterClient`` ->
    ``usage-meter``), with the scopes they are allowed."""
    clients: dict[str, list[str]] = {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        props = resource.get("Properties") or {}
        if resource.get("Type") != "AWS::Cognito::UserPoolClient":
            continue
        if "client_credentials" not in (props.get("AllowedOAuthFlows") or []):
            continue
        words = re.findall(r"[A-Z][a-z0-9]*", logical_id.removesuffix("Client"))
        clients["-".join(w.lower() for w in words)] = [str(s) for s in props.get("AllowedOAuthScopes") or []]
    return clients


class Unauthorized(Exception):
    """The request's bearer token would be refused by the HTTP API JWT authorizer."""


def sub_for(email: str) -> str:
    """A stable ``sub`` per e-mail, so a user keeps their identity across tokens and restarts."""
    return str(uuid.uuid5(_SUB_NAMESPACE, email.strip().lower()))


@dataclass
class Issuer:
    issuer: str
    audience: str
    private_key: rsa.RSAPrivateKey
    kid: str
    clients: dict[str, list[str]] = field(default_factory=dict)  # machine clients: name -> scopes

    @classmethod
    def load(
        cls,
        auth_dir: Path,
        issuer: str,
        audience: str = CLIENT_ID,
        clients: dict[str, list[str]] | None = None,
    ) -> Issuer:
        """Read the key pair from ``auth_dir``, generating it on first use."""
        auth_dir.mkdir(parents=True, exist_ok=True)
        key_file = auth_dir / "private_key.pem"
        if not key_file.exists():
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            tmp = key_file.with_suffix(".tmp")
            tmp.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            tmp.chmod(0o600)
            tmp.replace(key_file)
        loaded = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise ValueError(f"{key_file} is not an RSA key")
        public_der = loaded.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        kid = uuid.uuid5(_SUB_NAMESPACE, public_der.hex()).hex[:16]
        return cls(issuer=issuer, audience=audience, private_key=loaded, kid=kid, clients=dict(clients or {}))

    @property
    def audiences(self) -> list[str]:
        """What the JWT authorizer's audience lists: the web client and every machine client."""
        return [self.audience, *(machine_client_id(name) for name in self.clients)]

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        jwk |= {"kid": self.kid, "use": "sig", "alg": "RS256"}
        return {"keys": [jwk]}

    def openid_configuration(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/.well-known/jwks.json",
            "id_token_signing_alg_values_supported": ["RS256"],
            "subject_types_supported": ["public"],
            "response_types_supported": ["token"],
            "claims_supported": ["sub", "email", "email_verified", "name", "identities", "custom:idp"],
        }

    def mint(
        self,
        email: str,
        *,
        name: str | None = None,
        idp: str | None = None,
        ttl: int = 3600,
        now: float | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """A member's token: a Cognito access token of the web client, with the trigger's e-mail claims."""
        issued = int(time.time() if now is None else now)
        sub = sub_for(email)
        claims: dict[str, Any] = {
            "sub": sub,
            "iss": self.issuer,
            "client_id": self.audience,
            "token_use": "access",
            "scope": MEMBER_SCOPES,
            "auth_time": issued,
            "iat": issued,
            "exp": issued + ttl,
            "jti": str(uuid.uuid4()),
            "email": email,
            "email_verified": True,
            "name": name or email.split("@", 1)[0],
            "username": sub,
        }
        if idp:
            key = idp.strip().lower()
            if key not in IDENTITY_PROVIDERS:
                raise ValueError(
                    f"unknown identity provider {idp!r} (known: {', '.join(IDENTITY_PROVIDERS)})"
                )
            provider_name, provider_type = IDENTITY_PROVIDERS[key]
            claims["identities"] = [
                {
                    "userId": sub,
                    "providerName": provider_name,
                    "providerType": provider_type,
                    "issuer": None,
                    "primary": "true",
                    "dateCreated": str(issued * 1000),
                }
            ]
            claims["custom:idp"] = key
            claims["username"] = f"{provider_name.lower()}_{sub}"
        claims |= extra or {}
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid})

    def mint_client(
        self, name: str, *, scopes: list[str] | None = None, ttl: int = 3600, now: float | None = None
    ) -> str:
        """A machine identity's client-credentials access token. ``scopes`` defaults to all the client is
        allowed; asking for one it is not allowed fails, as Cognito's token endpoint answers invalid_scope."""
        if name not in self.clients:
            raise ValueError(f"unknown client {name!r} (known: {', '.join(sorted(self.clients)) or 'none'})")
        allowed = self.clients[name]
        wanted = allowed if scopes is None else scopes
        if not set(wanted) <= set(allowed):
            raise ValueError(
                f"client {name!r} may not have {sorted(set(wanted) - set(allowed))} (invalid_scope)"
            )
        return self._client_token(machine_client_id(name), wanted, ttl=ttl, now=now)

    def _client_token(self, client_id: str, scopes: list[str], *, ttl: int, now: float | None) -> str:
        issued = int(time.time() if now is None else now)
        claims = {
            "sub": client_id,
            "client_id": client_id,
            "iss": self.issuer,
            "token_use": "access",
            "scope": " ".join(scopes),
            "auth_time": issued,
            "iat": issued,
            "exp": issued + ttl,
            "jti": str(uuid.uuid4()),
            "version": 2,
        }
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid})

    def verify(self, authorization: str | None) -> dict[str, Any]:
        """Claims of a valid ``Authorization: Bearer <jwt>``; raises ``Unauthorized`` otherwise.

        Expiry is judged by wall time, as AWS does: a token stays valid while the domain clock moves.
        """
        if not authorization:
            raise Unauthorized("missing Authorization header")
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else authorization.strip()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"malformed token: {exc}") from exc
        if header.get("kid") != self.kid or header.get("alg") != "RS256":
            raise Unauthorized("token not signed by the local issuer")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.private_key.public_key(),
                algorithms=["RS256"],
                issuer=self.issuer,
                options={"verify_aud": False, "require": ["exp", "iss", "sub"]},
                leeway=0,
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(str(exc)) from exc
        audience = claims.get("aud", claims.get("client_id"))
        audiences = audience if isinstance(audience, list) else [audience]
        if not set(self.audiences) & set(audiences):
            raise Unauthorized("token audience does not match")
        return claims


def claims_as_api_gateway(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as the HTTP API JWT authorizer hands them to Lambda: every value a string."""
    out: dict[str, str] = {}
    for key, value in claims.items():
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
            out[key] = "[" + " ".join(str(v) for v in value) + "]"
        elif isinstance(value, dict | list):
            out[key] = json.dumps(value, separators=(",", ":"))
        elif value is None:
            out[key] = ""
        else:
            out[key] = str(value)
    return out


def scopes_allow(route_scopes: list[str], token_scopes: list[str] | None) -> bool:
    """API Gateway's rule: a route with AuthorizationScopes needs at least one of them on the token."""
    return not route_scopes or bool(set(route_scopes) & set(token_scopes or []))


def scopes_of(claims: dict[str, Any]) -> list[str] | None:
    scope = claims.get("scope") or claims.get("scp")
    if isinstance(scope, str):
        return scope.split()
    if isinstance(scope, list):
        return [str(s) for s in scope]
    return None
