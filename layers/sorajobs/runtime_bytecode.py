"""Compiles what a function or the layer ships into bytecode for the Lambda runtime's Python (CPython 3.13).

Lambda's /opt and /var/task are read-only, so a module shipped without its `__pycache__/*.cpython-313.pyc`
is compiled again at every cold start. The build Python may be another version (3.11 here), so the
bytecode is made by a CPython 3.13, found in this order:

1. `RUNTIME_PYTHON`, if set (any python3.13);
2. the Python running this script, if it is 3.13 (`sam build --use-container` builds in the runtime's image);
3. Debian trixie's python3.13 packages, fetched once with apt-get through a private sources list (signed by
   the archive keys Debian 12 already trusts) and unpacked into `<project>/.cache/python3.13`
   (`RUNTIME_PYTHON_CACHE` moves it), never installed over the system. Trixie's binaries need a newer C
   library than Debian 12's, so its own libc is unpacked beside them and `bin/python3.13` starts the
   interpreter with trixie's dynamic loader. Its standard library is compiled once, as the runtime's is.

The .pyc files are `unchecked-hash` ones: the runtime loads them without comparing the source's mtime, which
the zip and the layer's extraction do not keep exactly, and they are the same bytes whichever folder the
build ran in (the recorded path is the one the module has in Lambda: /opt/python/..., /var/task/...).

    python3 runtime_bytecode.py python                         # prints the path of a python3.13
    python3 runtime_bytecode.py compile DIR --runtime-path /opt/python

Only the standard library of the build Python is used: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

RUNTIME_VERSION = (3, 13)
RUNTIME_CACHE_TAG = "cpython-313"
PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_CACHE = PROJECT_ROOT / ".cache" / "python3.13"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_SUITE = "trixie"
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# The interpreter and its standard library, the C library whose loader runs it, and the shared libraries
# the standard library's extension modules link (ssl and hashlib, ctypes, lzma, bz2, uuid, zlib, expat).
DEBIAN_PACKAGES = (
    "python3.13-minimal",
    "libpython3.13-minimal",
    "libpython3.13-stdlib",
    "libc6",
    "zlib1g",
    "libexpat1",
    "libssl3t64",
    "libffi8",
    "liblzma5",
    "libbz2-1.0",
    "libuuid1",
)
# PYTHONHOME and --argv0 make sys.executable this wrapper, so the interpreter's own subprocesses (compileall's
# workers) start through it too.
_WRAPPER = """#!/bin/sh
# CPython {version} from Debian {suite}, run by {suite}'s own dynamic loader and C library (the host's is older).
PYTHONHOME="{home}" exec "{loader}" --library-path "{libdir}" --argv0 "{wrapper}" "{python}" "$@"
"""


def log(message: str) -> None:
    print(f"runtime_bytecode: {message}", file=sys.stderr, flush=True)


def _is_runtime_python(python: str) -> bool:
    try:
        completed = subprocess.run(
            [python, "-c", "import sys; print(sys.implementation.cache_tag)"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except OSError:
        return False
    return completed.returncode == 0 and completed.stdout.strip() == RUNTIME_CACHE_TAG


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """`sam build --parallel` builds the layer and the functions at once: one of them provisions, the rest wait."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _apt_get(workdir: Path, *arguments: str) -> None:
    options = {
        "Dir::Etc::SourceList": str(workdir / "sources.list"),
        "Dir::Etc::SourceParts": str(workdir / "sources.list.d"),
        "Dir::State::Lists": str(workdir / "lists"),
        "Dir::State::Status": str(workdir / "status"),
        "Dir::Cache": str(workdir / "cache"),
        "Debug::NoLocking": "1",
        "APT::Sandbox::User": "root" if os.geteuid() == 0 else os.environ.get("USER", ""),
    }
    command = ["apt-get", "-q", "-y"]
    for name, value in options.items():
        command += ["-o", f"{name}={value}"]
    subprocess.run([*command, *arguments], cwd=workdir, check=True, stdout=subprocess.DEVNULL)


