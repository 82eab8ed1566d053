"""`contour serve` as a real process for tests, against `contour apiserver` (apiserver_process.py).

`ServeProcess(kubeconfig, work_dir, extra_args).start()` launches `contour serve` on loopback with
ports picked here (xDS, metrics, health, debug, and Envoy's HTTP, HTTPS and stats listeners, which the
DAG tells Envoy to bind) and returns once `/readyz` answers 200: the informers synced, the first
snapshot was built and the xDS server is bound. `stop()` sends SIGTERM by PID and SIGKILLs after a
deadline; `kill()` is `kill -9` (nothing released). `run_serve(args)` runs it to its exit (bad flags).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.contour_run import free_port, stop_by_pid

CONTOUR = str(Path(sys.executable).parent / "contour")
# Wide enough that typer's usage errors are not wrapped inside their box.
_ENV = {"COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"}


def run_serve(
    *args: str, timeout: float = 60.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`contour serve ARGS` run to its end; stdout and stderr captured."""
    return subprocess.run(
        [CONTOUR, "serve", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **_ENV, **(env or {})},
        stdin=subprocess.DEVNULL,
        check=False,
    )


@dataclass
class ServeProcess:
    kubeconfig: Path
    work_dir: Path
    extra_args: list[str] = field(default_factory=list)
    insecure: bool = True  # False: the test passes --contour-cafile/--contour-cert-file/--contour-key-file
    name: str = "serve"
    xds_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    health_port: int = field(default_factory=free_port)
    debug_port: int = field(default_factory=free_port)
    envoy_http_port: int = field(default_factory=free_port)
    envoy_https_port: int = field(default_factory=free_port)
    stats_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.work_dir / f"{self.name}.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_records(self) -> list[dict[str, Any]]:
        """The log's lines as JSON objects (with --log-format json); other lines are left out."""
        records = []
        for line in self.log().splitlines():
            with contextlib.suppress(ValueError):
                value = json.loads(line)
                if isinstance(value, dict):
                    records.append(value)
        return records

    def command(self) -> list[str]:
        return [
            CONTOUR,
            "serve",
            "--kubeconfig",
            str(self.kubeconfig),
            "--xds-address",
            "127.0.0.1",
            "--xds-port",
            str(self.xds_port),
            "--http-address",
            "127.0.0.1",
            "--http-port",
            str(self.http_port),
            "--health-address",
            "127.0.0.1",
            "--health-port",
            str(self.health_port),
            "--debug-http-port",
            str(self.debug_port),
            "--envoy-service-http-address",
            "127.0.0.1",
            "--envoy-service-http-port",
            str(self.envoy_http_port),
            "--envoy-service-https-address",
            "127.0.0.1",
            "--envoy-service-https-port",
            str(self.envoy_https_port),
            "--stats-address",
            "127.0.0.1",
            "--stats-port",
            str(self.stats_port),
            *(["--insecure"] if self.insecure else []),
            *self.extra_args,
        ]

    def launch(self) -> ServeProcess:
        """Start the process without waiting for it to be ready."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **_ENV},
            )
        return self

    def start(self, timeout: float = 60.0) -> ServeProcess:
        """Start and wait until /readyz answers 200; RuntimeError with the log if it exits or times out."""
        self.launch()
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def ready(self) -> bool:
        try:
            response = httpx.get(f"http://127.0.0.1:{self.health_port}/readyz", timeout=2.0, trust_env=False)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"contour serve exited before it was ready:\n{self.log()[-5000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"contour serve was not ready within {timeout}s:\n{self.log()[-5000:]}")
            time.sleep(0.05)  # polling another process's endpoint with a deadline

    def get(self, port: int, path: str) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5.0, trust_env=False)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        """Signal by PID, wait, SIGKILL after `timeout`; the exit code (None if never started)."""
        process, self.process = self.process, None
        return stop_by_pid(process, "contour serve", sig, timeout)

    def kill(self) -> None:
        """kill -9 by PID: no Lease released, nothing flushed."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
            process.wait(5)
