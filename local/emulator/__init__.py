"""A local emulator of the OpenAI Videos API (``/v1/videos``) for local runs, demos and tests.

OpenAI retired its hosted Videos API; this real HTTP server speaks the same protocol, so the
official ``openai`` SDK works against it unchanged::

    with EmulatorServer(EmulatorConfig(api_key="sk-test"), clock=ManualClock()) as server:
        client = OpenAI(base_url=server.base_url, api_key="sk-test")
"""

from local.emulation.clock import Clock, ManualClock, SystemClock
from local.emulator.faults import Fault
from local.emulator.host import EmulatorConfig
from local.emulator.scenarios import Scenario
from local.emulator.server import EmulatorServer

__all__ = ["Clock", "EmulatorConfig", "EmulatorServer", "Fault", "ManualClock", "Scenario", "SystemClock"]
