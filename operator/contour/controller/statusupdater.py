"""The one task that owns status writing: coalesces the statuses each build computes, writes the changes.

Every rebuild computes the status of every object; almost all of them are what was written last time.
`StatusUpdater.submit` drops an update identical (generation and status) to the last one settled for
that object, keeps only the newest pending update per object, and the `run` task hands them to the
`StatusWriter` (up to `concurrency` objects at a time, never two writes of one object at once), so a
burst of rebuilds costs one write per object that really changed.
A write that failed is submitted again after `retry_delay` seconds. `forget` is called when an object
is deleted, so a new object of the same name gets its status written.
Only the leader writes: a replica that is not `leading` keeps the newest update of every object and
writes nothing; `set_leading(True)` writes each of them once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from contour.dag.model import ObjectRef
from contour.k8s.statuswriter import StatusUpdateLike, StatusWriter

log = logging.getLogger(__name__)

StatusKey = tuple[str, str, ObjectRef]  # (group, plural, namespace/name)


def status_key(update: StatusUpdateLike) -> StatusKey:
    return (update.group, update.plural, update.ref)


@dataclass
class StatusUpdaterCounters:
    submitted: int = 0  # updates that differed from what was settled
    skipped: int = 0  # identical to what was settled: no request at all
    retried: int = 0


class StatusUpdater:
    def __init__(
        self, writer: StatusWriter, *, retry_delay: float = 1.0, leading: bool = True, concurrency: int = 16
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.writer = writer
        self.retry_delay = retry_delay
        self.concurrency = concurrency
        self.counters = StatusUpdaterCounters()
        self._leading = leading
        # The newest update of every object, leading or not: what becoming leader writes.
        self._latest: dict[StatusKey, StatusUpdateLike] = {}
        self._pending: dict[StatusKey, StatusUpdateLike] = {}
        self._settled: dict[StatusKey, tuple[int, Mapping[str, Any]]] = {}
        self._failed: dict[StatusKey, StatusUpdateLike] = {}
        self._inflight: set[StatusKey] = set()
        self._writes: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def leading(self) -> bool:
        return self._leading

    def set_leading(self, leading: bool) -> None:
        """Start or stop writing (leader election). A new leader writes the newest status of every
        object once, even one it settled before: another leader may have written it meanwhile (the
        writer skips what the server already holds). A write in flight when leadership is lost ends."""
        if leading == self._leading:
            return
        self._leading = leading
        self._pending.clear()
        self._failed.clear()
        self._settled.clear()
        if leading and self._latest:
            self._pending.update(self._latest)
            self._idle.clear()
            self._wake.set()
        elif not leading:
            self._idle.set()

    def submit(self, updates: Iterable[StatusUpdateLike]) -> None:
        for update in updates:
            key = status_key(update)
            self._latest[key] = update
            if not self._leading:
                self._failed.pop(key, None)  # a retry of a write that failed while leading is older
                continue
            if self._settled.get(key) == (update.generation, update.status) and key not in self._pending:
                self.counters.skipped += 1
                continue
            self.counters.submitted += 1
            self._failed.pop(key, None)
            self._pending[key] = update
        if self._pending:
            self._idle.clear()
            self._wake.set()

    def forget(self, group: str, plural: str, ref: ObjectRef) -> None:
        key = (group, plural, ref)
        self._latest.pop(key, None)
        self._settled.pop(key, None)
        self._pending.pop(key, None)
        self._failed.pop(key, None)

    async def wait_idle(self) -> None:
        """Return once nothing is pending (tests and `contour run`'s readiness); never pending while
        not leading."""
        await self._idle.wait()

    async def run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                self._start_writes()
                self._check_idle()
        finally:
            for task in self._writes:
                task.cancel()

    def _start_writes(self) -> None:
        """Start writes of pending objects not already being written, up to `concurrency` at once."""
        room = self.concurrency - len(self._inflight)
        chosen: list[StatusKey] = []
        for key in self._pending:  # oldest first; stops after `room` keys, however many are pending
            if len(chosen) >= room:
                break
            if key not in self._inflight:  # else its newer update waits for the write in flight
                chosen.append(key)
        for key in chosen:
            update = self._pending.pop(key)
            self._inflight.add(key)
            task = asyncio.create_task(self._write(key, update), name=f"status of {key[1]} {key[2]}")
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

    async def _write(self, key: StatusKey, update: StatusUpdateLike) -> None:
        try:
            outcome = await self.writer.write(update)
            if outcome == "failed":
                self._failed[key] = update
                asyncio.get_running_loop().call_later(self.retry_delay, self._retry, key, update)
            elif outcome != "stale":  # a rejected status would be rejected again: settled too
                self._settled[key] = (update.generation, update.status)
        finally:
            self._inflight.discard(key)
            self._wake.set()

    def _check_idle(self) -> None:
        if not self._pending and not self._inflight:
            self._idle.set()

    def _retry(self, key: StatusKey, update: StatusUpdateLike) -> None:
        # Unless a newer update for the object was submitted meanwhile (it wins) or it was deleted.
        if self._failed.get(key) is update:
            del self._failed[key]
            self.counters.retried += 1
            self.submit([update])
