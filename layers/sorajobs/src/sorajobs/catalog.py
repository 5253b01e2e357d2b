"""The models each provider offers here: allowed durations and sizes, whether an image goes in, and list price.

Sizes are "WIDTHxHEIGHT" for every provider; each provider module turns a size into its own words (Runway's
ratio "1280:720", fal's aspect ratio "16:9"). Prices are the providers' published list prices per generated
second when this table was written; PRICE_TABLE overrides them per model.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict

ProviderName = Literal["openai", "fal", "runway"]
PROVIDER_NAMES: tuple[ProviderName, ...] = ("openai", "fal", "runway")
ImageInput = Literal["none", "optional", "required"]

LANDSCAPE, PORTRAIT = "1280x720", "720x1280"


class ProviderCapabilities(BaseModel):
    """What a provider offers; the README's provider table and `GET /models` show these."""

    model_config = ConfigDict(frozen=True)

    progress: bool
    queue_position: bool
    webhooks: bool
    cancel: bool
    # It can list recent generations, so a create whose answer was lost is found, not paid for twice.
    finds_lost_creates: bool
    thumbnails: bool
    # How long the provider serves a finished output's URL (None: until deleted).
    output_lifetime_seconds: int | None


CAPABILITIES: dict[ProviderName, ProviderCapabilities] = {
    "openai": ProviderCapabilities(
        progress=True,
        queue_position=False,
        webhooks=True,
        cancel=False,  # DELETE /videos/{id} deletes a finished video; there is no cancel
        finds_lost_creates=True,  # GET /videos lists the newest generations
        thumbnails=True,
        output_lifetime_seconds=3600,
    ),
    "fal": ProviderCapabilities(
        progress=False,  # IN_PROGRESS carries logs, not a fraction
        queue_position=True,
        webhooks=True,  # ?fal_webhook=, ED25519-signed
        cancel=True,  # PUT .../cancel, while queued
        finds_lost_creates=False,  # the queue cannot be listed
        thumbnails=False,
        output_lifetime_seconds=None,
    ),
    "runway": ProviderCapabilities(
        progress=True,  # RUNNING carries progress 0-1
        queue_position=False,
        webhooks=False,  # the sweep carries Runway jobs
        cancel=True,  # DELETE /v1/tasks/{id}
        finds_lost_creates=False,  # tasks cannot be listed
        thumbnails=False,
        output_lifetime_seconds=24 * 3600,  # output URLs expire within 24-48 h; a new GET gives fresh ones
    ),
}


class ModelSpec(BaseModel):
    """One model a job may name."""

    model_config = ConfigDict(frozen=True)

    provider: ProviderName
    model: str
    seconds: tuple[str, ...]
    sizes: tuple[str, ...]
    image_input: ImageInput = "none"
    # US dollars per generated second, by size ("*" = any size).
    usd_per_second: dict[str, float]
    description: str = ""

    @property
    def default_seconds(self) -> str:
        return self.seconds[0]

    @property
    def default_size(self) -> str:
        return self.sizes[0]


# The OpenAI-Videos-compatible gateway serves whatever names it likes; these are the ones it takes by default,
# and ALLOWED_MODELS names others (which then take these durations and sizes).
OPENAI_SECONDS = ("4", "8", "12")
OPENAI_SIZES = (PORTRAIT, LANDSCAPE, "1024x1792", "1792x1024")
OPENAI_MODELS = (
    ModelSpec(
        provider="openai",
        model="sora-2",
        seconds=OPENAI_SECONDS,
        sizes=(PORTRAIT, LANDSCAPE),
        usd_per_second={"*": 0.10},
        description="Sora 2 through an OpenAI-Videos-compatible gateway",
    ),
    ModelSpec(
        provider="openai",
        model="sora-2-pro",
        seconds=OPENAI_SECONDS,
        sizes=OPENAI_SIZES,
        usd_per_second={"*": 0.30, "1024x1792": 0.50, "1792x1024": 0.50},
        description="Sora 2 Pro through an OpenAI-Videos-compatible gateway",
    ),
)

