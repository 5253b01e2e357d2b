"""The cost table of docs/costs.md is what ops/costs.py computes from template.yaml, and follows the template."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from local.template import load_template
from ops.costs import PRICES_AS_OF, cost_lines, render_table, summary

ROOT = Path(__file__).resolve().parents[2]


def _documented_table() -> str:
    text = (ROOT / "docs" / "costs.md").read_text()
    match = re.search(r"<!-- costs:begin -->\n(.*)<!-- costs:end -->", text, re.DOTALL)
    assert match, "docs/costs.md lost its costs:begin/costs:end markers"
    return match[1]


def _line(lines, service):
    [line] = [line for line in lines if line.service == service]
    return line


def test_the_documented_table_is_what_the_script_computes_from_the_template():
    assert _documented_table() == render_table(), "run `make costs` and paste its table into docs/costs.md"


def test_the_readme_states_the_totals_and_the_prices_date():
    readme = (ROOT / "README.md").read_text()

    assert summary() in readme
    assert PRICES_AS_OF in _documented_table()


def test_the_sweep_costs_follow_its_memory_and_mode():
    template = copy.deepcopy(load_template())
    base = _line(cost_lines(template), "Lambda").at_rest
    template["Resources"]["PollSoraStatusFunction"]["Properties"]["MemorySize"] = 1024
    assert _line(cost_lines(template), "Lambda").at_rest == pytest.approx(2 * base, rel=0.01)

    template["Parameters"]["SweepMode"]["Default"] = "one-shot"
    assert _line(cost_lines(template), "Lambda").at_rest < 0.5


def test_storage_follows_the_video_retention_and_secrets_their_count():
    template = copy.deepcopy(load_template())
    year = _line(cost_lines(template), "S3").per_thousand_jobs
    template["Parameters"]["VideoRetentionDays"]["Default"] = 30
    del template["Resources"]["FalKeySecret"]
    lines = cost_lines(template)

    assert _line(lines, "S3").per_thousand_jobs < year / 3
    assert _line(lines, "Secrets Manager").at_rest == pytest.approx(4 * 0.40)


def test_a_provisioned_table_is_not_silently_priced_as_on_demand():
    template = copy.deepcopy(load_template())
    [table] = [r for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    table["Properties"]["BillingMode"] = "PROVISIONED"

    with pytest.raises(ValueError, match="on-demand"):
        cost_lines(template)
