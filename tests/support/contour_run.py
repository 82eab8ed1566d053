"""`contour run` as a real process for end-to-end tests: started on free ports, driven with kubectl.

`ContourRun.start()` launches `contour run` with its own state directory (API server, admin and xDS on
port 0; Envoy's HTTP and HTTPS ports picked free here) and returns once `run.json` says Envoy is LIVE.
Requests go to Envoy on 127.0.0.1 with a Host header, or over TLS with SNI; `rejections()` reads Envoy's
`update_rejected` counters; `stop()` sends SIGTERM (or SIGINT) by PID and kills by PID after a
deadline, so a test never leaves the process, its Envoy or its echo backends behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

BIN_DIR = Path(sys.executable).parent
CONTOUR = str(BIN_DIR / "contour")
KUBECTL = str(BIN_DIR / "kubectl")
REJECTED_STATS = r"(update_rejected)$"

T = TypeVar("T")


# Ports handed to processes that bind them later (Envoy binds its listeners only once a host exists)
# come from below the kernel's ephemeral range (32768-60999 by default), so a socket bound to port 0
# in the meantime (a test's backend) cannot be given the same one.
_RESERVED_RANGE = (20000, 32000)
_rng = random.Random()


def free_port() -> int:
    """A port free on 127.0.0.1 right now, outside the ephemeral range (see above)."""
    for _ in range(200):
        port = _rng.randrange(*_RESERVED_RANGE)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_RESERVED_RANGE}")


def pid_alive(pid: int) -> bool:
    """Whether a process with this PID exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(
    probe: Callable[[], T], accept: Callable[[T], bool] = bool, *, timeout: float = 15.0, what: str = "it"
) -> T:
    """Call `probe` until `accept` takes its result; errors count as "not yet"; fail at the deadline."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    last: object = "never probed"
    while True:
        try:
            value = probe()
        except (httpx.HTTPError, OSError, subprocess.SubprocessError) as error:
            last = error
        else:
            if accept(value):
                return value
            last = value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s; last seen: {last!r}")
        time.sleep(delay)  # polling an outside process with a deadline
        delay = min(delay * 2, 0.1)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: httpx.Headers
    body: dict[str, Any] | None

    @property
    def pod(self) -> str | None:
        return None if self.body is None else self.body.get("pod")


@dataclass
class ContourRun:
    state_dir: Path
    manifests: tuple[Path, ...] = ()
    extra_args: tuple[str, ...] = ()
    http_port: int = field(default_factory=free_port)
    https_port: int = field(default_factory=free_port)
    stats_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def log_path(self) -> Path:
        return self.state_dir.parent / f"{self.state_dir.name}.log"

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def envoy_pid(self) -> int:
        return int(self.info["envoy_pid"])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout: float = 60.0) -> ContourRun:
        command = [
            CONTOUR,
            "run",
            "--state-dir",
            str(self.state_dir),
            "--http-port",
            str(self.http_port),
            "--https-port",
            str(self.https_port),
            "--api-port",
            "0",
            "--admin-port",
            "0",
            "--xds-port",
            "0",
            "--stats-port",
            str(self.stats_port),
            "--log-level",
            "info",
            *(arg for path in self.manifests for arg in ("-f", str(path))),
            *self.extra_args,
        ]
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        run_json = self.state_dir / "run.json"
        deadline = time.monotonic() + timeout
        while not run_json.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"contour run did not become ready:\n{self.log()[-5000:]}")
            time.sleep(0.05)  # polling the process's output file with a deadline
        self.info = json.loads(run_json.read_text())
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        """Signal by PID, wait, SIGKILL after `timeout`; the exit code (None if it was never started)."""
        process, self.process = self.process, None
        return stop_by_pid(process, "contour run", sig, timeout)

    @property
    def child_pids(self) -> list[int]:
        """Envoy's PID and the echo backends' PIDs, from run.json."""
        return [
            int(self.info.get("envoy_pid", 0)),
            *(int(p) for p in self.info.get("echo_pids", {}).values()),
        ]

    def kill_leftovers(self) -> None:
        """SIGKILL Envoy and the echo backends by PID if a failed test left them (normally a no-op)."""
        pids = self.child_pids
        for pid in pids:
            if pid and pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    # -- kubectl -------------------------------------------------------------------------------

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "HOME": str(self.state_dir.parent)}
        result = subprocess.run(
            [KUBECTL, *args], input=input, capture_output=True, text=True, env=env, timeout=60, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def apply(self, objects: Iterable[dict[str, Any]]) -> None:
        self.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(list(objects), sort_keys=False))

    def get(self, resource: str, name: str, namespace: str) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(
            self.kubectl("get", resource, name, "-n", namespace, "-o", "json").stdout
        )
        return found

    # -- Envoy ---------------------------------------------------------------------------------

    def request(self, host: str, path: str = "/", *, https: bool = False, ca: Path | None = None) -> Answer:
        """GET through Envoy with `Host: host` (and SNI `host` over HTTPS, verified against `ca`)."""
        if https:
            context = ssl.create_default_context(cafile=str(ca)) if ca else ssl.create_default_context()
            if ca is None:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            url = f"https://127.0.0.1:{self.https_port}{path}"
            extensions = {"sni_hostname": host}
        else:
            context, url, extensions = None, f"http://127.0.0.1:{self.http_port}{path}", {}
        with httpx.Client(verify=context or False, timeout=5.0, trust_env=False) as client:
            response = client.get(url, headers={"host": host}, extensions=extensions)
        body = None
        if response.headers.get("content-type", "").startswith("application/json"):
            body = response.json()
        return Answer(response.status_code, response.headers, body)

    def wait_for(
        self, host: str, accept: Callable[[Answer], bool], *, path: str = "/", what: str = "", **kw: Any
    ) -> Answer:
        return wait_until(
            lambda: self.request(host, path, **kw), accept, what=what or f"the answer for {host}{path}"
        )

    def admin(self, path: str, **params: str) -> httpx.Response:
        with httpx.Client(
            base_url=f"http://{self.info['envoy_admin']}", timeout=5.0, trust_env=False
        ) as client:
            return client.get(path, params=params)

    def rejections(self) -> dict[str, int]:
        """Every nonzero `*update_rejected` counter of Envoy (NACKs of any xDS type)."""
        stats = self.admin("/stats", format="json", filter=REJECTED_STATS).json().get("stats", [])
        return {s["name"]: s["value"] for s in stats if isinstance(s.get("value"), int) and s["value"]}

    def gateway_rejections(self) -> dict[str, dict[str, int]]:
        """`rejections()` of every running Gateway Envoy (`STATE_DIR/gateways.json`), by Gateway; an
        Envoy that is gone or shutting down (its Gateway was deleted) is left out."""
        path = self.state_dir / "gateways.json"
        envoys: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        found: dict[str, dict[str, int]] = {}
        for name, envoy in envoys.items():
            if not pid_alive(int(envoy["pid"])):
                continue
            try:
                with httpx.Client(
                    base_url=f"http://{envoy['admin']}", timeout=5.0, trust_env=False
                ) as client:
                    response = client.get("/stats", params={"format": "json", "filter": REJECTED_STATS})
            except httpx.TransportError:
                continue
            stats = response.json().get("stats", [])
            rejected = {
                s["name"]: s["value"] for s in stats if isinstance(s.get("value"), int) and s["value"]
            }
            if rejected:
                found[name] = rejected
        return found


def stop_by_pid(
    process: subprocess.Popen[bytes] | None, what: str, sig: int = signal.SIGTERM, timeout: float = 20.0
) -> int | None:
    """Signal `process` by PID and wait; SIGKILL and fail the test if it ignores `sig` for `timeout`
    seconds. The exit code, or None for a process that was never started."""
    if process is None:
        return None
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, sig)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
            process.wait(5)
            raise AssertionError(f"{what} ignored signal {sig} for {timeout}s") from None
    return process.returncode


@contextlib.contextmanager
def running(state_dir: Path, extra_args: tuple[str, ...] = ()) -> Iterator[ContourRun]:
    """A started `contour run`, stopped (and any leftover process killed) on exit."""
    contour = ContourRun(state_dir, extra_args=extra_args).start()
    try:
        yield contour
    finally:
        contour.stop()
        contour.kill_leftovers()
