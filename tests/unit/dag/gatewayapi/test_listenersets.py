"""ListenerSets through the Gateway API processor (reference gateway-api.md 2.6 ListenerSet tests, 6.3-6.4).

Each case builds a Gateway, ListenerSets and routes and checks the ListenerSet status (conditions
and per-listener entries), the Gateway's `attachedListenerSets`, route parents and what lands in the
Gateway's own DAG.
"""

from __future__ import annotations

from typing import Any

import pytest

from contour.dag.model import ObjectRef
from tests.unit.dag.gatewayapi.gateway_fixtures import (
    GROUP_VERSION,
    NS,
    Built,
    Obj,
    _meta,
    build,
    build_cache,
    cache_of,
    cert_ref,
    condition_of,
    gateway,
    gatewayclass,
    httproute,
    https_listener,
    listener,
    namespace,
    parent,
    reference_grant,
    secret,
    service,
)

GROUP = "gateway.networking.k8s.io"
OTHER_NS = "apps"
SAME: Obj = {"namespaces": {"from": "Same"}}
ALL: Obj = {"namespaces": {"from": "All"}}


def listenerset(
    name: str,
    *listeners: Obj,
    namespace: str = NS,
    gateway_name: str = "gw",
    gateway_namespace: str | None = None,
    created: str = "2024-01-02T00:00:00Z",
    generation: int = 1,
    **parent_fields: Any,
) -> Obj:
    parent_ref: Obj = {"name": gateway_name, **parent_fields}
    if gateway_namespace is not None:
        parent_ref["namespace"] = gateway_namespace
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "ListenerSet",
        "metadata": _meta(name, namespace, generation, created),
        "spec": {"parentRef": parent_ref, "listeners": list(listeners)},
    }


def ls_parent(name: str, **fields: Any) -> Obj:
    return parent(name, group=GROUP, kind="ListenerSet", **fields)


def _base(*extra: Obj, allowed: Obj | None = SAME, listeners: list[Obj] | None = None) -> list[Obj]:
    spec: dict[str, Any] = {} if allowed is None else {"allowedListeners": allowed}
    gw = gateway("gw", *(listeners or [listener("gw-http", 80, "HTTP", hostname="gw.example.com")]), **spec)
    return [
        gatewayclass(),
        namespace(NS),
        namespace(OTHER_NS, team="blue"),
        service("svc"),
        secret("tls"),
        gw,
        *extra,
    ]


def _status(built: Built, name: str, ns: str = NS) -> Obj:
    found: Obj = built.statuses[("listenersets", ObjectRef(ns, name))]
    return found


def _cond(built: Built, name: str, type_: str, ns: str = NS) -> tuple[str, str]:
    cond = condition_of(_status(built, name, ns)["conditions"], type_)
    return cond["status"], cond["reason"]


def _listener(built: Built, set_name: str, listener_name: str, ns: str = NS) -> Obj:
    found: Obj = next(e for e in _status(built, set_name, ns)["listeners"] if e["name"] == listener_name)
    return found


def _listener_conds(
    built: Built, set_name: str, listener_name: str, ns: str = NS
) -> dict[str, tuple[str, str]]:
    entry = _listener(built, set_name, listener_name, ns)
    return {c["type"]: (c["status"], c["reason"]) for c in entry["conditions"]}


def _attached_sets(built: Built) -> Any:
    return built.gateway_status().get("attachedListenerSets")


SET_LISTENER = listener("ls-http", 8080, "HTTP", hostname="ls.example.com")


@pytest.mark.parametrize(
    ("allowed", "set_namespace", "expected"),
    [
        pytest.param(None, NS, ("False", "NotAllowed"), id="default-none"),
        pytest.param({"namespaces": {"from": "None"}}, NS, ("False", "NotAllowed"), id="from-none"),
        pytest.param(SAME, NS, ("True", "Accepted"), id="same-namespace"),
        pytest.param(SAME, OTHER_NS, ("False", "NotAllowed"), id="same-other-namespace"),
        pytest.param(ALL, OTHER_NS, ("True", "Accepted"), id="all-other-namespace"),
        pytest.param(
            {"namespaces": {"from": "Selector", "selector": {"matchLabels": {"team": "blue"}}}},
            OTHER_NS,
            ("True", "Accepted"),
            id="selector-match",
        ),
        pytest.param(
            {"namespaces": {"from": "Selector", "selector": {"matchLabels": {"team": "red"}}}},
            OTHER_NS,
            ("False", "NotAllowed"),
            id="selector-no-match",
        ),
    ],
)
def test_allowed_listeners_decide_acceptance(
    allowed: Obj | None, set_namespace: str, expected: tuple[str, str]
) -> None:
    ls = listenerset("ls", SET_LISTENER, namespace=set_namespace, gateway_namespace=NS)
    built = build(*_base(ls, allowed=allowed))
    assert _cond(built, "ls", "Accepted", set_namespace) == expected
    programmed = ("True", "Programmed") if expected[0] == "True" else expected
    assert _cond(built, "ls", "Programmed", set_namespace) == programmed


