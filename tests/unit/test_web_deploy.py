"""Deploying the web app: every file of web/ with its type, and config.json (moto S3)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from act3_web.deploy import WEB_ROOT, config_for, upload

OUTPUTS = {
    "WebUrl": "https://d111111abcdef8.cloudfront.net",
    "AuthDomain": "https://act3-billing-dev-123456789012.auth.us-east-1.amazoncognito.com",
    "UserPoolClientId": "client123",
    "WebBucketName": "web-bucket",
    "WebDistributionId": "E123",
}


@pytest.fixture
def s3() -> Any:
    with mock_aws():
        client = boto3.session.Session().client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="web-bucket")
        yield client


def test_config_sends_sign_in_to_the_hosted_ui_and_back_to_the_app() -> None:
    cfg = config_for(OUTPUTS, linkedin=True)
    assert cfg["api_base"] == "/api"
    assert cfg["auth"] == {
        "kind": "cognito",
        "domain": OUTPUTS["AuthDomain"],
        "client_id": "client123",
        "redirect_uri": "https://d111111abcdef8.cloudfront.net/auth/callback",
        "logout_uri": "https://d111111abcdef8.cloudfront.net/",
        "identity_providers": [{"id": "LinkedIn", "name": "LinkedIn"}],
    }
    assert config_for(OUTPUTS, linkedin=False)["auth"]["identity_providers"] == []


def test_upload_puts_every_file_with_its_type(s3: Any) -> None:
    keys = upload(s3, "web-bucket", config_for(OUTPUTS, linkedin=False))
    expected = {p.relative_to(WEB_ROOT).as_posix() for p in WEB_ROOT.rglob("*") if p.is_file()}
    assert set(keys) == expected | {"config.json"}
    assert (
        s3.head_object(Bucket="web-bucket", Key="js/app.js")["ContentType"]
        == "text/javascript; charset=utf-8"
    )
    assert s3.head_object(Bucket="web-bucket", Key="css/app.css")["ContentType"] == "text/css; charset=utf-8"
    page = s3.get_object(Bucket="web-bucket", Key="index.html")
    assert page["ContentType"] == "text/html; charset=utf-8"
    assert page["Body"].read() == (WEB_ROOT / "index.html").read_bytes()
    cfg = json.loads(s3.get_object(Bucket="web-bucket", Key="config.json")["Body"].read())
    assert cfg["auth"]["client_id"] == "client123"


def test_config_names_stripe_js_only_with_a_publishable_key() -> None:
    assert "stripe" not in config_for(OUTPUTS, linkedin=False)
    cfg = config_for(OUTPUTS, linkedin=False, stripe_publishable_key="pk_live_abc")
    assert cfg["stripe"] == {"publishable_key": "pk_live_abc", "js_url": "https://js.stripe.com/v3/"}
