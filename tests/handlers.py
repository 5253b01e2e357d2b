"""The handler modules as the tests load them, and the test world whose collaborators they use.

Kept apart from conftest.py, which pytest imports a second time as `conftest`: one module, one installed world.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from sorajobs.wiring import Wiring

FUNCTIONS = Path(__file__).resolve().parent.parent / "functions"

_handler_modules: dict[str, ModuleType] = {}
_installed: list[Wiring] = []


def install_wiring(wiring: Wiring | None) -> None:
    """Makes `wiring` what the loaded handlers use (None: none; a handler then fails loudly)."""
    _installed[:] = [] if wiring is None else [wiring]


def installed_wiring() -> Wiring:
    if not _installed:
        raise RuntimeError("no test world is running: its wiring is what the handlers use")
    return _installed[0]


def import_handler(function_dir: str, module_name: str) -> ModuleType:
    """Imports functions/<dir>/app.py afresh the way Lambda does; its `process_wiring` is replaced by the running
    test world's, as Powertools' dependency_overrides replaces a dependency."""
    spec = importlib.util.spec_from_file_location(module_name, FUNCTIONS / function_dir / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.process_wiring = installed_wiring
    return module


def load_handler(function_dir: str) -> ModuleType:
    """The function's handler module, imported once per test session."""
    if function_dir not in _handler_modules:
        _handler_modules[function_dir] = import_handler(function_dir, f"functions_{function_dir}_app")
    return _handler_modules[function_dir]
