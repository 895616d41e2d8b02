"""Upload ``web/`` to the stack's web bucket with its ``config.json``, then invalidate CloudFront.

The template declares the bucket and the distribution; the files are not CloudFormation's business.
``config.json`` tells the app where it runs: the API under the same domain at ``/api`` (CloudFront
routes it to the HTTP API) and Cognito's hosted UI for sign-in, LinkedIn among its providers when set
up. Set the template's ``AppUrl`` to the ``WebUrl`` output so invite links open the app.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

WEB_ROOT = Path(__file__).resolve().parents[2] / "web"
CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
CALLBACK_PATH = "auth/callback"  # the template's AuthCallbackUrl (WebAppPathsFunction serves the page)
API_BASE = "/api"  # CloudFront sends /api/* to the HTTP API, without the prefix
STRIPE_JS = "https://js.stripe.com/v3/"  # must be loaded from Stripe (PCI); the template's CSP allows it


def config_for(
    outputs: dict[str, str], *, linkedin: bool, stripe_publishable_key: str | None = None
) -> dict[str, Any]:
    web_url = outputs["WebUrl"].rstrip("/")
    key = stripe_publishable_key
    stripe = {"publishable_key": key, "js_url": STRIPE_JS} if key else None
    return {
        **({"stripe": stripe} if stripe else {}),
        "api_base": API_BASE,
        "auth": {
            "kind": "cognito",
            "domain": outputs["AuthDomain"].rstrip("/"),
            "client_id": outputs["UserPoolClientId"],
            "redirect_uri": f"{web_url}/{CALLBACK_PATH}",
            "logout_uri": f"{web_url}/",
            "identity_providers": [{"id": "LinkedIn", "name": "LinkedIn"}] if linkedin else [],
        },
    }


def files(root: Path = WEB_ROOT) -> Iterator[tuple[str, Path, str]]:
    """(key, file, content type) for every file of the app."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        key = path.relative_to(root).as_posix()
        content_type = (
            CONTENT_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        )
        if content_type == "text/html":
            content_type += "; charset=utf-8"
        yield key, path, content_type


def upload(s3: Any, bucket: str, config: dict[str, Any], root: Path = WEB_ROOT) -> list[str]:
    keys = []
    for key, path, content_type in files(root):
        # No hashed file names: every file is revalidated (ETag), so a deploy shows at once.
        s3.put_object(
            Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType=content_type, CacheControl="no-cache"
        )
        keys.append(key)
    s3.put_object(
        Bucket=bucket,
        Key="config.json",
        Body=json.dumps(config).encode(),
        ContentType="application/json",
        CacheControl="no-cache",
    )
    return [*keys, "config.json"]


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def main(argv: list[str] | None = None) -> int:
    import boto3

    parser = argparse.ArgumentParser(prog="python -m act3_web deploy", description=__doc__)
    parser.add_argument("command", choices=["deploy"])
    parser.add_argument("--stack", default="act3-billing")
    parser.add_argument("--region", default=None)
    parser.add_argument("--linkedin", action="store_true", help="offer the LinkedIn provider on sign-in")
    parser.add_argument(
        "--stripe-publishable-key",
        default=os.environ.get("STRIPE_PUBLISHABLE_KEY"),
        help="pk_live_/pk_test_ key for Stripe.js (adding cards); without it cards are added in the portal",
    )
    args = parser.parse_args(argv)
    session = boto3.session.Session(region_name=args.region)
    outputs = stack_outputs(session.client("cloudformation"), args.stack)
    keys = upload(
        session.client("s3"),
        outputs["WebBucketName"],
        config_for(outputs, linkedin=args.linkedin, stripe_publishable_key=args.stripe_publishable_key),
    )
    session.client("cloudfront").create_invalidation(
        DistributionId=outputs["WebDistributionId"],
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": str(time.time_ns())},
    )
    print(f"uploaded {len(keys)} files to {outputs['WebBucketName']}; the app is at {outputs['WebUrl']}")
    return 0
