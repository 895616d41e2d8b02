"""act3_local.auth: locally minted JWTs pass the HTTP API JWT authorizer's checks, forged ones do not."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from act3_local.auth import CLIENT_ID, Issuer, Unauthorized, machine_client_id, machine_clients, sub_for
from act3_local.template import load_yaml
from tests.support.template import REPO_ROOT

ISSUER_URL = "http://127.0.0.1:3000/auth"


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("auth")


@pytest.fixture(scope="module")
def issuer(key_dir: Path) -> Issuer:
    return Issuer.load(key_dir, ISSUER_URL)


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Issuer:
    """Same issuer URL and audience, different key pair."""
    return Issuer.load(tmp_path_factory.mktemp("stranger"), ISSUER_URL)


def bearer(token: str) -> str:
    return f"Bearer {token}"


def segments(token: str) -> list[str]:
    return token.split(".")


def b64url_json(part: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_minted_token_verifies_and_carries_cognito_like_claims(issuer: Issuer):
    # Given a token minted for an e-mail
    token = issuer.mint("Ann@Example.com", name="Ann")
    # When it is verified
    claims = issuer.verify(bearer(token))
    # Then the claims are the issuer's, for that user
    assert claims["iss"] == ISSUER_URL
    assert claims["client_id"] == CLIENT_ID
    assert "aud" not in claims  # an access token, as members send (template.yaml: routes check scopes)
    assert claims["scope"].split() == ["openid", "email", "profile"]
    assert claims["email"] == "Ann@Example.com"
    assert claims["name"] == "Ann"
    assert claims["sub"] == sub_for("ann@example.com")
    assert claims["token_use"] == "access"
    assert claims["exp"] - claims["iat"] == 3600
    assert "identities" not in claims
    assert "custom:idp" not in claims


def test_the_bearer_prefix_is_optional_and_case_insensitive(issuer: Issuer):
    token = issuer.mint("a@example.com")
    assert issuer.verify(f"bearer {token}")["email"] == "a@example.com"
    assert issuer.verify(token)["email"] == "a@example.com"


def test_a_token_is_signed_with_the_published_key(issuer: Issuer):
    token = issuer.mint("a@example.com")
    header = jwt.get_unverified_header(token)
    (jwk,) = issuer.jwks()["keys"]
    assert (header["alg"], header["kid"]) == ("RS256", jwk["kid"])
    public_key = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk))
    decoded = jwt.decode(token, public_key, algorithms=["RS256"], options={"verify_aud": False})  # type: ignore[arg-type]
    assert decoded["email"] == "a@example.com"
    assert issuer.openid_configuration()["jwks_uri"] == f"{ISSUER_URL}/.well-known/jwks.json"


def test_the_key_survives_a_restart(issuer: Issuer, key_dir: Path):
    # Given a token minted before a restart
    token = issuer.mint("a@example.com")
    # When the issuer is loaded again from the same folder, it has the same key and still accepts it
    reloaded = Issuer.load(key_dir, ISSUER_URL)
    assert reloaded.kid == issuer.kid
    assert reloaded.verify(bearer(token))["email"] == "a@example.com"


@pytest.mark.parametrize("authorization", [None, "", "Bearer ", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz"])
def test_a_missing_or_malformed_token_is_refused(issuer: Issuer, authorization: str | None):
    with pytest.raises(Unauthorized):
        issuer.verify(authorization)


def test_a_wrong_audience_is_refused(issuer: Issuer, key_dir: Path):
    other_client = Issuer.load(key_dir, ISSUER_URL, audience="some-other-client")
    token = other_client.mint("a@example.com")
    with pytest.raises(Unauthorized, match="audience"):
        issuer.verify(bearer(token))


def test_aud_is_judged_before_client_id_as_api_gateway_does(issuer: Issuer):
    # aud present and wrong: refused even though client_id is right
    token = issuer.mint("a@example.com", extra={"aud": "some-other-client"})
    with pytest.raises(Unauthorized, match="audience"):
        issuer.verify(bearer(token))


def test_client_id_is_accepted_when_there_is_no_aud(issuer: Issuer):
    # Cognito access tokens carry client_id and no aud.
    now = int(time.time())
    claims = {"sub": "s", "iss": ISSUER_URL, "client_id": CLIENT_ID, "iat": now, "exp": now + 60}
    token = jwt.encode(claims, issuer.private_key, algorithm="RS256", headers={"kid": issuer.kid})
    assert issuer.verify(bearer(token))["client_id"] == CLIENT_ID


def test_a_wrong_issuer_is_refused(issuer: Issuer, key_dir: Path):
    impostor = Issuer.load(key_dir, "https://cognito-idp.us-east-1.amazonaws.com/other")
    token = impostor.mint("a@example.com")
    with pytest.raises(Unauthorized):
        issuer.verify(bearer(token))


def test_an_expired_token_is_refused(issuer: Issuer):
    token = issuer.mint("a@example.com", ttl=60, now=time.time() - 120)
    with pytest.raises(Unauthorized, match="expired"):
        issuer.verify(bearer(token))


def test_a_token_not_yet_valid_is_refused(issuer: Issuer):
    token = issuer.mint("a@example.com", extra={"nbf": int(time.time()) + 600})
    with pytest.raises(Unauthorized):
        issuer.verify(bearer(token))


def test_a_token_without_exp_is_refused(issuer: Issuer):
    claims = {"sub": "s", "iss": ISSUER_URL, "aud": CLIENT_ID, "iat": int(time.time())}
    token = jwt.encode(claims, issuer.private_key, algorithm="RS256", headers={"kid": issuer.kid})
    with pytest.raises(Unauthorized):
        issuer.verify(bearer(token))


def test_a_tampered_payload_is_refused(issuer: Issuer):
    # Given a valid token whose payload is rewritten (e-mail changed) with the original signature kept
    header, payload, signature = segments(issuer.mint("a@example.com"))
    forged_claims = b64url_json(payload) | {"email": "admin@example.com", "sub": sub_for("admin@example.com")}
    forged = f"{header}.{b64url(forged_claims)}.{signature}"
    # Then the signature no longer matches
    with pytest.raises(Unauthorized, match=r"[Ss]ignature"):
        issuer.verify(bearer(forged))


def test_a_tampered_signature_is_refused(issuer: Issuer):
    header, payload, signature = segments(issuer.mint("a@example.com"))
    middle = len(signature) // 2
    flipped = signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1 :]
    with pytest.raises(Unauthorized, match=r"[Ss]ignature"):
        issuer.verify(bearer(f"{header}.{payload}.{flipped}"))


def test_a_token_from_another_key_is_refused(issuer: Issuer, stranger: Issuer):
    assert stranger.kid != issuer.kid
    with pytest.raises(Unauthorized):
        issuer.verify(bearer(stranger.mint("a@example.com")))


def test_a_token_signed_by_another_key_under_our_kid_is_refused(issuer: Issuer, stranger: Issuer):
    now = int(time.time())
    claims = {"sub": "s", "iss": ISSUER_URL, "aud": CLIENT_ID, "iat": now, "exp": now + 60}
    token = jwt.encode(claims, stranger.private_key, algorithm="RS256", headers={"kid": issuer.kid})
    with pytest.raises(Unauthorized):
        issuer.verify(bearer(token))


def test_alg_none_is_refused(issuer: Issuer):
    # Given an unsigned token claiming our kid and otherwise valid claims
    now = int(time.time())
    claims = {"sub": "s", "iss": ISSUER_URL, "aud": CLIENT_ID, "iat": now, "exp": now + 60}
    unsigned = f"{b64url({'alg': 'none', 'typ': 'JWT', 'kid': issuer.kid})}.{b64url(claims)}."
    # Then it is refused
    with pytest.raises(Unauthorized):
        issuer.verify(bearer(unsigned))


def test_an_hmac_token_keyed_with_the_public_key_is_refused(issuer: Issuer):
    # The classic algorithm confusion: HS256 with the public key (which anyone can fetch) as the secret.
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import serialization

    now = int(time.time())
    claims = {"sub": "s", "iss": ISSUER_URL, "aud": CLIENT_ID, "iat": now, "exp": now + 60}
    signing_input = f"{b64url({'alg': 'HS256', 'typ': 'JWT', 'kid': issuer.kid})}.{b64url(claims)}"
    secret = issuer.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    with pytest.raises(Unauthorized):
        issuer.verify(bearer(token))


def test_linkedin_tokens_carry_identities_and_custom_idp(issuer: Issuer):
    # Given a token minted as if the user signed in with LinkedIn
    token = issuer.mint("bob@example.com", idp="LinkedIn")
    # When it is verified
    claims = issuer.verify(bearer(token))
    # Then it has Cognito's federated-identity claims
    sub = sub_for("bob@example.com")
    assert claims["custom:idp"] == "linkedin"
    assert claims["username"] == f"linkedin_{sub}"
    (identity,) = claims["identities"]
    assert identity["userId"] == sub
    assert identity["providerName"] == "LinkedIn"
    assert identity["providerType"] == "OIDC"
    assert identity["primary"] == "true"
    assert identity["dateCreated"] == str(claims["iat"] * 1000)


def test_an_unknown_identity_provider_is_refused_at_mint(issuer: Issuer):
    with pytest.raises(ValueError, match="unknown identity provider"):
        issuer.mint("a@example.com", idp="myspace")


def test_sub_is_stable_per_lower_cased_email(issuer: Issuer):
    assert sub_for("Ann@Example.COM") == sub_for("ann@example.com") == sub_for("  ann@example.com ")
    assert sub_for("ann@example.com") != sub_for("ann2@example.com")
    first = issuer.verify(bearer(issuer.mint("ANN@example.com")))
    second = issuer.verify(bearer(issuer.mint("ann@example.com", idp="linkedin")))
    assert first["sub"] == second["sub"] == sub_for("ann@example.com")
    assert first["jti"] != second["jti"]


# ---- machine identities (client credentials) -------------------------------------------------------------


@pytest.fixture(scope="module")
def with_clients(key_dir: Path) -> Issuer:
    return Issuer.load(key_dir, ISSUER_URL, clients=machine_clients(load_yaml(REPO_ROOT / "template.yaml")))


def test_the_machine_clients_and_their_scopes_come_from_the_template():
    assert machine_clients(load_yaml(REPO_ROOT / "template.yaml")) == {
        "usage-meter": ["billing/usage.write", "billing/refunds.write", "billing/usage.read"],
        "billing-operations": [
            "billing/grants.write",
            "billing/adjustments.write",
            "billing/contracts.write",
        ],
    }


def test_a_client_credentials_token_is_the_clients_own_with_its_scopes(with_clients: Issuer):
    # When the usage meter gets a token
    claims = with_clients.verify(bearer(with_clients.mint_client("usage-meter")))
    # Then its subject is the client itself, as in Cognito, and it carries the client's scopes only
    assert claims["sub"] == claims["client_id"] == machine_client_id("usage-meter")
    assert claims["token_use"] == "access"
    assert claims["scope"].split() == ["billing/usage.write", "billing/refunds.write", "billing/usage.read"]
    assert "email" not in claims and "aud" not in claims


def test_a_client_may_ask_for_fewer_scopes_but_not_for_others(with_clients: Issuer):
    fewer = with_clients.verify(
        bearer(with_clients.mint_client("usage-meter", scopes=["billing/refunds.write"]))
    )
    assert fewer["scope"] == "billing/refunds.write"
    with pytest.raises(ValueError, match="invalid_scope"):
        with_clients.mint_client("usage-meter", scopes=["billing/grants.write"])
    with pytest.raises(ValueError, match="unknown client"):
        with_clients.mint_client("nobody")


def test_a_machine_token_is_refused_by_an_issuer_that_does_not_know_the_client(
    issuer: Issuer, with_clients: Issuer
):
    # The web client alone is the audience of `issuer`: a machine client's token is not for it
    with pytest.raises(Unauthorized, match="audience"):
        issuer.verify(bearer(with_clients.mint_client("billing-operations")))