@pytest.mark.parametrize(
    ("allowed", "objects", "expected"),
    [
        pytest.param(None, [], None, id="not-admitting-left-out"),
        pytest.param(SAME, [], 0, id="admitting-none-attached"),
        pytest.param(SAME, [listenerset("ls", SET_LISTENER)], 1, id="one-attached"),
        pytest.param(
            SAME,
            [listenerset("ls", SET_LISTENER), listenerset("other", SET_LISTENER, namespace=OTHER_NS)],
            1,
            id="not-allowed-not-counted",
        ),
    ],
)
def test_gateway_counts_attached_listenersets(
    allowed: Obj | None, objects: list[Obj], expected: int | None
) -> None:
    built = build(*_base(*objects, allowed=allowed))
    assert _attached_sets(built) == expected


def test_accepted_set_listener_gets_full_status_and_an_envoy_listener() -> None:
    built = build(*_base(listenerset("ls", SET_LISTENER, generation=3)))
    entry = _listener(built, "ls", "ls-http")
    assert entry["supportedKinds"] == [
        {"group": GROUP, "kind": "HTTPRoute"},
        {"group": GROUP, "kind": "GRPCRoute"},
    ]
    assert entry["attachedRoutes"] == 0
    assert [(c["type"], c["status"], c["observedGeneration"]) for c in entry["conditions"]] == [
        ("Accepted", "True", 3),
        ("Programmed", "True", 3),
        ("ResolvedRefs", "True", 3),
        ("Conflicted", "False", 3),
    ]
    assert "http-8080" in built.dag.gateways[ObjectRef(NS, "gw")].listeners
    assert [e["name"] for e in built.gateway_status()["listeners"]] == ["gw-http"]


def test_not_allowed_set_adds_no_envoy_listener() -> None:
    built = build(*_base(listenerset("ls", SET_LISTENER), allowed=None))
    assert "http-8080" not in built.dag.gateways[ObjectRef(NS, "gw")].listeners


def test_parent_not_accepted() -> None:
    bad_gateway = [listener("bad", 80, "INVALID")]
    built = build(*_base(listenerset("ls", SET_LISTENER), listeners=bad_gateway))
    assert _cond(built, "ls", "Accepted") == ("False", "ParentNotAccepted")
    assert _cond(built, "ls", "Programmed") == ("False", "ParentNotAccepted")


def test_parent_without_address_is_not_programmed() -> None:
    built = build(*_base(listenerset("ls", SET_LISTENER)), address=None)
    assert _cond(built, "ls", "Accepted") == ("True", "Accepted")
    assert _cond(built, "ls", "Programmed") == ("False", "ParentNotProgrammed")


@pytest.mark.parametrize(
    "parent_fields",
    [
        pytest.param({"gateway_name": "missing"}, id="missing-gateway"),
        pytest.param({"kind": "Other"}, id="parent-kind-not-gateway"),
    ],
)
def test_set_of_no_gateway_of_ours_gets_no_status(parent_fields: Obj) -> None:
    built = build(*_base(listenerset("ls", SET_LISTENER, **parent_fields)))
    assert ("listenersets", ObjectRef(NS, "ls")) not in built.statuses


HOSTNAME_CONFLICTED = {
    "Accepted": ("False", "HostnameConflict"),
    "Programmed": ("False", "HostnameConflict"),
    "ResolvedRefs": ("True", "ResolvedRefs"),
    "Conflicted": ("True", "HostnameConflict"),
}


def test_gateway_listener_wins_a_hostname_conflict() -> None:
    clash = listener("clash", 80, "HTTP", hostname="gw.example.com")
    built = build(*_base(listenerset("ls", SET_LISTENER, clash)))
    assert _listener_conds(built, "ls", "clash") == HOSTNAME_CONFLICTED
    assert _listener_conds(built, "ls", "ls-http")["Accepted"] == ("True", "Accepted")
    assert built.listener_condition("gw-http", "Conflicted")["status"] == "False"
    assert _cond(built, "ls", "Accepted") == ("True", "ListenersNotValid")
    assert _cond(built, "ls", "Programmed") == ("True", "Programmed")
    assert _attached_sets(built) == 1


