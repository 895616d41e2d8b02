"""Read ``template.yaml`` into what the local stack serves: functions, routes, schedules, S3 events.

The template is the only list of routes and resources: nothing here names a function or a path of the
product. Intrinsic functions are resolved against local physical names (``!Ref BillingTable`` gives
``act3-billing-local``) and local parameter values.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped, unused-ignore]

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
STACK_NAME = "act3-local"

_TAGS = (
    "Ref",
    "GetAtt",
    "Sub",
    "Join",
    "Select",
    "Split",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "FindInMap",
    "ImportValue",
    "GetAZs",
    "Base64",
    "Condition",
    "Cidr",
    "ToJsonString",
)


class TemplateError(ValueError):
    """The template cannot be served locally (missing file, unknown reference, bad shape)."""


class _Loader(yaml.SafeLoader):  # type: ignore[misc, unused-ignore]
    """A YAML loader turning CloudFormation short tags (``!Ref X``) into their long form (``{"Ref": X}``)."""


def _construct(tag: str):  # type: ignore[no-untyped-def]
    key = "Ref" if tag == "Ref" else ("Condition" if tag == "Condition" else f"Fn::{tag}")

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type, unused-ignore]
        return {key: value}

    return construct


for _tag in _TAGS:
    _Loader.add_constructor(f"!{_tag}", _construct(_tag))


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    except FileNotFoundError as exc:
        raise TemplateError(f"{path} not found") from exc
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise TemplateError(f"{path} has no Resources")
    return data


def kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).lower()


def local_physical_name(logical_id: str, suffix: str) -> str:
    """``BillingTable`` -> ``act3-billing-local``; ``MediaBucket`` -> ``act3-media-local``."""
    base = logical_id[: -len(suffix)] if logical_id.endswith(suffix) and logical_id != suffix else logical_id
    return f"act3-{kebab(base)}-local"


@dataclass
class Route:
    method: str  # upper case, or ANY
    path: str  # as in the template: /orgs/{org_id}/quotes, /{proxy+}, or $default
    function: str
    auth: bool  # False when the route (or the API) has no authorizer
    scopes: list[str] = field(default_factory=list)

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass
class Schedule:
    name: str  # the event's key in the function's Events (or its Name property)
    function: str
    expression: str  # rate(...) or cron(...)
    input: Any | None
    enabled: bool
    rule_arn: str


@dataclass
class S3Subscription:
    id: str  # FunctionLogicalId.EventName, also the notification's configuration id
    function: str
    bucket: str  # physical bucket name
    events: list[str]
    filter_rules: list[dict[str, str]]


@dataclass
class SqsSubscription:
    """A function's ``SQS`` event: the queue (physical name) it drains, in batches."""

    function: str
    queue: str
    batch_size: int
    partial_failures: bool  # FunctionResponseTypes: [ReportBatchItemFailures]


@dataclass
class Function:
    logical_id: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    memory: int
    url: bool  # has a function URL
    url_auth: str = "NONE"

    @property
    def module_file(self) -> Path:
        return self.code_dir / (self.handler.rsplit(".", 1)[0].replace(".", "/") + ".py")

    @property
    def attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]


@dataclass
class Table:
    logical_id: str
    name: str
    properties: dict[str, Any]


@dataclass
class Bucket:
    logical_id: str
    name: str
    # S3 Inventory configurations: {"id", "destination" (bucket name), "prefix", "format"}
    inventory: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Jwt:
    issuer: str | None
    audience: list[str]


@dataclass
class Stack:
    path: Path
    functions: dict[str, Function]
    routes: list[Route]
    schedules: list[Schedule]
    s3: list[S3Subscription]
    tables: list[Table]
    buckets: list[Bucket]
    buses: list[str]
    queues: list[str]
    jwt: Jwt | None
    sqs: list[SqsSubscription] = field(default_factory=list)


