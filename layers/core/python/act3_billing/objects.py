"""The media bucket and the inventory reports through S3, and the purge queue through SQS: the only
modules talking to those services (boto3 is imported lazily, on first use)."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

PRESIGN_SECONDS = 900


@dataclass(frozen=True)
class Listed:
    key: str
    size: int


class Objects(Protocol):
    bucket: str

    def presign_put(self, key: str, size: int, content_type: str) -> str: ...
    def presign_get(self, key: str) -> str: ...
    def size_of(self, key: str) -> int | None: ...
    def list_after(self, prefix: str, start_after: str, limit: int) -> list[Listed]: ...
    def delete(self, keys: list[str]) -> list[str]: ...


def _client(service: str, region: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(signature_version="s3v4", retries={"max_attempts": 3, "mode": "standard"})
    return boto3.client(service, region_name=region, config=config)


@dataclass
class S3Objects:
    bucket: str
    region: str
    _s3: Any = field(default=None, repr=False)

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = _client("s3", self.region)
        return self._s3

    def presign_put(self, key: str, size: int, content_type: str) -> str:
        """A PUT URL for this key only; Content-Length and Content-Type are signed headers, so S3
        refuses an upload of another size (SignatureDoesNotMatch) — the limit is S3's, not trust."""
        return str(
            self.s3.generate_presigned_url(
                "put_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": key,
                    "ContentLength": size,
                    "ContentType": content_type,
                },
                ExpiresIn=PRESIGN_SECONDS,
            )
        )

    def presign_get(self, key: str) -> str:
        return str(
            self.s3.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=PRESIGN_SECONDS
            )
        )

    def size_of(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return int(head["ContentLength"])

    def list_after(self, prefix: str, start_after: str, limit: int) -> list[Listed]:
        args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": limit}
        if start_after:
            args["StartAfter"] = start_after
        reply = self.s3.list_objects_v2(**args)
        return [Listed(o["Key"], int(o["Size"])) for o in reply.get("Contents", [])]

    def delete(self, keys: list[str]) -> list[str]:
        """DeleteObjects (≤ 1,000 keys); the keys S3 could not delete come back."""
        if not keys:
            return []
        reply = self.s3.delete_objects(
            Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
        )
        return [e["Key"] for e in reply.get("Errors", [])]


class Reports(Protocol):
    def json(self, bucket: str, key: str) -> Any: ...
    def lines(self, bucket: str, key: str) -> Iterator[str]: ...


@dataclass
class S3Reports:
    """Inventory reports: the manifest as JSON, each data file streamed (gzip) line by line."""

    region: str
    _s3: Any = field(default=None, repr=False)

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = _client("s3", self.region)
        return self._s3

    def json(self, bucket: str, key: str) -> Any:
        return json.loads(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    def lines(self, bucket: str, key: str) -> Iterator[str]:
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"]
        with gzip.GzipFile(fileobj=body, mode="rb") as raw:
            yield from io.TextIOWrapper(raw, encoding="utf-8", newline="")


class Queue(Protocol):
    def send(self, bodies: list[dict[str, Any]]) -> None: ...


@dataclass
class SqsQueue:
    url: str
    region: str
    _sqs: Any = field(default=None, repr=False)

    def send(self, bodies: list[dict[str, Any]]) -> None:
        if self._sqs is None:
            self._sqs = _client("sqs", self.region)
        for start in range(0, len(bodies), 10):
            batch = bodies[start : start + 10]
            reply = self._sqs.send_message_batch(
                QueueUrl=self.url,
                Entries=[{"Id": str(i), "MessageBody": json.dumps(b)} for i, b in enumerate(batch)],
            )
            if reply.get("Failed"):
                raise RuntimeError(f"SQS refused {len(reply['Failed'])} messages: {reply['Failed'][:3]}")
