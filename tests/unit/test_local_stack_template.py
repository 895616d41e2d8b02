"""act3_local.template: template.yaml read into functions, routes, schedules and resources."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from act3_local.template import Stack, TemplateError, load_yaml, parse

FIXTURE_TEMPLATE = Path(__file__).resolve().parents[1] / "fixtures" / "local_stack" / "template.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(dedent(text))
    return path


@pytest.fixture(scope="module")
def fixture_stack() -> Stack:
    return parse(FIXTURE_TEMPLATE)


# --- the e2e fixture template --------------------------------------------------------------------


def test_globals_environment_is_merged_with_the_functions_own(fixture_stack: Stack):
    echo = fixture_stack.functions["EchoFunction"].environment
    assert echo == {
        "TABLE_NAME": "act3-fixture-local",  # Globals, !Ref to a table
        "SENDER_EMAIL": "billing@act3.example",  # Globals, literal
        "POWERTOOLS_SERVICE_NAME": "act3-fixture",
        "BUCKET_NAME": "act3-uploads-local",  # own, !Ref to a bucket without a name
        "BUS_NAME": "act3-fixture-events",  # own, !Ref to a bus with an explicit Name
    }
    # A function with no environment of its own still gets the Globals.
    tick = fixture_stack.functions["TickFunction"].environment
    assert tick == {
        "TABLE_NAME": "act3-fixture-local",
        "SENDER_EMAIL": "billing@act3.example",
        "POWERTOOLS_SERVICE_NAME": "act3-fixture",
    }


def test_ref_to_a_parameter_resolves_to_its_default_or_the_given_value(fixture_stack: Stack):
    assert fixture_stack.functions["WebhookFunction"].environment["WEBHOOK_SECRET"] == "whsec_not_local"
    given = parse(FIXTURE_TEMPLATE, {"StripeWebhookSecret": "whsec_given"})
    assert given.functions["WebhookFunction"].environment["WEBHOOK_SECRET"] == "whsec_given"


def test_function_settings_come_from_globals_and_properties(fixture_stack: Stack):
    echo = fixture_stack.functions["EchoFunction"]
    assert (echo.timeout, echo.memory) == (10, 256)
    assert echo.code_dir == (FIXTURE_TEMPLATE.parent / "functions" / "echo").resolve()
    assert echo.module_file == echo.code_dir / "app.py"
    assert echo.attribute == "lambda_handler"
    assert (echo.url, fixture_stack.functions["WebhookFunction"].url) == (False, True)
    assert fixture_stack.functions["WebhookFunction"].url_auth == "NONE"


def test_routes_and_their_authorizer(fixture_stack: Stack):
    routes = {r.route_key: (r.function, r.auth) for r in fixture_stack.routes}
    assert routes == {
        "GET /public": ("EchoFunction", False),
        "GET /echo/{item_id}": ("EchoFunction", True),
        "POST /echo/{item_id}": ("EchoFunction", True),
        "GET /binary": ("EchoFunction", True),
        "GET /records/{kind}": ("EchoFunction", True),
        "POST /uploads": ("EchoFunction", True),
    }
    assert fixture_stack.jwt is not None
    assert (fixture_stack.jwt.issuer, fixture_stack.jwt.audience) == ("https://issuer.invalid", ["fixture"])


def test_schedules_with_and_without_input(fixture_stack: Stack):
    by_name = {s.name: s for s in fixture_stack.schedules}
    assert set(by_name) == {"Daily", "Monthly"}
    assert (by_name["Daily"].expression, by_name["Daily"].input) == ("rate(1 day)", None)
    assert (by_name["Monthly"].expression, by_name["Monthly"].input) == (
        "cron(0 0 1 * ? *)",
        {"job": "monthly"},
    )
    assert all(s.enabled and s.function == "TickFunction" for s in by_name.values())
    assert (
        by_name["Daily"].rule_arn
        == "arn:aws:events:us-east-1:123456789012:rule/act3-local-TickFunction-Daily"
    )


def test_s3_subscriptions_and_resources(fixture_stack: Stack):
    (sub,) = fixture_stack.s3
    assert sub.id == "StorageFunction.Uploaded"
    assert sub.bucket == "act3-uploads-local"
    assert sub.events == ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
    assert sub.filter_rules == [{"Name": "prefix", "Value": "orgs/"}]
    assert [t.name for t in fixture_stack.tables] == ["act3-fixture-local"]
    assert fixture_stack.tables[0].properties["KeySchema"][0] == {"AttributeName": "pk", "KeyType": "HASH"}
    assert [b.name for b in fixture_stack.buckets] == ["act3-uploads-local"]
    assert fixture_stack.buses == ["act3-fixture-events"]


# --- short tags and intrinsics -------------------------------------------------------------------


def test_short_tags_become_their_long_form(tmp_path: Path):
    path = write(
        tmp_path,
        """
        Resources:
          Thing:
            Type: Custom::Thing
            Properties:
              A: !Ref Param
              B: !GetAtt Table.Arn
              C: !Sub "${AWS::StackName}-x"
              D: !Join [",", [a, b]]
              E: !If [IsProd, on-prod, off-prod]
              F: !Select [0, !Split [",", "a,b"]]
              G: !Sub
                - "${X}"
                - X: !Ref Param
        """,
    )
    props = load_yaml(path)["Resources"]["Thing"]["Properties"]
    assert props["A"] == {"Ref": "Param"}
    assert props["B"] == {"Fn::GetAtt": ["Table", "Arn"]}
    assert props["C"] == {"Fn::Sub": "${AWS::StackName}-x"}
    assert props["D"] == {"Fn::Join": [",", ["a", "b"]]}
    assert props["E"] == {"Fn::If": ["IsProd", "on-prod", "off-prod"]}
    assert props["F"] == {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}
    assert props["G"] == {"Fn::Sub": ["${X}", {"X": {"Ref": "Param"}}]}


INTRINSICS = """
    Parameters:
      Stage: {Type: String, Default: dev}
      Count: {Type: Number, Default: 3}
    Mappings:
      Sizes: {dev: {Memory: small}, prod: {Memory: large}}
    Conditions:
      IsProd: !Equals [!Ref Stage, prod]
    Globals:
      Function:
        Timeout: 7
        Environment:
          Variables:
            SHARED: from-globals
            OVERRIDDEN: from-globals
            FLAG: true
    Resources:
      LedgerTable:
        Type: AWS::DynamoDB::Table
        Properties: {TableName: !Sub "ledger-${Stage}"}
      JobsQueue:
        Type: AWS::SQS::Queue
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: src/
          Handler: pkg.app.handler
          MemorySize: 512
          Environment:
            Variables:
              OVERRIDDEN: from-function
              TABLE: !Ref LedgerTable
              TABLE_ARN: !GetAtt LedgerTable.Arn
              QUEUE_URL: !Ref JobsQueue
              REGION: !Ref AWS::Region
              SUB: !Sub "${AWS::StackName}/${Stage}/${!Literal}"
              JOINED: !Join ["-", [a, !Ref Stage, b]]
              PICKED: !Select [1, !Split [",", "x,y,z"]]
              SIZE: !FindInMap [Sizes, !Ref Stage, Memory]
              MODE: !If [IsProd, live, test]
              ONLY_IN_PROD: !If [IsProd, yes-prod, !Ref AWS::NoValue]
              COUNT: !Ref Count
              LIMITS: {max: 5}