def test_set_with_only_conflicted_listeners_is_not_accepted() -> None:
    clash = listener("clash", 80, "HTTP", hostname="gw.example.com")
    built = build(*_base(listenerset("ls", clash)))
    assert _cond(built, "ls", "Accepted") == ("False", "ListenersNotValid")
    assert _cond(built, "ls", "Programmed") == ("False", "ListenersNotValid")
    assert _attached_sets(built) == 0


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(
            {"name": "b", "created": "2024-01-02T00:00:00Z"},
            {"name": "a", "created": "2024-01-03T00:00:00Z"},
            id="older-wins",
        ),
        pytest.param(
            {"name": "a", "created": "2024-01-02T00:00:00Z"},
            {"name": "b", "created": "2024-01-02T00:00:00Z"},
            id="name-order-on-tie",
        ),
    ],
)
def test_earlier_set_wins_a_conflict(first: Obj, second: Obj) -> None:
    wild = listener("wild", 8080, "HTTP", hostname="*.example.com")
    sets = [listenerset(first["name"], wild, created=first["created"])]
    sets.append(listenerset(second["name"], wild, created=second["created"]))
    built = build(*_base(*sets))
    assert _cond(built, first["name"], "Accepted") == ("True", "Accepted")
    assert _listener_conds(built, second["name"], "wild") == HOSTNAME_CONFLICTED
    assert _cond(built, second["name"], "Accepted") == ("False", "ListenersNotValid")


@pytest.mark.parametrize(
    ("clash", "reason"),
    [
        pytest.param(listener("clash", 80, "TCP"), "ProtocolConflict", id="tcp-on-http-port"),
        pytest.param(
            https_listener("clash", 80, cert_ref("tls"), hostname="other.example.com"),
            "ProtocolConflict",
            id="https-on-http-port",
        ),
        pytest.param(listener("clash", 80, "HTTP", hostname="gw.example.com"), "HostnameConflict", id="host"),
    ],
)
def test_conflict_reasons(clash: Obj, reason: str) -> None:
    built = build(*_base(listenerset("ls", SET_LISTENER, clash)))
    conds = _listener_conds(built, "ls", "clash")
    assert conds["Conflicted"] == ("True", reason)
    assert conds["Accepted"] == ("False", reason)


def test_distinct_hostname_on_the_gateway_port_is_accepted() -> None:
    same_port = listener("same-port", 80, "HTTP", hostname="other.example.com")
    built = build(*_base(listenerset("ls", same_port)))
    assert _listener_conds(built, "ls", "same-port")["Conflicted"] == ("False", "NoConflicts")


def test_conflicts_inside_one_set_reject_both() -> None:
    twin_a = listener("a", 8080, "HTTP", hostname="twin.example.com")
    twin_b = listener("b", 8080, "HTTP", hostname="twin.example.com")
    built = build(*_base(listenerset("ls", twin_a, twin_b)))
    assert _listener_conds(built, "ls", "a")["Conflicted"] == ("True", "HostnameConflict")
    assert _listener_conds(built, "ls", "b")["Conflicted"] == ("True", "HostnameConflict")


def _cross_namespace_https() -> Obj:
    return https_listener("tls", 8443, cert_ref("tls", namespace=NS), hostname="secure.example.com")


@pytest.mark.parametrize(
    ("grant_kind", "expected"),
    [
        pytest.param(None, ("False", "RefNotPermitted"), id="no-grant"),
        pytest.param("Gateway", ("False", "RefNotPermitted"), id="grant-for-gateways-only"),
        pytest.param("ListenerSet", ("True", "ResolvedRefs"), id="grant-for-listenersets"),
    ],
)
def test_cross_namespace_certificate_needs_a_grant_from_listenersets(
    grant_kind: str | None, expected: tuple[str, str]
) -> None:
    objects = [listenerset("ls", _cross_namespace_https(), namespace=OTHER_NS, gateway_namespace=NS)]
    if grant_kind is not None:
        from_ = [{"group": GROUP, "kind": grant_kind, "namespace": OTHER_NS}]
        objects.append(reference_grant("g", NS, from_, [{"group": "", "kind": "Secret"}]))
    built = build(*_base(*objects, allowed=ALL))
    assert _listener_conds(built, "ls", "tls", OTHER_NS)["ResolvedRefs"] == expected
    accepted = ("True", "Accepted") if expected[0] == "True" else ("False", "ListenersNotValid")
    assert _cond(built, "ls", "Accepted", OTHER_NS) == accepted


# --- routes ------------------------------------------------------------------------------------------


