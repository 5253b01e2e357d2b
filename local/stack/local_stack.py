"""`LocalStack`: every part of the local stack, started and stopped together in this process."""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import threading
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from local.devtoken import DevTokens
from local.emulator import Clock as EmulatorClock
from local.emulator import EmulatorConfig, EmulatorServer
from local.fal_emulator import FalEmulatorConfig, FalEmulatorServer
from local.gateway import LocalHttpGateway
from local.lambda_runtime import REGION, LocalFunctions
from local.moto_server import MotoServer
from local.resources import StackResources, create_stack_resources
from local.runway_emulator import EmulatorConfig as RunwayEmulatorConfig
from local.runway_emulator import EmulatorServer as RunwayEmulatorServer
from local.scheduler import PollSoraStatusScheduler
from local.sqs_poller import SqsPoller
from local.stack.environment import (
    EnvironmentPatch,
    ExternalProvider,
    FunctionLogLevel,
    function_environment,
    wiring_from_environment,
)
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
LOCAL_USER = "local-user"

_Component = TypeVar("_Component")
_running_lock = threading.Lock()
_running: LocalStack | None = None


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
        self._environment = EnvironmentPatch()
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
        self._function_log_level: FunctionLogLevel | None = None

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
        self._environment.use_local_aws(self._moto.url)
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
        self._environment.use_function_environment(environment)
        if self.fal_emulator is not None and self.runway_emulator is not None:
            self._environment.set("FAL_QUEUE_URL", self.fal_emulator.base_url)
            self._environment.set("FAL_JWKS_URL", self.fal_emulator.jwks_url)
            self._environment.set("RUNWAY_BASE_URL", self.runway_emulator.base_url)
        self._wiring = wiring_from_environment(self._backend_clock)
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
            self._wiring = wiring_from_environment(self._backend_clock)
        if self.background:
            for component in (self._scheduler, self._store_poller, self._stream_poller, self._webhook_poller):
                component.start()

    def _apply_function_log_level(self, level: str) -> None:
        """The functions' POWERTOOLS_LOG_LEVEL (the LogLevel parameter), also on loggers this process built before
        the stack set it, as each Lambda process reads it when it starts."""
        self._function_log_level = FunctionLogLevel.apply(level)

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


def _started(component: _Component | None) -> _Component:
    if component is None:
        raise RuntimeError("the local stack is not started")
    return component
