"""Cognito pre token generation trigger (V2): the member's e-mail claims in their access token.

Members call the API with access tokens, whose scopes the routes check; Cognito puts `email` and
`email_verified` only in ID tokens, and the functions read them (invites, personal orgs).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing.http.caller import access_token_claims
from act3_billing.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    attributes = (event.get("request") or {}).get("userAttributes") or {}
    claims = access_token_claims(attributes)
    response = event.setdefault("response", {})
    response["claimsAndScopeOverrideDetails"] = {
        "accessTokenGeneration": {"claimsToAddOrOverride": claims},
    }
    return event
