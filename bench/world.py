"""The system the sweep and status benchmarks drive: AWS (moto), the provider emulators, and the clocks.

Two set-ups:
- `servers.moto_server()` with an `EndpointSession`, and `emulator_process`: moto and the emulator each in
  their own process, reached over HTTP like DynamoDB and OpenAI (the throughput benchmark, where real
  concurrency matters);
- `VirtualWorld`: moto in-process behind one lock and the emulators in threads (the OpenAI one, and fal's or
  Runway's when asked), with the backend's and the emulators' manual clocks moved together (the virtual-time
  benchmarks, where only counts matter).
  It takes three of moto's costs that DynamoDB does not have out of the way (whole-table copies in
  transactions, a stream kept in memory, slow scalar helpers), without changing any result.

`quiet_backend` gives the backend a Lambda-like Powertools environment without its output.
"""

from __future__ import annotations

import contextlib
import copy
import heapq
import logging
import os
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from bench import servers
from local.serialized_boto3 import SerializedSession

START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
# Job ids are drawn from it: the due index orders jobs due at the same millisecond by id, so random ids would
# change the order of the sweep's work, and with it the seeded jitter each job draws, from run to run.
ID_SEED = 20261121
API_KEY = "sk-bench-emulator"
FAL_KEY = "fal-bench-id:fal-bench-secret"
RUNWAY_KEY = "key_runway_bench"
SERVICE = "sora-jobs-bench"
PROVIDER_TIMEOUT_SECONDS = 8.0  # Settings.provider_timeout_seconds' default
ERRORS_KEPT = 5

# Lambda-like settings for Powertools, tracing off; AWS credentials for moto. Set before sorajobs is imported.
_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": SERVICE,
    "POWERTOOLS_METRICS_NAMESPACE": "SoraJobsBench",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
}
_REMOVED = (
    "AWS_ENDPOINT_URL",
    "AWS_PROFILE",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "FAL_KEY",
    "RUNWAYML_API_SECRET",
    "POWERTOOLS_DEV",
)


class LoggedErrors(logging.Handler):
    """Collects the backend's error logs (the sweep logs a job it could not handle and moves on)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.count = 0
        self.first: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if len(self.first) < ERRORS_KEPT:
            cause = f" ({record.exc_info[1]!r})" if record.exc_info and record.exc_info[1] else ""
            self.first.append(f"{record.getMessage()}{cause}")


@contextmanager
def quiet_backend() -> Iterator[LoggedErrors]:
    """Sets the environment (restored afterwards), sends the backend's logs to a collector instead of
    stdout, and discards the EMF blobs Powertools prints each time a metric reaches 100 values."""
    saved = {name: os.environ.get(name) for name in (*_ENVIRONMENT, *_REMOVED)}
    os.environ.update(_ENVIRONMENT)
    for name in _REMOVED:
        os.environ.pop(name, None)
    from sorajobs.observability import logger, metrics

    # The service's logger, which every child logger of sorajobs propagates to (named when sorajobs was imported).
    service_logger = logging.getLogger(logger.service)
    saved_handlers, saved_level = service_logger.handlers[:], service_logger.level
    collector = LoggedErrors()
    service_logger.handlers = [collector]
    service_logger.setLevel(logging.ERROR)
    try:
        with Path(os.devnull).open("w") as sink, contextlib.redirect_stdout(sink):
            yield collector
    finally:
        metrics.clear_metrics()
        service_logger.handlers, service_logger.level = saved_handlers, saved_level
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def provider_factory(base_url: str) -> Callable[[], Any]:
    """The production provider (the openai SDK), pointed at the emulator, without SDK retries."""

    def build() -> Any:
        from sorajobs.providers.openai_videos import build_openai_provider

        return build_openai_provider(
            api_key=API_KEY, base_url=base_url, timeout_seconds=PROVIDER_TIMEOUT_SECONDS, max_retries=0
        )

    return build


def fal_provider_factory(queue_url: str, clock: Any) -> Callable[[], Any]:
    """The production fal adapter (httpx, fal's queue protocol), pointed at the fal emulator, without retries."""

    def build() -> Any:
        from sorajobs.providers.fal_queue import build_fal_provider

        return build_fal_provider(
            api_key=FAL_KEY, queue_url=queue_url, timeout_seconds=PROVIDER_TIMEOUT_SECONDS, max_retries=0, clock=clock
        )

    return build


def runway_provider_factory(base_url: str, clock: Any) -> Callable[[], Any]:
    """The production Runway adapter (the runwayml SDK), pointed at the Runway emulator, without SDK retries."""

    def build() -> Any:
        from sorajobs.providers.runway_tasks import build_runway_provider

        return build_runway_provider(
            api_key=RUNWAY_KEY, base_url=base_url, timeout_seconds=PROVIDER_TIMEOUT_SECONDS, max_retries=0, clock=clock
        )

    return build


# --- moto and the emulator in their own processes ---------------------------------------------------


class EndpointSession:
    """A boto3 session whose clients all talk to one endpoint (moto in server mode)."""

    def __init__(self, endpoint_url: str) -> None:
        import boto3

        self._endpoint_url = endpoint_url
        self._session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )

    def client(self, service: str, **kwargs: Any) -> Any:
        return self._session.client(service, endpoint_url=self._endpoint_url, **kwargs)


