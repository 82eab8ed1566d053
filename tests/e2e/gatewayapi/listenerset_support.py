"""ListenerSet manifests and the upstream suite's ListenerSet waits, for test_listenerset.py.

The waits mirror conformance/utils/kubernetes/helpers.go of Gateway API v1.6.1: every condition is
read at `observedGeneration == metadata.generation`, an empty expected reason means any reason.
`namespace_ready` is `NamespacesMustBeReady` (every Gateway of the namespace Accepted and Programmed),
`attached_listener_sets` is `GatewayMustHaveAttachedListeners` (an absent count is 0),
`listenerset_condition` / `listenerset_listeners` are `ListenerSetMustHaveCondition` /
`ListenerSetListenersMustHaveConditions` / `ListenerSetStatusMustHaveListeners`, and
`route_and_parent_accepted` is `RoutesAndParentMustBeAccepted` for any parent kind.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from tests.e2e.gatewayapi.base_manifests import CONTROLLER, GATEWAY_API, INFRA, Manifest
from tests.e2e.gatewayapi.suite import Suite

GROUP = GATEWAY_API.split("/")[0]
LISTENER_SET = "ListenerSet"
# generateAcceptedListenerConditions(): ResolvedRefs, Accepted and Programmed True, any reason.
ACCEPTED_LISTENER: dict[str, tuple[str, str]] = {
    "ResolvedRefs": ("True", ""),
    "Accepted": ("True", ""),
    "Programmed": ("True", ""),
}
# generateSupportedRouteKinds(): HTTPRoute and GRPCRoute of the Gateway API group.
HTTP_KINDS = (("gateway.networking.k8s.io", "HTTPRoute"), ("gateway.networking.k8s.io", "GRPCRoute"))

Expected = Mapping[str, tuple[str, str]]


def conflicted(reason: str) -> dict[str, tuple[str, str]]:
    """The listener conditions upstream expects of a listener that lost a conflict."""
    return {"Accepted": ("False", reason), "Programmed": ("False", reason), "Conflicted": ("True", reason)}


# -- manifests -------------------------------------------------------------------------------------


def listener_set(
    name: str, gateway: str, *listeners: Manifest, ns: str = INFRA, gateway_ns: str = INFRA
) -> Manifest:
    return {
        "apiVersion": GATEWAY_API,
        "kind": LISTENER_SET,
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "parentRef": {"kind": "Gateway", "group": GROUP, "name": gateway, "namespace": gateway_ns},
            "listeners": list(listeners),
        },
    }


def set_parent(name: str, ns: str = INFRA, **fields: Any) -> Manifest:
    """A route parentRef of kind ListenerSet."""
    return {"kind": LISTENER_SET, "group": GROUP, "name": name, "namespace": ns, **fields}


def allow_listeners(how: str, selector: dict[str, str] | None = None) -> Manifest:
    """Gateway spec.allowedListeners."""
    namespaces: Manifest = {"from": how}
    if selector is not None:
        namespaces["selector"] = {"matchLabels": selector}
    return {"namespaces": namespaces}


# -- reading status --------------------------------------------------------------------------------


def _matches(conditions: list[Manifest], kind: str, status: str, reason: str) -> bool:
    for condition in conditions:
        if condition.get("type") == kind:
            return bool(
                condition.get("status") == status and (not reason or condition.get("reason") == reason)
            )
    return False


def _current(obj: Manifest, conditions: Iterable[Manifest]) -> bool:
    generation = obj["metadata"].get("generation", 1)
    return all(c.get("observedGeneration") == generation for c in conditions)


def _listed(suite: Suite, resource: str, ns: str) -> list[Manifest]:
    items: list[Manifest] = json.loads(suite.run.kubectl("get", resource, "-n", ns, "-o", "json").stdout)[
        "items"
    ]
    return items


def namespace_ready(suite: Suite, ns: str = INFRA) -> None:
    """`NamespacesMustBeReady`: every Gateway of `ns` Accepted and Programmed at its latest generation."""

    def ready(gateways: list[Manifest]) -> bool:
        for gateway in gateways:
            if (gateway["metadata"].get("annotations") or {}).get(
                "gateway-api/skip-this-for-readiness"
            ) == "true":
                continue
            conditions = (gateway.get("status") or {}).get("conditions") or []
            if not (
                _current(gateway, conditions)
                and _matches(conditions, "Accepted", "True", "")
                and _matches(conditions, "Programmed", "True", "")
            ):
                return False
        return True

    suite.poll(
        lambda: _listed(suite, "gateways", ns), ready, f"every Gateway of {ns} Accepted and Programmed"
    )


def attached_listener_sets(suite: Suite, gateway: str, count: int, ns: str = INFRA) -> None:
    """`GatewayMustHaveAttachedListeners`: status.attachedListenerSets (absent counts as 0)."""

    def ok(found: Manifest) -> bool:
        status = found.get("status") or {}
        return (
            _current(found, status.get("conditions") or [])
            and (status.get("attachedListenerSets") or 0) == count
        )

    suite.poll(
        lambda: suite.get("gateways", gateway, ns), ok, f"Gateway {ns}/{gateway} attachedListenerSets={count}"
    )


def listenerset_condition(
    suite: Suite, name: str, kind: str, status: str, reason: str = "", *, ns: str = INFRA
) -> None:
    """`ListenerSetMustHaveCondition`."""

    def ok(found: Manifest) -> bool:
        conditions = (found.get("status") or {}).get("conditions") or []
        return _current(found, conditions) and _matches(conditions, kind, status, reason)

    suite.poll(
        lambda: suite.get("listenersets", name, ns), ok, f"ListenerSet {ns}/{name} {kind}={status} {reason}"
    )


def _listener_ok(entry: Manifest, expected: Expected) -> bool:
    conditions = entry.get("conditions") or []
    return all(_matches(conditions, kind, status, reason) for kind, (status, reason) in expected.items())


def listenerset_listeners(
    suite: Suite,
    name: str,
    expected: Mapping[str, Expected],
    ns: str = INFRA,
    *,
    attached: Mapping[str, int] | None = None,
) -> None:
    """`ListenerSetListenersMustHaveConditions` for the named listeners; with `attached`,
    `ListenerSetStatusMustHaveListeners` too (exactly these listeners, HTTP kinds, attachedRoutes)."""

    def ok(found: Manifest) -> bool:
        status = found.get("status") or {}
        entries = {e["name"]: e for e in status.get("listeners") or []}
        all_conditions = list(status.get("conditions") or []) + [
            c for e in entries.values() for c in e.get("conditions") or []
        ]
        if not _current(found, all_conditions):
            return False
        if not all(n in entries and _listener_ok(entries[n], want) for n, want in expected.items()):
            return False
        if attached is None:
            return True
        if set(entries) != set(attached):
            return False
        for listener, count in attached.items():
            kinds = {
                (k.get("group", GROUP), k["kind"]) for k in entries[listener].get("supportedKinds") or []
            }
            if entries[listener].get("attachedRoutes") != count or not set(HTTP_KINDS) <= kinds:
                return False
        return True

    suite.poll(
        lambda: suite.get("listenersets", name, ns),
        ok,
        f"ListenerSet {ns}/{name} listeners {dict(expected)} {attached}",
    )


def gateway_listeners(suite: Suite, gateway: str, expected: Mapping[str, Expected], ns: str = INFRA) -> None:
    """`GatewayListenersMustHaveConditions` for the named listeners."""

    def ok(entries: list[Manifest]) -> bool:
        by_name = {e["name"]: e for e in entries}
        return all(n in by_name and _listener_ok(by_name[n], want) for n, want in expected.items())

    suite.listeners(gateway, ok, f"Gateway {ns}/{gateway} listeners {dict(expected)}", ns)


def route_parents(suite: Suite, route: str, ns: str = INFRA) -> list[Manifest]:
    """The route's status.parents, or [] while a parent condition is behind the latest generation."""
    found = suite.get("httproutes", route, ns)
    parents: list[Manifest] = (found.get("status") or {}).get("parents") or []
    return parents if _current(found, [c for p in parents for c in p.get("conditions") or []]) else []


