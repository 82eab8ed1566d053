"""Which listeners of a Gateway a route's parentRef attaches to (reference gateway-api.md 6.5).

A parentRef selects listeners by `sectionName` and/or `port` (neither: every listener); a selected
listener admits the route when its kind is among the listener's supported kinds and its namespace
passes `allowedRoutes.namespaces` (Same, All, or a label Selector on the route's Namespace); for
routes with hostnames the route and listener hostnames must intersect, and the intersection is what
the route serves on that listener. The first check that leaves no listener gives the reason:
NoMatchingParent, NotAllowedByListeners, NoMatchingListenerHostname.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from contour.api.gateway import v1 as gwapi
from contour.dag.gatewayapi_listeners import ListenerState
from contour.dag.rawobjects import json_object

REASON_NO_MATCHING_PARENT: Final = "NoMatchingParent"
REASON_NOT_ALLOWED_BY_LISTENERS: Final = "NotAllowedByListeners"
REASON_NO_MATCHING_LISTENER_HOSTNAME: Final = "NoMatchingListenerHostname"


@dataclass(slots=True)
class Attachment:
    """The listeners a parentRef attaches to, with the hostnames served on each (empty: any host);
    or, when none, the reason and message of Accepted=False."""

    listeners: list[tuple[ListenerState, tuple[str, ...]]] = field(default_factory=list)
    reason: str = ""
    message: str = ""


def wildcard_matches(pattern: str, host: str) -> bool:
    """`*.example.com` matches `a.example.com` and `a.b.example.com`, not `example.com`."""
    return pattern.startswith("*.") and host.endswith(pattern[1:]) and len(host) > len(pattern) - 1


def intersect_hostname(listener_host: str, route_host: str) -> str | None:
    """The hostname served when a listener with `listener_host` takes a route with `route_host`."""
    if not listener_host or listener_host == route_host:
        return route_host
    if wildcard_matches(listener_host, route_host):
        return route_host  # the route's is as specific or more (a narrower wildcard included)
    if wildcard_matches(route_host, listener_host):
        return listener_host
    return None


def effective_hostnames(listener_host: str, route_hosts: Sequence[str]) -> tuple[str, ...] | None:
    """The hostnames a route serves on a listener: () for any host, None when they do not intersect."""
    if not route_hosts:
        return (listener_host,) if listener_host else ()
    found: list[str] = []
    for host in route_hosts:
        served = intersect_hostname(listener_host, host)
        if served is not None and served not in found:
            found.append(served)
    return tuple(found) if found else None


def _expression_matches(expression: gwapi.MatchExpression, labels: Mapping[str, str]) -> bool:
    values = expression.values or []
    operator = expression.operator
    if operator == "In":
        return labels.get(expression.key) in values
    if operator == "NotIn":
        return expression.key not in labels or labels[expression.key] not in values
    if operator == "Exists":
        return expression.key in labels
    if operator == "DoesNotExist":
        return expression.key not in labels
    return False  # an unknown operator selects nothing


def selector_matches(selector: gwapi.Selector | None, labels: Mapping[str, str]) -> bool:
    """A Kubernetes LabelSelector: every matchLabels entry and every expression must hold."""
    if selector is None:
        return False  # `from: Selector` without a selector admits nothing
    for key, value in (selector.match_labels or {}).items():
        if labels.get(key) != value:
            return False
    return all(_expression_matches(e, labels) for e in selector.match_expressions or [])


def namespace_labels(namespace: Mapping[str, Any] | None) -> dict[str, str]:
    """The labels of a cached Namespace object (with the automatic `kubernetes.io/metadata.name`)."""
    meta = json_object((namespace or {}).get("metadata"))
    labels = {k: v for k, v in json_object(meta.get("labels")).items() if isinstance(v, str)}
    name = meta.get("name")
    if isinstance(name, str) and name:
        labels.setdefault("kubernetes.io/metadata.name", name)
    return labels


def namespace_allowed(state: ListenerState, route_namespace: str, labels: Mapping[str, str]) -> bool:
    allowed = state.spec.allowed_routes
    namespaces = allowed.namespaces if isinstance(allowed, gwapi.AllowedRoutes) else None
    origin = namespaces.from_ if isinstance(namespaces, gwapi.Namespaces) else "Same"
    if origin == "All":
        return True
    if origin == "Selector":
        assert isinstance(namespaces, gwapi.Namespaces)
        return selector_matches(namespaces.selector, labels)
    return route_namespace == state.gateway.namespace


def attach(
    parent: gwapi.ParentRef,
    listeners: Sequence[ListenerState],
    *,
    route_kind: str,
    route_namespace: str,
    route_hostnames: Sequence[str] | None,
    labels: Mapping[str, str],
) -> Attachment:
    """Where `parent` attaches a route on one Gateway; `route_hostnames` None: a kind without hostnames."""
    selected = [
        s
        for s in listeners
        if (parent.section_name is None or s.name == parent.section_name)
        and (parent.port is None or s.port == parent.port)
    ]
    if not selected:
        wanted = []
        if parent.section_name is not None:
            wanted.append(f'sectionName "{parent.section_name}"')
        if parent.port is not None:
            wanted.append(f"port {parent.port}")
        message = "No listener matches " + " and ".join(wanted)
        return Attachment(reason=REASON_NO_MATCHING_PARENT, message=message)
    allowed = [
        s
        for s in selected
        if route_kind in s.supported_kinds and namespace_allowed(s, route_namespace, labels)
    ]
    if not allowed:
        message = f"No listener allows this {route_kind} (kind or namespace not allowed)"
        return Attachment(reason=REASON_NOT_ALLOWED_BY_LISTENERS, message=message)
    result = Attachment()
    for state in allowed:
        if route_hostnames is None:
            result.listeners.append((state, ()))
            continue
        hosts = effective_hostnames(state.hostname, route_hostnames)
        if hosts is not None:
            result.listeners.append((state, hosts))
    if not result.listeners:
        result.reason = REASON_NO_MATCHING_LISTENER_HOSTNAME
        result.message = "No hostname of the route matches a listener hostname"
    return result


def _specificity(listener_host: str) -> tuple[int, int]:
    """Listener precedence for a request host: exact, then the longer wildcard, then none."""
    if not listener_host:
        return (0, 0)
    if listener_host.startswith("*."):
        return (1, len(listener_host))
    return (2, len(listener_host))


def _listener_takes(listener_host: str, host: str) -> bool:
    if not listener_host or listener_host == host:
        return True
    return wildcard_matches(listener_host, host)


def isolated_hostnames(
    state: ListenerState, hosts: tuple[str, ...], port_listeners: Sequence[ListenerState]
) -> tuple[str, ...] | None:
    """The `hosts` a route on `state` may serve when requests go to the most specific listener of the
    port that matches them (GatewayHTTPListenerIsolation); () stays "any host"; None: none left."""
    if not hosts:
        return hosts
    kept = []
    for host in hosts:
        takers = [s for s in port_listeners if _listener_takes(s.hostname, host)]
        best = max(takers, key=lambda s: _specificity(s.hostname), default=None)
        if best is None or best.hostname == state.hostname:
            kept.append(host)
    return tuple(kept) if kept else None