def emulator_process(*, queue_seconds: float, render_seconds: float) -> servers.ServerProcess:
    """`python -m local.emulator` on a free port, on a manual clock advanced through its controls."""
    port = servers.free_port()
    argv = [sys.executable, "-m", "local.emulator", "--port", str(port), "--api-key", API_KEY]
    argv += ["--queue-seconds", str(queue_seconds), "--render-seconds", str(render_seconds)]
    argv += ["--manual-clock", "--quiet"]
    return servers.ServerProcess(
        "emulator", argv, port=port, ready_path="/_emulator/stats", env=servers.quiet_environment()
    )


def process_cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of another process, from /proc (0 when unknown)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CallTimings:
    """Wall time spent in each kind of call, summed over the threads that made them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seconds: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()

    def record(self, name: str, seconds: float) -> None:
        with self._lock:
            self.seconds[name] += seconds
            self.calls[name] += 1

    def mean_ms(self, name: str) -> float:
        return 1000 * self.seconds[name] / self.calls[name] if self.calls[name] else 0.0

    def timed(self, name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                self.record(name, time.perf_counter() - started)

        return timed_call


class _TimedClient:
    def __init__(self, client: Any, timings: CallTimings) -> None:
        self._client, self._timings = client, timings

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        return self._timings.timed(name, attribute) if callable(attribute) else attribute


class TimedSession:
    """A boto3 session whose clients record the time of each call by operation (get_item, query, ...)."""

    def __init__(self, session: Any, timings: CallTimings) -> None:
        self._session, self._timings = session, timings

    def client(self, *args: Any, **kwargs: Any) -> Any:
        return _TimedClient(self._session.client(*args, **kwargs), self._timings)


class TimedProvider:
    """The provider, with the time of each retrieve recorded as "retrieve"."""

    def __init__(self, provider: Any, timings: CallTimings) -> None:
        self._provider = provider
        self.retrieve = timings.timed("retrieve", provider.retrieve)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._provider, name)


# --- moto in-process and the emulator in a thread, on virtual time ----------------------------------


class _ModuleCopyWithoutTables:
    """moto's `copy` module for its DynamoDB backend; while `skip_tables` is set, `deepcopy` hands a Table
    back uncopied."""

    def __init__(self) -> None:
        self.skip_tables = False

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        from moto.dynamodb.models.table import Table

        return value if self.skip_tables and isinstance(value, Table) else copy.deepcopy(value, memo)


@contextmanager
def lean_moto_transactions() -> Iterator[None]:
    """Makes in-process moto's TransactWriteItems cost what DynamoDB's does: independent of the table's size.

    Before each item of a transaction, moto deep-copies the whole table, to roll back if the transaction
    is cancelled; with 1,000 jobs each status change then takes a tenth of a second or more. Here only
    the items a transaction names are backed up, and put back if it is cancelled, so the table is left
    as it was, as before. Tables with a sort key keep moto's own backup (the stack has none).
    """
    from moto.dynamodb import models as dynamodb_models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType

    original = DynamoDBBackend.transact_write_items
    module_copy = _ModuleCopyWithoutTables()

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        backups: list[tuple[Any, Any, Any]] = []
        for entry in transact_items:
            operation, request = next(iter(entry.items()))
            table = self.tables.get(request.get("TableName"))
            if table is None or table.range_key_attr:
                return original(self, transact_items)
            key = request["Item"] if operation == "Put" else request["Key"]
            hash_key = DynamoType(key[table.hash_key_attr])
            backups.append((table, hash_key, copy.deepcopy(table.items.get(hash_key))))
        module_copy.skip_tables = True
        try:
            original(self, transact_items)
        except Exception:
            for table, hash_key, item in reversed(backups):
                if item is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = item
            raise
        finally:
            module_copy.skip_tables = False

    saved_copy = dynamodb_models.copy
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    dynamodb_models.copy = module_copy  # type: ignore[assignment]
    try:
        yield
    finally:
        DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]
        dynamodb_models.copy = saved_copy


@contextmanager
def quick_moto_scalars() -> Iterator[None]:
    """Fast paths, with the same results, for moto's two hottest helpers on strings and numbers.

    moto sorts every item of the table by comparing `DynamoType.cast_value`s and sizes each candidate
    of a query with `DynamoType.size`, in every query page, each going through five type checks; a sweep
    pass over 1,000 jobs spends most of its time there. Other types keep moto's own code.
    """
    from decimal import Decimal

    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import bytesize

    original_cast_value, original_size = DynamoType.cast_value, DynamoType.size

    def cast_value(self: Any) -> Any:
        kind = self.type
        if kind == "S":
            return self.value
        if kind == "N":
            return Decimal(self.value)
        return original_cast_value.fget(self)  # type: ignore[attr-defined]

    def size(self: Any) -> int:
        kind = self.type
        if kind == "S":
            return bytesize(self.value)
        if kind == "N":
            return len(str(self.value))
        return original_size(self)  # type: ignore[no-any-return]

    DynamoType.cast_value = property(cast_value)  # type: ignore[assignment, method-assign]
    DynamoType.size = size  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoType.cast_value = original_cast_value  # type: ignore[method-assign]
        DynamoType.size = original_size  # type: ignore[method-assign]


def _drop_stream_records(table_name: str) -> None:
    """moto keeps every record of the table's stream in memory, old and new image, for the life of the
    process; no function reads the stream, and DynamoDB writes it asynchronously, so moto's is turned off."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables[table_name].stream_shard = None


