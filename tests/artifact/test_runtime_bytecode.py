"""What `sam build` ships carries bytecode the Lambda runtime (CPython 3.13) loads as it is.

/opt and /var/task are read-only in Lambda: a module without its `__pycache__/<name>.cpython-313.pyc` is
compiled again at every cold start. The check reads each .pyc's header itself, independent of the script
that wrote it (layers/sorajobs/runtime_bytecode.py):

- the magic number is CPython 3.13's (a .pyc of any other version is ignored by the runtime);
- the flags say unchecked-hash (the runtime never compares it with the source's mtime, which the zip does not
  keep exactly);
- the hash in the header is the source's own (`_imp.source_hash` keyed with 3.13's magic), so the bytecode is
  of the .py that ships beside it.

The checker's own tests always run. The check of the build runs where `make sam-build` asks for it
(CHECK_BUILT_ARTIFACT=1, right after `sam build`), so a plain pytest run never judges an older .aws-sam/build.
"""

from __future__ import annotations

import _imp
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = ROOT / ".aws-sam" / "build"
RUNTIME_CACHE_TAG = "cpython-313"
# CPython 3.13's importlib.util.MAGIC_NUMBER (3571, then \r\n); checked against a 3.13 below when one is at hand.
RUNTIME_MAGIC = (3571).to_bytes(2, "little") + b"\r\n"
UNCHECKED_HASH_FLAGS = 0b01
PROVISIONED_PYTHON = ROOT / ".cache" / "python3.13" / "bin" / "python3.13"


def runtime_bytecode_problems(tree: Path) -> list[str]:
    """One line per module under `tree` that the runtime would have to compile at a cold start."""
    key = int.from_bytes(RUNTIME_MAGIC, "little")
    problems = []
    for source in sorted(tree.rglob("*.py")):
        where = source.relative_to(tree)
        compiled = source.parent / "__pycache__" / f"{source.stem}.{RUNTIME_CACHE_TAG}.pyc"
        if not compiled.is_file():
            problems.append(f"{where}: no __pycache__/{compiled.name}")
            continue
        header = compiled.read_bytes()[:16]
        flags = int.from_bytes(header[4:8], "little")
        if header[:4] != RUNTIME_MAGIC:
            problems.append(f"{where}: magic {header[:4].hex()} is not CPython 3.13's {RUNTIME_MAGIC.hex()}")
        elif flags != UNCHECKED_HASH_FLAGS:
            problems.append(f"{where}: flags {flags:#b}, not unchecked-hash ({UNCHECKED_HASH_FLAGS:#b})")
        elif header[8:16] != _imp.source_hash(key, source.read_bytes()):
            problems.append(f"{where}: the .pyc is of another source (hash mismatch)")
    return problems


def built_trees() -> list[Path]:
    """The layer's python/ folder and every function's folder in the `sam build` output."""
    if not os.environ.get("CHECK_BUILT_ARTIFACT"):
        pytest.skip("checks the `sam build` output when make sam-build asks (CHECK_BUILT_ARTIFACT=1)")
    if not BUILD_DIR.is_dir():
        pytest.fail(f"no `sam build` output at {BUILD_DIR}")
    return [BUILD_DIR / "SoraJobsLayer" / "python", *sorted(BUILD_DIR.glob("*Function"))]


def _write_pyc(source: Path, *, magic: bytes = RUNTIME_MAGIC, flags: int = UNCHECKED_HASH_FLAGS) -> None:
    cache = source.parent / "__pycache__"
    cache.mkdir(exist_ok=True)
    digest = _imp.source_hash(int.from_bytes(RUNTIME_MAGIC, "little"), source.read_bytes())
    (cache / f"{source.stem}.{RUNTIME_CACHE_TAG}.pyc").write_bytes(magic + flags.to_bytes(4, "little") + digest)


@pytest.fixture
def package(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    for name in ("__init__.py", "module.py"):
        (tmp_path / "pkg" / name).write_text(f"NAME = {name!r}\n")
        _write_pyc(tmp_path / "pkg" / name)
    return tmp_path


def test_a_tree_whose_every_module_has_runtime_bytecode_passes(package):
    assert runtime_bytecode_problems(package) == []


def test_a_module_without_bytecode_is_reported(package):
    (package / "pkg" / "extra.py").write_text("X = 1\n")

    assert runtime_bytecode_problems(package) == ["pkg/extra.py: no __pycache__/extra.cpython-313.pyc"]


def test_bytecode_of_the_build_python_is_reported(package):
    _write_pyc(package / "pkg" / "module.py", magic=(3495).to_bytes(2, "little") + b"\r\n")  # 3.11's

    [problem] = runtime_bytecode_problems(package)
    assert problem.startswith("pkg/module.py: magic a70d0d0a is not CPython 3.13's")


def test_timestamp_bytecode_is_reported(package):
    _write_pyc(package / "pkg" / "module.py", flags=0)

    assert runtime_bytecode_problems(package) == ["pkg/module.py: flags 0b0, not unchecked-hash (0b1)"]


def test_bytecode_of_another_version_of_the_source_is_reported(package):
    (package / "pkg" / "module.py").write_text("NAME = 'changed after compiling'\n")

    assert runtime_bytecode_problems(package) == ["pkg/module.py: the .pyc is of another source (hash mismatch)"]


def test_the_magic_number_is_the_runtime_pythons():
    if not PROVISIONED_PYTHON.exists():
        pytest.skip("no CPython 3.13 in .cache yet (the first `make sam-build` fetches it)")
    printed = subprocess.run(
        [str(PROVISIONED_PYTHON), "-c", "import importlib.util; print(importlib.util.MAGIC_NUMBER.hex())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    assert bytes.fromhex(printed) == RUNTIME_MAGIC


def test_every_module_the_build_ships_has_runtime_bytecode():
    trees = built_trees()
    layer = trees[0]
    assert (layer / "sorajobs" / "__init__.py").is_file(), "the layer holds the sorajobs package"
    assert len(trees) > 1, "the build holds the functions"

    problems = [f"{tree.name}/{problem}" for tree in trees for problem in runtime_bytecode_problems(tree)]

    assert problems == [], f"{len(problems)} modules would compile at every cold start:\n" + "\n".join(problems[:20])