def _is_parent(entry: Manifest, kind: str, name: str, ns: str, route_ns: str) -> bool:
    ref = entry["parentRef"]
    namespace_ok = ref.get("namespace") == ns or (route_ns == ns and "namespace" not in ref)
    return bool(
        entry.get("controllerName") == CONTROLLER
        and ref.get("group") == GROUP
        and ref.get("kind") == kind
        and ref["name"] == name
        and namespace_ok
    )


def _accepted_by(suite: Suite, route: tuple[str, str], kind: str, parent: str, parent_ns: str) -> None:
    route_ns, name = route

    def ok(parents: list[Manifest]) -> bool:
        return any(
            _is_parent(p, kind, parent, parent_ns, route_ns)
            and _matches(p.get("conditions") or [], "Accepted", "True", "Accepted")
            for p in parents
        )

    suite.poll(
        lambda: route_parents(suite, name, route_ns),
        ok,
        f"HTTPRoute {route_ns}/{name} Accepted by {kind} {parent_ns}/{parent}",
    )


def route_and_parent_accepted(
    suite: Suite, kind: str, parent: str, routes: Iterable[tuple[str, str]], parent_ns: str = INFRA
) -> None:
    """`RoutesAndParentMustBeAccepted`: each route has a parent entry (group and kind set) of ours for
    `parent`, Accepted=True/Accepted; then every listener of the parent ResolvedRefs, Accepted, Programmed."""
    for route in routes:
        _accepted_by(suite, route, kind, parent, parent_ns)
    if kind == LISTENER_SET:
        names = [e["name"] for e in suite.get("listenersets", parent, parent_ns)["spec"]["listeners"]]
        listenerset_listeners(suite, parent, {n: ACCEPTED_LISTENER for n in names}, parent_ns)
    else:
        suite.listeners_ready(parent, parent_ns)


def exact_parents(suite: Suite, route: str, expected: list[tuple[str, str]], ns: str = INFRA) -> None:
    """`HTTPRouteMustHaveParents` (namespace required), checked strictly: our entries are exactly the
    (kind, name) parents given, each Accepted=True, with group, kind and namespace set."""

    def ok(parents: list[Manifest]) -> bool:
        ours = [p for p in parents if p.get("controllerName") == CONTROLLER]
        if len(ours) != len(expected):
            return False
        return all(
            any(
                _is_parent(p, kind, name, ns, "")
                and _matches(p.get("conditions") or [], "Accepted", "True", "")
                for p in ours
            )
            for kind, name in expected
        )

    suite.poll(
        lambda: route_parents(suite, route, ns), ok, f"HTTPRoute {ns}/{route} parents exactly {expected}"
    )