FAL_MODELS = (
    ModelSpec(
        provider="fal",
        model="fal-ai/veo3/fast",
        seconds=("8", "4", "6"),
        sizes=(LANDSCAPE, PORTRAIT),
        usd_per_second={"*": 0.40},
        description="Google Veo 3 Fast on fal, with audio",
    ),
    ModelSpec(
        provider="fal",
        model="fal-ai/veo3",
        seconds=("8", "4", "6"),
        sizes=(LANDSCAPE, PORTRAIT),
        usd_per_second={"*": 0.75},
        description="Google Veo 3 on fal, with audio",
    ),
    ModelSpec(
        provider="fal",
        model="fal-ai/kling-video/v2.1/master/text-to-video",
        seconds=("5", "10"),
        sizes=(LANDSCAPE, PORTRAIT, "1080x1080"),
        usd_per_second={"*": 0.28},
        description="Kling 2.1 Master text-to-video on fal",
    ),
    ModelSpec(
        provider="fal",
        model="fal-ai/kling-video/v2.1/master/image-to-video",
        seconds=("5", "10"),
        sizes=(LANDSCAPE,),
        image_input="required",
        usd_per_second={"*": 0.28},
        description="Kling 2.1 Master image-to-video on fal (the video takes the image's shape)",
    ),
)

RUNWAY_MODELS = (
    ModelSpec(
        provider="runway",
        model="gen4.5",
        seconds=("5", "10"),
        sizes=(LANDSCAPE, PORTRAIT),
        image_input="optional",
        usd_per_second={"*": 0.12},
        description="Runway Gen-4.5, text or image to video",
    ),
    ModelSpec(
        provider="runway",
        model="gen4_turbo",
        seconds=("5", "10"),
        sizes=(LANDSCAPE, PORTRAIT),
        image_input="required",
        usd_per_second={"*": 0.05},
        description="Runway Gen-4 Turbo, image to video",
    ),
    ModelSpec(
        provider="runway",
        model="veo3.1",
        seconds=("8", "4", "6"),
        sizes=(LANDSCAPE, PORTRAIT),
        image_input="optional",
        usd_per_second={"*": 0.40},
        description="Google Veo 3.1 through Runway",
    ),
)

BUILT_IN_MODELS: dict[ProviderName, tuple[ModelSpec, ...]] = {
    "openai": OPENAI_MODELS,
    "fal": FAL_MODELS,
    "runway": RUNWAY_MODELS,
}


def openai_gateway_model(name: str) -> ModelSpec:
    """A model of the OpenAI-Videos-compatible gateway: the built-in entry, or one with Sora's durations and sizes."""
    for spec in OPENAI_MODELS:
        if spec.model == name:
            return spec
    return ModelSpec(provider="openai", model=name, seconds=OPENAI_SECONDS, sizes=OPENAI_SIZES, usd_per_second={})


class Catalog:
    """The models this deployment offers, by provider, in the order a default is taken."""

    def __init__(self, models: Iterable[ModelSpec]) -> None:
        self.models: tuple[ModelSpec, ...] = tuple(models)

    @property
    def providers(self) -> tuple[ProviderName, ...]:
        return tuple(dict.fromkeys(spec.provider for spec in self.models))

    def of_provider(self, provider: str) -> tuple[ModelSpec, ...]:
        return tuple(spec for spec in self.models if spec.provider == provider)

    def find(self, provider: str | None, model: str | None) -> ModelSpec | None:
        """The model asked for: by provider and model, the provider's first model, the first provider
        offering the model, or (neither given) the deployment's default."""
        for spec in self.models:
            if (provider is None or spec.provider == provider) and (model is None or spec.model == model):
                return spec
        return None

    def price_table(self) -> dict[str, dict[str, float]]:
        return {spec.model: dict(spec.usd_per_second) for spec in self.models if spec.usd_per_second}
