"""Each Gateway's snapshot in its own group, through the real event handler (no network).

Informer events (raw dicts) go into a real EventHandler with the default processors; the checks read
the SnapshotCache group `gateway/<ns>/<name>` a Gateway's Envoy would subscribe to.
"""

from __future__ import annotations

from typing import Any

from contour.controller.eventhandler import EventHandler
from contour.controller.gatewaysnapshots import stamp_nested_conditions
from contour.dag.builder import Builder, BuilderConfig
from contour.dag.cache import KubernetesCache
from contour.dag.model import ObjectRef
from contour.dag.status import StatusUpdate
from contour.k8s.informer import InformerEvent
from contour.xds import typeurls
from contour.xds.cache import DEFAULT_GROUP, SnapshotCache
from tests.controller.test_eventhandler import endpoint_slice, service

GATEWAY_API = "gateway.networking.k8s.io/v1"
GROUP = "gateway/default/gw"


def _objects() -> list[dict[str, Any]]:
    meta = {"generation": 1, "creationTimestamp": "2024-01-01T00:00:00Z", "resourceVersion": "1"}
    return [
        service(),
        {
            "apiVersion": GATEWAY_API,
            "kind": "GatewayClass",
            "metadata": {"name": "contour", **meta},
            "spec": {"controllerName": "projectcontour.io/gateway-controller"},
        },
        {
            "apiVersion": GATEWAY_API,
            "kind": "Gateway",
            "metadata": {"name": "gw", "namespace": "default", **meta},
            "spec": {
                "gatewayClassName": "contour",
                "listeners": [{"name": "http", "port": 8080, "protocol": "HTTP"}],
            },
        },
        {
            "apiVersion": GATEWAY_API,
            "kind": "HTTPRoute",
            "metadata": {"name": "r", "namespace": "default", **meta},
            "spec": {
                "parentRefs": [{"name": "gw"}],
                "rules": [{"backendRefs": [{"name": "echo", "port": 80}]}],
            },
        },
    ]


def _handler() -> tuple[EventHandler, SnapshotCache]:
    snapshots = SnapshotCache()
    handler = EventHandler(KubernetesCache(), Builder(BuilderConfig()), snapshots)
    for obj in _objects():
        handler.on_event(InformerEvent("ADDED", obj["metadata"]["name"], obj, None))
    return handler, snapshots


def _names(snapshots: SnapshotCache, group: str, type_url: str) -> list[str]:
    snapshot = snapshots.snapshot(group)
    assert snapshot is not None
    return sorted(snapshot.of_type(type_url).resources)


def test_gateway_gets_its_own_group_next_to_the_default_one() -> None:
    handler, snapshots = _handler()
    assert handler.rebuild()
    assert snapshots.groups() == sorted([DEFAULT_GROUP, GROUP])
    assert _names(snapshots, GROUP, typeurls.LISTENER) == ["http-8080"]
    assert _names(snapshots, GROUP, typeurls.ENDPOINT) == ["default/echo/http"]
    assert "http-8080" not in _names(snapshots, DEFAULT_GROUP, typeurls.LISTENER)
    snapshot = snapshots.snapshot(GROUP)
    assert snapshot is not None and snapshot.missing_references() == []


def test_deleted_gateway_loses_its_group() -> None:
    handler, snapshots = _handler()
    handler.rebuild()
    handler.on_event(InformerEvent("DELETED", "gw", None, _objects()[2]))
    handler.rebuild()
    assert snapshots.groups() == [DEFAULT_GROUP]


def test_endpoint_change_reaches_the_gateway_group() -> None:
    handler, snapshots = _handler()
    handler.rebuild()
    before = snapshots.snapshot(GROUP)
    handler.on_event(InformerEvent("ADDED", "echo-1", endpoint_slice(3000), None))
    after = snapshots.snapshot(GROUP)
    assert after is not None and after is not before
    assert after.type_version(typeurls.ENDPOINT) != before.type_version(typeurls.ENDPOINT)  # type: ignore[union-attr]


def test_nested_conditions_get_a_transition_time_and_kept_ones_stay() -> None:
    status = {
        "conditions": [{"type": "Accepted"}],
        "listeners": [
            {
                "name": "a",
                "conditions": [{"type": "Accepted"}, {"type": "Programmed", "lastTransitionTime": "old"}],
            }
        ],
    }
    update = StatusUpdate(
        "gateway.networking.k8s.io", "v1", "gateways", ObjectRef("default", "gw"), 1, status
    )
    (stamped,) = stamp_nested_conditions([update], clock=lambda: "now")
    assert isinstance(stamped, StatusUpdate)
    assert [c["lastTransitionTime"] for c in stamped.status["listeners"][0]["conditions"]] == ["now", "old"]
    assert "lastTransitionTime" not in stamped.status["conditions"][0]  # the status writer's job
    assert status["listeners"] == [
        {
            "name": "a",
            "conditions": [{"type": "Accepted"}, {"type": "Programmed", "lastTransitionTime": "old"}],
        }
    ]  # the input is not modified
