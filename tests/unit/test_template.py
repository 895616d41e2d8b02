"""template.yaml stays consistent with the code tree and with the table the tests build."""

from __future__ import annotations

from typing import Any

from tests.support.functions import load
from tests.support.template import REPO_ROOT, http_routes, load_template, table_create_kwargs


def _functions() -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in load_template()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def test_every_route_points_at_an_existing_handler_module():
    for logical_id, _method, path, code_uri, handler in http_routes():
        module, _, function = handler.partition(".")
        source = REPO_ROOT / code_uri / f"{module}.py"
        assert source.is_file(), f"{logical_id} {path}: {source} is missing"
        assert function == "lambda_handler"


def test_template_routes_and_handler_routes_are_the_same(monkeypatch):
    """No hand-kept list: each function serves exactly the routes its template events declare."""
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Act3Billing")
    declared: dict[str, set[tuple[str, str]]] = {}
    for _logical_id, method, path, code_uri, _ in http_routes():
        declared.setdefault(code_uri.strip("/").split("/")[-1], set()).add((method, path))
    for folder, routes in declared.items():
        schema = load(folder).app.get_openapi_schema()
        served = {
            (method.upper(), path)
            for path, item in (schema.paths or {}).items()
            for method in item.model_dump(exclude_none=True)
            if method in {"get", "post", "put", "patch", "delete"}
        }
        assert served == routes, folder


def test_every_function_has_its_own_log_group():
    resources = load_template()["Resources"]
    log_group_names = [
        resource["Properties"]["LogGroupName"]
        for resource in resources.values()
        if resource["Type"] == "AWS::Logs::LogGroup"
    ]

    for logical_id in _functions():
        assert {"Fn::Sub": f"/aws/lambda/${{{logical_id}}}"} in log_group_names, logical_id


def test_only_plans_is_public():
    public = {
        logical_id
        for logical_id, resource in _functions().items()
        for event in resource["Properties"].get("Events", {}).values()
        if event["Properties"].get("Auth", {}).get("Authorizer") == "NONE"
    }
    # Function URLs have no JWT authorizer: only Stripe's webhook, which verifies Stripe's signature.
    urls = {
        logical_id: resource["Properties"]["FunctionUrlConfig"]["AuthType"]
        for logical_id, resource in _functions().items()
        if "FunctionUrlConfig" in resource["Properties"]
    }

    assert public == {"PlansFunction"}
    assert urls == {"StripeWebhookFunction": "NONE"}


def test_table_kwargs_have_the_keys_and_gsi1():
    kwargs = table_create_kwargs(table_name="billing-test")

    assert kwargs["TableName"] == "billing-test"
    assert kwargs["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    (gsi1,) = kwargs["GlobalSecondaryIndexes"]
    assert gsi1["IndexName"] == "gsi1"
    assert [key["AttributeName"] for key in gsi1["KeySchema"]] == ["gsi1pk", "gsi1sk"]
    assert gsi1["Projection"] == {"ProjectionType": "ALL"}
    assert kwargs["BillingMode"] == "PAY_PER_REQUEST"
