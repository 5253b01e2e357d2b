"""Runs the template's Lambda functions in this process, one instance (and one lock) per function."""

from __future__ import annotations

import contextvars
import importlib.util
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, ParamSpec, TypeVar

from aws_lambda_powertools.logging.lambda_context import build_lambda_context_model

from local.template import TEMPLATE_PATH, function_handler, load_template

ROOT = TEMPLATE_PATH.parent

# What a handler module calls for its collaborators (sorajobs.wiring.process_wiring, or a replacement).
WiringSource = Callable[[], Any]
_Params = ParamSpec("_Params")
_Result = TypeVar("_Result")
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
STACK_NAME = "sora-jobs-local"


@dataclass
class LambdaContext:
    """What the Lambda runtime hands a handler; the remaining time counts down from the function's Timeout."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    deadline: float  # time.monotonic() at which the invocation would time out
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class LocalFunction:
    """One function of the template: its handler module is imported on first use, like a cold start."""

    def __init__(self, logical_id: str, lock: threading.Lock | None = None, wiring: WiringSource | None = None) -> None:
        definition = load_template()["Resources"][logical_id]
        properties = definition["Properties"]
        globals_ = load_template().get("Globals", {}).get("Function", {})
        code_uri, handler = function_handler(logical_id)
        self.logical_id = logical_id
        self.code_dir = ROOT / code_uri
        self.module_name, self.handler_name = handler.rsplit(".", 1)
        self.timeout_seconds = float(properties.get("Timeout", globals_.get("Timeout", 3)))
        self.memory_mb = int(properties.get("MemorySize", globals_.get("MemorySize", 128)))
        self.function_name = f"{STACK_NAME}-{logical_id}"
        # Powertools keeps per-request state on the module: one invocation at a time, like one instance.
        self.lock = lock or threading.Lock()
        self.serves_http_api = serves_http_api(definition)
        self._handler: Callable[[Any, Any], Any] | None = None
        self._wiring = wiring
        self._invoked = False

    def _load(self) -> Callable[[Any, Any], Any]:
        if self._handler is None:
            path: Path = self.code_dir / f"{self.module_name}.py"
            unique = f"local_lambda_{self.code_dir.name}_{self.module_name}_{id(self)}"
            spec = importlib.util.spec_from_file_location(unique, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load the handler of {self.logical_id} from {path}")
            module: ModuleType = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            if self._wiring is not None:
                # The stack's collaborators (its clock, its settings) in place of the process's own, as
                # Powertools' dependency_overrides would replace a route's dependency.
                module.process_wiring = self._wiring  # type: ignore[attr-defined]
            self._handler = getattr(module, self.handler_name)
            _install_invocation_log_keys()
        return self._handler

    def new_context(self, timeout_seconds: float | None = None) -> LambdaContext:
        timeout = self.timeout_seconds if timeout_seconds is None else timeout_seconds
        return LambdaContext(
            function_name=self.function_name,
            memory_limit_in_mb=self.memory_mb,
            invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}",
            deadline=time.monotonic() + timeout,
            log_group_name=f"/aws/lambda/{self.function_name}",
        )

    def invoke(self, event: Any, *, timeout_seconds: float | None = None) -> Any:
        """Runs the handler synchronously; its exceptions propagate (the caller decides what Lambda would do)."""
        with self.lock:
            handler = self._load()
            context = self.new_context(timeout_seconds)
            with self._own_log_keys(event, context):
                return handler(event, context)

    @contextmanager
    def _own_log_keys(self, event: Any, context: LambdaContext) -> Iterator[None]:
        """This invocation's logs carry this function's name, request id, cold start and correlation id, as its
        own Lambda process's would. Powertools keeps what `inject_lambda_context` appends on one formatter that
        every function in this process shares, so a concurrent invocation would overwrite it; these keys are
        bound to the invocation's thread (and the threads it starts through `context_carrying_pool`) and written
        into each of its records (`_InvocationLogKeys`)."""
        keys: dict[str, Any] = dict(build_lambda_context_model(context).__dict__)
        keys["cold_start"] = not self._invoked
        self._invoked = True
        # HttpApi functions correlate by the request id (correlation_paths.API_GATEWAY_HTTP); the others have none.
        request_context = event.get("requestContext") if isinstance(event, dict) else None
        keys["correlation_id"] = request_context.get("requestId") if self.serves_http_api and request_context else None
        token = _INVOCATION_LOG_KEYS.set(keys)
        try:
            yield
        finally:
            _INVOCATION_LOG_KEYS.reset(token)


_INVOCATION_LOG_KEYS: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "local_invocation_log_keys", default=None
)


class _InvocationLogKeys(logging.Filter):
    """Writes the running invocation's keys into each record; a record's own attributes win over the keys
    Powertools' formatter holds, and a None (no correlation id) drops the key."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_INVOCATION_LOG_KEYS.get() or {}).items():
            setattr(record, key, value)
        return True


_invocation_log_keys = _InvocationLogKeys()


def _install_invocation_log_keys() -> None:
    """On the functions' log handler (sorajobs.observability), once the handler modules have created it."""
    from sorajobs.observability import logger as function_logger

    handler = function_logger.registered_handler
    if _invocation_log_keys not in handler.filters:
        handler.addFilter(_invocation_log_keys)


class ContextCarryingPool(ThreadPoolExecutor):
    """A thread pool whose tasks run in a copy of the submitter's context: a sweep's worker threads log under the
    sweep's own function name (see `LocalFunction._own_log_keys`)."""

    def submit(
        self, fn: Callable[_Params, _Result], /, *args: _Params.args, **kwargs: _Params.kwargs
    ) -> Future[_Result]:
        context = contextvars.copy_context()

        def run_in_context() -> _Result:
            return context.run(fn, *args, **kwargs)

        return super().submit(run_in_context)


def context_carrying_pool(max_workers: int) -> ContextCarryingPool:
    """The local functions' worker pool (Services.worker_pool)."""
    return ContextCarryingPool(max_workers=max_workers, thread_name_prefix="sweep")


def serves_http_api(definition: dict[str, Any]) -> bool:
    events = definition.get("Properties", {}).get("Events", {})
    return any(event.get("Type") == "HttpApi" for event in events.values())


class LocalFunctions:
    """Every AWS::Serverless::Function in template.yaml, by logical id."""

    def __init__(self, wiring: WiringSource | None = None) -> None:
        resources = load_template()["Resources"]
        # Powertools' HTTP resolvers keep the current event on a class attribute (BaseRouter.current_event)
        # shared by every resolver in the process, where Lambda gives each function its own: the HTTP API
        # functions take turns here, or a submit could read a concurrent provider webhook's event. The
        # others (the sweep, the queue and stream consumers) still run alongside them.
        http_api_lock = threading.Lock()
        self._functions = {
            logical_id: LocalFunction(
                logical_id, lock=http_api_lock if serves_http_api(definition) else None, wiring=wiring
            )
            for logical_id, definition in resources.items()
            if definition.get("Type") == "AWS::Serverless::Function"
        }

    def __getitem__(self, logical_id: str) -> LocalFunction:
        return self._functions[logical_id]

    def __contains__(self, logical_id: object) -> bool:
        return logical_id in self._functions

    def logical_ids(self) -> list[str]:
        return sorted(self._functions)

    def invoke(self, logical_id: str, event: Any, *, timeout_seconds: float | None = None) -> Any:
        return self._functions[logical_id].invoke(event, timeout_seconds=timeout_seconds)
