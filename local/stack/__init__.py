"""The whole stack in one process, with no cloud and no Docker: `python -m local.stack` (`make local`).

- AWS: moto in server mode (DynamoDB, S3, SQS, Secrets Manager), resources created from template.yaml.
- Providers: the OpenAI Videos, fal queue and Runway tasks emulators, their keys kept in the moto secrets so the
  functions read them the deployed way; or, for `openai`, a real compatible endpoint when OPENAI_BASE_URL and
  OPENAI_API_KEY are both set.
- HTTP API: local/gateway.py, with development JWTs in place of the JWT authorizer.
- EventBridge Scheduler and the SQS and DynamoDB stream event sources: local/scheduler.py,
  local/sqs_poller.py and local/stream_poller.py.

Tests and the demo use `LocalStack` directly (see its docstring).

Its parts: local_stack.py (the `LocalStack` class), environment.py (what the functions' environment holds),
command_line.py and banner.py (`python -m local.stack` and what it prints).
"""

from local.stack.banner import QUIET_LOG_LEVEL, console_address
from local.stack.command_line import (
    DEFAULT_GATEWAY_PORT,
    ENV_FILE,
    LOCAL_ADMIN,
    configure_local_logging,
    main,
    parse_command_line,
    port_taken_message,
    stack_parameters,
)
from local.stack.environment import ExternalProvider, function_environment
from local.stack.local_stack import (
    LOCAL_QUEUE_SECONDS,
    LOCAL_RENDER_SECONDS,
    LOCAL_SCHEDULE_SECONDS,
    LOCAL_USER,
    LocalStack,
)

__all__ = [
    "DEFAULT_GATEWAY_PORT",
    "ENV_FILE",
    "LOCAL_ADMIN",
    "LOCAL_QUEUE_SECONDS",
    "LOCAL_RENDER_SECONDS",
    "LOCAL_SCHEDULE_SECONDS",
    "LOCAL_USER",
    "QUIET_LOG_LEVEL",
    "ExternalProvider",
    "LocalStack",
    "configure_local_logging",
    "console_address",
    "function_environment",
    "main",
    "parse_command_line",
    "port_taken_message",
    "stack_parameters",
]
