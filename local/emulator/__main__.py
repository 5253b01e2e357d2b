"""Run the emulator in the foreground: ``python -m local.emulator [--port 8765] [--api-key KEY]``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from types import FrameType

from local.emulation.standard_webhooks import standard_webhooks_target
from local.emulator import Clock, EmulatorConfig, EmulatorServer, ManualClock, SystemClock


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--api-key", default=None, help="require this bearer key (default: accept any key)")
    parser.add_argument("--queue-seconds", type=float, default=2.0)
    parser.add_argument("--render-seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0, help="seed for probabilistic faults")
    parser.add_argument(
        "--manual-clock",
        action="store_true",
        help="freeze time; advance it with POST /_emulator/clock/advance",
    )
    parser.add_argument("--webhook-url", default=None, help="POST video.completed / video.failed events here")
    parser.add_argument(
        "--webhook-secret",
        default=None,
        help="Standard Webhooks secret 'whsec_<base64 key>' that signs the events (needs --webhook-url too)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
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
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    config = EmulatorConfig(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        queue_seconds=args.queue_seconds,
        render_seconds=args.render_seconds,
        seed=args.seed,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
    )
    clock: Clock = ManualClock(start=time.time()) if args.manual_clock else SystemClock()
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with EmulatorServer(config, clock=clock) as server:
        print(server.base_url, flush=True)
        print(
            f"OpenAI Videos API emulator listening; OPENAI_BASE_URL={server.base_url} "
            f"(controls under {server.root_url}/_emulator/). Ctrl-C stops it.",
            file=sys.stderr,
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
