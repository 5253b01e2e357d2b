"""The video models the emulator accepts on each endpoint, with their fields as the ``runwayml`` SDK (5.24) types
them (``types/text_to_video_create_params.py``, ``types/image_to_video_create_params.py``) and their credit rates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TEXT_TO_VIDEO = "text_to_video"
IMAGE_TO_VIDEO = "image_to_video"

GEN4_RATIOS = ("1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672")
GEN45_I2V_RATIOS = ("1280:720", "720:1280", "1104:832", "960:960", "832:1104", "1584:672")
GEN45_T2V_RATIOS = ("1280:720", "720:1280")
VEO_RATIOS = ("1280:720", "720:1280", "1080:1920", "1920:1080")
VEO_DURATIONS = (4, 6, 8)
OUTPUT_FORMATS = (
    "mp4",
    "prores",
    "png_sequence",
    "hdr10",
    "hlg",
    "sdr_rec709_10bit",
    "hdr_pq_12bit_master",
    "hdr_prores",
    "hdr_png_sequence",
    "hdr_exr_sequence",
    "hdr_exr_acescg_sequence_1_3",
    "hdr_exr_acescg_sequence_2_0",
)
PRORES_PROFILES = ("422", "4444", "422 Proxy", "422 LT", "422 HQ", "4444 XQ")
PROMPT_MAX_UTF16_UNITS = 1000
SEED_MAX = 4_294_967_295


@dataclass(frozen=True)
class Field:
    """One body field. ``kind``: string, int, bool, choice, image (promptImage) or moderation (contentModeration)."""

    kind: str
    required: bool = False
    choices: tuple[Any, ...] = ()
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True)
class ModelSpec:
    name: str
    fields: dict[str, Field]
    # Credits per second of output (with audio, for the Veo models, which default to audio on).
    credits_per_second: int
    default_duration: int
    # Positions a promptImage array may use ("first" only for Gen-4 models).
    image_positions: tuple[str, ...] = ("first",)
    credits_per_second_without_audio: int | None = None


_PROMPT = Field("string", minimum=1, maximum=PROMPT_MAX_UTF16_UNITS)
_REQUIRED_PROMPT = Field("string", required=True, minimum=1, maximum=PROMPT_MAX_UTF16_UNITS)
_SEED = Field("int", minimum=0, maximum=SEED_MAX)
_MODEL = Field("string", required=True)
_IMAGE = Field("image", required=True)
_MODERATION = Field("moderation")
_GEN_DURATION = Field("int", required=True, minimum=2, maximum=10)
_VEO_DURATION = Field("choice", choices=VEO_DURATIONS)


def _gen45(ratios: tuple[str, ...], *, image: bool) -> ModelSpec:
    fields = {
        "model": _MODEL,
        "promptText": _REQUIRED_PROMPT,
        "ratio": Field("choice", required=True, choices=ratios),
        "duration": _GEN_DURATION,
        "contentModeration": _MODERATION,
        "outputFormat": Field("choice", choices=OUTPUT_FORMATS),
        "proresProfile": Field("choice", choices=PRORES_PROFILES),
        "seed": _SEED,
    }
    if image:
        fields["promptImage"] = _IMAGE
    return ModelSpec("gen4.5", fields, credits_per_second=12, default_duration=5)


def _veo(name: str, *, image: bool, with_audio: int, without_audio: int) -> ModelSpec:
    fields = {
        "model": _MODEL,
        "promptText": _PROMPT if image else _REQUIRED_PROMPT,
        "ratio": Field("choice", required=True, choices=VEO_RATIOS),
        "audio": Field("bool"),
        "duration": _VEO_DURATION,
        "negativePrompt": Field("string"),
        "seed": _SEED,
    }
    if image:
        fields["promptImage"] = _IMAGE
    return ModelSpec(
        name,
        fields,
        credits_per_second=with_audio,
        default_duration=8,
        image_positions=("first", "last"),
        credits_per_second_without_audio=without_audio,
    )


_GEN4_TURBO = ModelSpec(
    "gen4_turbo",
    {
        "model": _MODEL,
        "promptImage": _IMAGE,
        "ratio": Field("choice", required=True, choices=GEN4_RATIOS),
        "contentModeration": _MODERATION,
        "duration": Field("int", minimum=2, maximum=10),
        "promptText": _PROMPT,
        "seed": _SEED,
    },
    credits_per_second=5,
    default_duration=10,
)

MODELS: dict[str, dict[str, ModelSpec]] = {
    TEXT_TO_VIDEO: {
        "gen4.5": _gen45(GEN45_T2V_RATIOS, image=False),
        "veo3.1": _veo("veo3.1", image=False, with_audio=40, without_audio=20),
        "veo3.1_fast": _veo("veo3.1_fast", image=False, with_audio=15, without_audio=10),
    },
    IMAGE_TO_VIDEO: {
        "gen4_turbo": _GEN4_TURBO,
        "gen4.5": _gen45(GEN45_I2V_RATIOS, image=True),
        "veo3.1": _veo("veo3.1", image=True, with_audio=40, without_audio=20),
        "veo3.1_fast": _veo("veo3.1_fast", image=True, with_audio=15, without_audio=10),
    },
}


def all_model_names() -> list[str]:
    return sorted({name for specs in MODELS.values() for name in specs})


def estimated_credits(spec: ModelSpec, params: dict[str, Any]) -> int:
    """Credits the task may charge: the model's per-second rate times the duration."""
    duration = int(params.get("duration", spec.default_duration))
    rate = spec.credits_per_second
    if params.get("audio") is False and spec.credits_per_second_without_audio is not None:
        rate = spec.credits_per_second_without_audio
    return rate * duration
