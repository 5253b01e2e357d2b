"""make deploy, without AWS: its command lines (make -n), guided the first time and non-interactive once
samconfig.toml holds what `sam deploy --guided` saved, always with the SAM CLI of .venv-sam after sam build."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAVED = '[default.deploy.parameters]\nstack_name = "sora-jobs"\nregion = "us-east-1"\nresolve_s3 = true\n'


def _deploy_commands(*variables: str) -> list[str]:
    dry_run = subprocess.run(
        ["make", "--no-print-directory", "-n", "deploy", *variables],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return [line for line in dry_run.stdout.splitlines() if " build" in line or " deploy" in line]


def test_the_first_deploy_is_guided_after_a_sam_build():
    build, deploy = _deploy_commands()

    assert build == ".venv-sam/bin/sam build"
    assert deploy == ".venv-sam/bin/sam deploy --config-file samconfig.toml --guided"


def test_once_the_answers_are_saved_deploys_ask_nothing(tmp_path):
    saved = tmp_path / "samconfig.toml"
    saved.write_text(SAVED)

    build, deploy = _deploy_commands(f"SAMCONFIG={saved}")

    assert build == ".venv-sam/bin/sam build"
    assert deploy == (
        f".venv-sam/bin/sam deploy --config-file {saved} --no-confirm-changeset --no-fail-on-empty-changeset"
    )


def test_guided_asks_again_on_request(tmp_path):
    saved = tmp_path / "samconfig.toml"
    saved.write_text(SAVED)

    _, deploy = _deploy_commands(f"SAMCONFIG={saved}", "GUIDED=1")

    assert deploy.endswith("--guided")
