"""The status writer against the embedded API server: what it writes, what it skips, how it retries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from contour.dag.model import ObjectRef
from contour.k8s.statuswriter import StatusWriter, load_balancer_status, merge_patch
from tests.k8s.cluster import Cluster, ObjectWriter, eventually

PROXIES = "/apis/projectcontour.io/v1/namespaces/default/httpproxies"
INGRESSES = "/apis/networking.k8s.io/v1/namespaces/default/ingresses"
LOAD_BALANCER = {"ingress": [{"ip": "127.0.0.1"}]}


@dataclass(frozen=True)
class Update:
    ref: ObjectRef
    generation: int
    status: dict[str, Any]
    group: str = "projectcontour.io"
    version: str = "v1"
    plural: str = "httpproxies"


@dataclass
class Clock:
    times: list[str] = field(default_factory=lambda: [f"2026-01-01T00:00:0{i}Z" for i in range(10)])
    calls: int = 0

    def __call__(self) -> str:
        self.calls += 1
        return self.times[self.calls - 1]


def proxy(name: str, fqdn: str = "a.example.com") -> dict[str, Any]:
    return {
        "apiVersion": "projectcontour.io/v1",
        "kind": "HTTPProxy",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"virtualhost": {"fqdn": fqdn}, "routes": [{"services": [{"name": "s", "port": 80}]}]},
    }


def valid_status(generation: int, message: str = "Valid HTTPProxy") -> dict[str, Any]:
    return {
        "currentStatus": "valid",
        "description": message,
        "conditions": [
            {
                "type": "Valid",
                "status": "True",
                "reason": "Valid",
                "message": message,
                "observedGeneration": generation,
                "errors": [],
                "warnings": [],
            }
        ],
    }


def invalid_status(generation: int) -> dict[str, Any]:
    error = {"type": "ServiceError", "status": "True", "reason": "ServiceUnresolvedReference", "message": "x"}
    return {
        "currentStatus": "invalid",
        "description": "At least one error present, see Errors for details",
        "conditions": [
            {
                "type": "Valid",
                "status": "False",
                "reason": "ErrorPresent",
                "message": "At least one error present, see Errors for details",
                "observedGeneration": generation,
                "errors": [error],
            }
        ],
    }


@pytest.fixture
async def proxies(cluster: Cluster) -> AsyncIterator[ObjectWriter]:
    client = ObjectWriter(cluster.url, path=PROXIES)
    await eventually(client.served, timeout=10, message="httpproxies are not served")
    yield client
    await client.aclose()


async def read(objects: ObjectWriter, name: str) -> dict[str, Any]:
    return (await objects.listed())[f"default/{name}"]


def writer(cluster: Cluster, **kwargs: Any) -> StatusWriter:
    kwargs.setdefault("load_balancer", LOAD_BALANCER)
    return StatusWriter(cluster.api, **kwargs)


async def test_writes_the_status_with_the_load_balancer_and_a_transition_time(
    cluster: Cluster, proxies: ObjectWriter
) -> None:
    await proxies.create(proxy("app"))
    outcome = await writer(cluster, clock=Clock()).write(
        Update(ObjectRef("default", "app"), 1, valid_status(1))
    )
    status = (await read(proxies, "app"))["status"]
    assert outcome == "written"
    assert status["currentStatus"] == "valid"
    assert status["loadBalancer"] == LOAD_BALANCER
    assert status["conditions"][0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"


async def test_an_identical_status_is_not_written_again(cluster: Cluster, proxies: ObjectWriter) -> None:
    await proxies.create(proxy("app"))
    status_writer = writer(cluster)
    update = Update(ObjectRef("default", "app"), 1, valid_status(1))
    await status_writer.write(update)
    version = (await read(proxies, "app"))["metadata"]["resourceVersion"]
    assert await status_writer.write(update) == "noop"
    assert (await read(proxies, "app"))["metadata"]["resourceVersion"] == version
    assert (status_writer.counters.written, status_writer.counters.noop) == (1, 1)


@pytest.mark.parametrize(
    ("second", "expected_time"),
    [
        pytest.param(valid_status(1), "2026-01-01T00:00:00Z", id="unchanged-condition-keeps-its-time"),
        pytest.param(invalid_status(1), "2026-01-01T00:00:01Z", id="changed-reason-gets-a-new-time"),
    ],
)
async def test_last_transition_time_changes_only_with_the_condition(
    cluster: Cluster, proxies: ObjectWriter, second: dict[str, Any], expected_time: str
) -> None:
    await proxies.create(proxy("app"))
    status_writer = writer(cluster, clock=Clock())
    ref = ObjectRef("default", "app")
    await status_writer.write(Update(ref, 1, valid_status(1)))
    # Forget the load balancer, so even an unchanged condition makes the second write a real one.
    status_writer.load_balancer = None
    assert await status_writer.write(Update(ref, 1, second)) == "written"
    status = (await read(proxies, "app"))["status"]
    assert status["conditions"][0]["lastTransitionTime"] == expected_time
    assert "loadBalancer" not in status


async def test_an_update_for_an_older_generation_is_dropped(cluster: Cluster, proxies: ObjectWriter) -> None:
    await proxies.create(proxy("app"))
    await proxies.patch("app", {"spec": {"virtualhost": {"fqdn": "b.example.com"}}})
    status_writer = writer(cluster)
    outcome = await status_writer.write(Update(ObjectRef("default", "app"), 1, valid_status(1)))
    assert outcome == "stale"
    assert (await read(proxies, "app"))["status"]["currentStatus"] == "NotReconciled"  # the CRD default


async def test_an_update_older_than_the_written_observed_generation_is_dropped(
    cluster: Cluster, proxies: ObjectWriter
) -> None:
    await proxies.create(proxy("app"))
    status_writer = writer(cluster)
    ref = ObjectRef("default", "app")
    await status_writer.write(Update(ref, 1, valid_status(1)))
    # Someone (a newer controller) already reported a newer generation: never go back.
    await status_writer.write(Update(ref, 1, valid_status(5)))
    assert await status_writer.write(Update(ref, 1, invalid_status(1))) == "stale"
    assert (await read(proxies, "app"))["status"]["currentStatus"] == "valid"


class ConflictingWriter(StatusWriter):
    """Changes the object on the server right after each of the first `conflicts` reads."""

    def __init__(self, cluster: Cluster, interfere: Callable[[], Any], conflicts: int) -> None:
        super().__init__(cluster.api, load_balancer=LOAD_BALANCER, max_attempts=3)
        self.interfere = interfere
        self.remaining = conflicts

    async def _get(self, update: Any) -> dict[str, Any] | None:
        current = await super()._get(update)
        if self.remaining > 0:
            self.remaining -= 1
            await self.interfere()
        return current


async def test_a_conflict_reads_again_and_keeps_the_other_writers_change(
    cluster: Cluster, proxies: ObjectWriter
) -> None:
    await proxies.create(proxy("app"))

    async def label() -> None:
        await proxies.patch("app", {"metadata": {"labels": {"touched": "yes"}}})

    status_writer = ConflictingWriter(cluster, label, conflicts=1)
    outcome = await status_writer.write(Update(ObjectRef("default", "app"), 1, valid_status(1)))
    stored = await read(proxies, "app")
    assert outcome == "written"
    assert status_writer.counters.conflicts == 1
    assert stored["metadata"]["labels"] == {"touched": "yes"}
    assert stored["status"]["currentStatus"] == "valid"


async def test_endless_conflicts_give_up_after_max_attempts(cluster: Cluster, proxies: ObjectWriter) -> None:
    await proxies.create(proxy("app"))
    count = 0

    async def label() -> None:
        nonlocal count
        count += 1
        await proxies.patch("app", {"metadata": {"labels": {"touched": str(count)}}})

    status_writer = ConflictingWriter(cluster, label, conflicts=100)
    outcome = await status_writer.write(Update(ObjectRef("default", "app"), 1, valid_status(1)))
    assert outcome == "failed"
    assert status_writer.counters.conflicts == 3


async def test_a_status_the_server_refuses_is_rejected_not_retried(
    cluster: Cluster, proxies: ObjectWriter
) -> None:
    await proxies.create(proxy("app"))
    status_writer = writer(cluster)
    outcome = await status_writer.write(Update(ObjectRef("default", "app"), 1, {"currentStatus": 5}))
    assert outcome == "rejected"
    assert (status_writer.counters.rejected, status_writer.counters.failed) == (1, 0)


async def test_a_missing_object_is_gone_not_an_error(cluster: Cluster, proxies: ObjectWriter) -> None:
    assert await writer(cluster).write(Update(ObjectRef("default", "nope"), 1, valid_status(1))) == "gone"


async def test_an_ingress_gets_the_load_balancer_address(cluster: Cluster) -> None:
    ingresses = ObjectWriter(cluster.url, path=INGRESSES)
    try:
        await ingresses.create(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {"defaultBackend": {"service": {"name": "s", "port": {"number": 80}}}},
            }
        )
        update = Update(ObjectRef("default", "web"), 1, {}, "networking.k8s.io", "v1", "ingresses")
        assert await writer(cluster).write(update) == "written"
        assert (await read(ingresses, "web"))["status"]["loadBalancer"] == LOAD_BALANCER
    finally:
        await ingresses.aclose()


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        pytest.param("127.0.0.1", {"ingress": [{"ip": "127.0.0.1"}]}, id="ipv4"),
        pytest.param("::1", {"ingress": [{"ip": "::1"}]}, id="ipv6"),
        pytest.param("envoy.example.com", {"ingress": [{"hostname": "envoy.example.com"}]}, id="hostname"),
    ],
)
def test_load_balancer_status_from_an_address(address: str, expected: dict[str, Any]) -> None:
    assert load_balancer_status(address) == expected


@pytest.mark.parametrize(
    ("current", "wanted", "patch"),
    [
        pytest.param({"a": 1}, {"a": 1}, {}, id="same"),
        pytest.param({"a": 1, "b": 2}, {"a": 1}, {"b": None}, id="removed-key-is-null"),
        pytest.param({"a": {"x": 1, "y": 2}}, {"a": {"x": 1}}, {"a": {"y": None}}, id="nested"),
        pytest.param({"l": [1, 2]}, {"l": [1]}, {"l": [1]}, id="lists-replaced"),
    ],
)
def test_merge_patch(current: dict[str, Any], wanted: dict[str, Any], patch: dict[str, Any]) -> None:
    assert merge_patch(current, wanted) == patch


class ReadCountingWriter(StatusWriter):
    """The real writer, counting the reads it sends to the server."""

    reads = 0

    async def _get(self, update: Any) -> dict[str, Any] | None:
        self.reads += 1
        return await super()._get(update)


async def test_a_current_cached_copy_saves_the_read(cluster: Cluster, proxies: ObjectWriter) -> None:
    await proxies.create(proxy("app"))
    copy = await read(proxies, "app")
    status_writer = ReadCountingWriter(cluster.api, cached=lambda update: copy)
    outcome = await status_writer.write(Update(ObjectRef("default", "app"), 1, valid_status(1)))
    assert (outcome, status_writer.reads) == ("written", 0)
    assert (await read(proxies, "app"))["status"]["currentStatus"] == "valid"


async def test_an_identical_cached_status_is_a_noop_without_any_request(
    cluster: Cluster, proxies: ObjectWriter
) -> None:
    await proxies.create(proxy("app"))
    update = Update(ObjectRef("default", "app"), 1, valid_status(1))
    await writer(cluster).write(update)
    copy = await read(proxies, "app")
    status_writer = ReadCountingWriter(cluster.api, load_balancer=LOAD_BALANCER, cached=lambda update: copy)
    assert await status_writer.write(update) == "noop"
    assert status_writer.reads == 0


async def test_an_outdated_cached_copy_conflicts_then_reads_the_server(
    cluster: Cluster, proxies: ObjectWriter
) -> None:
    await proxies.create(proxy("app"))
    outdated = await read(proxies, "app")
    await writer(cluster).write(Update(ObjectRef("default", "app"), 1, invalid_status(1)))
    status_writer = ReadCountingWriter(cluster.api, cached=lambda update: outdated)
    outcome = await status_writer.write(Update(ObjectRef("default", "app"), 1, valid_status(1)))
    assert (outcome, status_writer.counters.conflicts, status_writer.reads) == ("written", 1, 1)
    assert (await read(proxies, "app"))["status"]["currentStatus"] == "valid"


async def test_an_object_missing_from_the_cache_is_read_from_the_server(
    cluster: Cluster, proxies: ObjectWriter
) -> None:
    await proxies.create(proxy("app"))
    status_writer = ReadCountingWriter(cluster.api, cached=lambda update: None)
    outcome = await status_writer.write(Update(ObjectRef("default", "app"), 1, valid_status(1)))
    assert (outcome, status_writer.reads) == ("written", 1)
