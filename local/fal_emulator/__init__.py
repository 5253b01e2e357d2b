"""A local emulator of fal's queue API (``queue.fal.run``) for local runs, demos and tests.

A real HTTP server that follows fal's published protocol: submit to a model id, poll the request's status, read
its result, cancel it, download its output from the emulator's CDN, and receive ED25519-signed webhooks that
verify against the emulator's JWKS::

    with FalEmulatorServer(FalEmulatorConfig(api_key="key-id:key-secret"), clock=ManualClock()) as server:
        httpx.post(f"{server.base_url}/fal-ai/veo3", json={"prompt": "a cat"},
                   headers={"Authorization": "Key key-id:key-secret"})
"""

from local.emulation.clock import Clock, ManualClock, SystemClock
from local.fal_emulator.faults import Fault
from local.fal_emulator.host import FalEmulatorConfig
from local.fal_emulator.models import MODELS, InputField, Model
from local.fal_emulator.scenarios import Scenario
from local.fal_emulator.server import FalEmulatorServer

__all__ = [
    "MODELS",
    "Clock",
    "FalEmulatorConfig",
    "FalEmulatorServer",
    "Fault",
    "InputField",
    "ManualClock",
    "Model",
    "Scenario",
    "SystemClock",
]