class Resolver:
    """Evaluates CloudFormation intrinsics with local physical names and parameter values."""

    def __init__(self, template: dict[str, Any], parameters: dict[str, str]):
        self.resources: dict[str, Any] = template.get("Resources", {})
        self.mappings: dict[str, Any] = template.get("Mappings", {}) or {}
        self.parameters = {
            name: str(parameters.get(name, spec.get("Default", "")))
            for name, spec in (template.get("Parameters") or {}).items()
        } | dict(parameters)
        self.conditions: dict[str, Any] = template.get("Conditions") or {}
        self._names: dict[str, str] = {}
        for logical_id, resource in self.resources.items():
            self._names[logical_id] = self._physical_name(logical_id, resource)

    def _physical_name(self, logical_id: str, resource: dict[str, Any]) -> str:
        rtype = resource.get("Type", "")
        props = resource.get("Properties") or {}
        explicit = {
            "AWS::DynamoDB::Table": "TableName",
            "AWS::Serverless::SimpleTable": "TableName",
            "AWS::S3::Bucket": "BucketName",
            "AWS::Events::EventBus": "Name",
            "AWS::SQS::Queue": "QueueName",
            "AWS::Serverless::Function": "FunctionName",
        }.get(rtype)
        if explicit and props.get(explicit) is not None:
            # Resolved lazily: a name may refer to parameters or the stack name.
            return str(self.resolve(props[explicit], _names={}))
        suffix = {
            "AWS::DynamoDB::Table": "Table",
            "AWS::Serverless::SimpleTable": "Table",
            "AWS::S3::Bucket": "Bucket",
            "AWS::Events::EventBus": "Bus",
            "AWS::SQS::Queue": "Queue",
        }.get(rtype, "")
        return local_physical_name(logical_id, suffix) if suffix else f"{STACK_NAME}-{logical_id}"

    def name(self, logical_id: str) -> str:
        return self._names[logical_id]

    def _arn(self, logical_id: str) -> str:
        rtype = self.resources[logical_id].get("Type", "")
        name = self._names[logical_id]
        return {
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}",
            "AWS::Serverless::SimpleTable": f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::Events::EventBus": f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/{name}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}",
        }.get(rtype, f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}")

    def _pseudo(self, name: str) -> str | None:
        return {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": STACK_NAME,
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{STACK_NAME}/local",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }.get(name)

    def ref(self, name: str, names: dict[str, str] | None = None) -> Any:
        if name.startswith("AWS::"):
            return self._pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        table = self._names if names is None else names
        if name in table:
            rtype = self.resources[name].get("Type", "")
            if rtype == "AWS::SQS::Queue":
                return f"http://sqs.{REGION}.localhost/{ACCOUNT_ID}/{table[name]}"
            return table[name]
        if name in self.resources:
            return local_physical_name(name, "")
        raise TemplateError(f"!Ref {name}: no such parameter or resource")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if logical_id not in self.resources:
            raise TemplateError(f"!GetAtt {logical_id}.{attribute}: no such resource")
        if attribute == "Arn":
            return self._arn(logical_id)
        if attribute in ("Name", "QueueName"):
            return self._names[logical_id]
        if attribute == "StreamArn":
            return self._arn(logical_id) + "/stream/local"
        if attribute in ("DomainName", "RegionalDomainName"):
            return f"{self._names[logical_id]}.s3.amazonaws.com"
        if attribute == "QueueUrl":
            return self.ref(logical_id)
        return f"{self._names[logical_id]}.{attribute}"

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.conditions.get(name, False)))

    def resolve(self, value: Any, _names: dict[str, str] | None = None) -> Any:
        if isinstance(value, list):
            return [self.resolve(v, _names) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: self.resolve(v, _names) for k, v in value.items()}
        ((key, arg),) = value.items()
        if key == "Ref":
            return self.ref(arg, _names)
        if key == "Fn::GetAtt":
            parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
            return self.get_att(parts[0], parts[1])
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            variables = {k: self.resolve(v, _names) for k, v in variables.items()}

            def sub(match: re.Match[str]) -> str:
                token = match.group(1)
                if token.startswith("!"):
                    return "${" + token[1:] + "}"
                if token in variables:
                    return str(variables[token])
                if "." in token and not token.startswith("AWS::"):
                    logical_id, attribute = token.split(".", 1)
                    return str(self.get_att(logical_id, attribute))
                return str(self.ref(token, _names))

            return re.sub(r"\$\{([^}]+)\}", sub, text)
        if key == "Fn::Join":
            sep, items = arg
            return str(sep).join(str(x) for x in self.resolve(items, _names) if x is not None)
        if key == "Fn::Select":
            index, items = arg
            return self.resolve(items, _names)[int(self.resolve(index, _names))]
        if key == "Fn::Split":
            sep, text = arg
            return str(self.resolve(text, _names)).split(sep)
        if key == "Fn::If":
            cond, yes, no = arg
            return self.resolve(yes if self.condition(cond) else no, _names)
        if key == "Fn::Equals":
            a, b = self.resolve(arg, _names)
            return str(a) == str(b)
        if key == "Fn::Not":
            return not self.resolve(arg[0], _names)
        if key == "Fn::And":
            return all(self.resolve(a, _names) for a in arg)
        if key == "Fn::Or":
            return any(self.resolve(a, _names) for a in arg)
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::FindInMap":
            m, k1, k2 = self.resolve(arg, _names)
            return self.mappings[m][k1][k2]
        if key == "Fn::ToJsonString":
            return json.dumps(self.resolve(arg, _names))
        if key in ("Fn::ImportValue", "Fn::GetAZs", "Fn::Base64", "Fn::Cidr"):
            return None
        return {key: self.resolve(arg, _names)}


