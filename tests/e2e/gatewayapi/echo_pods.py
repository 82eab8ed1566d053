"""The conformance base's backend "pods": one `contour echo` process per pod on 127.0.0.1.

The upstream base runs the echo image in Deployments (infra-backend-v1 with 2 replicas, v3 with 1,
...), each container told its POD_NAME, NAMESPACE and SERVICE_NAME; the request tests check that the
echo's `pod` starts with the Deployment's name. Here each pod is a process with the same environment,
listening on a free port; the Services in front of them are selector-less with one EndpointSlice per
pod (see base_manifests.py). Stopped by PID.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.contour_run import CONTOUR

_LISTENING = re.compile(rb"^Starting server, listening on port (\d+) \(http\)$", re.MULTILINE)


@dataclass
class EchoPod:
    namespace: str
    service: str
    pod: str
    log_path: Path
    process: subprocess.Popen[bytes]
    port: int = 0

    @classmethod
    def launch(cls, namespace: str, service: str, pod: str, work_dir: Path) -> EchoPod:
        log_path = work_dir / f"{namespace}-{pod}.log"
        env = {**os.environ, "POD_NAME": pod, "NAMESPACE": namespace, "SERVICE_NAME": service}
        for switch in ("GRPC_ECHO_SERVER", "TCP_ECHO_SERVER", "UDP_ECHO_SERVER", "HTTP_PORT", "H2C_PORT"):
            env.pop(switch, None)
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [CONTOUR, "echo", "--address", "127.0.0.1", "--port", "0"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        return cls(namespace, service, pod, log_path, process)

    def wait_listening(self, deadline: float) -> None:
        self.port = listening_port(self.process, self.log_path, _LISTENING, deadline, f"echo pod {self.pod}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.process)


def listening_port(
    process: subprocess.Popen[bytes], log_path: Path, pattern: re.Pattern[bytes], deadline: float, what: str
) -> int:
    """The port an echo process logs it listens on (`pattern`'s first group), waited for until `deadline`."""
    delay = 0.01
    while time.monotonic() < deadline:
        match = pattern.search(log_path.read_bytes())
        if match:
            return int(match.group(1))
        if process.poll() is not None:
            break
        time.sleep(delay)  # polling the process's log file with a deadline
        delay = min(delay * 2, 0.1)
    raise RuntimeError(f"{what} did not start:\n{log_path.read_text(errors='replace')}")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 5 s; a process that already ended is left alone."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
        process.wait()


def launch_all(specs: list[tuple[str, str, str]], work_dir: Path, timeout: float = 30.0) -> list[EchoPod]:
    """Start every (namespace, service, pod) at once, then wait for each to listen."""
    work_dir.mkdir(parents=True, exist_ok=True)
    pods: list[EchoPod] = []
    try:
        for namespace, service, pod in specs:
            pods.append(EchoPod.launch(namespace, service, pod, work_dir))
        deadline = time.monotonic() + timeout
        for started in pods:
            started.wait_listening(deadline)
    except BaseException:
        for started in pods:
            started.stop()
        raise
    return pods
