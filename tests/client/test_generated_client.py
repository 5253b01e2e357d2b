"""A client generated from the served /openapi.json by a registry tool (openapi-python-client, pinned in
requirements-dev.txt) drives a job through the local stack: submit, refresh until completed, download, and the
error envelope. What the document gets wrong, a generated client gets wrong: the operation names, the bearer
token, each answer's model.

Both clocks are manual and the sweep and store step are driven by hand, so nothing here waits.
"""

from __future__ import annotations

import hashlib
import importlib
import subprocess
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from local.stack import LocalStack
from tests.client.helpers import Clocks, manual_local_stack

pytestmark = pytest.mark.e2e

PACKAGE = "sorajobs_generated"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"
# No formatting hooks: the generated code is only imported, and ruff need not be on PATH.
GENERATOR_CONFIG = f"post_hooks: []\nproject_name_override: {PACKAGE}\npackage_name_override: {PACKAGE}\n"


@pytest.fixture(scope="module")
def clocks() -> Clocks:
    return Clocks.now()


@pytest.fixture(scope="module")
def stack(clocks: Clocks) -> Iterator[LocalStack]:
    with manual_local_stack(clocks, native_providers=False) as local:
        yield local


@pytest.fixture(scope="module")
def generated(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The package openapi-python-client generates from the document the gateway serves."""
    workdir = tmp_path_factory.mktemp("generated-client")
    (workdir / "openapi.json").write_bytes(httpx.get(f"{stack.gateway_url}/openapi.json").content)
    (workdir / "config.yaml").write_text(GENERATOR_CONFIG)
    command = [str(GENERATOR), "generate", "--path", "openapi.json", "--config", "config.yaml", "--meta", "none"]
    result = subprocess.run(
        [*command, "--output-path", PACKAGE], cwd=workdir, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The generator warns about any part of the document it could not turn into code.
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(workdir))
        yield importlib.import_module(PACKAGE)
    for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]


def operation(package: ModuleType, name: str) -> ModuleType:
    return importlib.import_module(f"{package.__name__}.api.default.{name}")


def model(package: ModuleType, name: str) -> type:
    found: type = getattr(importlib.import_module(f"{package.__name__}.models"), name)
    return found


@pytest.fixture
def client(stack: LocalStack, generated: ModuleType) -> Iterator[object]:
    """The generated client with a token of its own owner; redirects are answers to check, not to follow."""
    authenticated = generated.AuthenticatedClient(
        base_url=stack.gateway_url,
        token=stack.mint_token(f"generated-client-{next(_owners)}"),
        raise_on_unexpected_status=True,
        follow_redirects=False,
    )
    with authenticated as opened:
        yield opened


_owners = iter(range(1_000_000))


def test_the_generated_client_drives_a_job_from_submit_to_the_verified_download(stack, clocks, generated, client):
    submit = model(generated, "SubmitVideoRequest")(prompt="A paper boat drifting down a rainy street")
    job_model = model(generated, "VideoJobResponse")

    created = operation(generated, "create_video").sync_detailed(client=client, body=submit)

    assert created.status_code == 202 and isinstance(created.parsed, job_model)
    assert created.headers["location"] == f"/videos/{created.parsed.id}"
    job = created.parsed
    for _ in range(30):
        if job.status.value == "completed":
            break
        clocks.advance(5)
        stack.scheduler.run_once()
        stack.store_poller.drain()
        refreshed = operation(generated, "refresh_video_status").sync_detailed(client=client, id=job.id)
        assert refreshed.status_code == 200 and isinstance(refreshed.parsed, job_model)
        job = refreshed.parsed
    assert job.status.value == "completed" and job.ready

    content = operation(generated, "get_video_content").sync_detailed(client=client, id=job.id)
    assert content.status_code == 302
    video = httpx.get(content.headers["location"]).content
    # The generator names the field `bytes_`, since `bytes` would shadow the builtin.
    assert hashlib.sha256(video).hexdigest() == job.video.sha256 and len(video) == job.video.bytes_
    listed = operation(generated, "list_videos").sync(client=client)
    assert [listed_job.id for listed_job in listed.data] == [job.id]


def test_the_generated_client_parses_errors_as_the_one_envelope(generated, client):
    error_model = model(generated, "ErrorResponse")

    missing = operation(generated, "get_video").sync(client=client, id="job_" + "0" * 24)
    invalid = operation(generated, "create_video").sync(
        client=client, body=model(generated, "SubmitVideoRequest")(prompt="x", model="no-such-model")
    )

    assert isinstance(missing, error_model) and missing.error.code == "not_found"
    assert isinstance(invalid, error_model) and invalid.error.code == "unsupported_model"


def test_the_generated_operations_send_the_bearer_token_and_only_the_signed_webhooks_go_without(generated):
    authenticated = operation(generated, "create_video").sync_detailed.__annotations__["client"]
    public = operation(generated, "receive_open_ai_webhook").sync_detailed.__annotations__["client"]

    assert authenticated is generated.AuthenticatedClient  # an operation with a security requirement
    assert public == generated.AuthenticatedClient | generated.Client


def test_the_replay_answer_is_a_model_not_a_string(generated):
    replay = operation(generated, "replay_webhook")

    assert model(generated, "ReplayWebhookResponse") in typing.get_args(replay.sync.__annotations__["return"])
