"""Read template.yaml so tests build their tables (and check their routes) from what is deployed."""

from __future__ import annotations

import contextlib
import copy
import functools
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped, unused-ignore]
from botocore.exceptions import ClientError  # type: ignore[import-untyped, unused-ignore]

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"

# Properties of AWS::DynamoDB::Table that map 1:1 onto boto3 create_table kwargs.
_CREATE_TABLE_KEYS = (
    "KeySchema",
    "AttributeDefinitions",
    "BillingMode",
    "ProvisionedThroughput",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "StreamSpecification",
)


class CfnLoader(yaml.SafeLoader):  # type: ignore[misc, unused-ignore]
    """SafeLoader that turns CloudFormation short tags (`!Ref X`, `!GetAtt A.B`, ...) into long form."""


def _construct_short_tag(loader: CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type, unused-ignore]
    if tag_suffix in ("Ref", "Condition"):
        return {tag_suffix: value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_short_tag)


@functools.cache
def _load(path: Path) -> dict[str, Any]:
    with path.open() as fh:
        document = yaml.load(fh, Loader=CfnLoader)  # CfnLoader is a SafeLoader
    assert isinstance(document, dict)
    return document


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The parsed template (cached; treat it as read-only)."""
    return _load(path)


def table_create_kwargs(
    logical_id: str = "BillingTable", table_name: str | None = None, template: dict[str, Any] | None = None
) -> dict[str, Any]:
    """boto3 `create_table` kwargs for the table `logical_id` as declared in template.yaml."""
    resource = (template or load_template())["Resources"][logical_id]
    assert resource["Type"] == "AWS::DynamoDB::Table", f"{logical_id} is not a DynamoDB table"
    properties = resource["Properties"]
    kwargs: dict[str, Any] = {"TableName": table_name or logical_id}
    for key in _CREATE_TABLE_KEYS:
        if key in properties:
            kwargs[key] = copy.deepcopy(properties[key])
    if "GlobalSecondaryIndexes" in kwargs:
        kwargs["GlobalSecondaryIndexes"] = [
            {
                k: v
                for k, v in index.items()
                if k in ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")
            }
            for index in kwargs["GlobalSecondaryIndexes"]
        ]
    return kwargs


def ttl_attribute(logical_id: str = "BillingTable") -> str | None:
    spec = load_template()["Resources"][logical_id]["Properties"].get("TimeToLiveSpecification")
    return spec["AttributeName"] if spec and spec.get("Enabled") else None


def create_tables(client: Any, table_name: str, logical_id: str = "BillingTable") -> dict[str, Any]:
    """Create the table from the template on `client` (moto, DynamoDB Local), enable TTL, return kwargs."""
    kwargs = table_create_kwargs(logical_id, table_name)
    client.create_table(**kwargs)
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    attribute = ttl_attribute(logical_id)
    if attribute:
        # Some emulators do not implement TTL; expiry is not what tests assert on.
        with contextlib.suppress(ClientError):
            client.update_time_to_live(
                TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute}
            )
    return kwargs


def _function_globals(template: dict[str, Any]) -> dict[str, Any]:
    return dict(template.get("Globals", {}).get("Function", {}))


def http_routes(template: dict[str, Any] | None = None) -> list[tuple[str, str, str, str, str]]:
    """Every HttpApi event as (function logical id, METHOD, path, CodeUri, Handler), sorted."""
    template = template or load_template()
    defaults = _function_globals(template)
    routes: list[tuple[str, str, str, str, str]] = []
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = {**defaults, **resource.get("Properties", {})}
        for event in properties.get("Events", {}).values():
            if event.get("Type") != "HttpApi":
                continue
            routes.append(
                (
                    logical_id,
                    str(event["Properties"]["Method"]).upper(),
                    str(event["Properties"]["Path"]),
                    str(properties["CodeUri"]),
                    str(properties["Handler"]),
                )
            )
    return sorted(routes)
