"""The provider key comes from the settings (OPENAI_API_KEY, local runs) or from Secrets Manager through the
same secrets provider as every other secret; nothing reads the environment on its own."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from sorajobs.config import Settings
from sorajobs.models.errors import ProviderNotConfigured
from tests.conftest import API_KEY


def test_deployed_functions_read_the_provider_key_from_its_secret(world):
    assert world.services.provider_api_key("openai") == API_KEY


def test_a_key_in_the_settings_wins_over_the_secret(world):
    world.use_settings(openai_api_key=SecretStr("sk-from-the-environment"))

    assert world.services.provider_api_key("openai") == "sk-from-the-environment"


def test_with_neither_a_key_nor_a_secret_name_the_error_says_what_to_set(world):
    world.use_settings(openai_api_key_secret_name="")

    with pytest.raises(ProviderNotConfigured, match="OPENAI_API_KEY"):
        world.services.provider_api_key("openai")


def test_the_key_read_from_the_environment_is_never_printed():
    settings = Settings.from_env({"JOBS_TABLE_NAME": "t", "OPENAI_API_KEY": "sk-secret-value"})

    assert settings.openai_api_key.get_secret_value() == "sk-secret-value"
    assert "sk-secret-value" not in repr(settings)