@dataclass
class VirtualWorld:
    """moto in-process, the emulators in threads, and the backend's and the emulators' clocks moved together.

    `at` schedules actions at exact virtual times (submissions, client calls), run even while the sweep
    is sleeping between passes; `after_move`, when set, runs after every move of the clocks. The emulators
    sign their webhooks (off until configured) with their own clock, so the backend's virtual clock accepts them.
    The OpenAI emulator always runs; `providers` adds fal's (`fal`, with `fal_concurrency` runners) or
    Runway's (`runway`), enabled in `services()` beside openai, as tests/conftest.py's `attach_fal` does.
    """

    queue_seconds: float = 5.0
    render_seconds: float = 60.0
    settings_changes: dict[str, Any] = field(default_factory=dict)
    providers: tuple[str, ...] = ()
    fal_concurrency: int = 2
    id_seed: int = ID_SEED
    clock: Any = None
    emulator_clock: Any = None
    emulator: Any = None
    fal: Any = None
    runway: Any = None
    resources: Any = None
    session: Any = None
    after_move: Callable[[], None] | None = None
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _timers: list[tuple[datetime, int, Callable[[], None]]] = field(default_factory=list)
    _timer_seq: int = 0
    _ids: random.Random = field(default_factory=random.Random)

    def __enter__(self) -> VirtualWorld:
        import boto3
        from moto import mock_aws

        from local.backend_clock import ManualClock
        from local.emulator import EmulatorConfig, EmulatorServer
        from local.emulator import ManualClock as EmulatorClock
        from local.resources import create_stack_resources

        try:
            self._stack.enter_context(mock_aws())
            self._stack.enter_context(lean_moto_transactions())
            self._stack.enter_context(quick_moto_scalars())
            raw_session = boto3.session.Session(region_name="us-east-1")
            self.resources = create_stack_resources(raw_session, openai_api_key=API_KEY)
            _drop_stream_records(self.resources.table_name)
            self.session = SerializedSession(raw_session)
            self._ids = random.Random(self.id_seed)  # a reproducible order, not security
            self.clock = ManualClock(START)
            self.emulator_clock = EmulatorClock(start=START.timestamp())
            config = EmulatorConfig(
                api_key=API_KEY,
                queue_seconds=self.queue_seconds,
                render_seconds=self.render_seconds,
                webhook_timestamps_from_clock=True,
            )
            self.emulator = self._stack.enter_context(EmulatorServer(config, clock=self.emulator_clock))
            self._start_other_emulators()
        except BaseException:
            self._stack.close()
            raise
        return self

    def _start_other_emulators(self) -> None:
        """fal's and Runway's emulators on the same manual clock as the OpenAI one."""
        from local.fal_emulator import FalEmulatorConfig, FalEmulatorServer
        from local.runway_emulator import EmulatorConfig as RunwayEmulatorConfig
        from local.runway_emulator import EmulatorServer as RunwayEmulatorServer

        unknown = set(self.providers) - {"fal", "runway"}
        if unknown:
            raise ValueError(f"no emulator for {sorted(unknown)} (the OpenAI one always runs)")
        if "fal" in self.providers:
            fal_config = FalEmulatorConfig(
                api_key=FAL_KEY,
                concurrency=self.fal_concurrency,
                id_seed=self.id_seed,
                webhook_timestamps_from_clock=True,
            )
            self.fal = self._stack.enter_context(FalEmulatorServer(fal_config, clock=self.emulator_clock))
        if "runway" in self.providers:
            runway_config = RunwayEmulatorConfig(api_key=RUNWAY_KEY, id_seed=self.id_seed)
            self.runway = self._stack.enter_context(RunwayEmulatorServer(runway_config, clock=self.emulator_clock))

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stack.close()

    def _provider_settings(self) -> tuple[dict[str, Any], dict[str, Callable[[], Any]]]:
        """The settings that enable fal and Runway at their emulators, and the factories of their adapters."""
        from pydantic import SecretStr

        enabled: list[str] = ["openai"]
        changes: dict[str, Any] = {}
        factories = {"openai": provider_factory(self.emulator.base_url)}
        if self.fal is not None:
            enabled.append("fal")
            changes.update(fal_key=SecretStr(FAL_KEY), fal_queue_url=self.fal.base_url, fal_jwks_url=self.fal.jwks_url)
            factories["fal"] = fal_provider_factory(self.fal.base_url, self.clock)
        if self.runway is not None:
            enabled.append("runway")
            changes.update(runwayml_api_secret=SecretStr(RUNWAY_KEY), runway_base_url=self.runway.base_url)
            factories["runway"] = runway_provider_factory(self.runway.base_url, self.clock)
        return {"enabled_providers": tuple(enabled), **changes}, factories

    def services(self, **settings: Any) -> Any:
        from sorajobs.services import Services

        provider_settings, factories = self._provider_settings()
        configured = self.resources.settings(**{**provider_settings, **self.settings_changes, **settings})
        return Services(
            configured,
            clock=self.clock,
            new_id=self.new_job_id,
            providers=factories,
            boto3_session=self.session,
            sleep=self.advance,
        )

    def new_job_id(self) -> str:
        """Job ids drawn from `id_seed`, shaped like production's."""
        return f"job_{self._ids.getrandbits(96):024x}"

    @property
    def now(self) -> datetime:
        return self.clock.now()  # type: ignore[no-any-return]

    def elapsed(self) -> float:
        """Virtual seconds since START."""
        return (self.now - START).total_seconds()

    def at(self, elapsed_seconds: float, action: Callable[[], None]) -> None:
        """Runs `action` when virtual time reaches START + elapsed_seconds (in order of time, then of call)."""
        self._timer_seq += 1
        heapq.heappush(self._timers, (START + timedelta(seconds=elapsed_seconds), self._timer_seq, action))

    def advance(self, seconds: float) -> None:
        self.advance_to(self.now + timedelta(seconds=seconds))

    def advance_to(self, moment: datetime) -> None:
        """Moves both clocks to `moment`, stopping at each timer on the way to run it."""
        while self._timers and self._timers[0][0] <= moment:
            when, _, action = heapq.heappop(self._timers)
            self._move_to(max(when, self.now))
            action()
        self._move_to(max(moment, self.now))

    def _move_to(self, moment: datetime) -> None:
        step = (moment - self.now).total_seconds()
        if step > 0:
            self.clock.advance(step)
            self.emulator_clock.advance(step)
            if self.after_move is not None:
                self.after_move()

    @property
    def pending_timers(self) -> int:
        return len(self._timers)
