"""The chaos run's providers: the OpenAI Videos, fal queue and Runway task emulators on one virtual clock, each
armed with the same faults and the same failing and stuck generations, and asked afterwards what each made (the
creates per prompt, and the content each served).

Jobs are spread over the three by their index; a marker in the prompt picks the generation's scripted outcome at
whichever provider makes it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local.emulation import media
from local.emulation.clock import ManualClock
from local.emulation.server import ScriptedServer
from local.emulator import EmulatorServer
from local.emulator import Fault as OpenAIFault
from local.emulator import Scenario as OpenAIScenario
from local.fal_emulator import FalEmulatorConfig, FalEmulatorServer
from local.fal_emulator import Fault as FalFault
from local.fal_emulator import Scenario as FalScenario
from local.runway_emulator import EmulatorConfig as RunwayEmulatorConfig
from local.runway_emulator import EmulatorServer as RunwayEmulatorServer
from local.runway_emulator import Fault as RunwayFault
from local.runway_emulator import Scenario as RunwayScenario
from sorajobs.catalog import PROVIDER_NAMES, ProviderName
from tests.provider_emulators import FAL_KEY, RUNWAY_KEY

# Where a job's expected outcome is marked in its prompt; each emulator picks the scenario from it.
FAILS, STUCK = "[fails]", "[stuck]"
# What each provider's jobs ask for in POST /videos (a catalog model of each; the gateway's is the default).
SUBMIT_BODIES: dict[ProviderName, dict[str, Any]] = {
    "openai": {"seconds": 4},
    "fal": {"provider": "fal", "model": "fal-ai/veo3/fast", "seconds": 4},
    "runway": {"provider": "runway", "model": "gen4.5", "seconds": 5},
}
# The error code a job ends with when its provider fails the generation as scripted: the provider's own.
FAIL_CODES: dict[ProviderName, str] = {
    "openai": "video_generation_failed",
    "fal": "content_policy_violation",  # the model error's type
    "runway": "INTERNAL.BAD_OUTPUT.CODE01",  # the task's failureCode
}
# The name each emulator gives the paid create, for its faults.
CREATE_OPERATIONS: dict[ProviderName, str] = {"openai": "create", "fal": "submit", "runway": "create"}
# The emulators draw faults and ids from seeds of their own, each derived from the run's.
SEED_OFFSETS: dict[ProviderName, int] = {"openai": 0, "fal": 1, "runway": 2}
# Every fal request gets a runner at once: the queue is not what the run is about.
FAL_RUNNERS = 100_000


def provider_of(index: int) -> ProviderName:
    """Job `index`'s provider: a third of the jobs each, in turn."""
    return PROVIDER_NAMES[index % len(PROVIDER_NAMES)]


@dataclass(frozen=True)
class FaultRates:
    """Shares of all calls (of every operation, downloads included) that fail each way."""

    rate_limited: float  # 429 with retry-after
    server_errors: float  # 500
    # The answer comes too late (the call still happens: a create still creates); the emulator marks it, and the
    # run's clients take it as lost at once.
    timeouts: float
    download_resets: float  # downloads cut mid-body


@dataclass(frozen=True)
class Generation:
    """A generation as the provider that made it knows it."""

    prompt: str
    finished: bool  # the provider has its outcome (made, or failed)
    content_sha256: str | None  # of the video it serves, once made


