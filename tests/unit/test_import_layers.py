"""The import contracts (pyproject.toml, [tool.importlinter]) hold, and would catch an upward import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "sorajobs" / "src" / "sorajobs"
CLIENT_SOURCE = ROOT / "clients" / "python" / "src"  # sorajobs_client, a root package of the contracts too
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(cwd: Path, pythonpath: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": pythonpath}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=environment, capture_output=True, text=True, check=False
    )


def test_the_shared_package_and_local_keep_their_import_contracts():
    result = _lint_imports(ROOT, os.pathsep.join(map(str, [PACKAGE.parent, CLIENT_SOURCE, ROOT])))

    assert result.returncode == 0, result.stdout + result.stderr


def test_an_upward_import_breaks_the_layers_contract(tmp_path):
    copy = tmp_path / "src" / "sorajobs"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "local", tmp_path / "local", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with (copy / "dal" / "storage.py").open("a") as module:
        module.write("\nfrom sorajobs.logic import store  # noqa: E402\n")  # the data layer reaching up

    result = _lint_imports(tmp_path, os.pathsep.join(map(str, [tmp_path / "src", CLIENT_SOURCE, tmp_path])))

    assert result.returncode != 0
    assert "sorajobs.dal.storage -> sorajobs.logic.store" in result.stdout
