"""The environment the local stack gives the functions, as Lambda would: template.yaml's variables resolved
against the local resources, fake AWS credentials, the functions' log level and their wiring."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from local.lambda_runtime import REGION, STACK_NAME, context_carrying_pool
from local.resources import PROVIDER_WEBHOOK_SECRET_NAME, WEBHOOK_SIGNING_SECRET_NAME, StackResources
from local.template import load_template

if TYPE_CHECKING:
    # Imported for typing only: sorajobs is first imported once the functions' environment is in place.
    from sorajobs.clock import Clock as BackendClock
    from sorajobs.wiring import Wiring


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


class EnvironmentPatch:
    """Changes os.environ for the functions and puts every changed variable back on restore()."""

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    def set(self, name: str, value: str) -> None:
        self._saved.setdefault(name, os.environ.get(name))
        os.environ[name] = value

    def unset(self, name: str) -> None:
        self._saved.setdefault(name, os.environ.get(name))
        os.environ.pop(name, None)

    def use_local_aws(self, endpoint_url: str) -> None:
        """Fake credentials and no profile, for the local AWS (moto) at `endpoint_url`; loopback bypasses proxies."""
        for name, value in {**_FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint_url}.items():
            self.set(name, value)
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            self.unset(name)
        no_proxy = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1,localhost"]))
        self.set("NO_PROXY", no_proxy)
        self.set("no_proxy", no_proxy)

    def use_function_environment(self, environment: Mapping[str, str]) -> None:
        """The functions' variables (`function_environment`) and the local defaults a shell has not set."""
        for name, value in environment.items():
            self.set(name, value)
        for name, value in _LOCAL_DEFAULTS.items():
            self.set(name, os.environ.get(name, value))
        # Lambda sets it per function; Powertools prefixes idempotency keys with it.
        self.set("AWS_LAMBDA_FUNCTION_NAME", STACK_NAME)
        # The functions read the keys from the secrets, as deployed.
        for name in ("OPENAI_API_KEY", "FAL_KEY", "RUNWAYML_API_SECRET", "FAL_WEBHOOK_URL"):
            self.unset(name)

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


@dataclass
class FunctionLogLevel:
    """The level of the functions' Powertools logger and of its children (each module's `Logger(child=True)`,
    which takes the level of the environment when it is created), and the levels they had before."""

    parent: logging.Logger
    earlier: dict[str, int]

    @classmethod
    def apply(cls, level: str) -> FunctionLogLevel:
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


def wiring_from_environment(backend_clock: BackendClock | None) -> Wiring:
    """The functions' collaborators from the stack's environment, as each Lambda process builds its own."""
    from sorajobs.config import Settings
    from sorajobs.services import Services
    from sorajobs.wiring import Wiring

    # The sweep's worker threads run in its invocation's context, so their logs carry its function name.
    return Wiring(Services(Settings.from_env(), clock=backend_clock, worker_pool=context_carrying_pool))
