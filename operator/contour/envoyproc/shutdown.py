"""Graceful Envoy shutdown in a pod: the `contour envoy shutdown` preStop and the shutdown-manager sidecar.

Kubernetes runs both containers' preStop hooks when an Envoy pod terminates, and only sends SIGTERM
to a container once its hook has returned. Contour uses that to keep Envoy serving while clients
move away:

* the shutdown-manager container's preStop runs `contour envoy shutdown` (``drain``): it waits
  `drain_delay`, fails Envoy's health checks through the admin API (`POST /healthcheck/fail`, so
  `/ready` answers 503 and load balancers stop sending new clients), waits `check_delay`, then polls
  Envoy's open downstream HTTP connections every `check_interval` until at most
  `min_open_connections` remain (Contour's `<=`), and writes the ready file;
* the Envoy container's preStop is `GET /shutdown` on the shutdown-manager (``ShutdownManager``),
  which answers only once the ready file exists, so Envoy is signalled after the drain.

Extension over Contour: `drain_timeout` (0, the default, is Contour's behaviour: wait until the pod's
terminationGracePeriodSeconds runs out) bounds the wait after the health check was failed; at that
deadline the ready file is written anyway. Open connections are counted over every HTTP connection
manager (`http.<stat_prefix>.downstream_cx_active`) except the admin, stats and admin-proxy ones,
so Gateway listeners count as well as Contour's `ingress_http` and `ingress_https`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx
from aiohttp import web

from contour.envoy.names import ADMIN_LISTENER
from contour.envoyproc.admin import EnvoyAdmin

log = logging.getLogger(__name__)

DEFAULT_ADMIN_ADDRESS: Final = "/admin/admin.sock"
DEFAULT_ADMIN_PORT: Final = 9001
DEFAULT_READY_FILE: Final = "/admin/ok"
DEFAULT_SERVE_PORT: Final = 8090

DOWNSTREAM_ACTIVE_FILTER: Final = r"^http\..+\.downstream_cx_active$"
_DOWNSTREAM_ACTIVE: Final = re.compile(r"^http\.(.+)\.downstream_cx_active$")
# Connection managers that carry no client traffic: Envoy's own admin server ("admin"), Contour's
# stats/health listener ("stats", the kubelet's probes) and its admin proxy listener.
NON_TRAFFIC_PREFIXES: Final = frozenset({"admin", "stats", ADMIN_LISTENER})

# Contour retries a failed `POST /healthcheck/fail` 4 times in all, backing off by a factor of 5.
_FAIL_ATTEMPTS: Final = 4
_FAIL_FIRST_BACKOFF: Final = 0.2
_FAIL_BACKOFF_FACTOR: Final = 5.0


def admin_target(address: str, port: int) -> str:
    """What `EnvoyAdmin` takes: an absolute unix socket path as is, a host (or IP) joined with `port`."""
    if address.startswith("/"):
        return address
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(address).version == 6:
            return f"[{address}]:{port}"
    return f"{address}:{port}"


def open_connections(stats: Mapping[str, int]) -> int:
    """Client connections open in Envoy: `downstream_cx_active` summed over traffic-carrying HCMs."""
    total = 0
    for name, value in stats.items():
        match = _DOWNSTREAM_ACTIVE.match(name)
        if match is not None and match.group(1) not in NON_TRAFFIC_PREFIXES:
            total += value
    return total


@dataclass(frozen=True, slots=True)
class DrainSettings:
    """`contour envoy shutdown`'s flags; times in seconds. `admin` is what `EnvoyAdmin` takes."""

    admin: str = DEFAULT_ADMIN_ADDRESS
    check_interval: float = 5.0
    check_delay: float = 0.0
    drain_delay: float = 0.0
    min_open_connections: int = 0
    ready_file: Path = Path(DEFAULT_READY_FILE)
    drain_timeout: float = 0.0

    def problems(self) -> list[tuple[str, str]]:
        """(flag, reason) for every value that cannot work; checked before anything is touched."""
        found: list[tuple[str, str]] = []
        if self.check_interval <= 0:
            found.append(("--check-interval", "must be greater than zero"))
        for flag, value in (
            ("--check-delay", self.check_delay),
            ("--drain-delay", self.drain_delay),
            ("--drain-timeout", self.drain_timeout),
        ):
            if value < 0:
                found.append((flag, "must not be negative"))
        if self.min_open_connections < 0:
            found.append(("--min-open-connections", "must not be negative"))
        if not str(self.ready_file) or self.ready_file.is_dir():
            found.append(("--ready-file", f"{str(self.ready_file)!r} is not a file path"))
        elif not self.ready_file.parent.is_dir():
            found.append(("--ready-file", f"directory {str(self.ready_file.parent)!r} does not exist"))
        return found


@dataclass(frozen=True, slots=True)
class DrainResult:
    """How the wait ended: `drained` (at most the threshold left) or not (the deadline passed)."""

    drained: bool
    open_connections: int | None  # the last count read; None if Envoy's stats were never readable
    health_check_failed: bool
    polls: int


class ReadyFileError(OSError):
    """The ready file could not be written, so the Envoy container's preStop would never return."""


