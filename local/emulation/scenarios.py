"""Which scenario a new generation follows: the next scripted one, else the first rule whose text is in the prompt,
else the default. The scenario itself (timings, outcome) is each provider's own dataclass."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

ScenarioT = TypeVar("ScenarioT")


@dataclass(frozen=True)
class Rule(Generic[ScenarioT]):
    prompt_contains: str
    scenario: ScenarioT


class ScenarioBook(Generic[ScenarioT]):
    """Scripted scenarios (FIFO, before any rule), prompt rules (first match wins) and the default."""

    def __init__(self, default: ScenarioT) -> None:
        self._lock = threading.Lock()
        self.default = default
        self._scripted: deque[ScenarioT] = deque()
        self._rules: list[Rule[ScenarioT]] = []

    def script_next(self, scenario: ScenarioT) -> None:
        with self._lock:
            self._scripted.append(scenario)

    def add_rule(self, prompt_contains: str, scenario: ScenarioT) -> None:
        with self._lock:
            self._rules.append(Rule(prompt_contains, scenario))

    def clear_scripted(self) -> None:
        with self._lock:
            self._scripted.clear()

    def clear_rules(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, prompt: str) -> ScenarioT:
        """The next scripted scenario, else the first rule matching the prompt (case-sensitive), else the default."""
        with self._lock:
            if self._scripted:
                return self._scripted.popleft()
            for rule in self._rules:
                if rule.prompt_contains in prompt:
                    return rule.scenario
            return self.default

    @property
    def scripted_count(self) -> int:
        with self._lock:
            return len(self._scripted)

    def rules(self) -> list[Rule[ScenarioT]]:
        with self._lock:
            return list(self._rules)
