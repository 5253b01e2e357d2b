"""What `sam deploy --guided` saved in samconfig.toml: the stack name and region `make deploy` deploys to."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMCONFIG = ROOT / "samconfig.toml"
DEFAULT_STACK_NAME = "sora-jobs"


@dataclass(frozen=True)
class DeployTarget:
    stack_name: str
    region: str | None


def deploy_target(path: Path = SAMCONFIG, environment: str = "default") -> DeployTarget:
    """The deploy command's parameters win over the global ones, as in the SAM CLI."""
    config = tomllib.loads(path.read_text()) if path.exists() else {}
    sections = config.get(environment, {})
    merged = {**sections.get("global", {}).get("parameters", {}), **sections.get("deploy", {}).get("parameters", {})}
    return DeployTarget(stack_name=merged.get("stack_name", DEFAULT_STACK_NAME), region=merged.get("region"))
