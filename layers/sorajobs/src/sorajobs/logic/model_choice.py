"""Which model a submit gets: the provider and model it names (or the deployment's default), checked against
what that model takes. Every refusal lists what would have been accepted."""

from __future__ import annotations

from dataclasses import dataclass

from sorajobs.catalog import Catalog, ModelSpec
from sorajobs.models.api import SubmitVideoRequest
from sorajobs.models.errors import UnsupportedModel, UnsupportedOption


@dataclass(frozen=True)
class ModelChoice:
    spec: ModelSpec
    seconds: str
    size: str


def _offered(catalog: Catalog) -> list[dict[str, str]]:
    return [{"provider": spec.provider, "model": spec.model} for spec in catalog.models]


def choose_model(catalog: Catalog, request: SubmitVideoRequest) -> ModelChoice:
    spec = catalog.find(request.provider, request.model)
    if spec is None:
        if request.provider is not None and request.provider not in catalog.providers:
            what = f"The provider {request.provider!r} is not enabled here."
            loc = "provider"
        else:
            where = f" on {request.provider!r}" if request.provider else ""
            what, loc = f"The model {request.model!r} is not offered{where} here.", "model"
        raise UnsupportedModel(
            what + " GET /models lists what is.", details=[{"loc": ["body", loc], "allowed": _offered(catalog)}]
        )
    seconds = request.seconds or spec.default_seconds
    size = request.size or spec.default_size
    for name, value, allowed in (("seconds", seconds, spec.seconds), ("size", size, spec.sizes)):
        if value not in allowed:
            raise UnsupportedOption(
                f"{spec.model} on {spec.provider} takes {name} {', '.join(allowed)}, not {value}.",
                details=[{"loc": ["body", name], "allowed": list(allowed)}],
            )
    if request.has_image and spec.image_input == "none":
        raise UnsupportedOption(
            f"{spec.model} on {spec.provider} makes video from text only; it takes no image.",
            details=[{"loc": ["body", "image_url"], "allowed": []}],
        )
    if not request.has_image and spec.image_input == "required":
        raise UnsupportedOption(
            f"{spec.model} on {spec.provider} animates an image: send image_url or image_upload_id.",
            details=[{"loc": ["body", "image_url"], "allowed": ["an https URL of a JPEG, PNG or WebP image"]}],
        )
    return ModelChoice(spec=spec, seconds=seconds, size=size)
