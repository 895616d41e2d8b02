"""An upload URL signs Content-Length: S3 recomputes the signature over the headers it receives, so a
PUT of any other size fails (SignatureDoesNotMatch). moto does not check presigned signatures, so this
recomputes it the way S3 does (SigV4 query auth over the signed headers)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlparse

import boto3
import pytest
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from act3_billing.objects import S3Objects

CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")


@pytest.fixture
def objects(monkeypatch: pytest.MonkeyPatch) -> S3Objects:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS.secret_key)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_SECURITY_TOKEN", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    # A session made earlier (by another test) would sign with the credentials it cached.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    return S3Objects("act3-media-dev-123456789012", "us-east-1")


def signature_for(url: str, content_length: int, content_type: str) -> str:
    """The signature S3 computes for a PUT of this URL with these headers."""
    parsed = urlparse(url)
    query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    given = query.pop("X-Amz-Signature")
    request = AWSRequest(
        method="PUT",
        url=f"{parsed.scheme}://{parsed.netloc}{parsed.path}",
        headers={"Content-Length": str(content_length), "Content-Type": content_type, "Host": parsed.netloc},
    )
    auth = S3SigV4QueryAuth(CREDENTIALS, "s3", "us-east-1", expires=int(query["X-Amz-Expires"]))
    auth._get_current_timestamp = lambda: query["X-Amz-Date"]
    request.url += "?" + urlencode({k: v for k, v in query.items() if not k.startswith("X-Amz-")})
    auth.add_auth(request)
    recomputed = parse_qs(urlparse(str(request.url)).query)["X-Amz-Signature"][0]
    assert given
    return str(recomputed)


def test_the_declared_size_and_type_are_signed_headers(objects: S3Objects) -> None:
    url = objects.presign_put("orgs/o1/projects/p1/media/a.mp4", 2048, "video/mp4")
    query = parse_qs(urlparse(url).query)
    assert query["X-Amz-SignedHeaders"] == ["content-length;content-type;host"]
    assert int(query["X-Amz-Expires"][0]) == 900


def test_only_a_put_of_the_declared_size_matches_the_signature(objects: S3Objects) -> None:
    url = objects.presign_put("orgs/o1/projects/p1/media/a.mp4", 2048, "video/mp4")
    given = parse_qs(urlparse(url).query)["X-Amz-Signature"][0]
    assert signature_for(url, 2048, "video/mp4") == given
    assert signature_for(url, 2049, "video/mp4") != given
    assert signature_for(url, 10 * 2048, "video/mp4") != given
    assert signature_for(url, 2048, "application/octet-stream") != given
