"""What `GET /doctor` finds: for each enabled provider, whether its settings look right, whether a key is
configured, and whether the provider accepts the key at the configured URL (one read that makes nothing)."""

from __future__ import annotations

from collections.abc import Callable

from sorajobs.catalog import ProviderName
from sorajobs.config import Settings
from sorajobs.models.api import DoctorCheck, DoctorResponse
from sorajobs.models.errors import ProviderNotConfigured
from sorajobs.providers.base import (
    ProviderAuthError,
    ProviderError,
    ProviderLookup,
    ProviderTemporaryError,
    ProviderVideoNotFoundError,
)


class Doctor:
    def __init__(self, *, settings: Settings, providers: ProviderLookup) -> None:
        self._settings = settings
        self._provider = providers

    def examine(self) -> DoctorResponse:
        checks = [check for name in self._settings.enabled_providers for check in self._provider_checks(name)]
        return DoctorResponse(ok=all(check.ok for check in checks), checks=checks)

    def _provider_checks(self, name: ProviderName) -> list[DoctorCheck]:
        problem = self._settings.provider_problem(name)
        checks = [DoctorCheck(provider=name, check="settings", ok=problem is None, message=problem or "look right")]
        if problem is not None:
            return checks
        try:
            provider = self._provider(name)
        except ProviderNotConfigured as missing:
            return [*checks, DoctorCheck(provider=name, check="key", ok=False, message=missing.message)]
        checks.append(DoctorCheck(provider=name, check="key", ok=True, message="configured"))
        models = self._settings.catalog.of_provider(name)
        access = self._access(name, provider.check_access, models[0].model if models else "")
        return [*checks, access]

    @staticmethod
    def _access(name: ProviderName, check: Callable[[str], None], model: str) -> DoctorCheck:
        try:
            check(model)
        except ProviderAuthError as refused:
            message = f"the provider refused the key: {refused.message}"
        except ProviderVideoNotFoundError as missing:
            message = f"nothing answers at the configured URL (404): {missing.message}"
        except ProviderTemporaryError as fault:
            message = f"the provider could not be asked ({fault.code}): {fault.message}"
        except ProviderError as other:
            message = f"the provider answered {other.code}: {other.message}"
        else:
            return DoctorCheck(provider=name, check="access", ok=True, message="the provider accepts the key")
        return DoctorCheck(provider=name, check="access", ok=False, message=message)
