"""The event handler in-process: informer events in, snapshots and statuses out (no network).

Objects are the raw dicts an informer delivers; the builder, translator and snapshot cache are the
real ones. An Ingress is the object under test because it needs nothing but a Service to route.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest

from contour.controller.eventhandler import EventHandler
from contour.dag.builder import Builder, BuilderConfig
from contour.dag.cache import KubernetesCache
from contour.dag.model import ObjectRef
from contour.k8s.informer import InformerEvent
from contour.k8s.statuswriter import StatusUpdateLike
from contour.xds import typeurls
from contour.xds.cache import DEFAULT_GROUP, SnapshotCache
from contour.xds.snapshot import Snapshot


def service(name: str = "echo") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default", "resourceVersion": "1"},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 3000, "protocol": "TCP"}]},
    }


def endpoint_slice(port: int, service_name: str = "echo", rv: str = "1") -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{service_name}-1",
            "namespace": "default",
            "resourceVersion": rv,
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
    }


def ingress(service_name: str = "echo", host: str = "a.example.com", rv: str = "1") -> dict[str, Any]:
    backend = {"service": {"name": service_name, "port": {"number": 80}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "default", "resourceVersion": rv, "generation": 1},
        "spec": {
            "rules": [
                {"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}
            ]
        },
    }


def added(obj: dict[str, Any]) -> InformerEvent:
    return InformerEvent("ADDED", obj["metadata"]["name"], obj, None)


def modified(old: dict[str, Any], new: dict[str, Any]) -> InformerEvent:
    return InformerEvent("MODIFIED", new["metadata"]["name"], new, old)


class Statuses:
    def __init__(self) -> None:
        self.submitted: list[StatusUpdateLike] = []
        self.forgotten: list[ObjectRef] = []

    def submit(self, updates: list[StatusUpdateLike]) -> None:
        self.submitted += updates

    def forget(self, group: str, plural: str, ref: ObjectRef) -> None:
        self.forgotten.append(ref)


@pytest.fixture
def statuses() -> Statuses:
    return Statuses()


@pytest.fixture
def handler(statuses: Statuses) -> EventHandler:
    return EventHandler(
        KubernetesCache(),
        Builder(BuilderConfig()),
        SnapshotCache(),
        statuses=statuses,
        holdoff=0.02,
        max_holdoff=0.1,
    )


@pytest.fixture
async def running(handler: EventHandler) -> AsyncIterator[asyncio.Event]:
    """The rebuild loop, waiting for `synced` to be set as the informers' first lists would."""
    synced = asyncio.Event()
    task = asyncio.create_task(handler.run(synced.wait))
    yield synced
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def snapshot(handler: EventHandler) -> Snapshot:
    found = handler.snapshots.snapshot(DEFAULT_GROUP)
    assert found is not None
    return found


def load_assignments(snap: Snapshot) -> dict[str, list[int]]:
    """EDS name -> the endpoint ports of its ClusterLoadAssignment."""
    from google.protobuf import any_pb2  # noqa: PLC0415

    out = {}
    for name, resource in snap.of_type(typeurls.ENDPOINT).resources.items():
        packed = any_pb2.Any.FromString(bytes(resource.any_bytes()))
        cla = typeurls.MESSAGE_CLASSES[typeurls.ENDPOINT].FromString(packed.value)
        out[name] = [
            lb.endpoint.address.socket_address.port_value
            for group in cla.endpoints
            for lb in group.lb_endpoints
        ]
    return out


async def test_nothing_is_published_before_the_informers_synced(
    handler: EventHandler, running: asyncio.Event
) -> None:
    for obj in (service(), endpoint_slice(3000), ingress()):
        handler.on_event(added(obj))
    await asyncio.sleep(0)  # let the loop run: it must still be waiting for the sync
    assert handler.snapshots.snapshot(DEFAULT_GROUP) is None
    running.set()
    await asyncio.wait_for(handler.published.wait(), 5)
    assert handler.counters.rebuilds == 1
    assert load_assignments(snapshot(handler)) == {"default/echo/http": [3000]}


