"""Only the leader writes status: the StatusUpdater held back while not leading, against a real API server.

A follower keeps the newest status of every object and writes none; becoming leader writes each kept
status once (the writer still skips what the server already holds); stepping down stops the writes.
The writer is the real `StatusWriter` on the embedded API server, wrapped only to record its calls.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contour.controller.statusupdater import StatusUpdater
from contour.dag.model import ObjectRef
from contour.k8s.statuswriter import Outcome, StatusUpdateLike, StatusWriter
from tests.k8s.cluster import Cluster, ObjectWriter, embedded_cluster, eventually

PROXIES = "/apis/projectcontour.io/v1/namespaces/default/httpproxies"


@dataclass(frozen=True)
class Update:
    ref: ObjectRef
    generation: int
    status: dict[str, Any]
    group: str = "projectcontour.io"
    version: str = "v1"
    plural: str = "httpproxies"


def update(name: str, description: str) -> Update:
    return Update(ObjectRef("default", name), 1, {"currentStatus": "valid", "description": description})


def proxy(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "projectcontour.io/v1",
        "kind": "HTTPProxy",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"virtualhost": {"fqdn": f"{name}.example.com"}},
    }


class RecordingWriter(StatusWriter):
    """The real writer, recording (name, outcome) of every write it was asked for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[str, Outcome]] = []

    async def write(self, update: StatusUpdateLike) -> Outcome:
        outcome = await super().write(update)
        self.calls.append((update.ref.name, outcome))
        return outcome


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with embedded_cluster(tmp_path / "state") as running:
        yield running


@pytest.fixture
async def proxies(cluster: Cluster) -> AsyncIterator[ObjectWriter]:
    client = ObjectWriter(cluster.url, path=PROXIES)
    await eventually(client.served, timeout=10, message="httpproxies are not served")
    for name in ("a", "b"):
        await client.create(proxy(name))
    yield client
    await client.aclose()


@pytest.fixture
def writer(cluster: Cluster) -> RecordingWriter:
    return RecordingWriter(cluster.api)


@contextlib.asynccontextmanager
async def running(updater: StatusUpdater) -> AsyncIterator[StatusUpdater]:
    task = asyncio.create_task(updater.run(), name="status writer")
    try:
        yield updater
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def descriptions(proxies: ObjectWriter) -> dict[str, str | None]:
    listed = await proxies.listed()
    return {key.split("/")[1]: (obj.get("status") or {}).get("description") for key, obj in listed.items()}


async def test_a_follower_writes_nothing(proxies: ObjectWriter, writer: RecordingWriter) -> None:
    before = await descriptions(proxies)
    async with running(StatusUpdater(writer, leading=False)) as updater:
        updater.submit([update("a", "one"), update("b", "one")])
        await asyncio.wait_for(updater.wait_idle(), timeout=5)
        assert writer.calls == []
        assert await descriptions(proxies) == before
        assert not updater.leading


async def test_becoming_leader_writes_the_newest_status_of_every_object_once(
    proxies: ObjectWriter, writer: RecordingWriter
) -> None:
    async with running(StatusUpdater(writer, leading=False)) as updater:
        updater.submit([update("a", "old"), update("b", "only")])
        updater.submit([update("a", "new")])
        updater.set_leading(True)
        await asyncio.wait_for(updater.wait_idle(), timeout=5)
        assert sorted(writer.calls) == [("a", "written"), ("b", "written")]
        assert await descriptions(proxies) == {"a": "new", "b": "only"}


async def test_a_leader_that_steps_down_stops_writing(proxies: ObjectWriter, writer: RecordingWriter) -> None:
    before = await descriptions(proxies)
    async with running(StatusUpdater(writer)) as updater:
        updater.submit([update("a", "first")])
        await asyncio.wait_for(updater.wait_idle(), timeout=5)
        updater.set_leading(False)
        updater.submit([update("a", "while following"), update("b", "while following")])
        await asyncio.wait_for(updater.wait_idle(), timeout=5)
        assert writer.calls == [("a", "written")]
        assert await descriptions(proxies) == {"a": "first", "b": before["b"]}


async def test_a_new_leader_rewrites_what_another_leader_changed_and_skips_the_rest(
    proxies: ObjectWriter, writer: RecordingWriter
) -> None:
    async with running(StatusUpdater(writer)) as updater:
        updater.submit([update("a", "ours"), update("b", "ours")])
        await asyncio.wait_for(updater.wait_idle(), timeout=5)
        updater.set_leading(False)
        # Meanwhile the other leader wrote a different status to "a".
        response = await proxies.http.patch(
            f"{PROXIES}/a/status",
            json={"status": {"description": "theirs"}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        response.raise_for_status()
        writer.calls.clear()
        updater.set_leading(True)
        await asyncio.wait_for(updater.wait_idle(), timeout=5)
        assert sorted(writer.calls) == [("a", "written"), ("b", "noop")]
        assert await descriptions(proxies) == {"a": "ours", "b": "ours"}


async def test_a_deleted_object_is_not_written_on_becoming_leader(
    proxies: ObjectWriter, writer: RecordingWriter
) -> None:
    async with running(StatusUpdater(writer, leading=False)) as updater:
        updater.submit([update("a", "one"), update("b", "one")])
        updater.forget("projectcontour.io", "httpproxies", ObjectRef("default", "b"))
        updater.set_leading(True)
        await asyncio.wait_for(updater.wait_idle(), timeout=5)
        assert writer.calls == [("a", "written")]
