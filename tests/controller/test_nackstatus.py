"""The EnvoyAccepted condition: merged into computed statuses, resubmitted when NACKs come and go.

`NackStatus` is fed real builds and real snapshots; its sink records what it was given (what the
`StatusUpdater` would write).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import pytest

from contour.controller.nackstatus import (
    ENVOY_ACCEPTED,
    MAX_MESSAGE,
    NackStatus,
    ObservedNackRegistry,
    condition_message,
    merge_condition,
)
from contour.dag.builder import BuildResult
from contour.dag.model import ObjectRef
from contour.dag.status import StatusUpdate
from contour.envoy.translate import TranslatorConfig, translate
from contour.k8s.statuswriter import StatusUpdateLike
from contour.xds import typeurls
from contour.xds.cache import DEFAULT_GROUP, SnapshotCache
from contour.xds.nacks import Nack
from contour.xds.snapshot import Snapshot
from tests.unit.dag.fixtures import build, k8s_service, proxy, service

CONTROLLER = "projectcontour.io/gateway-controller"
RE2_MESSAGE = (
    "regex '^/foo.*' RE2 program size of 6 > max program size of 1 set for the error level threshold."
)
VALID = {"type": "Valid", "status": "True", "reason": "Valid", "message": "Valid HTTPProxy"}


class RecordingSink:
    """Keeps every batch submitted, and what was forgotten."""

    def __init__(self) -> None:
        self.batches: list[list[StatusUpdateLike]] = []
        self.forgotten: list[tuple[str, str, ObjectRef]] = []

    def submit(self, updates: Iterable[StatusUpdateLike]) -> None:
        self.batches.append(list(updates))

    def forget(self, group: str, plural: str, ref: ObjectRef) -> None:
        self.forgotten.append((group, plural, ref))


def _update(plural: str, name: str, status: dict[str, Any], group: str = "projectcontour.io") -> StatusUpdate:
    return StatusUpdate(group, "v1", plural, ObjectRef("default", name), 3, status)


def _types(update: StatusUpdateLike) -> list[str]:
    return [c["type"] for c in update.status.get("conditions", [])]


# -- merge_condition ------------------------------------------------------------------------------


def test_an_httpproxy_gets_a_top_level_condition_beside_valid() -> None:
    update = _update("httpproxies", "p", {"currentStatus": "valid", "conditions": [VALID]})

    merged = merge_condition(update, "HTTPProxy", "e1 rejected rds: x", controller_name=CONTROLLER, since="t")

    assert merged.status["conditions"] == [
        VALID,
        {
            "type": ENVOY_ACCEPTED,
            "status": "False",
            "reason": "Rejected",
            "message": "e1 rejected rds: x",
            "observedGeneration": 3,
        },
    ]
    assert merged.status["currentStatus"] == "valid"
    assert update.status["conditions"] == [VALID], "the computed update itself is not changed"


def test_a_previous_envoy_accepted_condition_is_replaced_not_repeated() -> None:
    old = {"type": ENVOY_ACCEPTED, "status": "False", "reason": "Rejected", "message": "old"}
    update = _update("gateways", "gw", {"conditions": [VALID, old]}, group="gateway.networking.k8s.io")

    merged = merge_condition(update, "Gateway", "new", controller_name=CONTROLLER, since="t")

    assert [(c["type"], c["message"]) for c in merged.status["conditions"]] == [
        ("Valid", "Valid HTTPProxy"),
        (ENVOY_ACCEPTED, "new"),
    ]


def test_a_route_gets_it_in_our_parent_entries_only() -> None:
    ours = {"controllerName": CONTROLLER, "parentRef": {"name": "gw"}, "conditions": [VALID]}
    theirs = {"controllerName": "example.com/other", "parentRef": {"name": "x"}, "conditions": [VALID]}
    update = _update("httproutes", "r", {"parents": [ours, theirs]}, group="gateway.networking.k8s.io")

    since = "2026-01-02T03:04:05Z"
    merged = merge_condition(update, "HTTPRoute", "m", controller_name=CONTROLLER, since=since)

    ours_after, theirs_after = merged.status["parents"]
    assert ours_after["conditions"][-1] == {
        "type": ENVOY_ACCEPTED,
        "status": "False",
        "reason": "Rejected",
        "message": "m",
        "observedGeneration": 3,
        "lastTransitionTime": since,
    }
    assert theirs_after == theirs


def test_an_ingress_is_left_as_it_is() -> None:
    update = _update("ingresses", "i", {"loadBalancer": {}}, group="networking.k8s.io")

    assert merge_condition(update, "Ingress", "m", controller_name=CONTROLLER, since="t") is update


def _nack(node: str = "envoy-1", message: str = RE2_MESSAGE, version: str = "v", stream: int = 1) -> Nack:
    return Nack(
        type_url=typeurls.ROUTE,
        nonce="1",
        rejected_version=version,
        code=13,
        message=message,
        node_id=node,
        node_cluster="contour",
        resource_names=("ingress_http",),
        stream_id=stream,
    )


def test_the_message_names_each_node_and_is_truncated() -> None:
    message = condition_message([_nack("b", "x" * 2000), _nack("a", "short")])

    assert message.startswith("a rejected rds: short; b rejected rds: xxx")
    assert len(message) == MAX_MESSAGE and message.endswith("...")


# -- the registry ----------------------------------------------------------------------------------


def test_the_registry_reports_changes_and_only_changes() -> None:
    changes: list[int] = []
    registry = ObservedNackRegistry(lambda: changes.append(registry.generation))

    registry.record(_nack())
    registry.clear("envoy-1", "contour", typeurls.LISTENER)  # nothing to clear
    registry.drop_stream(99)  # not a stream with NACKs
    registry.clear("envoy-1", "contour", typeurls.ROUTE)

    assert changes == [1, 2]


# -- NackStatus ------------------------------------------------------------------------------------

GOOD = proxy("good").fqdn("good.example.com").route("/", service("s1")).build()
BAD = (
    proxy("bad").fqdn("bad.example.com").route(None, service("s1"), conditions=[{"regex": "/foo.*"}]).build()
)


class Stack:
    """A NackStatus over a real build published as a real snapshot."""

    def __init__(self) -> None:
        self.result: BuildResult = build(k8s_service("s1"), GOOD, BAD)
        self.snapshots = SnapshotCache()
        resources = translate(self.result.dag, TranslatorConfig())
        self.snapshot = Snapshot.build("1", {k: list(v) for k, v in resources.items()})
        self.snapshots.set_snapshot(DEFAULT_GROUP, self.snapshot)
        self.sink = RecordingSink()
        self.status = NackStatus(self.sink, self.snapshots, lambda: self.result, clock=lambda: "T")

    def nack(self) -> Nack:
        return _nack(version=self.snapshot.type_version(typeurls.ROUTE))

    def last(self, name: str) -> StatusUpdateLike | None:
        found = [u for u in self.sink.batches[-1] if u.ref.name == name]
        return found[0] if found else None


@pytest.fixture
def stack() -> Stack:
    return Stack()


def test_statuses_pass_through_unchanged_without_nacks(stack: Stack) -> None:
    stack.status.submit(stack.result.statuses)

    assert stack.sink.batches == [stack.result.statuses]


def test_a_nack_resubmits_the_blamed_proxy_with_the_condition(stack: Stack) -> None:
    stack.status.submit(stack.result.statuses)

    stack.status.nacks.record(stack.nack())

    assert [u.ref.name for u in stack.sink.batches[-1]] == ["bad"]
    bad = stack.last("bad")
    assert bad is not None and _types(bad) == ["Valid", ENVOY_ACCEPTED]
    assert bad.status["conditions"][-1]["message"] == f"envoy-1 rejected rds: {RE2_MESSAGE}"


def test_a_later_build_keeps_the_condition_while_the_nack_stands(stack: Stack) -> None:
    stack.status.submit(stack.result.statuses)
    stack.status.nacks.record(stack.nack())

    stack.status.submit(stack.result.statuses)

    good, bad = stack.last("good"), stack.last("bad")
    assert good is not None and _types(good) == ["Valid"]
    assert bad is not None and _types(bad) == ["Valid", ENVOY_ACCEPTED]


def test_an_ack_resubmits_the_computed_status(stack: Stack) -> None:
    stack.status.submit(stack.result.statuses)
    stack.status.nacks.record(stack.nack())

    stack.status.nacks.clear("envoy-1", "contour", typeurls.ROUTE)

    bad = stack.last("bad")
    assert [u.ref.name for u in stack.sink.batches[-1]] == ["bad"]
    assert bad is not None and _types(bad) == ["Valid"]
    assert stack.status.blamed() == {}


def test_the_end_of_the_envoys_stream_clears_the_condition(stack: Stack) -> None:
    stack.status.submit(stack.result.statuses)
    stack.status.nacks.record(stack.nack())

    stack.status.nacks.drop_stream(1)

    bad = stack.last("bad")
    assert bad is not None and _types(bad) == ["Valid"]


async def test_on_the_event_loop_a_burst_of_changes_is_one_resubmission(stack: Stack) -> None:
    stack.status.submit(stack.result.statuses)
    for node in ("envoy-1", "envoy-2"):
        stack.status.nacks.record(_nack(node, version=stack.snapshot.type_version(typeurls.ROUTE)))
    assert len(stack.sink.batches) == 1, "the refresh runs after the current callback"

    await asyncio.sleep(0)  # one turn of the loop: the scheduled refresh, not a wait for time

    assert len(stack.sink.batches) == 2
    bad = stack.last("bad")
    assert bad is not None and "envoy-1 rejected rds" in bad.status["conditions"][-1]["message"]
    assert "envoy-2 rejected rds" in bad.status["conditions"][-1]["message"]


def test_forget_drops_the_object_and_tells_the_sink(stack: Stack) -> None:
    stack.status.submit(stack.result.statuses)
    ref = ObjectRef("default", "bad")

    stack.status.forget("projectcontour.io", "httpproxies", ref)
    stack.status.nacks.record(stack.nack())

    assert stack.sink.forgotten == [("projectcontour.io", "httpproxies", ref)]
    assert len(stack.sink.batches) == 1, "nothing to resubmit for a deleted object"
