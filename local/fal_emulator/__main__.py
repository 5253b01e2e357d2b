"""Run the fal queue emulator in the foreground: ``python -m local.fal_emulator [--port 8766] [--api-key KEY]``."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from local.emulation.clock import Clock
from local.emulation.server import serve_in_foreground
from local.fal_emulator import FalEmulatorConfig, FalEmulatorServer, ManualClock, SystemClock


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.fal_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766, help="0 picks a free port")
    parser.add_argument(
        "--api-key", default=None, help="require this FAL_KEY (default: accept any key of the form id:secret)"
    )
    parser.add_argument("--concurrency", type=int, default=2, help="requests IN_PROGRESS at once (the rest queue)")
    parser.add_argument("--queue-seconds", type=float, default=1.0, help="least time a request waits in the queue")
    parser.add_argument("--processing-seconds", type=float, default=30.0, help="time a request is IN_PROGRESS")
    parser.add_argument("--seed", type=int, default=0, help="seed for probabilistic faults and the signing keys")
    parser.add_argument("--user-id", default="emulator-user", help="the user id webhooks are signed for")
    parser.add_argument(
        "--file-expiry-seconds", type=float, default=None, help="output files expire this long after completion"
    )
    parser.add_argument(
        "--manual-clock",
        action="store_true",
        help="freeze time; advance it with POST /_emulator/clock/advance",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    args = parser.parse_args(argv)
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    config = FalEmulatorConfig(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        concurrency=args.concurrency,
        queue_seconds=args.queue_seconds,
        processing_seconds=args.processing_seconds,
        seed=args.seed,
        user_id=args.user_id,
        file_expires_after_seconds=args.file_expiry_seconds,
    )
    clock: Clock = ManualClock(start=time.time()) if args.manual_clock else SystemClock()
    server = FalEmulatorServer(config, clock=clock)
    serve_in_foreground(
        server,
        lambda: (
            f"fal queue emulator listening; submit to {server.base_url}/<model id>, JWKS at {server.jwks_url} "
            f"(controls under {server.root_url}/_emulator/). Ctrl-C stops it."
        ),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
