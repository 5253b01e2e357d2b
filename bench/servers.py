"""The servers a benchmark talks to, each in its own process so its memory is not counted as ours."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
STARTUP_SECONDS = 30.0
STOP_SECONDS = 5.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http_json(method: str, url: str, body: Any = None, *, timeout: float = 120.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # our own http://127.0.0.1 servers
        payload = response.read()
    return json.loads(payload) if payload else None


class ServerProcess:
    """A child process serving HTTP on a local port; its output goes to a log file shown if it fails."""

    def __init__(self, name: str, argv: list[str], *, port: int, ready_path: str, env: dict[str, str]) -> None:
        self.name = name
        self.url = f"http://127.0.0.1:{port}"
        self._argv = argv
        self._ready_url = self.url + ready_path
        self._env = env
        self._log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)  # noqa: SIM115
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> ServerProcess:
        self._process = subprocess.Popen(
            self._argv, cwd=ROOT, env=self._env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self._process.returncode}:\n{self.log_tail()}")
            try:
                urllib.request.urlopen(self._ready_url, timeout=2).close()  # our own http://127.0.0.1 server
                return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer within {STARTUP_SECONDS:.0f} s:\n{self.log_tail()}")

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def log_tail(self, characters: int = 2000) -> str:
        try:
            return Path(self._log.name).read_text(errors="replace")[-characters:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Terminates this process (by its own id), killing it if it does not exit in time; idempotent."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_SECONDS)
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def quiet_environment(**extra: str) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "OPENAI_"))}
    return {**environment, **extra}


def moto_server() -> ServerProcess:
    port = free_port()
    return ServerProcess(
        "moto_server",
        [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        port=port,
        ready_path="/moto-api/data.json",
        env=quiet_environment(),
    )


def emulator(api_key: str) -> ServerProcess:
    port = free_port()
    argv = [sys.executable, "-m", "local.emulator", "--port", str(port), "--api-key", api_key]
    argv += ["--queue-seconds", "0", "--render-seconds", "0", "--manual-clock", "--quiet"]
    return ServerProcess("emulator", argv, port=port, ready_path="/_emulator/stats", env=quiet_environment())


@contextmanager
def stop_children_on_sigterm() -> Iterator[None]:
    """SIGTERM becomes SystemExit, so the `with` blocks that own servers and children still stop them."""

    def exit_cleanly(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, exit_cleanly)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
