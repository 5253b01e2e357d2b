"""Checking a create body as Runway's validator does: a ``model`` discriminator, strict objects, and zod-style issues
(``code``, ``path``, ``message`` and the code's own details) collected for every field before answering 400."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from local.runway_emulator import errors
from local.runway_emulator.models import MODELS, Field, ModelSpec

DATA_URI_MAX_CHARS = 5 * 1024 * 1024
URL_MAX_CHARS = 2048
IMAGE_MEDIA_TYPES = ("image/jpeg", "image/jpg", "image/png", "image/webp")
MODERATION_THRESHOLDS = ("auto", "low")
_DATA_URI = re.compile(
    r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)(?P<params>(;[\w.+-]+=[\w.+-]+)*)(?P<b64>;base64)?,(?P<data>.*)$", re.S
)

Issue = dict[str, Any]


def validate_create(endpoint: str, body: Any) -> tuple[ModelSpec, dict[str, Any]]:
    """The model and the checked parameters of a create; ``errors.validation_failed`` with every issue otherwise."""
    if not isinstance(body, dict):
        raise errors.validation_failed([_invalid_type([], "object", body)])
    specs = MODELS[endpoint]
    model = body.get("model")
    if not isinstance(model, str) or model not in specs:
        union_issues: list[Issue] = []
        if not isinstance(model, str):
            union_issues.append(_invalid_type(["model"], "string", model, present="model" in body))
        union_issues.append(
            {
                "code": "invalid_union",
                "errors": [],
                "note": "No matching discriminator",
                "discriminator": "model",
                "path": ["model"],
                "message": "Invalid input",
            }
        )
        raise errors.validation_failed(union_issues)
    spec = specs[model]
    issues: list[Issue] = []
    issues.extend(_unrecognized([], body, spec.fields))
    for name, field in spec.fields.items():
        if name not in body:
            if field.required:
                issues.append(_invalid_type([name], _expected(field), None, present=False))
            continue
        issues.extend(_check(name, field, body[name], spec))
    if issues:
        raise errors.validation_failed(issues)
    return spec, {key: body[key] for key in body}


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _check(name: str, field: Field, value: Any, spec: ModelSpec) -> list[Issue]:
    path: list[str | int] = [name]
    if field.kind == "string":
        if not isinstance(value, str):
            return [_invalid_type(path, "string", value)]
        return _length_issues(path, utf16_length(value), field)
    if field.kind == "bool":
        return [] if isinstance(value, bool) else [_invalid_type(path, "boolean", value)]
    if field.kind == "int":
        return _int_issues(path, value, field)
    if field.kind == "choice":
        return [] if _is_choice(value, field.choices) else [_invalid_option(path, field.choices)]
    if field.kind == "moderation":
        return _moderation_issues(path, value)
    if field.kind == "image":
        return _image_issues(path, value, spec)
    raise AssertionError(f"unknown field kind {field.kind!r}")


def _is_choice(value: Any, choices: tuple[Any, ...]) -> bool:
    # JSON true is not 1, and 4.0 is not the literal 4 either.
    return any(type(value) is type(choice) and value == choice for choice in choices)


def _int_issues(path: list[str | int], value: Any, field: Field) -> list[Issue]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return [_invalid_type(path, "number", value)]
    if isinstance(value, float) and not value.is_integer():
        return [
            {
                "expected": "int",
                "format": "safeint",
                "code": "invalid_type",
                "path": path,
                "message": "Invalid input: expected int, received number",
            }
        ]
    issues = []
    if field.minimum is not None and value < field.minimum:
        issues.append(
            {
                "origin": "number",
                "code": "too_small",
                "minimum": field.minimum,
                "inclusive": True,
                "path": path,
                "message": f"Too small: expected number to be >={field.minimum}",
            }
        )
    if field.maximum is not None and value > field.maximum:
        issues.append(
            {
                "origin": "number",
                "code": "too_big",
                "maximum": field.maximum,
                "inclusive": True,
                "path": path,
                "message": f"Too big: expected number to be <={field.maximum}",
            }
        )
    return issues


def _length_issues(path: list[str | int], length: int, field: Field) -> list[Issue]:
    if field.minimum is not None and length < field.minimum:
        return [
            {
                "origin": "string",
                "code": "too_small",
                "minimum": field.minimum,
                "inclusive": True,
                "path": path,
                "message": f"Too small: expected string to have >={field.minimum} characters",
            }
        ]
    if field.maximum is not None and length > field.maximum:
        return [
            {
                "origin": "string",
                "code": "too_big",
                "maximum": field.maximum,
                "inclusive": True,
                "path": path,
                "message": f"Too big: expected string to have <={field.maximum} characters",
            }
        ]
    return []


def _moderation_issues(path: list[str | int], value: Any) -> list[Issue]:
    if not isinstance(value, dict):
        return [_invalid_type(path, "object", value)]
    issues = _unrecognized(path, value, ("publicFigureThreshold",))
    threshold = value.get("publicFigureThreshold", "auto")
    if not _is_choice(threshold, MODERATION_THRESHOLDS):
        issues.append(_invalid_option([*path, "publicFigureThreshold"], MODERATION_THRESHOLDS))
    return issues


def _image_issues(path: list[str | int], value: Any, spec: ModelSpec) -> list[Issue]:
    if isinstance(value, str):
        reason = asset_problem(value)
        return [] if reason is None else [_custom(path, reason)]
    if not isinstance(value, list):
        return [_invalid_type(path, "string", value)]
    if not value:
        return [_custom(path, "At least one image is required.")]
    issues: list[Issue] = []
    positions = []
    for index, item in enumerate(value):
        item_path = [*path, index]
        if not isinstance(item, dict):
            issues.append(_invalid_type(item_path, "object", item))
            continue
        issues.extend(_unrecognized(item_path, item, ("position", "uri")))
        position = item.get("position")
        if "position" not in item or not isinstance(position, str):
            issues.append(_invalid_type([*item_path, "position"], "string", position, present="position" in item))
        elif position not in spec.image_positions:
            issues.append(_invalid_option([*item_path, "position"], spec.image_positions))
        else:
            positions.append(position)
        uri = item.get("uri")
        if not isinstance(uri, str):
            issues.append(_invalid_type([*item_path, "uri"], "string", uri, present="uri" in item))
        elif (reason := asset_problem(uri)) is not None:
            issues.append(_custom([*item_path, "uri"], reason))
    if len(positions) != len(set(positions)):
        issues.append(_custom(path, "Each position may be used only once."))
    elif positions == ["last"]:
        issues.append(_custom(path, "This model does not support generating with only a last frame."))
    return issues


def asset_problem(uri: str) -> str | None:
    """Why an asset reference cannot be used (Runway's documented reasons), or None. Nothing is fetched."""
    if uri.startswith("runway://"):
        return None
    if uri.startswith("data:"):
        if len(uri) > DATA_URI_MAX_CHARS:
            return "The data URI is too large. Data URIs must be under 5MB."
        match = _DATA_URI.match(uri)
        if match is None or match["b64"] is None:
            return "Invalid data URI."
        if match["mime"].lower() not in IMAGE_MEDIA_TYPES:
            return "Unsupported asset type. Data URIs must include the content type of the value they encode."
        try:
            base64.b64decode(match["data"], validate=True)
        except (binascii.Error, ValueError):
            return "Invalid data URI."
        return None
    if len(uri) > URL_MAX_CHARS:
        return "The URL is too long. URLs must not exceed 2048 characters."
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "Invalid URL"
    if not parts.scheme or not parts.netloc:
        return "Invalid URL"
    if parts.scheme != "https":
        return "Only HTTPS URLs are allowed."
    try:
        ipaddress.ip_address((parts.hostname or "").strip("[]"))
    except ValueError:
        return None
    return "URLs must be hosted on a domain."


def parse_json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise errors.unparseable_json() from None


def _expected(field: Field) -> str:
    return {"int": "number", "bool": "boolean", "moderation": "object", "image": "string"}.get(field.kind, "string")


def _received(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


def _invalid_type(path: list[str | int], expected: str, value: Any, *, present: bool = True) -> Issue:
    received = _received(value) if present else "undefined"
    return {
        "expected": expected,
        "code": "invalid_type",
        "path": path,
        "message": f"Invalid input: expected {expected}, received {received}",
    }


def _invalid_option(path: list[str | int], choices: tuple[Any, ...]) -> Issue:
    shown = "|".join(json.dumps(choice) for choice in choices)
    return {
        "code": "invalid_value",
        "values": list(choices),
        "path": path,
        "message": f"Invalid option: expected one of {shown}",
    }


def _unrecognized(path: list[str | int], value: dict[str, Any], known: Iterable[str]) -> list[Issue]:
    """The issue of a strict object given keys it does not have (none when every key is known)."""
    known = set(known)
    unknown = [key for key in value if key not in known]
    if not unknown:
        return []
    noun = "key" if len(unknown) == 1 else "keys"
    message = f"Unrecognized {noun}: " + ", ".join(f'"{key}"' for key in unknown)
    return [{"code": "unrecognized_keys", "keys": unknown, "path": path, "message": message}]


def _custom(path: list[str | int], message: str) -> Issue:
    return {"code": "custom", "path": path, "message": message}