def _env_strings(env: dict[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in env.items():
        if value is None:
            continue
        out[key] = (
            json.dumps(value)
            if isinstance(value, dict | list)
            else ("true" if value is True else "false" if value is False else str(value))
        )
    return out


def _http_api_defaults(
    resolver: Resolver, resources: dict[str, Any]
) -> tuple[dict[str, dict[str, Any]], Jwt | None]:
    """Per HttpApi resource: its default authorizer name and authorizers; plus the (first) JWT config."""
    apis: dict[str, dict[str, Any]] = {}
    jwt: Jwt | None = None
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::HttpApi":
            continue
        auth = (resource.get("Properties") or {}).get("Auth") or {}
        authorizers = auth.get("Authorizers") or {}
        apis[logical_id] = {"default": auth.get("DefaultAuthorizer"), "authorizers": authorizers}
        for spec in authorizers.values():
            config = (spec or {}).get("JwtConfiguration")
            if config and jwt is None:
                issuer = resolver.resolve(config.get("issuer") or config.get("Issuer"))
                audience = resolver.resolve(config.get("audience") or config.get("Audience") or [])
                jwt = Jwt(
                    issuer=issuer,
                    audience=[str(a) for a in (audience if isinstance(audience, list) else [audience])],
                )
    return apis, jwt


def parse(path: Path, parameters: dict[str, str] | None = None) -> Stack:
    template = load_yaml(path)
    resolver = Resolver(template, parameters or {})
    resources: dict[str, Any] = template["Resources"]
    globals_fn = ((template.get("Globals") or {}).get("Function")) or {}
    global_env = ((globals_fn.get("Environment") or {}).get("Variables")) or {}
    global_api_auth = (((template.get("Globals") or {}).get("HttpApi") or {}).get("Auth")) or {}
    apis, jwt = _http_api_defaults(resolver, resources)

    functions: dict[str, Function] = {}
    routes: list[Route] = []
    schedules: list[Schedule] = []
    s3: list[S3Subscription] = []
    sqs: list[SqsSubscription] = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties") or {}
        code_uri = props.get("CodeUri", globals_fn.get("CodeUri", "."))
        handler = props.get("Handler", globals_fn.get("Handler"))
        if not isinstance(code_uri, str) or not handler:
            raise TemplateError(f"{logical_id}: CodeUri must be a local folder and Handler set")
        env = dict(global_env) | dict(((props.get("Environment") or {}).get("Variables")) or {})
        url_config = props.get("FunctionUrlConfig")
        functions[logical_id] = Function(
            logical_id=logical_id,
            code_dir=(path.parent / code_uri).resolve(),
            handler=str(handler),
            environment=_env_strings(resolver.resolve(env)),
            timeout=int(props.get("Timeout", globals_fn.get("Timeout", 3))),
            memory=int(props.get("MemorySize", globals_fn.get("MemorySize", 128))),
            url=url_config is not None,
            url_auth=str((url_config or {}).get("AuthType", "NONE")),
        )
        for event_name, event in (props.get("Events") or {}).items():
            etype = event.get("Type")
            eprops = event.get("Properties") or {}
            if etype == "HttpApi":
                api_id = (
                    (eprops.get("ApiId") or {}).get("Ref") if isinstance(eprops.get("ApiId"), dict) else None
                )
                api = apis.get(api_id or "", {}) if api_id else (next(iter(apis.values()), {}))
                default_authorizer = api.get("default") or global_api_auth.get("DefaultAuthorizer")
                route_auth = eprops.get("Auth") or {}
                authorizer = route_auth.get("Authorizer", default_authorizer)
                # A route's own scopes, else its authorizer's (SAM applies those to every route using it).
                authorizer_spec = (api.get("authorizers") or {}).get(authorizer) or {}
                scopes = (
                    route_auth.get("AuthorizationScopes", authorizer_spec.get("AuthorizationScopes")) or []
                )
                path_value = eprops.get("Path")
                method = str(eprops.get("Method", "ANY")).upper()
                if path_value is None:
                    path_value, method = "$default", "ANY"
                routes.append(
                    Route(
                        method="ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method,
                        path=str(path_value),
                        function=logical_id,
                        auth=bool(authorizer) and authorizer != "NONE",
                        scopes=list(scopes),
                    )
                )
            elif etype in ("Schedule", "ScheduleV2"):
                expression = eprops.get("Schedule") or eprops.get("ScheduleExpression")
                enabled = (
                    eprops.get("Enabled", True) is not False
                    and str(eprops.get("State", "ENABLED")).upper() != "DISABLED"
                )
                raw_input = resolver.resolve(eprops.get("Input"))
                name = str(resolver.resolve(eprops.get("Name")) or event_name)
                schedules.append(
                    Schedule(
                        name=name,
                        function=logical_id,
                        expression=str(resolver.resolve(expression)),
                        input=json.loads(raw_input) if isinstance(raw_input, str) else raw_input,
                        enabled=enabled,
                        rule_arn=f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{STACK_NAME}-{logical_id}-{event_name}",
                    )
                )
            elif etype == "SQS":
                queue_arn = str(resolver.resolve(eprops.get("Queue")))
                sqs.append(
                    SqsSubscription(
                        function=logical_id,
                        queue=queue_arn.rsplit(":", 1)[-1],
                        batch_size=int(eprops.get("BatchSize", 10)),
                        partial_failures="ReportBatchItemFailures"
                        in (eprops.get("FunctionResponseTypes") or []),
                    )
                )
            elif etype == "S3":
                bucket_ref = eprops.get("Bucket")
                bucket_name = str(resolver.resolve(bucket_ref))
                events = eprops.get("Events")
                rules = (((eprops.get("Filter") or {}).get("S3Key") or {}).get("Rules")) or []
                s3.append(
                    S3Subscription(
                        id=f"{logical_id}.{event_name}",
                        function=logical_id,
                        bucket=bucket_name,
                        events=[events] if isinstance(events, str) else list(events or []),
                        filter_rules=[
                            {"Name": str(r["Name"]).lower(), "Value": str(resolver.resolve(r["Value"]))}
                            for r in rules
                        ],
                    )
                )

    tables, buckets, buses, queues = [], [], [], []
    for logical_id, resource in resources.items():
        rtype = resource.get("Type")
        if rtype not in (
            "AWS::DynamoDB::Table",
            "AWS::Serverless::SimpleTable",
            "AWS::S3::Bucket",
            "AWS::Events::EventBus",
            "AWS::SQS::Queue",
        ):
            continue
        props = resolver.resolve(resource.get("Properties") or {})
        if rtype == "AWS::DynamoDB::Table":
            tables.append(Table(logical_id, resolver.name(logical_id), props))
        elif rtype == "AWS::Serverless::SimpleTable":
            key = props.get("PrimaryKey") or {"Name": "id", "Type": "String"}
            atype = {"String": "S", "Number": "N", "Binary": "B"}.get(key.get("Type", "String"), "S")
            tables.append(
                Table(
                    logical_id,
                    resolver.name(logical_id),
                    {
                        "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": atype}],
                        "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
                        "BillingMode": "PAY_PER_REQUEST",
                    },
                )
            )
        elif rtype == "AWS::S3::Bucket":
            inventory = [
                {
                    "id": str(config.get("Id", "inventory")),
                    "destination": str(config["Destination"]["BucketArn"]).rsplit(":", 1)[-1],
                    "prefix": str(config["Destination"].get("Prefix", "")),
                    "format": str(config["Destination"].get("Format", "CSV")),
                }
                for config in props.get("InventoryConfigurations") or []
                if config.get("Enabled", True) and (config.get("Destination") or {}).get("BucketArn")
            ]
            buckets.append(Bucket(logical_id, resolver.name(logical_id), inventory))
        elif rtype == "AWS::Events::EventBus":
            buses.append(resolver.name(logical_id))
        elif rtype == "AWS::SQS::Queue":
            queues.append(resolver.name(logical_id))

    return Stack(
        path=path,
        functions=functions,
        routes=routes,
        schedules=schedules,
        s3=s3,
        tables=tables,
        buckets=buckets,
        buses=buses,
        queues=queues,
        jwt=jwt,
        sqs=sqs,
    )