async def drain(
    settings: DrainSettings,
    *,
    on_poll: Callable[[int], None] | None = None,
) -> DrainResult:
    """Fail Envoy's health checks and wait for its connections to drain; then write the ready file.

    Admin API errors are logged and retried (the preStop must not give up early while Envoy
    lives). `on_poll` is called with each count read. Raises ReadyFileError if the file cannot be
    written.
    """
    loop = asyncio.get_running_loop()
    context = {"context": "shutdownHandler"}
    log.info("waiting %ss before draining connections", settings.drain_delay, extra=context)
    await asyncio.sleep(settings.drain_delay)
    deadline = loop.time() + settings.drain_timeout if settings.drain_timeout > 0 else None

    def remaining() -> float | None:
        return None if deadline is None else max(0.0, deadline - loop.time())

    async with EnvoyAdmin(settings.admin) as admin:
        log.info("failing envoy healthchecks", extra=context)
        failed = await _fail_health_check(admin, remaining)
        log.info("waiting %ss before polling for draining connections", settings.check_delay, extra=context)
        await _sleep_within(settings.check_delay, remaining())
        count: int | None = None
        polls = 0
        while True:
            try:
                count = open_connections(await admin.stats(DOWNSTREAM_ACTIVE_FILTER))
            except (httpx.HTTPError, ValueError) as error:
                log.error("reading envoy's open connections failed: %s", error, extra=context)
            else:
                polls += 1
                if on_poll is not None:
                    on_poll(count)
                # logsetup prints only Contour's standard fields, so the counts go into the message.
                counts = f"open_connections={count} min_connections={settings.min_open_connections}"
                if count <= settings.min_open_connections:
                    log.info("min number of open connections found, shutting down: %s", counts, extra=context)
                    _write_ready_file(settings.ready_file)
                    return DrainResult(True, count, failed, polls)
                log.info("polled open connections: %s", counts, extra=context)
            left = remaining()
            if left is not None and left <= 0:
                log.warning(
                    "drain timeout of %ss passed with %s connections open; shutting down",
                    settings.drain_timeout,
                    "unknown" if count is None else count,
                    extra=context,
                )
                _write_ready_file(settings.ready_file)
                return DrainResult(False, count, failed, polls)
            await _sleep_within(settings.check_interval, left)


async def _fail_health_check(admin: EnvoyAdmin, remaining: Callable[[], float | None]) -> bool:
    backoff = _FAIL_FIRST_BACKOFF
    for attempt in range(1, _FAIL_ATTEMPTS + 1):
        try:
            await admin.healthcheck_fail()
        except httpx.HTTPError as error:
            log.error(
                "error sending envoy healthcheck fail (attempt %d of %d): %s",
                attempt,
                _FAIL_ATTEMPTS,
                error,
                extra={"context": "shutdownHandler"},
            )
        else:
            return True
        left = remaining()
        if attempt == _FAIL_ATTEMPTS or (left is not None and left <= 0):
            break
        await _sleep_within(backoff, left)
        backoff *= _FAIL_BACKOFF_FACTOR
    return False


async def _sleep_within(seconds: float, left: float | None) -> None:
    await asyncio.sleep(seconds if left is None else min(seconds, left))


def _write_ready_file(path: Path) -> None:
    try:
        path.touch()
    except OSError as error:
        raise ReadyFileError(
            f"cannot write the ready file {str(path)!r}: {error.strerror or error}"
        ) from None


class ShutdownManager:
    """The sidecar's HTTP API: `GET /healthz` (liveness) and `GET /shutdown` (Envoy's preStop).

    `/shutdown` answers 200 `OK` once the ready file exists, checking every `check_interval`
    seconds. When the manager is stopped (SIGTERM) with requests still waiting, each is answered
    after one last look at the file: 200 if it exists, 503 otherwise, so no hook hangs on a
    closed socket.
    """

    def __init__(self, ready_file: Path, *, check_interval: float = 1.0) -> None:
        self.ready_file = ready_file
        self.check_interval = check_interval
        self._stopping = asyncio.Event()

    def app(self) -> web.Application:
        application = web.Application()
        application.router.add_get("/healthz", self._healthz)
        application.router.add_get("/shutdown", self._shutdown)
        return application

    def stop_waiting(self) -> None:
        """Answer every waiting `/shutdown` now (see the class docstring)."""
        self._stopping.set()

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def _shutdown(self, request: web.Request) -> web.Response:
        context = {"context": "shutdownReadyHandler"}
        level = logging.INFO  # the first miss is worth a line; every later one only at debug
        while True:
            try:
                if self.ready_file.exists():
                    log.info("detected file %s; sending HTTP response", self.ready_file, extra=context)
                    return web.Response(text="OK")
            except OSError as error:
                log.error("error checking for file %s: %s", self.ready_file, error, extra=context)
            if self._stopping.is_set():
                log.warning("stopping before %s exists; answering 503", self.ready_file, extra=context)
                return web.Response(status=503, text="shutdown-manager stopping before the drain finished")
            log.log(
                level,
                "file %s does not exist; checking again in %ss",
                self.ready_file,
                self.check_interval,
                extra=context,
            )
            level = logging.DEBUG
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.check_interval)


async def start_shutdown_manager(
    manager: ShutdownManager, address: str, port: int
) -> tuple[web.AppRunner, list[tuple[str, int]]]:
    """Serve `manager` on `address:port` ('' is every interface; port 0 picks one).

    Returns the runner and every bound address (with '' and port 0, IPv4 and IPv6 get different ports).
    """
    runner = web.AppRunner(manager.app(), access_log=None, handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, address or None, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, [(str(bound[0]), int(bound[1])) for bound in runner.addresses]
