"""The models the emulator serves, each with the input fields its fal page documents, checked like fal checks them.

fal validates a request's input in the model app, after the queue accepted it: a bad input is submitted
like any other and completes with a 422 whose body is ``{"detail": [<error>, ...]}`` (fal's error reference,
https://docs.fal.ai/errors). Unknown fields are ignored, as the apps' pydantic inputs do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

FieldKind = Literal["string", "enum", "boolean", "number", "integer"]
ERROR_DOCS = "https://docs.fal.ai/errors/#"


@dataclass(frozen=True)
class InputField:
    """One documented input field. ``options`` for enums; ``minimum``/``maximum`` bound numbers inclusively."""

    kind: FieldKind
    required: bool = False
    options: tuple[str, ...] = ()
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class Model:
    """A model endpoint: ``endpoint_id`` is what is submitted to, its first two segments the app."""

    endpoint_id: str
    fields: dict[str, InputField] = field(default_factory=dict)

    @property
    def app_id(self) -> str:
        """``owner/alias``: the queue's status, result and cancel URLs use only these two segments."""
        owner, alias, *_path = self.endpoint_id.split("/")
        return f"{owner}/{alias}"

    def input_with_defaults(self, arguments: dict[str, Any]) -> dict[str, Any]:
        return {
            **{name: spec.default for name, spec in self.fields.items() if spec.default is not None},
            **arguments,
        }


def _prompt() -> InputField:
    return InputField("string", required=True)


_VEO3_FIELDS = {
    "prompt": _prompt(),
    "aspect_ratio": InputField("enum", options=("16:9", "9:16", "1:1"), default="16:9"),
    "duration": InputField("enum", options=("4s", "6s", "8s"), default="8s"),
    "negative_prompt": InputField("string"),
    "enhance_prompt": InputField("boolean", default=True),
    "seed": InputField("integer"),
    "auto_fix": InputField("boolean", default=True),
    "resolution": InputField("enum", options=("720p", "1080p"), default="720p"),
    "generate_audio": InputField("boolean", default=True),
}
_KLING_COMMON = {
    "prompt": _prompt(),
    "duration": InputField("enum", options=("5", "10"), default="5"),
    "negative_prompt": InputField("string", default="blur, distort, and low quality"),
    "cfg_scale": InputField("number", default=0.5, minimum=0.0, maximum=1.0),
}
_HAILUO_COMMON = {
    "prompt": _prompt(),
    "duration": InputField("enum", options=("6", "10"), default="6"),
    "prompt_optimizer": InputField("boolean", default=True),
}

# Field tables from each model's API page (https://fal.ai/models/<endpoint id>/api), in the page's order
# (validation errors list the fields in this order).
MODELS: dict[str, Model] = {
    model.endpoint_id: model
    for model in (
        Model("fal-ai/veo3", dict(_VEO3_FIELDS)),
        Model("fal-ai/veo3/fast", dict(_VEO3_FIELDS)),
        Model(
            "fal-ai/kling-video/v2.1/master/text-to-video",
            {**_KLING_COMMON, "aspect_ratio": InputField("enum", options=("16:9", "9:16", "1:1"), default="16:9")},
        ),
        Model(
            "fal-ai/kling-video/v2.1/master/image-to-video",
            {"prompt": _prompt(), "image_url": InputField("string", required=True), **_KLING_COMMON},
        ),
        Model("fal-ai/minimax/hailuo-02/standard/text-to-video", dict(_HAILUO_COMMON)),
        Model(
            "fal-ai/minimax/hailuo-02/standard/image-to-video",
            {
                "prompt": _prompt(),
                "image_url": InputField("string", required=True),
                **_HAILUO_COMMON,
                "resolution": InputField("enum", options=("512P", "768P"), default="768P"),
                "end_image_url": InputField("string"),
            },
        ),
    )
}


def model_for_path(path: str, models: dict[str, Model]) -> Model | None:
    """The model a submit path (without the leading slash) names, or None."""
    return models.get(path.strip("/"))


def validation_errors(model: Model, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    """fal's error objects for the input, in field order; empty when the input is valid."""
    found: list[dict[str, Any]] = []
    for name, spec in model.fields.items():
        if name not in arguments:
            if spec.required:
                found.append(_error(name, "Field required", "missing", arguments))
            continue
        problem = _field_error(name, spec, arguments[name])
        if problem is not None:
            found.append(problem)
    return found


def _field_error(name: str, spec: InputField, value: Any) -> dict[str, Any] | None:
    if spec.kind in ("string", "enum") and not isinstance(value, str):
        return _error(name, "Input should be a valid string", "string_type", value)
    if spec.kind == "enum" and value not in spec.options:
        quoted = [f"'{option}'" for option in spec.options]
        expected = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
        return _error(name, f"Input should be {expected}", "one_of", value, {"expected": list(spec.options)})
    if spec.kind == "boolean" and not isinstance(value, bool):
        return _error(name, "Input should be a valid boolean", "bool_type", value)
    if spec.kind == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
        return _error(name, "Input should be a valid integer", "int_type", value)
    if spec.kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return _error(name, "Input should be a valid number", "float_type", value)
        if spec.minimum is not None and value < spec.minimum:
            return _error(
                name,
                f"Input should be greater than or equal to {_number(spec.minimum)}",
                "greater_than_equal",
                value,
                {"ge": spec.minimum},
            )
        if spec.maximum is not None and value > spec.maximum:
            return _error(
                name,
                f"Input should be less than or equal to {_number(spec.maximum)}",
                "less_than_equal",
                value,
                {"le": spec.maximum},
            )
    return None


def _error(name: str, msg: str, error_type: str, value: Any, ctx: dict[str, Any] | None = None) -> dict[str, Any]:
    """One entry of ``detail``: ``loc``, ``msg``, ``type`` and ``url`` always, ``ctx`` when the type has one."""
    entry: dict[str, Any] = {"loc": ["body", name], "msg": msg, "type": error_type, "url": ERROR_DOCS + error_type}
    if ctx is not None:
        entry["ctx"] = ctx
    entry["input"] = value
    return entry


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
