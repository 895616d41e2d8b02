"""template.yaml stays consistent with the code tree and with the table the tests build."""

from __future__ import annotations

from typing import Any

from tests.support.template import REPO_ROOT, http_routes, load_template, table_create_kwargs

EXPECTED_ROUTES = {
    ("PlansFunction", "GET", "/plans"),
    ("BalanceFunction", "GET", "/orgs/{org_id}/balance"),
    ("QuotesFunction", "POST", "/orgs/{org_id}/quotes"),
    ("DebitsFunction", "POST", "/orgs/{org_id}/debits"),
    ("HoldsFunction", "POST", "/orgs/{org_id}/holds"),
    ("HoldsFunction", "POST", "/orgs/{org_id}/holds/{hold_id}/extend"),
    ("HoldsFunction", "POST", "/orgs/{org_id}/holds/{hold_id}/capture"),
    ("HoldsFunction", "POST", "/orgs/{org_id}/holds/{hold_id}/release"),
    ("RefundsFunction", "POST", "/orgs/{org_id}/refunds"),
    ("LedgerFunction", "GET", "/orgs/{org_id}/ledger"),
}


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


def test_only_the_listed_routes_exist():
    routes = {(logical_id, method, path) for logical_id, method, path, _, _ in http_routes()}

    assert routes == EXPECTED_ROUTES


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
        for event in resource["Properties"]["Events"].values()
        if event["Properties"].get("Auth", {}).get("Authorizer") == "NONE"
    }

    assert public == {"PlansFunction"}


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
