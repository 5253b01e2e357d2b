"""`python -m local.stack` (`make local`): the whole stack, kept up until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import warnings
from pathlib import Path
from types import FrameType

from local.emulator import EmulatorConfig
from local.lambda_runtime import ROOT
from local.stack.banner import QUIET_LOG_LEVEL, banner
from local.stack.environment import ExternalProvider
from local.stack.local_stack import (
    LOCAL_QUEUE_SECONDS,
    LOCAL_RENDER_SECONDS,
    LOCAL_SCHEDULE_SECONDS,
    LOCAL_USER,
    LocalStack,
)

DEFAULT_GATEWAY_PORT = 3000
LOCAL_ADMIN = "local-admin"
ENV_FILE = ROOT / ".local-stack" / "env"


def parse_command_line(argv: list[str] | None) -> argparse.Namespace:
    """The options of `python -m local.stack` (see --help)."""
    parser = argparse.ArgumentParser(prog="python -m local.stack", description="Run the whole stack locally.")
    parser.add_argument("--host", default="127.0.0.1", help="gateway address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_GATEWAY_PORT, help="gateway port; 0 picks a free one")
    parser.add_argument("--queue-seconds", type=float, default=LOCAL_QUEUE_SECONDS, help="emulator queue time")
    parser.add_argument("--render-seconds", type=float, default=LOCAL_RENDER_SECONDS, help="emulator render time")
    parser.add_argument(
        "--schedule-seconds", type=float, default=LOCAL_SCHEDULE_SECONDS, help="sweep interval (60 when deployed)"
    )
    parser.add_argument(
        "--parameter-overrides",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="template parameters, e.g. StatusMinRefreshSeconds=2",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="log everything: the functions' INFO lines (each sweep, each request), the background pollers and every "
        "provider (emulator) request; by default only warnings and errors, so the banner stays in view",
    )
    parser.add_argument(
        "--cors-origins",
        default=os.environ.get("CORS_ALLOWED_ORIGINS", ""),
        metavar="ORIGINS",
        help="browser origins allowed to call the API (CORS), comma-separated, e.g. http://localhost:5173; "
        "default $CORS_ALLOWED_ORIGINS, else none (the template's CorsAllowedOrigins)",
    )
    return parser.parse_args(argv)


def stack_parameters(overrides: list[str], *, verbose: bool, cors_origins: str = "") -> dict[str, str]:
    """The template parameters of `python -m local.stack`: the functions log warnings and errors only unless
    --verbose, and a LogLevel the caller names wins; --cors-origins sets CorsAllowedOrigins. ValueError for an
    override that is not KEY=VALUE."""
    parameters = dict(item.split("=", 1) for item in overrides)
    if not verbose:
        parameters.setdefault("LogLevel", QUIET_LOG_LEVEL)
    if cors_origins:
        parameters["CorsAllowedOrigins"] = cors_origins
    return parameters


def configure_local_logging(*, verbose: bool) -> None:
    """The local components' own logs (scheduler, pollers, gateway, emulators): INFO with --verbose, else
    warnings and errors."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("local").setLevel(logging.INFO if verbose else logging.WARNING)


def _write_env_file(url: str, token: str, admin_token: str) -> Path:
    ENV_FILE.parent.mkdir(exist_ok=True)
    ENV_FILE.write_text(f"export API={url}\nexport TOKEN={token}\nexport ADMIN_TOKEN={admin_token}\n")
    return ENV_FILE


def port_taken_message(error: OSError, port: int) -> str:
    """What `make local` says when the stack cannot start, in the words of the command that runs it."""
    return (
        f"Could not start the local stack: {error}. Is port {port} taken? "
        "Choose another with `make local PORT=3001` (or `python -m local.stack --port 3001`); PORT=0 picks a free one."
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_command_line(argv)
    configure_local_logging(verbose=args.verbose)
    # Powertools warns on every invocation that published no metric; locally metrics are off anyway.
    warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
    try:
        parameters = stack_parameters(args.parameter_overrides, verbose=args.verbose, cors_origins=args.cors_origins)
    except ValueError:
        print("--parameter-overrides takes KEY=VALUE pairs", file=sys.stderr)
        return 2
    stack = LocalStack(
        gateway_host=args.host,
        gateway_port=args.port,
        emulator_config=EmulatorConfig(queue_seconds=args.queue_seconds, render_seconds=args.render_seconds),
        external_provider=ExternalProvider.from_env(),
        parameters=parameters,
        schedule_interval_seconds=args.schedule_seconds,
    )
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.start()
    except OSError as error:
        print(port_taken_message(error, args.port), file=sys.stderr)
        return 1
    try:
        token = stack.mint_token(LOCAL_USER, ["users"])
        admin_token = stack.mint_token(LOCAL_ADMIN, [stack.admin_group])
        env_file = _write_env_file(stack.gateway_url, token, admin_token)
        print(banner(stack, token, admin_token, env_file), flush=True)
        while not stop.wait(0.5):
            pass
        print("Stopping the local stack...", flush=True)
    finally:
        stack.stop()
    return 0
