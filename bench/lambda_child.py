"""One cold start, as the Lambda runtime makes it: runs in a fresh CPython 3.13 (`python3.13 -P lambda_child.py`).

The parent (bench/lambda_cold_start.py) sets the function's environment, PYTHONPATH = the built function's
folder, then the built layer's python/ folder (/var/task, /opt/python), and:

- BENCH_BYTECODE: `shipped` (the .pyc files the build put beside each module), `none` (no bytecode for the
  function and the layer: each of their modules compiles from source, nothing is written, as before the layer
  shipped bytecode; the standard library keeps its own, as the runtime's does) or `local_cache` (the
  interpreter's usual timestamp .pyc files, in PYTHONPYCACHEPREFIX, written there by an earlier run);
- BENCH_ARTIFACT: the build folder (for `none`);
- BENCH_EVENT: the event's JSON file; BENCH_RESULT: where to write the figures.

Before the clock starts it imports only what the runtime's own bootstrap (awslambdaric) has already
imported when it loads a handler. Then it times the handler module's import (init) and one invocation.
Standard library only: it runs beside, not inside, the project's virtualenv.
"""

import decimal  # noqa: F401 - imported by the runtime's bootstrap before any handler
import json
import logging  # noqa: F401 - ditto
import os
import sys
import time
import traceback
import warnings  # noqa: F401 - ditto


class LambdaContext:
    """What the runtime hands a handler; the remaining time counts down from a 30 s timeout."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"))
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "bench"
        self._deadline = time.monotonic() + 30

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _without_artifact_bytecode(root: str) -> None:
    """The loader finds no .pyc for modules under `root`, compiles them from source and writes nothing."""
    import _frozen_importlib_external as external

    cached = external.cache_from_source

    def source_only(path, *args, **kwargs):
        if path.startswith(root):
            raise NotImplementedError
        return cached(path, *args, **kwargs)

    external.cache_from_source = source_only


def main() -> None:
    if os.environ.pop("BENCH_BYTECODE") == "none":
        _without_artifact_bytecode(os.environ.pop("BENCH_ARTIFACT"))
    with open(os.environ.pop("BENCH_EVENT")) as handle:
        event = json.load(handle)
    result_path = os.environ.pop("BENCH_RESULT")
    before = set(sys.modules)

    cpu_started = time.process_time()
    started = time.perf_counter()
    # What importlib.import_module("app") does for a top-level module, through the C import path, which is
    # the one -X importtime times.
    handler = __import__("app").lambda_handler
    imported = time.perf_counter()
    init_cpu = time.process_time() - cpu_started
    loaded_at_init = set(sys.modules) - before
    error = ""
    try:
        answer = handler(event, LambdaContext(os.environ["AWS_LAMBDA_FUNCTION_NAME"]))
    except Exception:
        answer, error = None, traceback.format_exc()
    finished = time.perf_counter()
    total_cpu = time.process_time() - cpu_started

    status = answer.get("statusCode") if isinstance(answer, dict) else None
    with open(result_path, "w") as handle:
        json.dump(
            {
                "init_ms": (imported - started) * 1000,
                "invoke_ms": (finished - imported) * 1000,
                "init_cpu_ms": init_cpu * 1000,
                "cpu_ms": total_cpu * 1000,
                "modules_at_init": len(loaded_at_init),
                "modules": len(set(sys.modules) - before),
                "openai_at_init": "openai" in loaded_at_init,
                "boto3_at_init": "boto3" in loaded_at_init,
                "status": status,
                "answer": answer if status is None else None,
                "error": error,
            },
            handle,
            default=str,
        )


if __name__ == "__main__":
    main()
