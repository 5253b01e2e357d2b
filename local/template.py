"""Reads template.yaml (CloudFormation short tags included) for the local stack and the tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "template.yaml"


class _CloudFormationLoader(yaml.SafeLoader):
    """A SafeLoader that keeps `!Ref x` and friends as `{"Ref": x}` / `{"Fn::X": ...}`."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


@lru_cache(maxsize=1)
def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open() as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=_CloudFormationLoader)  # noqa: S506 - SafeLoader subclass
    return document


def resource(logical_id: str) -> dict[str, Any]:
    found: dict[str, Any] = load_template()["Resources"][logical_id]
    return found


def _http_api_events() -> list[tuple[str, dict[str, Any]]]:
    """(function logical id, event properties) for every HttpApi event in the template."""
    template = load_template()
    events = []
    for logical_id, definition in template["Resources"].items():
        if definition.get("Type") != "AWS::Serverless::Function":
            continue
        for event in (definition.get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") == "HttpApi":
                events.append((logical_id, event["Properties"]))
    return events


def _needs_jwt(properties: dict[str, Any]) -> bool:
    return (properties.get("Auth") or {}).get("Authorizer") != "NONE"


def http_routes() -> list[tuple[str, str, str, bool]]:
    """(method, path, function logical id, needs JWT) for every HttpApi route with a path in the template."""
    return [
        (properties["Method"].upper(), properties["Path"], logical_id, _needs_jwt(properties))
        for logical_id, properties in _http_api_events()
        if "Path" in properties
    ]


def default_route() -> tuple[str, bool] | None:
    """(function logical id, needs JWT) of the `$default` route (an HttpApi event with no Path and no Method),
    which gets every request no other route matches; None when the template has none."""
    for logical_id, properties in _http_api_events():
        if "Path" not in properties and "Method" not in properties:
            return logical_id, _needs_jwt(properties)
    return None


def function_handler(logical_id: str) -> tuple[str, str]:
    """(CodeUri directory, handler) of a function."""
    properties = resource(logical_id)["Properties"]
    return properties["CodeUri"], properties.get("Handler") or load_template()["Globals"]["Function"]["Handler"]


@dataclass(frozen=True)
class CorsRules:
    """The HttpApi's CorsConfiguration, as API Gateway applies it."""

    allow_origins: tuple[str, ...]
    allow_methods: tuple[str, ...]
    allow_headers: tuple[str, ...]
    expose_headers: tuple[str, ...]
    max_age: int

    def allows(self, origin: str) -> bool:
        return "*" in self.allow_origins or origin in self.allow_origins


def cors_rules(parameters: Mapping[str, str]) -> CorsRules | None:
    """The template's CORS rules with the CorsAllowedOrigins parameter (or its default) in place; None when it
    names no origin, as the template's condition HasCorsOrigins leaves CORS out."""
    template = load_template()
    origins = parameters.get("CorsAllowedOrigins", template["Parameters"]["CorsAllowedOrigins"]["Default"])
    if not origins:
        return None
    # CorsConfiguration: !If [HasCorsOrigins, {the rules, AllowOrigins split from the parameter}, !Ref AWS::NoValue]
    condition, rules, _ = resource("HttpApi")["Properties"]["CorsConfiguration"]["Fn::If"]
    assert condition == "HasCorsOrigins" and rules["AllowOrigins"] == {
        "Fn::Split": [",", {"Ref": "CorsAllowedOrigins"}]
    }, "template.yaml's CorsConfiguration changed shape; update local/template.py"
    return CorsRules(
        allow_origins=tuple(origin.strip() for origin in origins.split(",")),
        allow_methods=tuple(rules["AllowMethods"]),
        allow_headers=tuple(rules["AllowHeaders"]),
        expose_headers=tuple(rules["ExposeHeaders"]),
        max_age=int(rules["MaxAge"]),
    )
