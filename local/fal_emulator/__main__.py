"""Run the fal queue emulator in the foreground: ``python -m local.fal_emulator [--port 8766] [--api-key KEY]``."""

from __future__ import annotations

import argparse
import sys

from local.emulation.cli import add_server_arguments, clock_for, serve_until_stopped, server_settings
from local.fal_emulator import FalEmulatorConfig, FalEmulatorServer
from local.fal_emulator.signing import JWKS_PATH


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.fal_emulator", description=__doc__)
    add_server_arguments(parser, default_port=8766)
    parser.add_argument("--concurrency", type=int, default=2, help="requests IN_PROGRESS at once (the rest queue)")
    parser.add_argument("--queue-seconds", type=float, default=1.0, help="least time a request waits in the queue")
    parser.add_argument("--processing-seconds", type=float, default=30.0, help="time a request is IN_PROGRESS")
    parser.add_argument("--user-id", default="emulator-user", help="the user id webhooks are signed for")
    parser.add_argument(
        "--file-expiry-seconds", type=float, default=None, help="output files expire this long after completion"
    )
    args = parser.parse_args(argv)
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = FalEmulatorConfig(
        **server_settings(args),
        concurrency=args.concurrency,
        queue_seconds=args.queue_seconds,
        processing_seconds=args.processing_seconds,
        user_id=args.user_id,
        file_expires_after_seconds=args.file_expiry_seconds,
    )
    server = FalEmulatorServer(config, clock=clock_for(args.manual_clock))
    return serve_until_stopped(
        server,
        "fal queue emulator listening; submit to {base_url}/<model id>, JWKS at {root_url}"
        + JWKS_PATH
        + " (controls under {root_url}/_emulator/). Ctrl-C stops it.",
        quiet=args.quiet,
    )


if __name__ == "__main__":
    sys.exit(main())
