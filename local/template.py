"""Reads template.yaml (CloudFormation short tags included) for the local stack and the tests."""

from __future__ import annotations

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


def http_routes() -> list[tuple[str, str, str, bool]]:
    """(method, path, function logical id, needs JWT) for every HttpApi event in the template."""
    template = load_template()
    routes = []
    for logical_id, definition in template["Resources"].items():
        if definition.get("Type") != "AWS::Serverless::Function":
            continue
        for event in (definition.get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") != "HttpApi":
                continue
            properties = event["Properties"]
            authorizer = (properties.get("Auth") or {}).get("Authorizer")
            routes.append((properties["Method"].upper(), properties["Path"], logical_id, authorizer != "NONE"))
    return routes


def function_handler(logical_id: str) -> tuple[str, str]:
    """(CodeUri directory, handler) of a function."""
    properties = resource(logical_id)["Properties"]
    return properties["CodeUri"], properties.get("Handler") or load_template()["Globals"]["Function"]["Handler"]
