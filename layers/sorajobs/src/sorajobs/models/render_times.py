"""What this deployment has learned about how long generations take: per kind of job (provider, model, clip
seconds and size) and phase, the count and the sums of the logarithms of the seconds each finished generation took
at the provider. Sums add up without reading (DynamoDB's ADD), so every finish updates them in one write, and a
log-normal distribution follows from them.

The phases: "whole", from the provider's acceptance to its finish (every provider); and, for a provider that
says where a request waits in its queue and when its rendering began (fal), "rendering", from that start to the
finish, "queue", from the acceptance to that start, and "queue_place", the seconds each place ahead in its queue
held a request back."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

RenderPhase = Literal["whole", "rendering", "queue", "queue_place"]


@dataclass(frozen=True)
class RenderKind:
    """Jobs that take about as long as one another: the same provider, model, clip length and size."""

    provider: str
    model: str
    seconds: str
    size: str
    phase: RenderPhase = "whole"

    @property
    def key(self) -> str:
        whole = f"RENDER#{self.provider}#{self.model}#{self.seconds}#{self.size}"
        return whole if self.phase == "whole" else f"{whole}#{self.phase}"


@dataclass(frozen=True)
class RenderSample:
    """Seconds one generation took in one phase: what a transition teaches the learned render times."""

    phase: RenderPhase
    seconds: float


@dataclass(frozen=True)
class RenderTimeSums:
    """Finished generations of one kind: how many, and the sums of ln(seconds) and of its square."""

    count: int = 0
    log_sum: float = 0.0
    log_square_sum: float = 0.0

    def adding(self, seconds: float) -> RenderTimeSums:
        """These sums with one more finish that took `seconds`."""
        logged = log_seconds(seconds)
        return RenderTimeSums(self.count + 1, self.log_sum + logged, self.log_square_sum + logged * logged)


def log_seconds(seconds: float) -> float:
    """What a finish adds to a kind's sums: ln of its seconds, a second at least."""
    return math.log(max(seconds, 1.0))


@dataclass(frozen=True)
class Eta:
    """Seconds until the video is ready at the provider: the most likely, and a range (10th to 90th percentile)."""

    seconds: int
    low: int
    high: int
