"""Statement PDFs in S3, handed out by presigned URL."""

from __future__ import annotations

from typing import Any


class StatementFiles:
    def __init__(self, bucket: str, region: str) -> None:
        import boto3

        self._bucket = bucket
        self._s3: Any = boto3.client("s3", region_name=region)

    @staticmethod
    def key(org_id: str, cycle: str) -> str:
        return f"orgs/{org_id}/statements/{cycle}.pdf"

    def exists(self, org_id: str, cycle: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._s3.head_object(Bucket=self._bucket, Key=self.key(org_id, cycle))
        except ClientError:
            return False
        return True

    def put(self, org_id: str, cycle: str, pdf: bytes) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=self.key(org_id, cycle),
            Body=pdf,
            ContentType="application/pdf",
            ServerSideEncryption="AES256",
        )

    def url(self, org_id: str, cycle: str, expires_in: int) -> str:
        return str(
            self._s3.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self._bucket,
                    "Key": self.key(org_id, cycle),
                    "ResponseContentDisposition": f'attachment; filename="act3-statement-{cycle}.pdf"',
                },
                ExpiresIn=expires_in,
            )
        )
