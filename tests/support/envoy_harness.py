"""A real Envoy fed by the in-process xDS server, with `contour echo` backends behind it, for e2e tests.

Pieces, each usable alone:

* ``EchoBackend``: one `contour echo` process on a kernel-chosen loopback port, stopped by PID;
* ``start_control_plane``: the product's grpc.aio xDS server on 127.0.0.1 with its own metrics registry;
* ``XdsMode``: which xDS transport the bootstrap selects (per-type or aggregated, SotW or delta) and the
  matching ``ConfigSource`` for resources that name RDS/EDS;
* ``start_envoy``: an ``EnvoyProcess`` on the bootstrap `contour bootstrap` writes (admin on loopback
  port 0, optional mTLS through file-based SDS), returned once Envoy is LIVE;
* ``EnvoyClient``: HTTP requests through an Envoy listener (its port read back from the admin API, so
  listeners on port 0 work, also after an Envoy restart), and ``eventually`` / ``until`` to wait for a
  condition with a deadline instead of sleeping;
* ``assert_no_rejections``: fails when Envoy rejected an update or the server recorded a NACK;
  ``xds_connected_states``: whether Envoy's xDS streams are up;
* ``envoy_stack``: all of it for one test (cache, server, LIVE Envoy, client), checking for rejections
  and stopping everything by PID at the end.

Envoy must be able to finish initialising: the snapshot has to be published before ``start_envoy``
(Envoy waits for CDS and LDS, and for RTDS because the bootstrap has Contour's runtime layer).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from prometheus_client import CollectorRegistry

from contour.envoy.bootstrap import BootstrapConfig, bootstrap, sds_resources
from contour.envoyproc.process import EnvoyOptions, EnvoyProcess
from contour.xds import typeurls
from contour.xds.cache import DEFAULT_GROUP, SnapshotCache
from contour.xds.metrics import XdsMetrics
from contour.xds.server import XdsServer, start_server
from contour.xds.snapshot import Snapshot
from contour.xds.tls import TlsFiles
from tests.support.xds_resources import ads_source, grpc_source

T = TypeVar("T")

LOOPBACK = "127.0.0.1"
REJECTION_KINDS = ("cds", "lds", "rds", "eds", "sds", "rtds")

_LISTENING = re.compile(rb"^Starting server, listening on port (\d+) \(http\)$", re.MULTILINE)


# -- echo backends ----------------------------------------------------------------------------------


def contour_command() -> str:
    """The `contour` script installed beside this interpreter (the venv's)."""
    return str(Path(sys.executable).with_name("contour"))


class EchoBackend:
    """A running `contour echo --port 0`; its output goes to a file, so nothing can fill a pipe."""

    def __init__(
        self, pod: str, work_dir: Path, *, namespace: str = "e2e", startup_timeout: float = 20.0
    ) -> None:
        self.pod = pod
        self.namespace = namespace
        work_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = work_dir / f"echo-{pod}.log"
        command = [contour_command(), "echo", "--address", LOOPBACK, "--port", "0"]
        command += ["--namespace", namespace, "--pod", pod]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self.port = self._wait_for_port(startup_timeout)
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _wait_for_port(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        delay = 0.01
        while time.monotonic() < deadline:
            match = _LISTENING.search(self.log_path.read_bytes())
            if match:
                return int(match.group(1))
            if self.proc.poll() is not None:
                break
            time.sleep(delay)  # a synchronous fixture polling a file, not synchronising with a sleep
            delay = min(delay * 2, 0.1)
        raise RuntimeError(f"contour echo ({self.pod}) did not start listening:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM by PID, SIGKILL after 5 s; reaps the process."""
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


# -- control plane ----------------------------------------------------------------------------------


async def start_control_plane(
    cache: SnapshotCache, *, port: int = 0, tls: TlsFiles | None = None
) -> XdsServer:
    """The product's xDS server on loopback, with a metrics registry of its own."""
    return await start_server(cache, LOOPBACK, port, tls, metrics=XdsMetrics(CollectorRegistry()))


@dataclass(frozen=True)
class XdsMode:
    """How Envoy talks xDS: one stream per type (Contour's default) or ADS, state of the world or delta."""

    name: str
    ads: bool
    delta: bool

    def source(self) -> Any:
        """The ConfigSource resources must name for RDS/EDS under this mode."""
        return ads_source() if self.ads else grpc_source(delta=self.delta)


SOTW = XdsMode("sotw", ads=False, delta=False)
DELTA = XdsMode("delta", ads=False, delta=True)
ADS_SOTW = XdsMode("ads-sotw", ads=True, delta=False)
ADS_DELTA = XdsMode("ads-delta", ads=True, delta=True)
MODES = (SOTW, DELTA, ADS_SOTW, ADS_DELTA)


@dataclass(frozen=True)
class ClientTls:
    """PEM files Envoy uses to reach an mTLS xDS server."""

    ca_file: Path
    cert_file: Path
    key_file: Path


# -- Envoy ------------------------------------------------------------------------------------------


def envoy_process(
    work_dir: Path,
    xds_port: int,
    mode: XdsMode,
    *,
    tls: ClientTls | None = None,
    node_id: str = "e2e-envoy",
    options: EnvoyOptions | None = None,
) -> EnvoyProcess:
    """An (unstarted) Envoy whose bootstrap points at ``127.0.0.1:xds_port``, with SDS files written."""
    config = BootstrapConfig(
        xds_address=LOOPBACK,
        xds_port=xds_port,
        admin_address=LOOPBACK,
        admin_port=0,
        node_id=node_id,
        node_cluster="contour",
        ads=mode.ads,
        delta=mode.delta,
        resources_dir=str(work_dir / "resources") if tls else "",
        ca_file=str(tls.ca_file) if tls else "",
        cert_file=str(tls.cert_file) if tls else "",
        key_file=str(tls.key_file) if tls else "",
    )
    for path, resource in sds_resources(config).items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(resource))
    # One worker keeps two Envoys and the test process within two cores; a short drain keeps teardown fast.
    return EnvoyProcess(
        bootstrap(config),
        work_dir,
        options or EnvoyOptions(concurrency=1, drain_seconds=0.5, log_level="warning"),
    )


async def start_envoy(work_dir: Path, xds_port: int, mode: XdsMode, **kwargs: Any) -> EnvoyProcess:
    """``envoy_process(...)`` started; returns once it is LIVE (it has CDS, LDS and RTDS)."""
    envoy = envoy_process(work_dir, xds_port, mode, **kwargs)
    await envoy.start()
    return envoy


async def eventually(
    probe: Callable[[], Awaitable[T]],
    accept: Callable[[T], bool],
    *,
    timeout: float = 10.0,
    what: str = "the condition",
) -> T:
    """Call ``probe`` until ``accept`` takes its result, and return it; fail after ``timeout`` seconds.

    Errors from ``probe`` (connection refused while a listener comes up, ...) count as not yet.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.01
    last: object = "never probed"
    while True:
        try:
            result = await probe()
        except (httpx.HTTPError, OSError, RuntimeError) as error:
            last = error
        else:
            if accept(result):
                return result
            last = result
        if loop.time() >= deadline:
            raise AssertionError(f"{what} not reached within {timeout}s; last seen: {last!r}")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.1)


async def until(
    value: Callable[[], T], accept: Callable[[T], bool] = bool, *, timeout: float = 10.0, what: str = "it"
) -> T:
    """``eventually`` for a synchronous probe, e.g. the server's NACK registry or a counter."""

    async def probe() -> T:
        return value()

    return await eventually(probe, accept, timeout=timeout, what=what)


@dataclass(frozen=True)
class Echoed:
    """One answer through Envoy: status code and, when a backend answered, its JSON."""

    status: int
    body: dict[str, Any] | None

    @property
    def pod(self) -> str | None:
        return None if self.body is None else str(self.body.get("pod"))


class EnvoyClient:
    """HTTP/1.1 requests to one Envoy listener, by name; the port is looked up on each connection."""

    def __init__(self, envoy: EnvoyProcess, listener: str, *, timeout: float = 5.0) -> None:
        self.envoy = envoy
        self.listener = listener
        self._client = httpx.AsyncClient(timeout=timeout, trust_env=False)
        self._port: int | None = None
        self._pid: int | None = None

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> EnvoyClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def port(self) -> int:
        """The listener's bound port (re-read after an Envoy restart)."""
        if self._port is None or self._pid != self.envoy.pid:
            addresses = await self.envoy.admin.listener_addresses()
            if self.listener not in addresses:
                raise RuntimeError(f"Envoy has no listener {self.listener!r} yet: {sorted(addresses)}")
            self._port, self._pid = addresses[self.listener][1], self.envoy.pid
        return self._port

    async def get(self, host: str, path: str = "/") -> Echoed:
        """GET ``path`` with ``Host: host``; the echo JSON when a backend answered 200."""
        response = await self._client.get(
            f"http://{LOOPBACK}:{await self.port()}{path}", headers={"host": host}
        )
        body: dict[str, Any] | None = None
        if response.status_code == 200 and response.headers.get("content-type", "").startswith(
            "application/json"
        ):
            body = response.json()
        return Echoed(response.status_code, body)

    async def wait_for(
        self, host: str, path: str, accept: Callable[[Echoed], bool], *, timeout: float = 10.0, what: str = ""
    ) -> Echoed:
        """Request until an answer is accepted (a new route took effect, ...); fail after ``timeout``."""
        return await eventually(
            lambda: self.get(host, path), accept, timeout=timeout, what=what or f"answer for {host}{path}"
        )


async def xds_connected_states(envoy: EnvoyProcess) -> set[int]:
    """The ``connected_state`` gauges of every xDS subscription Envoy has ({1}: all connected).

    With ADS there is one (``control_plane.connected_state``); with one stream per type each
    subscription has its own under its scope (``cluster_manager.cds.control_plane...``, ...).
    """
    return set((await envoy.admin.stats(r"(^|\.)control_plane\.connected_state$")).values())


# -- rejections -------------------------------------------------------------------------------------


async def rejections(envoy: EnvoyProcess, server: XdsServer) -> dict[str, int]:
    """Envoy's ``update_rejected`` per xDS kind and the server's NACK counter and registry size."""
    found = {
        f"envoy {kind}.update_rejected": await envoy.admin.update_rejected(kind) for kind in REJECTION_KINDS
    }
    for type_url in typeurls.SEND_ORDER:
        name = f"server contour_xds_nack_total{{{typeurls.SHORT_NAMES[type_url]}}}"
        found[name] = int(server.metrics.sample("contour_xds_nack_total", type_url=type_url))
    found["server NackRegistry entries"] = len(server.nacks.current())
    return found


async def assert_no_rejections(envoy: EnvoyProcess, server: XdsServer) -> None:
    """Fail if Envoy rejected any update (cds/lds/rds/eds/sds/rtds) or the server recorded a NACK."""
    nonzero = {name: value for name, value in (await rejections(envoy, server)).items() if value}
    assert not nonzero, f"configuration was rejected: {nonzero}; NACKs: {server.nacks.current()}"


@contextlib.asynccontextmanager
async def running(envoy: EnvoyProcess) -> AsyncIterator[EnvoyProcess]:
    """Start ``envoy`` (until LIVE) and stop it, by PID, on exit."""
    await envoy.start()
    try:
        yield envoy
    finally:
        await envoy.stop()


# -- the whole stack --------------------------------------------------------------------------------


@dataclass
class EnvoyStack:
    """A snapshot cache, the xDS server serving it, a LIVE Envoy on it, and a client for one listener."""

    mode: XdsMode
    cache: SnapshotCache
    server: XdsServer
    envoy: EnvoyProcess
    client: EnvoyClient
    check_rejections: bool = True

    def publish(self, snapshot: Snapshot) -> None:
        """Make ``snapshot`` the configuration every Envoy gets."""
        self.cache.set_snapshot(DEFAULT_GROUP, snapshot)


@contextlib.asynccontextmanager
async def envoy_stack(
    work_dir: Path,
    mode: XdsMode,
    initial: Snapshot,
    *,
    listener: str,
    server_tls: TlsFiles | None = None,
    client_tls: ClientTls | None = None,
) -> AsyncIterator[EnvoyStack]:
    """Serve ``initial``, start Envoy on it (LIVE), and tear it all down by PID afterwards.

    When the body ends without error and ``check_rejections`` is still set, ``assert_no_rejections`` runs
    before teardown: a NACK nobody expected fails the test.
    """
    cache = SnapshotCache()
    cache.set_snapshot(DEFAULT_GROUP, initial)
    server = await start_control_plane(cache, tls=server_tls)
    stack: EnvoyStack | None = None
    try:
        envoy = envoy_process(work_dir, server.port, mode, tls=client_tls)
        async with running(envoy), EnvoyClient(envoy, listener) as client:
            stack = EnvoyStack(mode, cache, server, envoy, client)
            yield stack
            if stack.check_rejections:
                await assert_no_rejections(stack.envoy, stack.server)
    finally:
        await server.stop(None)
        if stack is not None and stack.server is not server:
            await stack.server.stop(None)
