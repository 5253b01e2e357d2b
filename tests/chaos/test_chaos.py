"""The chaos suite: a small run in `make test`; `make chaos` runs N=1,000 over several seeds
(`python -m tests.chaos`) and records docs/reliability.md."""

from __future__ import annotations

import pytest

from tests.chaos.harness import ChaosProfile, ChaosRun, report


@pytest.mark.chaos
def test_a_seed_repeats_its_run_exactly_and_every_job_ends_in_a_clear_terminal_state():
    profile = ChaosProfile(jobs=30)

    first = ChaosRun(profile).run()
    second = ChaosRun(profile).run()

    text = report(first, profile)
    print(text)
    assert report(second, profile) == text, "the same seed gave another run"
    assert first.targets_met, text
    assert set(first.kills) == set(profile.crash), "every step boundary was killed at least once"
    assert all(first.provider_faults[fault] > 0 for fault in ("429", "500", "late answer")), first.provider_faults
    assert first.provider_webhooks["openai"] > 0 and first.provider_webhooks["fal"] > 0 and first.resets > 0
    assert first.jobs_by_provider == {"openai": 10, "fal": 10, "runway": 10}
    assert first.lost_creates_failed["runway"] > 0, "each provider loses the answer to its first create"
    assert set(first.forged_webhooks) == {"forged", "misdirected", "stale"}, first.forged_webhooks