def _route_conds(built: Built, name: str = "r") -> list[tuple[str, str, str]]:
    found = []
    for entry in built.parents("httproutes", name):
        cond = condition_of(entry["conditions"], "Accepted")
        found.append((entry["parentRef"]["kind"], cond["status"], cond["reason"]))
    return found


def test_route_attaches_to_set_listener() -> None:
    route = httproute("r", parents=[ls_parent("ls")], hostnames=["ls.example.com"])
    built = build(*_base(listenerset("ls", SET_LISTENER), route))
    parents = built.parents("httproutes", "r")
    assert [p["parentRef"] for p in parents] == [{"group": GROUP, "kind": "ListenerSet", "name": "ls"}]
    assert condition_of(parents[0]["conditions"], "Accepted")["status"] == "True"
    assert _listener(built, "ls", "ls-http")["attachedRoutes"] == 1
    assert built.listener_status("gw-http")["attachedRoutes"] == 0
    http = built.dag.gateways[ObjectRef(NS, "gw")].listeners["http-8080"]
    assert list(http.virtual_hosts) == ["ls.example.com"]


def test_route_to_set_listener_by_section_name() -> None:
    other = listener("other", 8081, "HTTP")
    route = httproute("r", parents=[ls_parent("ls", sectionName="other")])
    built = build(*_base(listenerset("ls", SET_LISTENER, other), route))
    assert _listener(built, "ls", "other")["attachedRoutes"] == 1
    assert _listener(built, "ls", "ls-http")["attachedRoutes"] == 0


def test_gateway_parent_cannot_name_a_set_listener() -> None:
    route = httproute("r", parents=[parent("gw", sectionName="ls-http")])
    built = build(*_base(listenerset("ls", SET_LISTENER), route))
    assert built.route_condition("r", "Accepted")["reason"] == "NoMatchingParent"


def test_route_to_a_set_that_is_not_accepted_does_not_attach() -> None:
    route = httproute("r", parents=[ls_parent("ls")])
    built = build(*_base(listenerset("ls", SET_LISTENER), route, allowed=None))
    cond = built.route_condition("r", "Accepted")
    assert (cond["status"], cond["reason"]) == ("False", "NoMatchingParent")


def test_route_parents_are_independent() -> None:
    route = httproute(
        "r", parents=[parent("gw"), ls_parent("ls", sectionName="missing")], hostnames=["gw.example.com"]
    )
    built = build(*_base(listenerset("ls", SET_LISTENER), route))
    assert _route_conds(built) == [
        ("Gateway", "True", "Accepted"),
        ("ListenerSet", "False", "NoMatchingParent"),
    ]


def test_gateway_route_is_not_served_on_set_listener() -> None:
    route = httproute("r", parents=[parent("gw")])
    built = build(*_base(listenerset("ls", SET_LISTENER), route))
    assert [p["parentRef"]["kind"] for p in built.parents("httproutes", "r")] == ["Gateway"]
    assert _listener(built, "ls", "ls-http")["attachedRoutes"] == 0
    assert not built.dag.gateways[ObjectRef(NS, "gw")].listeners["http-8080"].virtual_hosts


@pytest.mark.parametrize(
    ("route_namespace", "expected"),
    [
        pytest.param(OTHER_NS, ("True", "Accepted"), id="set-namespace"),
        pytest.param(NS, ("False", "NotAllowedByListeners"), id="gateway-namespace"),
    ],
)
def test_same_namespace_routes_means_the_set_namespace(
    route_namespace: str, expected: tuple[str, str]
) -> None:
    ls = listenerset("ls", SET_LISTENER, namespace=OTHER_NS, gateway_namespace=NS)
    route = httproute("r", parents=[ls_parent("ls", namespace=OTHER_NS)], namespace=route_namespace)
    built = build(*_base(ls, route, service("svc", OTHER_NS), allowed=ALL))
    cond = condition_of(built.parents("httproutes", "r", route_namespace)[0]["conditions"], "Accepted")
    assert (cond["status"], cond["reason"]) == expected


def test_unchanged_listener_conditions_keep_their_times() -> None:
    cache = cache_of(*_base(listenerset("ls", SET_LISTENER)))
    first = build_cache(cache)
    previous = [
        {
            **entry,
            "conditions": [{**c, "lastTransitionTime": "2024-05-05T00:00:00Z"} for c in entry["conditions"]],
        }
        for entry in _status(first, "ls")["listeners"]
    ]
    cache.route_parents[("ListenerSet", ObjectRef(NS, "ls"))] = previous
    again = build_cache(cache)
    times = {c["lastTransitionTime"] for c in _listener(again, "ls", "ls-http")["conditions"]}
    assert times == {"2024-05-05T00:00:00Z"}
