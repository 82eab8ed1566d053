"""The loop around a reconciler: informers feed a de-duplicating work queue, one worker reconciles.

An owner (a Contour CR, a Gateway) is reconciled when it changes, when an object it depends on
changes (a GatewayClass, a ContourDeployment), when an object it owns changes or is deleted (drift:
a hand-edited Deployment, a deleted Service), on a retry after a failure (capped exponential backoff
per key), when the reconciler asked to be called again (certificate rotation) and on a periodic
resync. A key queued while it is being reconciled runs once more afterwards; a key queued twice runs
once. Owned objects are watched by informers filtered on the *existence* of the instance label keys,
started the first time a reconciler reports a set of keys (`watch_owned`).

`run_leading` runs the whole loop only while this replica holds the Lease (as `contour serve`'s
status writer): two replicas never reconcile at the same time, and a replica that loses the Lease
stops its informers and worker until it leads again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import kr8s.asyncio

from contour.k8s.backoff import Backoff
from contour.k8s.informer import Informer, InformerEvent
from contour.k8s.leaderelection import LeaderElectionConfig, LeaderElector
from contour.provisioner.reconcile import OWNED_KINDS

log = logging.getLogger(__name__)

SYNC_TIMEOUT: Final = 60.0


@dataclass(frozen=True)
class Watch:
    """A resource to watch, and the owner keys to reconcile when one of its objects changes."""

    group: str
    version: str
    plural: str
    keys_for: Callable[[Mapping[str, Any]], Iterable[str]]


class WorkQueue:
    """Keys to reconcile: each queued at most once, never handed to two workers at once."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._active: set[str] = set()
        self._again: set[str] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def add(self, key: str) -> None:
        if key in self._active:
            self._again.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def add_after(self, key: str, delay: float) -> None:
        """Queue the key in `delay` seconds (an earlier pending timer for it wins)."""
        if key in self._timers:
            return
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.pop(key, None)
            self.add(key)

        self._timers[key] = loop.call_later(max(0.0, delay), fire)

    async def get(self) -> str:
        key = await self._queue.get()
        self._queued.discard(key)
        self._active.add(key)
        return key

    def done(self, key: str) -> None:
        self._active.discard(key)
        if key in self._again:
            self._again.discard(key)
            self.add(key)

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()


Reconcile = Callable[[str], Awaitable[float | None]]


@dataclass
class RuntimeCounters:
    reconciles: int = 0
    failures: int = 0