class ChaosProviders:
    """The three emulators of one run."""

    def __init__(self, openai: EmulatorServer, fal: FalEmulatorServer, runway: RunwayEmulatorServer) -> None:
        self.openai = openai
        self.fal = fal
        self.runway = runway

    def servers(self) -> dict[ProviderName, ScriptedServer[Any]]:
        return {"openai": self.openai, "fal": self.fal, "runway": self.runway}

    def arm(self, rates: FaultRates) -> None:
        """The same faults at every provider, and the same failing and stuck generations."""
        self.openai.add_rule(
            prompt_contains=FAILS, scenario=OpenAIScenario(outcome="failed", fail_code=FAIL_CODES["openai"])
        )
        self.openai.add_rule(prompt_contains=STUCK, scenario=OpenAIScenario(outcome="stuck", stuck_at_progress=40))
        self.fal.add_rule(prompt_contains=FAILS, scenario=FalScenario(outcome="failed", error_type=FAIL_CODES["fal"]))
        self.fal.add_rule(prompt_contains=STUCK, scenario=FalScenario(outcome="stuck"))
        self.runway.add_rule(
            prompt_contains=FAILS, scenario=RunwayScenario(outcome="failed", failure_code=FAIL_CODES["runway"])
        )
        self.runway.add_rule(prompt_contains=STUCK, scenario=RunwayScenario(outcome="stuck", stuck_at_progress=0.4))
        faults = (("openai", OpenAIFault), ("fal", FalFault), ("runway", RunwayFault))
        for name, fault_type in faults:
            server = self.servers()[name]
            # Whatever the size, each provider loses the answer to its first create (which still creates), and
            # refuses its second with a 429, so that the sweep sends a create (where an invocation may die).
            create = CREATE_OPERATIONS[name]
            server.inject(fault_type(operation=create, kind="timeout", times=1))
            server.inject(fault_type(operation=create, status=429, retry_after=2, times=1))
            # The first matching fault wins, so each later one is given its rate among the calls left over.
            left = 1.0
            for fault, rate in (
                (
                    fault_type(operation="any", status=429, retry_after=2, code="rate_limit_exceeded"),
                    rates.rate_limited,
                ),
                (fault_type(operation="any", status=500), rates.server_errors),
                (fault_type(operation="any", kind="timeout"), rates.timeouts),
                (fault_type(operation="download", kind="reset", reset_after_bytes=4096), rates.download_resets),
            ):
                server.inject(fault_type(**{**fault.to_dict(), "probability": min(1.0, rate / left)}))
                left -= rate

    def clear_faults(self) -> None:
        for server in self.servers().values():
            server.clear_faults()

    def flush_webhooks(self) -> None:
        """The webhooks the last clock move made due reach their receiver (Runway sends none)."""
        for name, server in (("openai", self.openai), ("fal", self.fal)):
            if not server.flush_webhooks(timeout=60.0):
                raise RuntimeError(f"the {name} emulator did not send its due webhooks within 60 s")

    def requests(self) -> Counter[ProviderName]:
        """API requests each provider answered (or left unanswered)."""
        return Counter({name: len(server.request_log) for name, server in self.servers().items()})

    def fired_faults(self) -> Counter[str]:
        """How often each injected fault hit, over all providers: "429", "500", "late answer", "cut download"."""
        fired: Counter[str] = Counter()
        for server in self.servers().values():
            for fault in server.faults():
                name = {"timeout": "late answer", "reset": "cut download"}.get(fault["kind"], str(fault["status"]))
                fired[name] += fault["fired"]
        return fired

    def creates(self) -> Counter[tuple[ProviderName, str]]:
        """Creates each provider took (and so may bill), by prompt."""
        made: Counter[tuple[ProviderName, str]] = Counter()
        for video_id in self.openai.video_ids():
            made["openai", self.openai.video(video_id)["prompt"]] += 1
        for request_id in self.fal.request_ids():
            made["fal", str(self.fal.request(request_id)["arguments"].get("prompt"))] += 1
        for task_id in self.runway.task_ids():
            made["runway", str(self.runway.task(task_id)["params"].get("promptText"))] += 1
        return made

    def generation(self, provider: ProviderName, provider_video_id: str) -> Generation | None:
        """The generation behind a job's provider id, at the provider the job names; None if it has none."""
        try:
            if provider == "openai":
                video = self.openai.video(provider_video_id)
                finished = video["status"] in ("completed", "failed")
                made = video["status"] == "completed"
                return Generation(video["prompt"], finished, video["content_sha256"] if made else None)
            if provider == "fal":
                request_id = provider_video_id.rsplit("/requests/", 1)[-1]
                request = self.fal.request(request_id)
                made = request["result_status"] == 200
                content = media.sha256_of_content("video", request["scenario"]["video_bytes"], request_id)
                prompt = str(request["arguments"].get("prompt"))
                return Generation(prompt, request["status"] == "COMPLETED", content if made else None)
            task = self.runway.task(provider_video_id)
            made = task["status"] == "SUCCEEDED"
            finished = task["status"] in ("SUCCEEDED", "FAILED", "CANCELLED")
            return Generation(str(task["params"].get("promptText")), finished, task["content_sha256"] if made else None)
        except KeyError:
            return None

    def fal_requests_of(self, job_id: str, attempt: int) -> list[Generation]:
        """The fal generations made for one attempt of a job (its create names both in the webhook URL)."""
        found = []
        for request_id in self.fal.request_ids():
            query = parse_qs(urlsplit(self.fal.request(request_id)["webhook_url"] or "").query)
            if query.get("job") == [job_id] and query.get("attempt") == [str(attempt)]:
                found.append(self.generation("fal", request_id))
        return [generation for generation in found if generation is not None]


@contextmanager
def fal_and_runway(seed: int, clock: ManualClock) -> Iterator[tuple[FalEmulatorServer, RunwayEmulatorServer]]:
    """The fal and Runway emulators on the run's clock, timed like the OpenAI one (5 s queued, 60 s rendering)."""
    fal_config = FalEmulatorConfig(
        api_key=FAL_KEY,
        concurrency=FAL_RUNNERS,
        queue_seconds=5.0,
        processing_seconds=60.0,
        seed=seed + SEED_OFFSETS["fal"],
        id_seed=seed + SEED_OFFSETS["fal"],
        webhook_timestamps_from_clock=True,
    )
    runway_config = RunwayEmulatorConfig(
        api_key=RUNWAY_KEY,
        pending_seconds=5.0,
        running_seconds=60.0,
        seed=seed + SEED_OFFSETS["runway"],
        id_seed=seed + SEED_OFFSETS["runway"],
    )
    with (
        FalEmulatorServer(fal_config, clock=clock) as fal,
        RunwayEmulatorServer(runway_config, clock=clock) as runway,
    ):
        yield fal, runway
