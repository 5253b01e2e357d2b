"""Run the Runway emulator in the foreground: ``python -m local.runway_emulator [--port 8767] [--api-key KEY]``."""

from __future__ import annotations

import argparse
import sys

from local.emulation.cli import add_server_arguments, clock_for, serve_until_stopped, server_settings
from local.runway_emulator import EmulatorConfig, EmulatorServer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.runway_emulator", description=__doc__)
    add_server_arguments(parser, default_port=8767)
    parser.add_argument("--pending-seconds", type=float, default=2.0)
    parser.add_argument("--throttled-seconds", type=float, default=0.0)
    parser.add_argument("--running-seconds", type=float, default=20.0)
    parser.add_argument(
        "--output-url-lifetime",
        type=float,
        default=86_400.0,
        help="seconds a signed output URL works (Runway: 24-48 hours)",
    )
    parser.add_argument("--credit-balance", type=int, default=100_000)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = EmulatorConfig(
        **server_settings(args),
        pending_seconds=args.pending_seconds,
        throttled_seconds=args.throttled_seconds,
        running_seconds=args.running_seconds,
        output_url_lifetime_seconds=args.output_url_lifetime,
        credit_balance=args.credit_balance,
    )
    server = EmulatorServer(config, clock=clock_for(args.manual_clock))
    return serve_until_stopped(
        server,
        "Runway API emulator listening; RUNWAYML_BASE_URL={base_url} "
        "(controls under {root_url}/_emulator/). Ctrl-C stops it.",
        quiet=args.quiet,
    )


if __name__ == "__main__":
    sys.exit(main())
