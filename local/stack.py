"""The whole stack in one process, with no cloud and no Docker: `python -m local.stack` (`make local`).

- AWS: moto in server mode (DynamoDB, S3, SQS, Secrets Manager), resources created from template.yaml.
- Providers: the OpenAI Videos, fal queue and Runway tasks emulators, their keys kept in the moto secrets so the
  functions read them the deployed way; or, for `openai`, a real compatible endpoint when OPENAI_BASE_URL and
  OPENAI_API_KEY are both set.
- HTTP API: local/gateway.py, with development JWTs in place of the JWT authorizer.
- EventBridge Scheduler and the SQS and DynamoDB stream event sources: local/scheduler.py,
  local/sqs_poller.py and local/stream_poller.py.

Tests and the demo use `LocalStack` directly (see its docstring).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import secrets
import shlex
import signal
import sys
import threading
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from local.devtoken import DEFAULT_TTL_SECONDS, DevTokens
from local.emulator import Clock as EmulatorClock
from local.emulator import EmulatorConfig, EmulatorServer
from local.fal_emulator import FalEmulatorConfig, FalEmulatorServer
from local.gateway import LocalHttpGateway
from local.lambda_runtime import REGION, ROOT, STACK_NAME, LocalFunctions, context_carrying_pool
from local.moto_server import MotoServer
from local.resources import (
    PROVIDER_WEBHOOK_SECRET_NAME,
    WEBHOOK_SIGNING_SECRET_NAME,
    StackResources,
    create_stack_resources,
)
from local.runway_emulator import EmulatorConfig as RunwayEmulatorConfig
from local.runway_emulator import EmulatorServer as RunwayEmulatorServer
from local.scheduler import PollSoraStatusScheduler
from local.sqs_poller import SqsPoller
from local.stream_poller import StreamPoller
from local.template import cors_rules, load_template

if TYPE_CHECKING:
    # Imported for typing only: sorajobs is first imported once the functions' environment is in place.
    from sorajobs.clock import Clock as BackendClock
    from sorajobs.wiring import Wiring

log = logging.getLogger("local.stack")

LOCAL_QUEUE_SECONDS = 2.0
LOCAL_RENDER_SECONDS = 10.0
LOCAL_SCHEDULE_SECONDS = 2.0
DEFAULT_GATEWAY_PORT = 3000
# `make local` shows the functions' warnings and errors only, so the banner and the tokens stay in view; routine
# INFO lines (a sweep every 2 s, each request) come with --verbose (`make local VERBOSE=1`).
QUIET_LOG_LEVEL = "WARN"
LOCAL_USER = "local-user"
LOCAL_ADMIN = "local-admin"
ENV_FILE = ROOT / ".local-stack" / "env"

# Locally there is no X-Ray daemon and no CloudWatch; set them in the shell to see traces or EMF lines.
_LOCAL_DEFAULTS = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    # Local receivers listen on http://127.0.0.1, which deployed stacks refuse.
    "WEBHOOK_ALLOW_LOCAL_HTTP": "true",
}
_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}

_Component = TypeVar("_Component")
_running_lock = threading.Lock()
_running: LocalStack | None = None


@dataclass(frozen=True)
class ExternalProvider:
    """A real OpenAI-Videos-compatible endpoint instead of the emulator."""

    base_url: str
    api_key: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ExternalProvider | None:
        """Both OPENAI_BASE_URL and OPENAI_API_KEY set: a key alone never sends local jobs to a paid API."""
        environ = os.environ if environ is None else environ
        base_url, api_key = environ.get("OPENAI_BASE_URL"), environ.get("OPENAI_API_KEY")
        return cls(base_url, api_key) if base_url and api_key else None


class _EnvironmentPatch:
    """Changes os.environ for the functions and puts every changed variable back on restore()."""

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    def set(self, name: str, value: str) -> None:
        self._saved.setdefault(name, os.environ.get(name))
        os.environ[name] = value

    def unset(self, name: str) -> None:
        self._saved.setdefault(name, os.environ.get(name))
        os.environ.pop(name, None)

    def restore(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved.clear()


def function_environment(resources: StackResources, parameters: Mapping[str, str] | None = None) -> dict[str, str]:
    """Globals.Function.Environment of template.yaml, resolved: parameters (defaults or overrides) and resources."""
    template = load_template()
    declared = template.get("Parameters", {})
    overrides = dict(parameters or {})
    if unknown := set(overrides) - set(declared):
        raise ValueError(f"template.yaml has no parameter(s) {sorted(unknown)}")
    references = {
        "JobsTable": resources.table_name,
        "VideosBucket": resources.bucket_name,
        "StoreVideoQueue": resources.queue_url,
        # Ref gives the secret's ARN in AWS; its name finds it just the same.
        "OpenAIApiKeySecret": resources.secret_name,
        "WebhookDeliveryQueue": resources.webhook_queue_url,
        "WebhookDeadLetterQueue": resources.webhook_dead_letter_queue_url,
        "WebhookSigningSecret": WEBHOOK_SIGNING_SECRET_NAME,
        "ProviderWebhookSecret": PROVIDER_WEBHOOK_SECRET_NAME,
        "FalKeySecret": resources.fal_secret_name,
        "RunwayApiKeySecret": resources.runway_secret_name,
    }
    environment = {}
    for name, declared_value in template["Globals"]["Function"]["Environment"]["Variables"].items():
        value = declared_value
        if isinstance(declared_value, dict) and "Ref" in declared_value:
            ref = declared_value["Ref"]
            if ref in references:
                value = references[ref]
            elif ref in declared:
                value = overrides.get(ref, declared[ref].get("Default", ""))
            else:
                raise ValueError(f"cannot resolve !Ref {ref} of {name} locally")
        elif isinstance(declared_value, dict):
            raise ValueError(f"cannot resolve {declared_value} of {name} locally")
        environment[name] = str(value)
    return environment


class LocalStack:
    """Every part of the stack, started and stopped together; one per process (os.environ is shared).

    ::

        with LocalStack(emulator_clock=ManualClock(), backend_clock=..., background=False) as stack:
            token = stack.mint_token("user-1")
            httpx.post(f"{stack.gateway_url}/videos", headers={"Authorization": f"Bearer {token}"}, ...)
            stack.scheduler.run_once()
            stack.store_poller.drain()

    `parameters` overrides template parameters (like `sam deploy --parameter-overrides`).
    `backend_clock` (a sorajobs clock) replaces the functions' clock; `emulator_clock` the provider's.
    `background=False` leaves the scheduler and the pollers (store, stream, webhook) to be driven by hand.
    """

    def __init__(
        self,
        *,
        gateway_host: str = "127.0.0.1",
        gateway_port: int = 0,
        emulator_config: EmulatorConfig | None = None,
        emulator_clock: EmulatorClock | None = None,
        external_provider: ExternalProvider | None = None,
        backend_clock: BackendClock | None = None,
        parameters: Mapping[str, str] | None = None,
        schedule_interval_seconds: float = LOCAL_SCHEDULE_SECONDS,
        background: bool = True,
        jwt_secret: str | None = None,
        provider_webhooks: bool = True,
        native_providers: bool = True,
    ) -> None:
        self._gateway_host = gateway_host
        self._gateway_port = gateway_port
        self._emulator_config = emulator_config or EmulatorConfig(
            queue_seconds=LOCAL_QUEUE_SECONDS, render_seconds=LOCAL_RENDER_SECONDS
        )
        self._emulator_clock = emulator_clock
        self.external_provider = external_provider
        self._backend_clock = backend_clock
        # The local scheduler fires the sweep every few seconds, so each run is a single pass; every provider's
        # emulator runs, so jobs may name any of them.
        enabled = "openai,fal,runway" if native_providers else "openai"
        self.parameters = {"SweepMode": "one-shot", "EnabledProviders": enabled, **dict(parameters or {})}
        self.native_providers = native_providers
        self.schedule_interval_seconds = schedule_interval_seconds
        self.background = background
        # The emulator posts signed video.completed / video.failed to the gateway (off: sweep only).
        self.provider_webhooks = provider_webhooks
        self.tokens = DevTokens(secret=jwt_secret) if jwt_secret else DevTokens.from_env()
        self._environment = _EnvironmentPatch()
        self._moto: MotoServer | None = None
        self.emulator: EmulatorServer | None = None
        self.fal_emulator: FalEmulatorServer | None = None
        self.runway_emulator: RunwayEmulatorServer | None = None
        self.resources: StackResources | None = None
        self.boto3_session: Any = None
        self.functions: LocalFunctions | None = None
        self._gateway: LocalHttpGateway | None = None
        self._scheduler: PollSoraStatusScheduler | None = None
        self._store_poller: SqsPoller | None = None
        self._webhook_poller: SqsPoller | None = None
        self._stream_poller: StreamPoller | None = None
        self._wiring: Wiring | None = None
        self._function_log_level: _FunctionLogLevel | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> LocalStack:
        global _running  # noqa: PLW0603 - the one stack that owns this process's environment
        with _running_lock:
            if _running is not None:
                raise RuntimeError("a LocalStack is already running in this process")
            _running = self
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        import boto3

        self._moto = MotoServer().start()
        self._moto.reset()
        for name, value in {**_FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": self._moto.url}.items():
            self._environment.set(name, value)
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            self._environment.unset(name)
        no_proxy = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1,localhost"]))
        self._environment.set("NO_PROXY", no_proxy)
        self._environment.set("no_proxy", no_proxy)
        self.boto3_session = boto3.session.Session(region_name=REGION)

        if self.external_provider is None:
            api_key = f"sk-local-{secrets.token_hex(16)}"
            config = dataclasses.replace(self._emulator_config, api_key=api_key)
            self.emulator = EmulatorServer(config, clock=self._emulator_clock).start()
            base_url = self.emulator.base_url
        else:
            api_key, base_url = self.external_provider.api_key, self.external_provider.base_url
        fal_key, runway_key = f"fal-local:{secrets.token_hex(16)}", f"key_local_{secrets.token_hex(16)}"
        if self.native_providers:
            self._start_native_emulators(fal_key, runway_key)
        self.resources = create_stack_resources(
            self.boto3_session, openai_api_key=api_key, fal_key=fal_key, runway_api_key=runway_key
        )

        environment = function_environment(self.resources, {**self.parameters, "OpenAIBaseUrl": base_url})
        for name, value in environment.items():
            self._environment.set(name, value)
        for name, value in _LOCAL_DEFAULTS.items():
            self._environment.set(name, os.environ.get(name, value))
        # Lambda sets it per function; Powertools prefixes idempotency keys with it.
        self._environment.set("AWS_LAMBDA_FUNCTION_NAME", STACK_NAME)
        # The functions read the keys from the secrets, as deployed.
        for name in ("OPENAI_API_KEY", "FAL_KEY", "RUNWAYML_API_SECRET", "FAL_WEBHOOK_URL"):
            self._environment.unset(name)
        if self.fal_emulator is not None and self.runway_emulator is not None:
            self._environment.set("FAL_QUEUE_URL", self.fal_emulator.base_url)
            self._environment.set("FAL_JWKS_URL", self.fal_emulator.jwks_url)
            self._environment.set("RUNWAY_BASE_URL", self.runway_emulator.base_url)
        self._wiring = _wiring_from_environment(self._backend_clock)
        self._apply_function_log_level(environment["POWERTOOLS_LOG_LEVEL"])

        self.functions = LocalFunctions(wiring=lambda: self._wiring)
        self._gateway = LocalHttpGateway(
            self.functions,
            tokens=self.tokens,
            host=self._gateway_host,
            port=self._gateway_port,
            cors=cors_rules(self.parameters),
        ).start()
        self._scheduler = PollSoraStatusScheduler(self.functions, interval_seconds=self.schedule_interval_seconds)
        sqs = self.client("sqs")
        self._store_poller = SqsPoller(self.functions, sqs, self.resources.queue_url, "StoreVideoFunction")
        self._webhook_poller = SqsPoller(
            self.functions, sqs, self.resources.webhook_queue_url, "DeliverWebhookFunction"
        )
        table = self.client("dynamodb").describe_table(TableName=self.resources.table_name)["Table"]
        self._stream_poller = StreamPoller(self.functions, self.client("dynamodbstreams"), table["LatestStreamArn"])
        if self.emulator is not None and self.provider_webhooks:
            # The provider tells the backend when a video finishes, as a registered webhook would.
            self.emulator.configure_webhooks(
                f"{self.gateway_url}/provider-webhooks/openai", self.resources.provider_webhook_secret
            )
        if self.fal_emulator is not None and self.provider_webhooks:
            # Each fal create names this URL (FalWebhookUrl); known only now that the gateway listens.
            self._environment.set("FAL_WEBHOOK_URL", f"{self.gateway_url}/provider-webhooks/fal")
            self._wiring = _wiring_from_environment(self._backend_clock)
        if self.background:
            for component in (self._scheduler, self._store_poller, self._stream_poller, self._webhook_poller):
                component.start()

    def _apply_function_log_level(self, level: str) -> None:
        """The functions' POWERTOOLS_LOG_LEVEL (the LogLevel parameter), also on loggers this process built before
        the stack set it, as each Lambda process reads it when it starts."""
        self._function_log_level = _FunctionLogLevel.apply(level)

    def _start_native_emulators(self, fal_key: str, runway_key: str) -> None:
        """fal's queue and Runway's tasks, as quick as the OpenAI emulator, on the same clock."""
        queue, render = self._emulator_config.queue_seconds, self._emulator_config.render_seconds
        fal_config = FalEmulatorConfig(api_key=fal_key, queue_seconds=queue, processing_seconds=render)
        self.fal_emulator = FalEmulatorServer(fal_config, clock=self._emulator_clock).start()
        runway_config = RunwayEmulatorConfig(api_key=runway_key, pending_seconds=queue, running_seconds=render)
        self.runway_emulator = RunwayEmulatorServer(runway_config, clock=self._emulator_clock).start()

    def stop(self) -> None:
        """Stops everything that started, in reverse order, and restores os.environ."""
        global _running  # noqa: PLW0603
        if _running is not self:
            return
        for component in (
            self._scheduler,
            self._store_poller,
            self._stream_poller,
            self._webhook_poller,
            self._gateway,
            self.emulator,
            self.fal_emulator,
            self.runway_emulator,
        ):
            if component is not None:
                try:
                    component.stop()
                except Exception:
                    log.exception("stopping %s failed", type(component).__name__)
        if self._moto is not None:
            try:
                self._moto.reset()
            except OSError:
                log.exception("resetting moto failed")
            self._moto.stop()
        self._scheduler = self._store_poller = self._gateway = self._moto = None
        self._stream_poller = self._webhook_poller = None
        self.emulator = self.fal_emulator = self.runway_emulator = None
        self._environment.restore()
        if self._function_log_level is not None:
            self._function_log_level.restore()
            self._function_log_level = None
        self._wiring = None
        with _running_lock:
            if _running is self:
                _running = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- what tests and the demo use ------------------------------------------------------------

    @property
    def gateway(self) -> LocalHttpGateway:
        return _started(self._gateway)

    @property
    def gateway_url(self) -> str:
        return self.gateway.url

    @property
    def scheduler(self) -> PollSoraStatusScheduler:
        return _started(self._scheduler)

    @property
    def store_poller(self) -> SqsPoller:
        return _started(self._store_poller)

    @property
    def webhook_poller(self) -> SqsPoller:
        return _started(self._webhook_poller)

    @property
    def stream_poller(self) -> StreamPoller:
        return _started(self._stream_poller)

    @property
    def aws_endpoint_url(self) -> str:
        return _started(self._moto).url

    @property
    def provider_base_url(self) -> str:
        if self.emulator is not None:
            return self.emulator.base_url
        return _started(self.external_provider).base_url

    def client(self, service: str) -> Any:
        """A boto3 client of the local AWS (moto)."""
        return self.boto3_session.client(service, endpoint_url=self.aws_endpoint_url)

    @property
    def wiring(self) -> Wiring:
        """The collaborators the functions run with (built from the stack's environment)."""
        if self._wiring is None:
            raise RuntimeError("the local stack is not started")
        return self._wiring

    def mint_token(self, sub: str = LOCAL_USER, groups: Iterable[str] = (), **options: Any) -> str:
        """A development JWT the gateway accepts (`expires_in=-60` gives an expired one)."""
        return self.tokens.mint(sub, groups, **options)

    @property
    def admin_group(self) -> str:
        return os.environ.get("ADMIN_GROUP") or str(load_template()["Parameters"]["AdminGroup"]["Default"])


@dataclass
class _FunctionLogLevel:
    """The level of the functions' Powertools logger and of its children (each module's `Logger(child=True)`,
    which takes the level of the environment when it is created), and the levels they had before."""

    parent: logging.Logger
    earlier: dict[str, int]

    @classmethod
    def apply(cls, level: str) -> _FunctionLogLevel:
        from sorajobs.observability import logger as function_logger

        parent = logging.getLogger(function_logger.name)
        loggers = [parent, *_children(parent)]
        earlier = {logger.name: logger.level for logger in loggers}
        for logger in loggers:
            logger.setLevel(level)
        return cls(parent, earlier)

    def restore(self) -> None:
        """Puts the earlier levels back; a child created meanwhile takes the parent's."""
        parent_level = self.earlier[self.parent.name]
        for logger in [self.parent, *_children(self.parent)]:
            logger.setLevel(self.earlier.get(logger.name, parent_level))


def _children(parent: logging.Logger) -> list[logging.Logger]:
    prefix = f"{parent.name}."
    return [
        logger
        for name, logger in logging.root.manager.loggerDict.items()
        if name.startswith(prefix) and isinstance(logger, logging.Logger)
    ]


def _started(component: _Component | None) -> _Component:
    if component is None:
        raise RuntimeError("the local stack is not started")
    return component


def _wiring_from_environment(backend_clock: BackendClock | None) -> Wiring:
    """The functions' collaborators from the stack's environment, as each Lambda process builds its own."""
    from sorajobs.config import Settings
    from sorajobs.services import Services
    from sorajobs.wiring import Wiring

    # The sweep's worker threads run in its invocation's context, so their logs carry its function name.
    return Wiring(Services(Settings.from_env(), clock=backend_clock, worker_pool=context_carrying_pool))


# -- python -m local.stack ----------------------------------------------------------------------


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
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


def _curl_examples(url: str) -> str:
    auth = '-H "Authorization: Bearer $TOKEN"'
    json_type = '-H "Content-Type: application/json"'
    submit_body = shlex.quote('{"prompt": "A paper boat drifting down a rainy street", "seconds": "4"}')
    job_id = "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"id\"])'"
    return "\n".join(
        [
            f"  export API={url}",
            "  source .local-stack/env    # TOKEN and ADMIN_TOKEN",
            f'  JOB=$(curl -s -X POST "$API/videos" {auth} {json_type} -d {submit_body} | {job_id})',
            f'  curl -si "$API/videos/$JOB/sora-status" {auth}      # refreshes; see Retry-After',
            f'  curl -s "$API/videos/$JOB" {auth}',
            f'  curl -s "$API/videos?status=completed&limit=10" {auth}',
            f'  curl -sL "$API/videos/$JOB/content" {auth} -o video.mp4   # 302 to a presigned S3 URL',
            f'  curl -s -X POST "$API/videos/$JOB/reset" {auth} {json_type} -d \'{{"resubmit": true}}\'',
            '  curl -s "$API/stats" -H "Authorization: Bearer $ADMIN_TOKEN"',
            '  curl -s "$API/openapi.json"',
        ]
    )


def _write_env_file(url: str, token: str, admin_token: str) -> Path:
    ENV_FILE.parent.mkdir(exist_ok=True)
    ENV_FILE.write_text(f"export API={url}\nexport TOKEN={token}\nexport ADMIN_TOKEN={admin_token}\n")
    return ENV_FILE


def _banner(stack: LocalStack, token: str, admin_token: str, env_file: Path) -> str:
    assert stack.resources is not None
    if stack.emulator is not None:
        config = stack.emulator.config
        provider = (
            f"OpenAI Videos emulator {stack.emulator.base_url} "
            f"(queued {config.queue_seconds:g} s, renders {config.render_seconds:g} s)"
        )
    else:
        provider = f"{stack.provider_base_url} (from OPENAI_BASE_URL; real jobs, real cost)"
    return "\n".join(
        [
            "sora-jobs local stack is up - no cloud, no Docker. Ctrl-C stops it.",
            "",
            f"  HTTP API    {stack.gateway_url}   (routes from template.yaml; dev JWTs, HS256)",
            f"  AWS (moto)  {stack.aws_endpoint_url}   table {stack.resources.table_name}, "
            f"bucket {stack.resources.bucket_name}, queue {stack.resources.queue_url.rsplit('/', 1)[-1]}",
            f"  Provider    {provider}; key in secret {stack.resources.secret_name}",
            *_native_provider_lines(stack),
            f"  Background  sweep every {stack.schedule_interval_seconds:g} s; store_video and deliver_webhook fed "
            "from their queues; the table's stream feeds webhook_events",
            "  Webhooks    the emulator posts signed video.completed / video.failed to /provider-webhooks/openai; "
            "jobs may name a webhook_url on http://127.0.0.1",
            f"  Logs        {_log_line(stack)}",
            f"  Docs        {stack.gateway_url}/docs (Swagger UI; Authorize with TOKEN)",
            f"  Console     {console_address(stack.gateway_url, token)}",
            f"              (signed in as {LOCAL_USER}; the token rides in the fragment, which never reaches a server)",
            f"  CORS        {stack.parameters.get('CorsAllowedOrigins') or 'no browser origin (--cors-origins)'}",
            "",
            f"Tokens (valid {DEFAULT_TTL_SECONDS // 3600} h; also in {env_file.relative_to(ROOT)}):",
            f"  export TOKEN={token}",
            f"  export ADMIN_TOKEN={admin_token}   # group {stack.admin_group}, for /stats of every owner",
            "",
            "Try:",
            _curl_examples(stack.gateway_url),
            "",
        ]
    )


def console_address(api_url: str, token: str) -> str:
    """The web console, signed in with `token`: the page reads it from the fragment, keeps it in memory and drops it
    from the address bar."""
    return f"{api_url}/console#token={token}"


def _log_line(stack: LocalStack) -> str:
    if stack.parameters.get("LogLevel") == QUIET_LOG_LEVEL:
        return "warnings and errors only; `make local VERBOSE=1` (--verbose) shows every function's JSON log lines"
    return f"the functions' JSON log lines at {os.environ.get('POWERTOOLS_LOG_LEVEL', 'INFO')} and above, below this"


def port_taken_message(error: OSError, port: int) -> str:
    """What `make local` says when the stack cannot start, in the words of the command that runs it."""
    return (
        f"Could not start the local stack: {error}. Is port {port} taken? "
        "Choose another with `make local PORT=3001` (or `python -m local.stack --port 3001`); PORT=0 picks a free one."
    )


def _native_provider_lines(stack: LocalStack) -> list[str]:
    if stack.fal_emulator is None or stack.runway_emulator is None:
        return []
    return [
        f"              fal queue emulator {stack.fal_emulator.base_url} (webhooks to /provider-webhooks/fal)",
        f"              Runway tasks emulator {stack.runway_emulator.base_url}",
        '              jobs choose one: {"provider": "fal"} or "runway"; GET /models lists their models',
    ]


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
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
        print(_banner(stack, token, admin_token, env_file), flush=True)
        while not stop.wait(0.5):
            pass
        print("Stopping the local stack...", flush=True)
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