def _download_debian_packages(workdir: Path) -> list[Path]:
    for folder in ("sources.list.d", "lists/partial", "cache/archives/partial"):
        (workdir / folder).mkdir(parents=True, exist_ok=True)
    (workdir / "status").write_text("")
    (workdir / "sources.list").write_text(f"deb [signed-by={DEBIAN_KEYRING}] {DEBIAN_MIRROR} {DEBIAN_SUITE} main\n")
    _apt_get(workdir, "update")
    _apt_get(workdir, "download", *DEBIAN_PACKAGES)
    return sorted(workdir.glob("*.deb"))


def _provision(cache: Path) -> Path:
    wrapper = cache / "bin" / "python3.13"
    if wrapper.exists() and _is_runtime_python(str(wrapper)):
        return wrapper
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise SystemExit(
            "runtime_bytecode: no CPython 3.13 to compile the layer's bytecode with, and no apt-get to fetch one: "
            "set RUNTIME_PYTHON to a python3.13, or build with `sam build --use-container`"
        )
    log(f"fetching CPython 3.13 from Debian {DEBIAN_SUITE} into {cache} (once)")
    root = cache / "root"
    shutil.rmtree(root, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="apt-", dir=cache) as workdir:
        for package in _download_debian_packages(Path(workdir)):
            subprocess.run(["dpkg-deb", "-x", str(package), str(root)], check=True)
    loader = next((root / "usr" / "lib").glob("*-linux-gnu*/ld-linux*.so.*"))
    python = root / "usr" / "bin" / "python3.13"
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    wrapper.write_text(
        _WRAPPER.format(
            version="3.13",
            suite=DEBIAN_SUITE,
            home=root / "usr",
            loader=loader,
            libdir=loader.parent,
            wrapper=wrapper,
            python=python,
        )
    )
    wrapper.chmod(0o755)
    if not _is_runtime_python(str(wrapper)):
        raise SystemExit(f"runtime_bytecode: {wrapper} does not run as CPython 3.13")
    # The runtime ships its standard library compiled; so does this copy (the benchmark runs handlers on it).
    stdlib = root / "usr" / "lib" / "python3.13"
    subprocess.run([str(wrapper), "-m", "compileall", "-q", "-j", "0", str(stdlib)], check=True)
    return wrapper


def runtime_python() -> str:
    """The path of a CPython 3.13, provisioned into the cache on first use."""
    chosen = os.environ.get("RUNTIME_PYTHON")
    if chosen:
        if not _is_runtime_python(chosen):
            raise SystemExit(f"runtime_bytecode: RUNTIME_PYTHON={chosen} is not a CPython 3.13")
        return chosen
    if sys.version_info[:2] == RUNTIME_VERSION and sys.implementation.name == "cpython":
        return sys.executable
    cache = Path(os.environ.get("RUNTIME_PYTHON_CACHE") or DEFAULT_CACHE)
    with _locked(cache):
        return str(_provision(cache))


def compile_tree(directory: Path, runtime_path: str) -> None:
    """Every .py under `directory` gets its unchecked-hash cpython-313 .pyc, recorded as under `runtime_path`."""
    python = runtime_python()
    subprocess.run(
        [
            python,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            "-s",
            str(directory),
            "-p",
            runtime_path,
            str(directory),
        ],
        check=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="runtime_bytecode.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("python", help="print the path of a CPython 3.13 (fetching one if needed)")
    compile_parser = commands.add_parser("compile", help="compile every module under DIR for the runtime")
    compile_parser.add_argument("directory", type=Path)
    compile_parser.add_argument("--runtime-path", required=True, help="where DIR is in Lambda (/opt/python)")
    args = parser.parse_args(argv)
    if args.command == "python":
        print(runtime_python())
    else:
        compile_tree(args.directory.resolve(), args.runtime_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
