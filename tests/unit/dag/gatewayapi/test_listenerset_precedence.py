"""Listener precedence across a Gateway and its ListenerSets (Gateway API v1.6.1 ListenerSetProtocolConflict).

A ListenerSet listener that is not distinct from one of an earlier object (the Gateway, an older
ListenerSet) loses to it first; only the set's remaining listeners are compared with each other. So
a set's TCP listener on the Gateway's HTTP port loses alone, and the set's HTTP listeners on that port
(distinct hostnames) stay valid.
"""

from __future__ import annotations

from contour.dag.model import ObjectRef
from tests.unit.dag.gatewayapi.gateway_fixtures import (
    GROUP_VERSION,
    NS,
    Built,
    Obj,
    _meta,
    build,
    gateway,
    gatewayclass,
    listener,
    namespace,
)

ALL: Obj = {"namespaces": {"from": "All"}}


def _set(name: str, *listeners: Obj) -> Obj:
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "ListenerSet",
        "metadata": _meta(name, NS, 1, "2024-01-02T00:00:00Z"),
        "spec": {"parentRef": {"name": "gw"}, "listeners": list(listeners)},
    }


def _http(name: str) -> Obj:
    return listener(name, 80, "HTTP", hostname=f"{name}.example.com", allowedRoutes=ALL)


def _tcp(name: str) -> Obj:
    return listener(name, 80, "TCP", allowedRoutes=ALL)


def _built(*sets: Obj) -> Built:
    gw = gateway("gw", _http("gw-a"), _http("gw-b"), allowedListeners={"namespaces": {"from": "Same"}})
    return build(gatewayclass(), namespace(NS), gw, *sets)


def _conditions(built: Built, set_name: str) -> dict[str, dict[str, tuple[str, str]]]:
    status: Obj = built.statuses[("listenersets", ObjectRef(NS, set_name))]
    return {
        entry["name"]: {c["type"]: (c["status"], c["reason"]) for c in entry["conditions"]}
        for entry in status["listeners"]
    }


def _set_condition(built: Built, set_name: str, type_: str) -> tuple[str, str]:
    status: Obj = built.statuses[("listenersets", ObjectRef(NS, set_name))]
    found = next(c for c in status["conditions"] if c["type"] == type_)
    return found["status"], found["reason"]


def test_tcp_listener_losing_to_the_gateway_leaves_the_sets_http_listeners_valid() -> None:
    built = _built(_set("first", _http("ls-a"), _tcp("ls-tcp"), _http("ls-b")))
    listeners = _conditions(built, "first")
    assert listeners["ls-tcp"]["Conflicted"] == ("True", "ProtocolConflict")
    assert listeners["ls-tcp"]["Accepted"] == ("False", "ProtocolConflict")
    for name in ("ls-a", "ls-b"):
        assert listeners[name]["Accepted"] == ("True", "Accepted")
        assert listeners[name]["Conflicted"] == ("False", "NoConflicts")
    assert _set_condition(built, "first", "Programmed") == ("True", "Programmed")
    assert built.gateway_status()["attachedListenerSets"] == 1


def test_tcp_listener_losing_to_an_older_set_leaves_the_later_sets_http_listener_valid() -> None:
    built = _built(_set("a-first", _http("ls-a")), _set("b-second", _http("ls-c"), _tcp("ls-tcp")))
    listeners = _conditions(built, "b-second")
    assert listeners["ls-tcp"]["Conflicted"] == ("True", "ProtocolConflict")
    assert listeners["ls-c"]["Accepted"] == ("True", "Accepted")
    assert built.gateway_status()["attachedListenerSets"] == 2


def test_a_set_whose_only_listener_loses_is_not_accepted() -> None:
    built = _built(_set("only-tcp", _tcp("ls-tcp")))
    assert _set_condition(built, "only-tcp", "Accepted") == ("False", "ListenersNotValid")
    assert _conditions(built, "only-tcp")["ls-tcp"]["Programmed"] == ("False", "ProtocolConflict")


def test_listeners_of_one_set_clashing_only_with_each_other_are_both_rejected() -> None:
    twin = listener("twin-a", 8080, "HTTP", hostname="twin.example.com")
    built = _built(_set("twins", _http("ls-a"), twin, {**twin, "name": "twin-b"}))
    listeners = _conditions(built, "twins")
    assert listeners["twin-a"]["Conflicted"] == ("True", "HostnameConflict")
    assert listeners["twin-b"]["Conflicted"] == ("True", "HostnameConflict")
    assert listeners["ls-a"]["Conflicted"] == ("False", "NoConflicts")
