"""`contour run --quickstart`: a `contour echo` process behind each EndpointSlice that asks for one.

An EndpointSlice annotated `run.contour.local/echo-backend: POD` stands for a local echo backend: one
`contour echo --address 127.0.0.1 --port 0 --pod POD` is started per such slice, and the slice's ports
are rewritten to the port that backend bound before the slice is applied. So the quickstart manifests
say everything that runs, and no port is fixed in advance.

The backends write their output to `echo-POD.log` in the state directory (nothing can fill a pipe),
die with this process (PR_SET_PDEATHSIG through util-linux's setpriv, as Envoy does) and are stopped
by PID: SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from contour.controller.manifests import Manifest

log = logging.getLogger(__name__)

ECHO_ANNOTATION: Final = "run.contour.local/echo-backend"
_LISTENING: Final = re.compile(rb"^Starting server, listening on port (\d+) \(http\)$", re.MULTILINE)
_SETPRIV: Final = shutil.which("setpriv")
_PARENT_DEATH_PREFIX: Final = (_SETPRIV, "--pdeathsig", "KILL", "--") if _SETPRIV else ()


class EchoStartError(RuntimeError):
    """An echo backend did not start listening; the message ends with its output."""


@dataclass
class EchoProcess:
    pod: str
    namespace: str
    service: str
    log_path: Path
    proc: asyncio.subprocess.Process
    port: int = 0

    @property
    def pid(self) -> int:
        return self.proc.pid


def echo_pods(manifests: list[Manifest]) -> list[tuple[str, str, str]]:
    """(namespace, service, pod) of every EndpointSlice that asks for an echo backend."""
    found = []
    for manifest in manifests:
        obj = manifest.obj
        meta = obj.get("metadata") or {}
        pod = (meta.get("annotations") or {}).get(ECHO_ANNOTATION)
        if obj.get("kind") == "EndpointSlice" and pod:
            service = (meta.get("labels") or {}).get("kubernetes.io/service-name", "")
            found.append((str(meta.get("namespace") or "default"), str(service), str(pod)))
    return found


class EchoBackends:
    """The echo processes of one `contour run`; `start` them, `wire` the manifests, `stop` them."""

    def __init__(self, work_dir: Path, *, startup_timeout: float = 20.0, stop_timeout: float = 5.0) -> None:
        self.work_dir = work_dir
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.processes: dict[str, EchoProcess] = {}

    async def start(self, manifests: list[Manifest]) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        for namespace, service, pod in echo_pods(manifests):
            if pod not in self.processes:
                self.processes[pod] = await self._spawn(namespace, service, pod)
        await asyncio.gather(*(self._wait_for_port(p) for p in self.processes.values()))

    def wire(self, manifests: list[Manifest]) -> list[Manifest]:
        """The manifests with each echo slice's ports set to its backend's port."""
        out = []
        for manifest in manifests:
            meta = manifest.obj.get("metadata") or {}
            pod = (meta.get("annotations") or {}).get(ECHO_ANNOTATION)
            backend = self.processes.get(str(pod)) if pod else None
            if manifest.obj.get("kind") == "EndpointSlice" and backend is not None:
                obj: dict[str, Any] = copy.deepcopy(manifest.obj)
                for port in obj.get("ports") or []:
                    port["port"] = backend.port
                out.append(Manifest(manifest.source, obj))
            else:
                out.append(manifest)
        return out

    async def _spawn(self, namespace: str, service: str, pod: str) -> EchoProcess:
        log_path = self.work_dir / f"echo-{pod}.log"
        command = [
            *_PARENT_DEATH_PREFIX,
            sys.executable,
            "-c",
            "from contour.cli.app import main; main()",
            "echo",
            "--address",
            "127.0.0.1",
            "--port",
            "0",
            "--namespace",
            namespace,
            "--service",
            service,
            "--pod",
            pod,
        ]
        with log_path.open("wb") as output:
            proc = await asyncio.create_subprocess_exec(
                *command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        log.info("echo backend %s started, pid %d", pod, proc.pid)
        return EchoProcess(pod, namespace, service, log_path, proc)

    async def _wait_for_port(self, echo: EchoProcess) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.startup_timeout
        delay = 0.01
        while loop.time() < deadline and echo.proc.returncode is None:
            match = _LISTENING.search(echo.log_path.read_bytes())
            if match:
                echo.port = int(match.group(1))
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)
        output = echo.log_path.read_text(errors="replace")[-2000:]
        raise EchoStartError(f"echo backend {echo.pod} did not start listening:\n{output}")

    async def stop(self) -> None:
        processes, self.processes = list(self.processes.values()), {}
        await asyncio.gather(*(self._stop(p) for p in processes))

    async def _stop(self, echo: EchoProcess) -> None:
        proc = echo.proc
        if proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), self.stop_timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
