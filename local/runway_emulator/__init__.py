"""A local emulator of Runway's API (``/v1/text_to_video``, ``/v1/image_to_video``, ``/v1/tasks/{id}``,
``/v1/organization``) for local runs, demos and tests; the official ``runwayml`` SDK works against it unchanged::

    with EmulatorServer(EmulatorConfig(api_key="key_test"), clock=ManualClock()) as server:
        client = RunwayML(api_key="key_test", base_url=server.base_url)
"""

from local.emulation.clock import Clock, ManualClock, SystemClock
from local.runway_emulator.faults import Fault
from local.runway_emulator.host import EmulatorConfig
from local.runway_emulator.scenarios import Scenario
from local.runway_emulator.server import EmulatorServer

__all__ = ["Clock", "EmulatorConfig", "EmulatorServer", "Fault", "ManualClock", "Scenario", "SystemClock"]
