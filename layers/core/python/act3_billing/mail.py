"""Outgoing e-mail through SES (moto locally and in tests). The only module that talks to SES."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class Mailer(Protocol):
    def send(self, to: str, subject: str, text: str) -> str: ...


@dataclass
class SesMailer:
    sender: str
    region: str
    _client: Any = None

    def send(self, to: str, subject: str, text: str) -> str:
        if self._client is None:
            import boto3

            self._client = boto3.client("ses", region_name=self.region)
        reply = self._client.send_email(
            Source=self.sender,
            Destination={"ToAddresses": [to]},
            Message={
                "Subject": {"Data": subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
            },
        )
        return str(reply["MessageId"])


def invite_mail(org_name: str, role: str, link: str, inviter: str | None) -> tuple[str, str]:
    subject = f"You're invited to {org_name} on ACT 3 AI"
    text = (
        f"{inviter or 'An owner'} invited you to join {org_name} on ACT 3 AI as {role}.\n\n"
        f"Accept the invite (signed in with this e-mail address): {link}\n\n"
        "The link works once and expires in 7 days. If you did not expect it, ignore this e-mail.\n"
    )
    return subject, text
