"""Running `contour apiserver` as a real process for tests, and talking to it with kubectl and httpx.

The process is started on a free loopback port with its own state directory, found by the one line it
prints on stdout, and stopped (or killed) by PID. kubectl runs with a kubeconfig the server wrote.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

BIN_DIR = Path(sys.executable).parent
CONTOUR = str(BIN_DIR / "contour")
KUBECTL = str(BIN_DIR / "kubectl")


@dataclass
class APIServerProcess:
    state_dir: Path
    extra_args: list[str] = field(default_factory=list)
    port: int = 0
    process: subprocess.Popen[str] | None = None
    url: str = ""

    def start(self, timeout: float = 30.0) -> APIServerProcess:
        args = [
            CONTOUR,
            "apiserver",
            "--state-dir",
            str(self.state_dir),
            "--port",
            str(self.port),
            *self.extra_args,
        ]
        log = (self.state_dir.parent / f"{self.state_dir.name}.log").open("a")
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True)
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("serving on ") or time.monotonic() > deadline:
            self.stop()
            log_text = (self.state_dir.parent / f"{self.state_dir.name}.log").read_text()
            raise RuntimeError(f"contour apiserver did not start: {line!r}\n{log_text[-3000:]}")
        self.url = line.split()[2].rstrip(";")
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def kill(self) -> None:
        """kill -9: nothing is flushed or closed by the server."""
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
            self.process = None

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        full_env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "HOME": str(self.state_dir.parent),
            **(env or {}),
        }
        result = subprocess.run(
            [KUBECTL, *args],
            input=input,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=60,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, verify=False)


def wait_for(
    predicate: Any, timeout: float = 10.0, interval: float = 0.02, message: str = "condition"
) -> Any:
    """Poll `predicate` until it returns a truthy value; fail with `message` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)
