"""Running one local Envoy from a bootstrap: start it, know when it is LIVE, restart it, stop it cleanly.

Guarantees:
* Envoy runs with `--disable-hot-restart` (no shared memory, so no `--base-id` is needed and any
  number of Envoys can run side by side) and writes its admin address to a file, so an admin port
  of 0 works; its stdout and stderr go to `envoy.log` in the work directory.
* LIVE means `GET /ready` answered `LIVE`. If a process that was LIVE dies, it is restarted after a
  capped exponential backoff (reset once a process has stayed up `stable_after` seconds). A first
  process that exits before ever being LIVE is a start failure, not a restart loop.
* `stop()` drains: fail health checks, `POST /drain_listeners?graceful`, wait until no downstream
  connection is open or `drain_seconds` pass, then SIGTERM, then SIGKILL after `terminate_timeout`.
* No orphans: the child gets PR_SET_PDEATHSIG=SIGKILL (Linux), so it dies with the thread that
  started it, and cancelling `run()` kills it by PID before returning. It runs in its own session
  so a terminal's Ctrl-C reaches us, not Envoy, and shutdown can drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import httpx

from contour.envoyproc.admin import EnvoyAdmin
from contour.envoyproc.binary import resolve_envoy_binary

log = logging.getLogger(__name__)

# Envoy gets SIGKILL if this process dies (PR_SET_PDEATHSIG), set by util-linux's setpriv just before
# it execs Envoy. A preexec_fn would do the same but makes CPython fork instead of vfork, and gRPC's
# fork handlers then crash the child while the xDS server in this process is busy.
_SETPRIV: Final = shutil.which("setpriv")
_PARENT_DEATH_PREFIX: Final = (_SETPRIV, "--pdeathsig", "KILL", "--") if _SETPRIV else ()
# Loaded before any fork: the child must not dlopen between fork and exec.


class EnvoyStartError(RuntimeError):
    """Envoy exited before becoming LIVE, or did not become LIVE in time; the message ends with its log."""


@dataclass(frozen=True, slots=True)
class EnvoyOptions:
    """How to run Envoy. Times are seconds. `extra_args` are appended to Envoy's command line."""

    envoy_bin: str | None = None
    log_level: str = "info"
    concurrency: int | None = None
    ready_timeout: float = 30.0
    drain_seconds: float = 5.0
    drain_strategy: str = "immediate"
    terminate_timeout: float = 5.0
    restart_backoff: float = 0.1
    restart_backoff_max: float = 5.0
    stable_after: float = 10.0
    extra_args: tuple[str, ...] = ()


