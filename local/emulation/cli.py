"""Running an emulator in the foreground from ``python -m ...``: the shared options, the clock, and serving until
SIGINT or SIGTERM with the base URL printed on stdout."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

from local.emulation.clock import Clock, ManualClock, SystemClock
from local.emulation.server import ThreadedServer


def add_server_arguments(parser: argparse.ArgumentParser, *, default_port: int) -> None:
    """--host, --port, --api-key, --seed, --manual-clock and --quiet."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port, help="0 picks a free port")
    parser.add_argument("--api-key", default=None, help="require this bearer key (default: accept any key)")
    parser.add_argument("--seed", type=int, default=0, help="seed for probabilistic faults")
    parser.add_argument(
        "--manual-clock",
        action="store_true",
        help="freeze time; advance it with POST /_emulator/clock/advance",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")


def server_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The config fields the shared options set: host, port, api_key and seed."""
    return {"host": args.host, "port": args.port, "api_key": args.api_key, "seed": args.seed}


def clock_for(manual: bool) -> Clock:
    """A ManualClock starting now, or the system clock."""
    return ManualClock(start=time.time()) if manual else SystemClock()


def serve_until_stopped(server: ThreadedServer, banner: str, *, quiet: bool) -> int:
    """Serve until SIGINT or SIGTERM; print the base URL on stdout and ``banner`` on stderr once listening.
    ``quiet`` logs warnings only, not each request."""
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(message)s")
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with server:
        print(server.base_url, flush=True)
        print(banner.format(base_url=server.base_url, root_url=server.root_url), file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    return 0
