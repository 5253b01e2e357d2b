"""Reading and checking the emulator's request bodies as the OpenAI Videos API does: JSON and multipart bodies,
the create parameters, reference images and list limits."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Request

from local.emulation.api import read_json_object
from local.emulator import errors
from local.emulator.errors import ApiError

PROMPT_MAX_CHARS = 32_000
SECONDS = ["4", "8", "12"]
SIZES = ["720x1280", "1280x720", "1024x1792", "1792x1024"]
CREATE_FIELDS = ("prompt", "model", "seconds", "size", "input_reference")
REFERENCE_MIME_TYPES = ("image/jpeg", "image/png", "image/webp")
_SNAPSHOT_SUFFIX = re.compile(r"^-\d{4}-\d{2}-\d{2}$")

MISSING = object()


UNPARSEABLE_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
    "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)"
)


def json_object(request: Request) -> dict[str, Any]:
    return read_json_object(request, ApiError, UNPARSEABLE_JSON)


def read_body(request: Request) -> tuple[dict[str, Any], dict[str, FileStorage]]:
    """Fields and file parts of a JSON, multipart or urlencoded body."""
    mimetype = request.mimetype
    if mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        fields: dict[str, Any] = {key: request.form[key] for key in request.form}
        files = {key: request.files[key] for key in request.files}
        return fields, files
    if mimetype in ("application/json", "") or mimetype.endswith("+json"):
        return json_object(request), {}
    raise ApiError(
        400,
        f"Unsupported content type: '{mimetype}'. This API method only accepts 'application/json' "
        "and 'multipart/form-data' requests.",
    )


def validate_prompt(prompt: Any) -> str:
    if prompt is MISSING or prompt is None:
        raise errors.missing_parameter("prompt")
    if not isinstance(prompt, str):
        raise errors.invalid_type("prompt", "a string", prompt)
    if not prompt:
        raise ApiError(
            400,
            "Invalid 'prompt': string too short. Expected a string with minimum length 1, "
            "but got an empty string instead.",
            param="prompt",
            code="string_below_min_length",
        )
    if len(prompt) > PROMPT_MAX_CHARS:
        raise ApiError(
            400,
            f"Invalid 'prompt': string too long. Expected a string with maximum length {PROMPT_MAX_CHARS}, "
            f"but got a string with length {len(prompt)} instead.",
            param="prompt",
            code="string_above_max_length",
        )
    return prompt


def validate_choice(param: str, value: Any, allowed: list[str]) -> str:
    if not isinstance(value, str):
        raise errors.invalid_type(param, "one of " + ", ".join(f"'{a}'" for a in allowed), value)
    if value not in allowed:
        raise errors.invalid_value(param, value, allowed)
    return value


def validate_reference_file(upload: FileStorage) -> dict[str, Any]:
    data = upload.read()
    mimetype = upload.mimetype or ""
    if mimetype not in REFERENCE_MIME_TYPES:
        mimetype = sniff_image(data) or mimetype
    if mimetype not in REFERENCE_MIME_TYPES:
        raise ApiError(
            400,
            f"Invalid file format for 'input_reference': '{mimetype or 'unknown'}'. "
            "Supported formats are: 'image/jpeg', 'image/png', and 'image/webp'.",
            param="input_reference",
            code="invalid_value",
        )
    return {
        "type": "file",
        "filename": upload.filename,
        "content_type": mimetype,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def validate_reference_object(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise errors.invalid_type("input_reference", "a file or an object", value) from None
    if not isinstance(value, dict):
        raise errors.invalid_type("input_reference", "a file or an object", value)
    for key in value:
        if key not in ("image_url", "file_id"):
            raise errors.unknown_parameter(f"input_reference.{key}")
    if len(value) != 1:
        raise ApiError(
            400,
            "Invalid 'input_reference': provide exactly one of 'image_url' or 'file_id'.",
            param="input_reference",
            code="invalid_value",
        )
    ((key, ref),) = value.items()
    if not isinstance(ref, str) or not ref:
        raise errors.invalid_type(f"input_reference.{key}", "a non-empty string", ref)
    return {"type": key, key: ref}


def sniff_image(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def parse_limit(raw: str | None, maximum: int) -> int:
    if raw is None or raw == "":
        return 20
    try:
        limit = int(raw)
    except ValueError:
        raise errors.invalid_type("limit", "an integer", raw) from None
    if limit < 1:
        raise ApiError(
            400,
            f"Invalid 'limit': integer below minimum value. Expected a value >= 1, but got {limit} instead.",
            param="limit",
            code="integer_below_min_value",
        )
    if limit > maximum:
        raise ApiError(
            400,
            f"Invalid 'limit': integer above maximum value. Expected a value <= {maximum}, but got {limit} instead.",
            param="limit",
            code="integer_above_max_value",
        )
    return limit


def validate_create(fields: dict[str, Any], files: dict[str, FileStorage], models: list[str]) -> dict[str, Any]:
    """The parameters of a create, checked as the OpenAI Videos API checks them."""
    for name in [*fields, *files]:
        if name not in CREATE_FIELDS:
            raise errors.unknown_parameter(name)
    params: dict[str, Any] = {"prompt": validate_prompt(fields.get("prompt", MISSING))}
    model = fields.get("model", "sora-2")
    if not isinstance(model, str):
        raise errors.invalid_type("model", "a string", model)
    if not model_allowed(model, models):
        raise errors.invalid_value("model", model, list(models))
    params["model"] = model
    params["seconds"] = validate_choice("seconds", fields.get("seconds", "4"), SECONDS)
    params["size"] = validate_choice("size", fields.get("size", "720x1280"), SIZES)
    if "input_reference" in files:
        params["input_reference"] = validate_reference_file(files["input_reference"])
    elif "input_reference" in fields:
        params["input_reference"] = validate_reference_object(fields["input_reference"])
    return params


def model_allowed(model: str, models: list[str]) -> bool:
    """A configured model, or a dated snapshot of one (`sora-2-2025-10-06`)."""
    for allowed in models:
        if model == allowed:
            return True
        if model.startswith(allowed) and _SNAPSHOT_SUFFIX.match(model[len(allowed) :]):
            return True
    return False