class EnvoyProcess:
    """One supervised Envoy, run once. Use `async with`, `start()`/`stop()`, or `run()` as your own task."""

    def __init__(
        self,
        bootstrap: Mapping[str, Any],
        work_dir: str | os.PathLike[str],
        options: EnvoyOptions | None = None,
    ) -> None:
        self.options = options or EnvoyOptions()
        self.work_dir = Path(work_dir)
        self.bootstrap_path = self.work_dir / "envoy.json"
        self.log_path = self.work_dir / "envoy.log"
        self.admin_address_path = self.work_dir / "admin-address"
        self.starts = 0
        self.restarts = 0
        self._bootstrap = dict(bootstrap)
        self._proc: asyncio.subprocess.Process | None = None
        self._admin: EnvoyAdmin | None = None
        self._live = False
        self._ever_live = False
        self._running = False
        self._finished = False
        self._failure: BaseException | None = None
        self._stop_requested = asyncio.Event()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- state ---------------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """PID of the current Envoy process, None between processes and after stop."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    @property
    def live(self) -> bool:
        """The current process answered LIVE and has not exited since."""
        return self._live

    @property
    def admin(self) -> EnvoyAdmin:
        """Admin client of the current process; fetch it again after a restart."""
        if self._admin is None or self.pid is None:
            raise RuntimeError("Envoy is not running")
        return self._admin

    def log_tail(self, lines: int = 40) -> str:
        """The last `lines` lines Envoy wrote to stdout/stderr."""
        try:
            with self.log_path.open("rb") as handle:
                handle.seek(max(0, handle.seek(0, os.SEEK_END) - 65536))
                text = handle.read().decode(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    async def wait_until(self, predicate: Callable[[EnvoyProcess], bool], timeout: float) -> None:
        """Wait for `predicate(self)`: TimeoutError after `timeout`, EnvoyStartError if supervision ended."""
        async with asyncio.timeout(timeout):
            while not predicate(self):
                if self._finished:
                    raise EnvoyStartError(self._failure_message())
                await self._next_change()

    async def wait_live(self, timeout: float | None = None) -> None:
        """Wait until the current Envoy is LIVE; EnvoyStartError (with Envoy's log) if it cannot be."""
        limit = self.options.ready_timeout if timeout is None else timeout
        try:
            await self.wait_until(lambda envoy: envoy.live, limit)
        except TimeoutError:
            raise EnvoyStartError(
                f"Envoy was not LIVE within {limit}s; its log ends:\n{self.log_tail()}"
            ) from None

    # -- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> EnvoyProcess:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self, timeout: float | None = None) -> None:
        """Start supervising in a background task and return once Envoy is LIVE."""
        if self._task is not None:
            raise RuntimeError("EnvoyProcess already started")
        self._task = asyncio.create_task(self.run(), name=f"envoy:{self.work_dir}")
        try:
            await self.wait_live(timeout)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Drain and stop Envoy, and end supervision; safe to call more than once."""
        self._stop_requested.set()
        self._notify()
        proc, admin = self._proc, self._admin
        if proc is not None and proc.returncode is None:
            if admin is not None and self._live:
                await self._drain(proc, admin)
            await self._terminate(proc)
        task, self._task = self._task, None
        if task is not None:
            # The task's own failure was already reported through wait_live/start.
            with contextlib.suppress(Exception):
                await task

    async def run(self) -> None:
        """Supervise Envoy until `stop()` or cancellation; Envoy never outlives this coroutine."""
        if self._running or self._finished:
            raise RuntimeError("an EnvoyProcess runs once; create a new one to run Envoy again")
        self._running = True
        loop = asyncio.get_running_loop()
        backoff = self.options.restart_backoff
        try:
            binary = resolve_envoy_binary(self.options.envoy_bin)
            self.work_dir.mkdir(parents=True, exist_ok=True)
            self.bootstrap_path.write_text(json.dumps(self._bootstrap, indent=2) + "\n")
            while not self._stop_requested.is_set():
                proc = await self._spawn(binary)
                if self._stop_requested.is_set():
                    return  # stop() ran while spawning and could not see this process: finally ends it
                started = loop.time()
                watcher = asyncio.create_task(self._watch_ready(proc))
                try:
                    returncode = await proc.wait()
                finally:
                    watcher.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await watcher
                    self._live = False
                    await self._close_admin()
                    self._notify()
                if self._stop_requested.is_set():
                    return
                if not self._ever_live:
                    raise EnvoyStartError(f"Envoy exited with status {returncode} before becoming LIVE")
                if loop.time() - started >= self.options.stable_after:
                    backoff = self.options.restart_backoff
                log.warning(
                    "envoy pid %d exited with status %d; restarting in %.2fs", proc.pid, returncode, backoff
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop_requested.wait(), backoff)
                    return
                backoff = min(backoff * 2, self.options.restart_backoff_max)
                self.restarts += 1
        except Exception as error:
            self._failure = error
            raise
        finally:
            if self._proc is not None:
                await self._terminate(self._proc)
            await self._close_admin()
            self._live = False
            self._running = False
            self._finished = True
            self._notify()

    # -- internals -----------------------------------------------------------------------------

    def _command(self, binary: str) -> list[str]:
        options = self.options
        command = [
            *_PARENT_DEATH_PREFIX,
            binary,
            "--config-path",
            str(self.bootstrap_path),
            "--disable-hot-restart",
            "--admin-address-path",
            str(self.admin_address_path),
            "--log-level",
            options.log_level,
            "--drain-time-s",
            str(max(1, math.ceil(options.drain_seconds))),
            "--drain-strategy",
            options.drain_strategy,
        ]
        if options.concurrency is not None:
            command += ["--concurrency", str(options.concurrency)]
        return command + list(options.extra_args)

    async def _spawn(self, binary: str) -> asyncio.subprocess.Process:
        self.admin_address_path.unlink(missing_ok=True)
        with self.log_path.open("ab") as log_file:
            proc = await asyncio.create_subprocess_exec(
                *self._command(binary),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.work_dir,
                start_new_session=True,
            )
        self._proc = proc
        self.starts += 1
        log.info("envoy started, pid %d (start %d)", proc.pid, self.starts)
        self._notify()
        return proc

    async def _watch_ready(self, proc: asyncio.subprocess.Process) -> None:
        delay = 0.01
        address = ""
        while proc.returncode is None and not address:
            with contextlib.suppress(FileNotFoundError):
                address = self.admin_address_path.read_text().strip()
            if not address:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.2)
        admin = EnvoyAdmin(address)
        self._admin = admin
        delay = 0.01
        while proc.returncode is None:
            with contextlib.suppress(httpx.HTTPError):
                if await admin.is_live():
                    self._live = True
                    self._ever_live = True
                    log.info("envoy pid %d is LIVE, admin at %s", proc.pid, address)
                    self._notify()
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)

    async def _drain(self, proc: asyncio.subprocess.Process, admin: EnvoyAdmin) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.drain_seconds
        try:
            await admin.healthcheck_fail()
            await admin.drain_listeners(graceful=True)
            delay = 0.02
            while proc.returncode is None and loop.time() < deadline:
                if await admin.stat("server.total_connections") == 0:
                    return
                await asyncio.sleep(min(delay, max(0.0, deadline - loop.time())))
                delay = min(delay * 2, 0.25)
        except httpx.HTTPError as error:
            log.warning("envoy pid %d: drain through the admin API failed: %s", proc.pid, error)

    async def _terminate(self, proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is not None:
            return
        try:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), self.options.terminate_timeout)
            except TimeoutError:
                log.warning(
                    "envoy pid %d ignored SIGTERM for %.1fs; killing it",
                    proc.pid,
                    self.options.terminate_timeout,
                )
                proc.kill()
                await proc.wait()
        except ProcessLookupError:
            log.debug("envoy pid %d had already exited", proc.pid)
        except BaseException:
            # Interrupted while waiting (e.g. cancelled again): still never leave it running.
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            raise

    async def _close_admin(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            await admin.aclose()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _next_change(self) -> None:
        await self._changed.wait()

    def _failure_message(self) -> str:
        reason = str(self._failure) if self._failure is not None else "Envoy supervision ended"
        return f"{reason}; its log ends:\n{self.log_tail()}"