"""


def test_intrinsics_resolve_against_local_names_and_parameters(tmp_path: Path):
    stack = parse(write(tmp_path, INTRINSICS))
    fn = stack.functions["Fn"]
    assert fn.environment == {
        "SHARED": "from-globals",
        "OVERRIDDEN": "from-function",
        "FLAG": "true",
        "TABLE": "ledger-dev",
        "TABLE_ARN": "arn:aws:dynamodb:us-east-1:123456789012:table/ledger-dev",
        "QUEUE_URL": "http://sqs.us-east-1.localhost/123456789012/act3-jobs-local",
        "REGION": "us-east-1",
        "SUB": "act3-local/dev/${Literal}",
        "JOINED": "a-dev-b",
        "PICKED": "y",
        "SIZE": "small",
        "MODE": "test",
        "COUNT": "3",
        "LIMITS": '{"max": 5}',
    }
    assert (fn.timeout, fn.memory) == (7, 512)
    assert fn.module_file == (tmp_path / "src" / "pkg" / "app.py").resolve()
    assert stack.queues == ["act3-jobs-local"]


def test_parameters_override_defaults_and_flip_conditions(tmp_path: Path):
    stack = parse(write(tmp_path, INTRINSICS), {"Stage": "prod"})
    env = stack.functions["Fn"].environment
    assert (env["TABLE"], env["SIZE"], env["MODE"], env["ONLY_IN_PROD"]) == (
        "ledger-prod",
        "large",
        "live",
        "yes-prod",
    )
    assert [t.name for t in stack.tables] == ["ledger-prod"]


def test_events_routes_scopes_schedules_and_default_route(tmp_path: Path):
    path = write(
        tmp_path,
        """
        Resources:
          Api:
            Type: AWS::Serverless::HttpApi
            Properties:
              Auth:
                DefaultAuthorizer: Jwt
                Authorizers:
                  Jwt:
                    JwtConfiguration:
                      issuer: !Sub "https://cognito-idp.${AWS::Region}.amazonaws.com/pool"
                      audience: client-1
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: src/
              Handler: app.handler
              Events:
                Admin:
                  Type: HttpApi
                  Properties:
                    ApiId: !Ref Api
                    Method: delete
                    Path: /admin/{id}
                    Auth: {AuthorizationScopes: [admin]}
                Anything:
                  Type: HttpApi
                  Properties: {ApiId: !Ref Api, Method: x-amazon-apigateway-any-method, Path: /any}
                Fallback:
                  Type: HttpApi
                Paused:
                  Type: Schedule
                  Properties: {Schedule: rate(5 minutes), Enabled: false, Input: {a: 1}}
                Named:
                  Type: ScheduleV2
                  Properties:
                    ScheduleExpression: cron(0 9 ? * MON *)
                    Name: weekly-report
                    State: DISABLED
        """,
    )
    stack = parse(path)
    routes = {r.route_key: r for r in stack.routes}
    assert set(routes) == {"DELETE /admin/{id}", "ANY /any", "$default"}
    assert (routes["DELETE /admin/{id}"].auth, routes["DELETE /admin/{id}"].scopes) == (True, ["admin"])
    assert routes["$default"].method == "ANY"
    assert stack.jwt is not None
    assert stack.jwt.issuer == "https://cognito-idp.us-east-1.amazonaws.com/pool"
    assert stack.jwt.audience == ["client-1"]
    schedules = {s.name: s for s in stack.schedules}
    assert (schedules["Paused"].enabled, schedules["Paused"].input) == (False, {"a": 1})
    assert schedules["weekly-report"].enabled is False
    assert schedules["weekly-report"].expression == "cron(0 9 ? * MON *)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Resources: []\n", "no Resources"),
        ("AWSTemplateFormatVersion: '2010-09-09'\n", "no Resources"),
        ("Resources: {a: [\n", "not valid YAML"),
        (
            "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
            "      CodeUri: src/\n      Handler: app.h\n"
            "      Environment: {Variables: {X: !Ref Missing}}\n",
            "Missing",
        ),
        (
            "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {CodeUri: src/}\n",
            "Handler",
        ),
    ],
)
def test_templates_that_cannot_be_served_are_refused(tmp_path: Path, text: str, message: str):
    with pytest.raises(TemplateError, match=message):
        parse(write(tmp_path, text))


def test_a_missing_template_is_refused(tmp_path: Path):
    with pytest.raises(TemplateError, match="not found"):
        parse(tmp_path / "nope.yaml")


# --- storage (issue 10): SQS event sources and S3 Inventory configurations of the product template --------


def test_the_product_template_wires_sqs_sources_and_inventory() -> None:
    product = parse(Path(__file__).resolve().parents[2] / "template.yaml")
    purge = next(s for s in product.sqs if s.function == "PurgeWorkerFunction")
    assert (purge.function, purge.queue, purge.batch_size, purge.partial_failures) == (
        "PurgeWorkerFunction",
        "act3-purge-dev",
        10,
        True,
    )
    media = next(b for b in product.buckets if b.logical_id == "MediaBucket")
    assert media.name == "act3-media-dev-123456789012"
    assert media.inventory == [
        {
            "id": "daily-usage",
            "destination": "act3-inventory-dev-123456789012",
            "prefix": "inventory",
            "format": "CSV",
        }
    ]
    subscriptions = {(s.function, s.bucket): s for s in product.s3}
    meter = subscriptions[("StorageMeterFunction", "act3-media-dev-123456789012")]
    assert meter.events == ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
    assert meter.filter_rules == [{"Name": "prefix", "Value": "orgs/"}]
    inventory = subscriptions[("InventoryFunction", "act3-inventory-dev-123456789012")]
    assert inventory.filter_rules == [{"Name": "suffix", "Value": "manifest.json"}]
    assert product.functions["UploadsFunction"].environment["STORAGE_BUCKET"] == "act3-media-dev-123456789012"
    assert (
        product.functions["PurgeSchedulerFunction"].environment["PURGE_QUEUE_URL"].endswith("/act3-purge-dev")
    )
