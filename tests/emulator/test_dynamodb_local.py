"""The DynamoDB Local fixture serves a table built from template.yaml, with real conditional writes."""

from __future__ import annotations

import uuid

import boto3  # type: ignore[import-untyped, unused-ignore]
import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped, unused-ignore]

from tests.support.template import create_tables

pytestmark = pytest.mark.emulator


def test_table_from_template_enforces_conditional_puts(dynamodb_local, aws_env):
    # Given a table created from the template on DynamoDB Local
    client = boto3.client("dynamodb", endpoint_url=dynamodb_local)
    table_name = f"billing-{uuid.uuid4().hex[:8]}"
    create_tables(client, table_name)
    item = {"pk": {"S": f"ORG#{uuid.uuid4()}"}, "sk": {"S": "WALLET"}}
    put = {"TableName": table_name, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}

    # When the same item is put twice under attribute_not_exists
    client.put_item(**put)
    with pytest.raises(ClientError) as second:
        client.put_item(**put)

    # Then the second write is refused and the index is there
    assert second.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    description = client.describe_table(TableName=table_name)["Table"]
    assert [index["IndexName"] for index in description["GlobalSecondaryIndexes"]] == ["gsi1"]
