"""Run the emulator in the foreground: ``python -m local.emulator [--port 8765] [--api-key KEY]``."""

from __future__ import annotations

import argparse
import sys

from local.emulation.cli import add_server_arguments, clock_for, serve_until_stopped, server_settings
from local.emulation.standard_webhooks import standard_webhooks_target
from local.emulator import EmulatorConfig, EmulatorServer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.emulator", description=__doc__)
    add_server_arguments(parser, default_port=8765)
    parser.add_argument("--queue-seconds", type=float, default=2.0)
    parser.add_argument("--render-seconds", type=float, default=10.0)
    parser.add_argument("--webhook-url", default=None, help="POST video.completed / video.failed events here")
    parser.add_argument(
        "--webhook-secret",
        default=None,
        help="Standard Webhooks secret 'whsec_<base64 key>' that signs the events (needs --webhook-url too)",
    )
    args = parser.parse_args(argv)
    if (args.webhook_url is None) != (args.webhook_secret is None):
        parser.error("--webhook-url and --webhook-secret go together")
    try:
        standard_webhooks_target(args.webhook_url, args.webhook_secret)
    except ValueError as error:
        parser.error(str(error))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = EmulatorConfig(
        **server_settings(args),
        queue_seconds=args.queue_seconds,
        render_seconds=args.render_seconds,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
    )
    server = EmulatorServer(config, clock=clock_for(args.manual_clock))
    return serve_until_stopped(
        server,
        "OpenAI Videos API emulator listening; OPENAI_BASE_URL={base_url} "
        "(controls under {root_url}/_emulator/). Ctrl-C stops it.",
        quiet=args.quiet,
    )


if __name__ == "__main__":
    sys.exit(main())