async def test_an_endpoint_slice_change_updates_eds_without_a_rebuild(
    handler: EventHandler, running: asyncio.Event
) -> None:
    for obj in (service(), endpoint_slice(3000), ingress()):
        handler.on_event(added(obj))
    running.set()
    await asyncio.wait_for(handler.published.wait(), 5)
    before = snapshot(handler)
    handler.on_event(modified(endpoint_slice(3000), endpoint_slice(4000, rv="2")))
    after = snapshot(handler)
    assert load_assignments(after) == {"default/echo/http": [4000]}
    assert handler.counters.rebuilds == 1
    for type_url in (typeurls.CLUSTER, typeurls.LISTENER, typeurls.ROUTE):
        assert after.of_type(type_url) is before.of_type(type_url), typeurls.SHORT_NAMES[type_url]


async def test_a_rebuild_publishes_the_endpoints_of_a_newly_referenced_service(
    handler: EventHandler, running: asyncio.Event
) -> None:
    for obj in (service(), service("other"), endpoint_slice(3000), endpoint_slice(5000, "other"), ingress()):
        handler.on_event(added(obj))
    running.set()
    await asyncio.wait_for(handler.published.wait(), 5)
    assert set(load_assignments(snapshot(handler))) == {"default/echo/http"}
    rebuilt = asyncio.create_task(handler.next_rebuild())
    handler.on_event(modified(ingress(), ingress("other", rv="2")))
    await asyncio.wait_for(rebuilt, 5)
    assert load_assignments(snapshot(handler)) == {"default/other/http": [5000]}


async def test_a_status_only_change_does_not_rebuild(handler: EventHandler, running: asyncio.Event) -> None:
    handler.on_event(added(service()))
    handler.on_event(added(ingress()))
    running.set()
    await asyncio.wait_for(handler.published.wait(), 5)
    with_status = copy.deepcopy(ingress(rv="2"))
    with_status["status"] = {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}}
    with_status["metadata"]["managedFields"] = [{"manager": "contour"}]
    handler.on_event(modified(ingress(), with_status))
    assert handler.counters.ignored == 1
    assert not handler._dirty.is_set()


async def test_a_burst_of_changes_is_one_rebuild(handler: EventHandler, running: asyncio.Event) -> None:
    handler.on_event(added(service()))
    running.set()
    await asyncio.wait_for(handler.published.wait(), 5)
    rebuilt = asyncio.create_task(handler.next_rebuild())
    previous = ingress()
    handler.on_event(added(previous))
    for i in range(2, 7):
        changed = ingress(host=f"h{i}.example.com", rv=str(i))
        handler.on_event(modified(previous, changed))
        previous = changed
    await asyncio.wait_for(rebuilt, 5)
    assert handler.counters.rebuilds == 2
    assert handler.dag is not None
    hosts = {h for listener in handler.dag.listeners.values() for h in listener.virtual_hosts}
    assert hosts == {"h6.example.com"}


async def test_ingresses_get_a_load_balancer_status_update(
    handler: EventHandler, running: asyncio.Event, statuses: Statuses
) -> None:
    handler.on_event(added(service()))
    handler.on_event(added(ingress()))
    running.set()
    await asyncio.wait_for(handler.published.wait(), 5)
    assert [(u.plural, u.ref, u.generation) for u in statuses.submitted] == [
        ("ingresses", ObjectRef("default", "web"), 1)
    ]


async def test_a_deleted_object_is_forgotten_by_the_status_writer(
    handler: EventHandler, statuses: Statuses
) -> None:
    handler.on_event(added(ingress()))
    handler.on_event(InformerEvent("DELETED", "web", None, ingress()))
    assert statuses.forgotten == [ObjectRef("default", "web")]
