"""The chaos suite: a small run in `make test`; `make chaos` runs N=1,000 and records docs/reliability.md."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.chaos.harness import ChaosProfile, ChaosRun, report

RELIABILITY_DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"


@pytest.mark.chaos
def test_every_job_ends_in_a_clear_terminal_state_whatever_the_provider_and_aws_did():
    profile = ChaosProfile(jobs=int(os.environ.get("CHAOS_JOBS", "30")))

    result = ChaosRun(profile).run()

    text = report(result, profile)
    print(text)
    if os.environ.get("CHAOS_RECORD"):
        record(text)
    assert result.targets_met, text
    assert set(result.kills) == set(profile.crash), "every step boundary was killed at least once"
    assert all(result.provider_faults[fault] > 0 for fault in ("429", "500", "late answer")), result.provider_faults
    assert result.provider_webhooks > 0 and result.resets > 0


def record(text: str) -> None:
    """Replaces the recorded result in docs/reliability.md (between its markers)."""
    begin, end = "<!-- chaos-result:begin -->", "<!-- chaos-result:end -->"
    doc = RELIABILITY_DOC.read_text()
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    RELIABILITY_DOC.write_text(f"{head}{begin}\n```\n{text}\n```\n{end}{tail}")
