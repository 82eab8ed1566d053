"""Starting a real `contour echo` process on free loopback ports and reading its stdout as it runs.

Ports are chosen by the kernel (`--port 0`) and read back from the "Starting server" lines, so two
test runs never race for a port. Stdout is drained by a thread for the whole life of the process
(an unread pipe would eventually block the server) and tests wait on lines with a deadline.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.manifests import REPO_ROOT

# The label is the listener's protocol: http, h2c, https (http mode), grpc, grpc-tls, tcp, tls, udp.
_LISTENING = re.compile(r"^Starting server, listening on port (\d+) \(([a-z0-9-]+)\)$")


def contour_binary() -> Path:
    """The `contour` command to test: $CONTOUR_BIN if set, else the one installed beside this Python."""
    if override := os.environ.get("CONTOUR_BIN"):
        return Path(override)
    beside_python = Path(sys.executable).with_name("contour")
    return beside_python if beside_python.exists() else REPO_ROOT / ".venv" / "bin" / "contour"


class EchoProcess:
    """One running `contour echo`; use as a context manager, it is stopped by PID on exit."""

    def __init__(self, *args: str, stderr_path: Path, startup_timeout: float = 20.0) -> None:
        self.args = [str(contour_binary()), "echo", "--address", "127.0.0.1", *args]
        self._stderr_path = stderr_path
        self._stderr = stderr_path.open("wb")
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self._stderr, text=True)
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        expected = 1 + ("--h2c-port" in args) + ("--tls-port" in args)
        self.ports: dict[str, int] = {}
        self.wait_for(lambda: len(self._listening()) >= expected, startup_timeout, "the listeners")
        self.ports = self._listening()

    def __enter__(self) -> EchoProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self._lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def _listening(self) -> dict[str, int]:
        found = {}
        for line in self.lines():
            match = _LISTENING.match(line)
            if match:
                found[match.group(2)] = int(match.group(1))
        return found

    def lines(self) -> list[str]:
        with self._changed:
            return list(self._lines)

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(
                        f"gave up waiting for {what}; exit code {self.proc.poll()};"
                        f" stdout {self._lines[-20:]}; stderr {self.stderr()[-2000:]!r}"
                    )
                self._changed.wait(min(remaining, 0.1))

    def wait_for_line(self, line: str, timeout: float = 5.0, *, prefix: bool = False) -> None:
        """Wait until stdout has this exact line (or, with prefix, a line starting with it)."""
        if prefix:
            self.wait_for(lambda: any(seen.startswith(line) for seen in self._lines), timeout, f"{line!r}...")
        else:
            self.wait_for(lambda: line in self._lines, timeout, f"stdout line {line!r}")

    def stderr(self) -> str:
        if not self._stderr.closed:
            self._stderr.flush()
        return self._stderr_path.read_text("utf-8", "replace")

    def url(self, listener: str = "http", path: str = "/") -> str:
        scheme = "https" if listener == "https" else "http"
        return f"{scheme}://127.0.0.1:{self.ports[listener]}{path}"

    def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM, then wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        try:
            self.terminate()
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        finally:
            self._reader.join(5)
            self._stderr.close()
