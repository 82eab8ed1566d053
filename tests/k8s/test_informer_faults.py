"""The informer under faults: streams ended by the server, cut mid-event, stalled, and a killed server.

Every test ends by comparing the informer with the server's own list (same keys, same resourceVersions,
same objects) and by replaying the events key by key, so a lost or duplicated update fails the test.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from contour.k8s.informer import Informer
from tests.k8s.cluster import Cluster, ObjectWriter, api_for, configmap, eventually, running, store_matches
from tests.k8s.event_log import EventLog
from tests.k8s.faulty_proxy import FaultyProxy
from tests.support.apiserver_process import APIServerProcess


def configmaps(api: Any, log: EventLog, **options: Any) -> Informer:
    options = {"backoff_initial": 0.02, "backoff_max": 0.3, **options}
    return Informer(
        api, group="", version="v1", plural="configmaps", namespace="default", on_event=log, **options
    )


class RandomWrites:
    """Creates, changes and deletes configmaps at random (seeded), tracking which names exist."""

    def __init__(self, writer: ObjectWriter, seed: int) -> None:
        self.writer = writer
        self.rng = random.Random(seed)
        self.names: set[str] = set()
        self.counter = 0
        self.done = {"create": 0, "patch": 0, "delete": 0}

    async def create(self) -> None:
        self.counter += 1
        name = f"cm-{self.counter}"
        await self.writer.create(configmap(name))
        self.names.add(name)
        self.done["create"] += 1

    async def one(self) -> None:
        roll = self.rng.random()
        if roll < 0.3 or len(self.names) < 5:
            await self.create()
        elif roll < 0.8:
            name = self.rng.choice(sorted(self.names))
            await self.writer.patch(name, {"data": {"value": str(self.rng.randrange(10**6))}})
            self.done["patch"] += 1
        else:
            name = self.rng.choice(sorted(self.names))
            await self.writer.delete(name)
            self.names.discard(name)
            self.done["delete"] += 1


def stream_ended(informer: Informer, restarts: int) -> Callable[[], bool]:
    return lambda: informer.counters.watch_restarts > restarts


async def test_a_stream_ended_by_the_server_resumes_without_relisting(
    cluster: Cluster, writer: ObjectWriter
) -> None:
    log = EventLog()
    informer = configmaps(cluster.api, log, watch_timeout=1)
    writes = RandomWrites(writer, seed=1)
    async with running(informer):
        await informer.wait_synced(10)
        for _ in range(2):
            restarts = informer.counters.watch_restarts
            for _ in range(10):
                await writes.one()
            await eventually(stream_ended(informer, restarts), timeout=5, message="the stream to end")
        for _ in range(10):
            await writes.one()
        await store_matches(informer, writer)
    assert informer.counters.relists == 0 and informer.counters.errors == 0
    assert log.problems(await writer.listed()) == []


async def test_streams_cut_mid_event_lose_no_update(
    cluster: Cluster, writer: ObjectWriter, proxy: FaultyProxy, tmp_path: Path
) -> None:
    writes = RandomWrites(writer, seed=2)
    for _ in range(30):
        await writes.create()
    log = EventLog()
    async with api_for(proxy.url, tmp_path) as api:
        informer = configmaps(api, log, page_size=10)
        async with running(informer):
            await informer.wait_synced(10)
            proxy.cut_randomly(times=20, max_bytes=1500)
            total = 0
            while proxy.cuts_left > 0 and total < 3000:
                await writes.one()
                total += 1
            assert proxy.cuts_left == 0, f"only {proxy.cuts} cuts happened in {total} writes"
            await store_matches(informer, writer, timeout=20)
    assert min(writes.done.values()) > 0, writes.done
    assert informer.counters.errors >= 1 and informer.counters.watch_restarts >= 1
    assert log.problems(await writer.listed()) == []


async def test_a_stalled_stream_is_dropped_and_watched_again(
    cluster: Cluster, writer: ObjectWriter, proxy: FaultyProxy, tmp_path: Path
) -> None:
    log = EventLog()
    async with api_for(proxy.url, tmp_path) as api:
        informer = configmaps(api, log, inactivity_timeout=1.0)
        async with running(informer):
            await informer.wait_synced(10)
            await eventually(lambda: informer.counters.watches == 1, timeout=5, message="the watch to open")
            assert proxy.stall_open_connections() >= 1
            stalled_at = time.monotonic()
            await writer.create(configmap("during-stall"))
            await eventually(lambda: "default/during-stall" in informer.store, timeout=5, message="the event")
            elapsed = time.monotonic() - stalled_at
    assert informer.counters.inactivity_timeouts >= 1 and informer.counters.watches >= 2
    # The timer runs from the last bytes received (when the watch opened, just before the stall).
    assert 0.9 <= elapsed < 2.5, f"re-watched after {elapsed:.2f}s with inactivity_timeout=1.0"
    assert log.of("default/during-stall") == ["ADDED"]


async def test_recovers_after_the_server_is_killed_and_restarted(tmp_path: Path) -> None:
    server = APIServerProcess(tmp_path / "state")
    await asyncio.to_thread(server.start)
    try:
        writer = ObjectWriter(server.url)
        writes = RandomWrites(writer, seed=3)
        for _ in range(20):
            await writes.create()
        log = EventLog()
        async with api_for(server.url, tmp_path) as api:
            informer = configmaps(api, log)
            async with running(informer):
                await informer.wait_synced(10)
                for _ in range(10):
                    await writes.one()
                await store_matches(informer, writer)
                await asyncio.to_thread(server.kill)
                await eventually(lambda: informer.counters.errors >= 1, timeout=10, message="a failed watch")
                await asyncio.to_thread(server.start)  # same state dir, same port
                await writer.aclose()
                writer = writes.writer = ObjectWriter(server.url)
                for _ in range(20):
                    await writes.one()
                await store_matches(informer, writer, timeout=15)
        assert log.problems(await writer.listed()) == []
        await writer.aclose()
    finally:
        await asyncio.to_thread(server.stop)