class ReconcileRuntime:
    """Informers + work queue + one worker around `reconcile(key) -> seconds until next call | None`."""

    def __init__(
        self,
        api: kr8s.asyncio.Api,
        *,
        name: str,
        watches: list[Watch],
        reconcile: Reconcile,
        owners_of: Callable[[Mapping[str, Any]], Iterable[str]],
        resync: float = 600.0,
    ) -> None:
        self.api = api
        self.name = name
        self.watches = watches
        self.reconcile = reconcile
        self.owners_of = owners_of  # owner keys of an owned object (from its labels)
        self.resync = resync
        self.queue = WorkQueue()
        self.informers: dict[str, Informer] = {}
        self.counters = RuntimeCounters()
        self._tasks: list[asyncio.Task[None]] = []
        self._owned_label_keys: set[frozenset[str]] = set()
        self._backoffs: dict[str, Backoff] = {}
        self._primary = watches[0].plural if watches else ""

    def store(self, plural: str) -> dict[str, Any]:
        """The objects an informer of `plural` (from `watches`) holds: key -> object."""
        informer = self.informers.get(plural)
        return informer.store if informer is not None else {}

    def owned_store(self, plural: str) -> dict[str, Any]:
        """Owned objects of `plural` seen by the drift informers, across label key sets."""
        out: dict[str, Any] = {}
        for name, informer in self.informers.items():
            if name.startswith(f"owned:{plural}:"):
                out.update(informer.store)
        return out

    async def run(self) -> None:
        """Watch and reconcile until cancelled."""
        try:
            for watch in self.watches:
                self._start(watch.plural, self._informer(watch.group, watch.version, watch.plural, "", watch))
            async with asyncio.timeout(SYNC_TIMEOUT):
                for informer in list(self.informers.values()):
                    await informer.wait_synced(SYNC_TIMEOUT)
            self._tasks.append(asyncio.create_task(self._resync_loop(), name=f"{self.name} resync"))
            await self._work()
        finally:
            await self._stop()

    def watch_owned(self, label_keys: Iterable[str]) -> None:
        """Watch every owned kind for objects carrying all of `label_keys` (once per key set)."""
        keys = frozenset(label_keys)
        if not keys or keys in self._owned_label_keys:
            return
        self._owned_label_keys.add(keys)
        selector = ",".join(sorted(keys))
        for kind in OWNED_KINDS:
            name = f"owned:{kind.plural}:{selector}"
            self._start(name, self._informer(kind.group, kind.version, kind.plural, selector, None))

    def _informer(
        self, group: str, version: str, plural: str, selector: str, watch: Watch | None
    ) -> Informer:
        def on_event(event: InformerEvent) -> None:
            obj = event.obj if event.obj is not None else event.old
            if not isinstance(obj, dict):
                return
            keys = watch.keys_for(obj) if watch is not None else self.owners_of(obj)
            for key in keys:
                self.queue.add(key)

        return Informer(
            self.api, group=group, version=version, plural=plural, label_selector=selector, on_event=on_event
        )

    def _start(self, name: str, informer: Informer) -> None:
        self.informers[name] = informer
        self._tasks.append(asyncio.create_task(informer.run(), name=f"{self.name} informer {name}"))

    async def _resync_loop(self) -> None:
        while True:
            for key in list(self.store(self._primary)):
                self.queue.add(key)
            await asyncio.sleep(self.resync)

    async def _work(self) -> None:
        while True:
            key = await self.queue.get()
            started = time.monotonic()
            try:
                again = await self.reconcile(key)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.counters.failures += 1
                backoff = self._backoffs.setdefault(key, Backoff(0.5, 60.0))
                delay = backoff.bound()
                backoff.attempts += 1
                log.warning("%s: reconciling %s failed: %s; again in %.1fs", self.name, key, error, delay)
                self.queue.add_after(key, delay)
            else:
                self._backoffs.pop(key, None)
                if again is not None:
                    self.queue.add_after(key, again)
            finally:
                self.counters.reconciles += 1
                self.queue.done(key)
            log.debug("%s: reconciled %s in %.3fs", self.name, key, time.monotonic() - started)

    async def _stop(self) -> None:
        self.queue.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self.informers.clear()
        self._owned_label_keys.clear()


async def run_leading(
    api: kr8s.asyncio.Api,
    election: LeaderElectionConfig | None,
    make_runtime: Callable[[], ReconcileRuntime],
    *,
    on_runtime: Callable[[ReconcileRuntime | None], None] | None = None,
) -> None:
    """Run a fresh runtime while leading (always, when `election` is None), until cancelled."""
    if election is None:
        runtime = make_runtime()
        if on_runtime:
            on_runtime(runtime)
        await runtime.run()
        return
    leading = asyncio.Event()
    stopped = asyncio.Event()

    def started() -> None:
        stopped.clear()
        leading.set()

    def lost() -> None:
        leading.clear()
        stopped.set()

    elector = LeaderElector(api, election, on_started_leading=started, on_stopped_leading=lost)
    election_task = asyncio.create_task(elector.run(), name="leader election")
    try:
        while True:
            await leading.wait()
            log.info("leading as %s: reconciling", election.identity)
            runtime = make_runtime()
            if on_runtime:
                on_runtime(runtime)
            task = asyncio.create_task(runtime.run(), name=f"{runtime.name} runtime")
            waiter = asyncio.create_task(stopped.wait())
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            failed = task.done() and not task.cancelled() and task.exception() is not None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            if failed:
                log.error("the reconciler stopped: %s; starting again", task.exception())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopped.wait(), timeout=election.retry_period)
            if on_runtime:
                on_runtime(None)
            log.info("no longer leading: stopped reconciling")
    finally:
        election_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await election_task
