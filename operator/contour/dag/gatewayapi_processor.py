"""GatewayAPIProcessor: Gateway API objects -> one GatewayDAG per Gateway, and their status.

It runs after the HTTPProxy processor and leaves Contour's own listeners alone: each accepted Gateway
gets a `GatewayDAG` (served to its own Envoy) in `DAG.gateways`. The steps follow the Gateway API
v1.6.1 semantics (reference gateway-api.md 6.2-6.5):

1. GatewayClasses whose controllerName is ours are Accepted (with SupportedVersion and the
   `supportedFeatures` this implementation passes); an instance serving one Gateway (`gateway_ref`,
   deployed by the gateway provisioner) leaves the class's status to the provisioner, which also
   judges its parametersRef;
2. Gateways of those classes (only `gateway_ref` when configured) are validated listener by listener
   (gatewayapi_listeners) and get their Envoy listeners, bound on the address assigned to them;
3. routes attach per parentRef (gatewayapi_attach), oldest first, and their rules become DAG routes
   on every programmed listener they attach to (HTTPRoute rules: gatewayapi_httproute); each parentRef
   to one of our Gateways gets a `status.parents` entry, other controllers' entries are kept;
4. statuses: GatewayClass, Gateway (conditions, addresses, listeners with attachedRoutes), routes.

Nested conditions (`listeners[]`, `parents[]`) reuse the `lastTransitionTime` the object already has
when nothing changed; a new one is left without it for the controller to stamp (no clock here).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from contour.api.gateway import v1 as gwapi
from contour.dag.builder import BuildContext
from contour.dag.cache import KubernetesCache
from contour.dag.gatewayapi_attach import attach, isolated_hostnames, namespace_labels
from contour.dag.gatewayapi_backend_client_cert import (
    BackendClientCertificate,
    apply_backend_client_certificate,
    backend_client_certificate,
    backend_client_certificate_conditions,
)
from contour.dag.gatewayapi_backendtls import BackendTLSPolicies
from contour.dag.gatewayapi_frontend_tls import (
    FrontendTLS,
    apply_frontend_tls,
    frontend_conditions,
    frontend_tls,
)
from contour.dag.gatewayapi_grpcroute import route_rules
from contour.dag.gatewayapi_httproute import (
    PRIORITY_STRIDE,
    ReferenceCheck,
    ResolvedRefs,
    reference_check,
)
from contour.dag.gatewayapi_l4routes import l4_backends
from contour.dag.gatewayapi_listeners import (
    ListenerState,
    Verdict,
    condition,
    mark_conflicts,
    validate_listener,
)
from contour.dag.gatewayapi_listenersets import ListenerSets
from contour.dag.gatewayapi_model import GatewayDAG, L4Listener
from contour.dag.gatewayapi_names import (
    GROUP,
    http_listener_name,
    https_listener_name,
    tcp_listener_name,
    udp_listener_name,
)
from contour.dag.model import (
    Cluster,
    Listener,
    ObjectRef,
    Route,
    Secret,
    SecureVirtualHost,
    Service,
    VirtualHost,
    route_key,
)
from contour.dag.status import StatusUpdate

VERSION: Final = "v1"
DEFAULT_ADDRESS: Final = "0.0.0.0"
# The Gateway API release whose CRDs this implements (GatewayClass SupportedVersion).
BUNDLE_VERSION: Final = "v1.6.1"

# GatewayClass status.supportedFeatures: the features whose conformance tests pass, sorted.
SUPPORTED_FEATURES: Final = (
    "BackendTLSPolicy",
    "BackendTLSPolicySANValidation",
    "GRPCRoute",
    "GRPCRouteNamedRouteRule",
    "Gateway",
    "GatewayAddressEmpty",
    "GatewayBackendClientCertificate",
    "GatewayFrontendClientCertificateValidation",
    "GatewayFrontendClientCertificateValidationInsecureFallback",
    "GatewayHTTPListenerIsolation",
    "GatewayHTTPSListenerDetectMisdirectedRequests",
    "GatewayPort8080",
    "GatewayStaticAddresses",
    "HTTPRoute",
    "HTTPRoute303RedirectStatusCode",
    "HTTPRoute307RedirectStatusCode",
    "HTTPRoute308RedirectStatusCode",
    "HTTPRouteBackendProtocolH2C",
    "HTTPRouteBackendProtocolWebSocket",
    "HTTPRouteBackendRequestHeaderModification",
    "HTTPRouteBackendTimeout",
    "HTTPRouteCORS",
    "HTTPRouteHostRewrite",
    "HTTPRouteMethodMatching",
    "HTTPRouteNamedRouteRule",
    "HTTPRouteParentRefPort",
    "HTTPRoutePathRedirect",
    "HTTPRoutePathRewrite",
    "HTTPRoutePortRedirect",
    "HTTPRouteQueryParamMatching",
    "HTTPRouteRequestMirror",
    "HTTPRouteRequestMultipleMirrors",
    "HTTPRouteRequestPercentageMirror",
    "HTTPRouteRequestTimeout",
    "HTTPRouteResponseHeaderModification",
    "HTTPRouteSchemeRedirect",
    "ListenerSet",
    "ReferenceGrant",
    "TCPRoute",
    "TLSRoute",
    "TLSRouteModeMixed",
    "TLSRouteModeTerminate",
    "UDPRoute",
)

CLASS_ACCEPTED: Final = Verdict(True, "Accepted", "GatewayClass is accepted")


def gateway_class_status(generation: int, accepted: Verdict) -> dict[str, Any]:
    """A GatewayClass status of ours: Accepted as given, SupportedVersion, and (when accepted) the
    supported features. `contour gateway-provisioner` writes the same for the classes it serves."""
    status: dict[str, Any] = {
        "conditions": [
            condition("Accepted", accepted, generation),
            condition(
                "SupportedVersion",
                Verdict(True, "SupportedVersion", f"Gateway API {BUNDLE_VERSION} is supported"),
                generation,
            ),
        ]
    }
    if accepted.ok:
        status["supportedFeatures"] = [{"name": name} for name in sorted(SUPPORTED_FEATURES)]
    return status


PLURALS: Final = {
    "GatewayClass": "gatewayclasses",
    "Gateway": "gateways",
    "HTTPRoute": "httproutes",
    "GRPCRoute": "grpcroutes",
    "TLSRoute": "tlsroutes",
    "TCPRoute": "tcproutes",
    "UDPRoute": "udproutes",
    "BackendTLSPolicy": "backendtlspolicies",
    "ListenerSet": "listenersets",
}

AnyRoute = gwapi.HTTPRoute | gwapi.GRPCRoute | gwapi.TLSRoute | gwapi.TCPRoute | gwapi.UDPRoute


@dataclass(slots=True)
class _Gateway:
    ref: ObjectRef
    gateway: gwapi.Gateway
    generation: int
    listeners: list[ListenerState]
    accepted: Verdict
    address: str | None
    dag: GatewayDAG | None = None
    frontend: FrontendTLS | None = None
    backend_cert: BackendClientCertificate | None = None  # spec.tls.backend.clientCertificateRef
    # Listeners merged from accepted ListenerSets, after the Gateway's own (gatewayapi_listenersets).
    extra: list[ListenerState] = field(default_factory=list)


@dataclass(slots=True)
class _Parent:
    """One `status.parents` entry being computed."""

    ref: dict[str, Any]
    accepted: Verdict
    resolved_refs: ResolvedRefs
    partially_invalid: str | None = None


@dataclass(slots=True)
class _Route:
    kind: str
    ref: ObjectRef
    route: AnyRoute
    parents: list[_Parent] = field(default_factory=list)


class GatewayAPIProcessor:
    def run(self, ctx: BuildContext) -> None:
        _Build(ctx).run()


def _generation(meta: Any) -> int:
    generation = getattr(meta, "generation", None)
    return generation if isinstance(generation, int) else 0


def _precedence(item: tuple[ObjectRef, Any]) -> tuple[str, str, str]:
    ref, obj = item
    created = getattr(obj.metadata, "creation_timestamp", None) or ""
    return created, ref.namespace, ref.name


class _Build:
    def __init__(self, ctx: BuildContext) -> None:
        self.ctx = ctx
        self.cache = ctx.cache
        self.config = ctx.config
        self.controller = ctx.config.gateway_controller_name
        self.gateways: dict[ObjectRef, _Gateway] = {}
        self.permitted: ReferenceCheck = reference_check(self.cache.referencegrants.values())
        self.listenersets = ListenerSets(self.cache, self.permitted)
        # The hosts each Gateway listener (gateway, listener state) put routes on.
        self.served: dict[tuple[ObjectRef, int], tuple[ListenerState, set[str]]] = {}

    def run(self) -> None:
        classes = self._gateway_classes()
        if classes:
            self._gateways(classes)
        # Routes are walked even with no Gateway of ours left: that removes our stale parent entries.
        self._routes("HTTPRoute", self.cache.httproutes)
        self._routes("GRPCRoute", self.cache.grpcroutes)
        self._routes("TLSRoute", self.cache.tlsroutes)
        self._routes("TCPRoute", self.cache.tcproutes)
        self._routes("UDPRoute", self.cache.udproutes)
        if not self.gateways:
            return
        policies = BackendTLSPolicies(self.cache)
        for ref in sorted(self.gateways):
            gateway = self.gateways[ref]
            if gateway.dag is not None:
                for (owner, _), (state, hosts) in self.served.items():
                    if owner == ref:
                        _merge_covering_hosts(gateway.dag, state, hosts)
                policies.apply(ref, gateway.dag)
                apply_frontend_tls(gateway.dag, gateway.frontend)
                apply_backend_client_certificate(gateway.dag, gateway.backend_cert)
                _collect_uses(gateway.dag)
                self.ctx.dag.gateways[ref] = gateway.dag
            self._gateway_status(gateway)
        previous = {r: p for (k, r), p in self.cache.route_parents.items() if k == "BackendTLSPolicy"}
        for policy_ref, generation, status in policies.statuses(self.controller, previous):
            self._set_status("BackendTLSPolicy", policy_ref, generation, status)
        programmed = {r: g.accepted.ok and g.address is not None for r, g in self.gateways.items()}
        for set_ref, generation, status in self.listenersets.statuses(programmed):
            self._set_status("ListenerSet", set_ref, generation, status)

    # --- GatewayClass --------------------------------------------------------------------------------

    def _gateway_classes(self) -> set[str]:
        accepted: set[str] = set()
        for ref in sorted(self.cache.gatewayclasses):
            gateway_class = self.cache.gatewayclasses[ref]
            if gateway_class.spec.controller_name != self.controller:
                continue
            accepted.add(ref.name)
            if self.config.gateway_ref is not None:
                continue  # a provisioned instance: the gateway provisioner writes the class's status
            generation = _generation(gateway_class.metadata)
            self._set_status(
                "GatewayClass", ref, generation, gateway_class_status(generation, CLASS_ACCEPTED)
            )
        return accepted

    # --- Gateways and their listeners ----------------------------------------------------------------

    def _gateways(self, classes: set[str]) -> None:
        only = self.config.gateway_ref
        for ref in sorted(self.cache.gateways):
            gateway = self.cache.gateways[ref]
            if gateway.spec.gateway_class_name not in classes or (only is not None and ref != only):
                continue
            states = [
                validate_listener(ref, spec, self.cache, self.permitted) for spec in gateway.spec.listeners
            ]
            mark_conflicts(states)
            frontend = frontend_tls(ref, gateway, states, self.cache, self.permitted)
            state = _Gateway(
                ref=ref,
                gateway=gateway,
                generation=_generation(gateway.metadata),
                listeners=states,
                accepted=_gateway_accepted(gateway, states),
                address=self.cache.gateway_addresses.get(ref),
                frontend=frontend,
            )
            state.extra = self.listenersets.merge(ref, gateway, states, accepted=state.accepted.ok)
            if state.accepted.ok:
                state.dag = _gateway_dag(state)
            state.backend_cert = backend_client_certificate(ref, gateway, self.cache, self.permitted)
            self.gateways[ref] = state

    def _gateway_status(self, gateway: _Gateway) -> None:
        generation = gateway.generation
        if not gateway.accepted.ok:
            programmed = Verdict(False, "Invalid", "Gateway is not accepted")
        elif gateway.address is None:
            programmed = Verdict(
                False, "AddressNotAssigned", "No address has been assigned to the Gateway yet"
            )
        elif unusable := _unusable_addresses(gateway.gateway, gateway.address):
            programmed = Verdict(
                False, "AddressNotUsable", f"Requested address(es) {', '.join(unusable)} cannot be used"
            )
        elif not any(s.programmed for s in gateway.listeners):
            programmed = Verdict(False, "Invalid", "No listener is programmed")
        else:
            programmed = Verdict(True, "Programmed", "Gateway is programmed")
        previous = _previous_listener_conditions(self.cache, gateway.ref)
        listeners = []
        for state in gateway.listeners:
            entry = state.status(generation)
            entry["conditions"] = _with_times(entry["conditions"], previous.get(state.name, {}))  # type: ignore[arg-type]
            listeners.append(entry)
        status: dict[str, Any] = {
            "conditions": [
                condition("Accepted", gateway.accepted, generation),
                condition("Programmed", programmed, generation),
            ],
            "listeners": listeners,
        }
        status["conditions"].extend(frontend_conditions(gateway.frontend, generation))
        status["conditions"].extend(backend_client_certificate_conditions(gateway.backend_cert, generation))
        if gateway.address is not None:
            status["addresses"] = [{"type": "IPAddress", "value": gateway.address}]
        attached_sets = self.listenersets.attached_count(gateway.ref)
        if attached_sets is not None:
            status["attachedListenerSets"] = attached_sets
        self._set_status("Gateway", gateway.ref, generation, status)

    # --- routes --------------------------------------------------------------------------------------

    def _routes(self, kind: str, table: Mapping[ObjectRef, AnyRoute]) -> None:
        for index, (ref, route) in enumerate(sorted(table.items(), key=_precedence)):
            entry = _Route(kind, ref, route)
            for parent in route.spec.parent_refs or []:
                group = GROUP if parent.group is None else parent.group
                if group == GROUP and parent.kind == "ListenerSet":
                    target = self.listenersets.target(
                        ObjectRef(parent.namespace or ref.namespace, parent.name)
                    )
                    if target is not None and target.gateway in self.gateways:
                        owner = self.gateways[target.gateway]
                        entry.parents.append(self._attach(entry, parent, owner, index, target.listeners))
                    continue
                if group != GROUP or (parent.kind or "Gateway") != "Gateway":
                    continue
                gateway = self.gateways.get(ObjectRef(parent.namespace or ref.namespace, parent.name))
                if gateway is None:
                    continue
                entry.parents.append(self._attach(entry, parent, gateway, index))
            self._route_status(entry)

    def _attach(
        self,
        entry: _Route,
        parent: gwapi.ParentRef,
        gateway: _Gateway,
        index: int,
        listeners: list[ListenerState] | None = None,  # a ListenerSet's, instead of the Gateway's own
    ) -> _Parent:
        route = entry.route
        route_hosts: list[str] | None = None  # TCP and UDP routes have no hostnames
        if entry.kind not in ("TCPRoute", "UDPRoute"):
            route_hosts = [h.root for h in getattr(route.spec, "hostnames", None) or []]
        labels = namespace_labels(self.cache.namespaces.get(ObjectRef("", entry.ref.namespace)))
        found = attach(
            parent,
            gateway.listeners if listeners is None else listeners,
            route_kind=entry.kind,
            route_namespace=entry.ref.namespace,
            route_hostnames=route_hosts,
            labels=labels,
        )
        echoed = _echo_parent_ref(parent)
        if not found.listeners:
            return _Parent(
                echoed, Verdict(False, found.reason, found.message), ResolvedRefs(True, "ResolvedRefs", "")
            )
        if isinstance(route, gwapi.HTTPRoute | gwapi.GRPCRoute):
            return self._attach_http(route, echoed, gateway=gateway, listeners=found.listeners, index=index)
        return self._attach_l4(entry, echoed, gateway, found.listeners)

    def _attach_http(
        self,
        route: gwapi.HTTPRoute | gwapi.GRPCRoute,
        echoed: dict[str, Any],
        *,
        gateway: _Gateway,
        listeners: list[tuple[ListenerState, tuple[str, ...]]],
        index: int,
    ) -> _Parent:
        # A redirect without scheme and port keeps the listener's port: the rules depend on it too.
        results = {}
        for state, hosts in listeners:
            if (hosts, state.port) not in results:
                results[hosts, state.port] = route_rules(
                    route,
                    hosts,
                    self.cache,
                    self.config,
                    priority_base=index * PRIORITY_STRIDE,
                    permitted=self.permitted,
                    service_memo=self.ctx.service_memo,
                    listener_port=state.port,
                )
        first = next(iter(results.values()))
        problem = next((r.accepted_problem for r in results.values() if r.accepted_problem), None)
        if problem is not None:
            return _Parent(echoed, Verdict(False, problem[0], problem[1]), first.resolved_refs)
        for state, hosts in listeners:
            state.attached_routes += 1
            if gateway.dag is None or not state.programmed:
                continue
            served = isolated_hostnames(state, hosts, _same_port(gateway, state))
            if served is not None:
                routes_by_host = results[hosts, state.port].routes_by_host
                _add_http_routes(gateway.dag, state, {h: routes_by_host.get(h, []) for h in served or ("*",)})
                entry = self.served.setdefault((gateway.ref, id(state)), (state, set()))
                entry[1].update(served or ("*",))
        return _Parent(
            echoed,
            Verdict(True, "Accepted", "Route is accepted"),
            first.resolved_refs,
            first.partially_invalid,
        )

    def _attach_l4(
        self,
        entry: _Route,
        echoed: dict[str, Any],
        gateway: _Gateway,
        listeners: list[tuple[ListenerState, tuple[str, ...]]],
    ) -> _Parent:
        route = entry.route
        assert isinstance(route, gwapi.TLSRoute | gwapi.TCPRoute | gwapi.UDPRoute)
        backends = l4_backends(
            entry.kind,
            entry.ref,
            route.spec.rules[0].backend_refs,
            self.cache,
            self.permitted,
            enable_external_name=self.config.enable_external_name_service,
            memo=self.ctx.service_memo,
        )
        for state, hosts in listeners:
            state.attached_routes += 1
            if gateway.dag is not None and state.programmed:
                _add_l4_route(gateway.dag, state, hosts, backends.clusters, backends.invalid_weight)
        return _Parent(echoed, Verdict(True, "Accepted", "Route is accepted"), backends.resolved_refs)

    def _route_status(self, entry: _Route) -> None:
        cached = self.cache.route_parents.get((entry.kind, entry.ref), [])
        ours_before = [
            p for p in cached if isinstance(p, Mapping) and p.get("controllerName") == self.controller
        ]
        if not entry.parents and not ours_before:
            return
        others = [
            p for p in cached if not (isinstance(p, Mapping) and p.get("controllerName") == self.controller)
        ]
        generation = _generation(entry.route.metadata)
        parents: list[Any] = list(others)
        for parent in entry.parents:
            conditions: list[dict[str, object]] = [
                condition("Accepted", parent.accepted, generation),
                condition(
                    "ResolvedRefs",
                    Verdict(
                        parent.resolved_refs.ok,
                        parent.resolved_refs.reason,
                        parent.resolved_refs.message or "References resolved",
                    ),
                    generation,
                ),
            ]
            if parent.partially_invalid:
                conditions.append(
                    condition(
                        "PartiallyInvalid",
                        Verdict(True, "UnsupportedValue", parent.partially_invalid),
                        generation,
                    )
                )
            before = next((p for p in ours_before if p.get("parentRef") == parent.ref), None)
            parents.append(
                {
                    "parentRef": parent.ref,
                    "controllerName": self.controller,
                    "conditions": _with_times(conditions, _conditions_by_type(before)),
                }
            )
        self._set_status(entry.kind, entry.ref, generation, {"parents": parents})

    def _set_status(self, kind: str, ref: ObjectRef, generation: int, status: dict[str, Any]) -> None:
        self.ctx.status.set_update(StatusUpdate(GROUP, VERSION, PLURALS[kind], ref, generation, status))


# --- Gateway pieces ----------------------------------------------------------------------------------


def _same_port(gateway: _Gateway, state: ListenerState) -> list[ListenerState]:
    return [
        s
        for s in [*gateway.listeners, *gateway.extra]
        if s.programmed and s.port == state.port and s.port_group == state.port_group
    ]


def _unusable_addresses(gateway: gwapi.Gateway, assigned: str) -> list[str]:
    """Requested IPAddress values the Gateway is not bound on: its listeners serve one address (the
    one assigned to it), so any other requested value is unusable (GatewayReasonAddressNotUsable)."""
    return [
        a.value
        for a in gateway.spec.addresses or []
        if (a.type or "IPAddress") == "IPAddress" and a.value and a.value != assigned
    ]


def _gateway_accepted(gateway: gwapi.Gateway, states: Sequence[ListenerState]) -> Verdict:
    infrastructure = gateway.spec.infrastructure
    if infrastructure is not None and infrastructure.parameters_ref is not None:
        return Verdict(False, "InvalidParameters", "infrastructure.parametersRef is not supported")
    for address in gateway.spec.addresses or []:
        if (address.type or "IPAddress") != "IPAddress":
            return Verdict(False, "UnsupportedAddress", f"Address type {address.type} is not supported")
    accepted = [s for s in states if s.accepted.ok]
    if not accepted:
        return Verdict(False, "ListenersNotValid", "No listener is valid")
    if len(accepted) < len(states):
        return Verdict(True, "ListenersNotValid", "Some listeners are not valid")
    return Verdict(True, "Accepted", "Gateway is accepted")


def _gateway_dag(gateway: _Gateway) -> GatewayDAG:
    address = gateway.address or DEFAULT_ADDRESS
    dag = GatewayDAG(
        ref=gateway.ref,
        address=address,
        ports=tuple((s.protocol, s.port) for s in [*gateway.listeners, *gateway.extra]),
    )
    for state in [*gateway.listeners, *gateway.extra]:
        if not state.programmed:
            continue
        port, group = state.port, state.port_group
        if group == "http":
            name = http_listener_name(port)
            dag.listeners.setdefault(name, Listener(name=name, protocol="http", address=address, port=port))
        elif group == "https":
            name = https_listener_name(port)
            https = dag.listeners.setdefault(
                name, Listener(name=name, protocol="https", address=address, port=port)
            )
            if state.protocol == "HTTPS" and state.secret is not None:
                # Every name the listener accepts completes the TLS handshake with its certificate and
                # gets Envoy's 404 when no route serves it, not a reset (HTTPRouteHTTPSListener).
                host = state.hostname or "*"
                if host not in https.secure_virtual_hosts:
                    https.secure_virtual_hosts[host] = SecureVirtualHost(
                        virtual_host=VirtualHost(name=host), secret=state.secret
                    )
                known = dag.https_listener_hosts.get(name, ())
                if host not in known:
                    dag.https_listener_hosts[name] = (*known, host)
        elif group == "tcp":
            name = tcp_listener_name(port)
            dag.tcp_listeners.setdefault(name, L4Listener(name=name, address=address, port=port))
        elif group == "udp":
            name = udp_listener_name(port)
            dag.udp_listeners.setdefault(name, L4Listener(name=name, address=address, port=port))
    return dag


def _add_routes(vhost: VirtualHost, routes: Iterable[Route]) -> None:
    # Routes come oldest route first: an earlier route keeps a match a later one repeats.
    existing = vhost.routes
    for route in routes:
        key = route_key(route)
        if key not in existing:
            existing[key] = route


def _add_http_routes(
    dag: GatewayDAG, state: ListenerState, routes_by_host: Mapping[str, list[Route]]
) -> None:
    if state.port_group == "http":
        listener = dag.listeners[http_listener_name(state.port)]
        for host, routes in routes_by_host.items():
            vhost = listener.virtual_hosts.get(host)
            if vhost is None:
                vhost = listener.virtual_hosts[host] = VirtualHost(name=host)
            _add_routes(vhost, routes)
        return
    listener = dag.listeners[https_listener_name(state.port)]
    for host, routes in routes_by_host.items():
        svh = listener.secure_virtual_hosts.get(host)
        if svh is None:
            svh = listener.secure_virtual_hosts[host] = SecureVirtualHost(
                virtual_host=VirtualHost(name=host), secret=state.secret
            )
        _add_routes(svh.virtual_host, routes)


def _covers(wildcard: str, host: str) -> bool:
    """Whether every name `host` matches is matched by `wildcard` ("*", or "*.suffix": one or more
    labels), for hosts other than `wildcard` itself."""
    if wildcard == host or not wildcard.startswith("*"):
        return False
    if wildcard == "*":
        return True
    suffix = wildcard[1:]  # ".suffix"
    return host.endswith(suffix) and len(host) > len(suffix) and host != "*"


def _merge_covering_hosts(dag: GatewayDAG, state: ListenerState, hosts: set[str]) -> None:
    """Within one Gateway listener, a request for a host is matched against the rules of every route
    whose hostnames cover it (a `*.com` route also serves `example.com`), but Envoy consults only the
    most specific virtual host: so the covering hosts' routes are added to the more specific ones,
    after their own (a route on the more specific hostname keeps a match both have).
    https://gateway-api.sigs.k8s.io/reference/spec/#httproutespec (hostnames)"""
    if state.port_group == "http":
        listener = dag.listeners[http_listener_name(state.port)]
        vhosts = {h: listener.virtual_hosts[h] for h in hosts if h in listener.virtual_hosts}
    else:
        listener = dag.listeners[https_listener_name(state.port)]
        secure = listener.secure_virtual_hosts
        vhosts = {h: secure[h].virtual_host for h in hosts if h in secure}
    covering = {h: list(v.routes.values()) for h, v in vhosts.items() if h.startswith("*")}
    for host in sorted(vhosts):
        # Most specific wildcard first, so its routes win a match a broader one repeats.
        for wildcard in sorted(covering, key=len, reverse=True):
            if _covers(wildcard, host):
                _add_routes(vhosts[host], covering[wildcard])


def _add_l4_route(
    dag: GatewayDAG,
    state: ListenerState,
    hosts: tuple[str, ...],
    clusters: list[Cluster],
    invalid_weight: int,
) -> None:
    if state.port_group in ("tcp", "udp"):
        table = dag.tcp_listeners if state.port_group == "tcp" else dag.udp_listeners
        name = tcp_listener_name(state.port) if state.port_group == "tcp" else udp_listener_name(state.port)
        listener = table[name]
        if not listener.clusters and not listener.invalid_weight:  # the oldest route wins
            listener.clusters = list(clusters)
            listener.invalid_weight = invalid_weight
        return
    if state.port_group != "https" or not clusters:
        return
    secure = dag.listeners[https_listener_name(state.port)]
    terminate = state.tls_mode == "Terminate"
    for host in hosts or ("*",):
        if host in secure.secure_virtual_hosts:
            continue
        secure.secure_virtual_hosts[host] = SecureVirtualHost(
            virtual_host=VirtualHost(name=host),
            secret=state.secret if terminate else None,
            tcp_proxy=list(clusters),
        )


def _collect_uses(dag: GatewayDAG) -> None:
    """Fill the Services (for EDS) and Secrets (for SDS) the Gateway's listeners use."""
    services: dict[str, Service] = {}
    secrets: dict[ObjectRef, Secret] = {}
    clusters: list[Cluster] = []
    for listener in dag.listeners.values():
        hosts = [
            *listener.virtual_hosts.values(),
            *(s.virtual_host for s in listener.secure_virtual_hosts.values()),
        ]
        for vhost in hosts:
            for route in vhost.routes.values():
                clusters.extend(route.clusters)
                clusters.extend(m.cluster for m in route.mirror_policies)
        for svh in listener.secure_virtual_hosts.values():
            clusters.extend(svh.tcp_proxy or ())
            if svh.secret is not None:
                secrets.setdefault(svh.secret.ref, svh.secret)
    for l4 in [*dag.tcp_listeners.values(), *dag.udp_listeners.values()]:
        clusters.extend(l4.clusters)
    for cluster in clusters:
        services.setdefault(cluster.upstream.eds_name, cluster.upstream)
        validation = cluster.upstream_validation
        for secret in (validation.ca_secret if validation else None, cluster.client_certificate):
            if secret is not None:
                secrets.setdefault(secret.ref, secret)
    dag.services = {k: services[k] for k in sorted(services)}
    dag.secrets = {k: secrets[k] for k in sorted(secrets)}


# --- status helpers ------------------------------------------------------------------------------------


def _echo_parent_ref(parent: gwapi.ParentRef) -> dict[str, Any]:
    """The parentRef as the route gave it, with group and kind filled in."""
    echoed: dict[str, Any] = {
        "group": GROUP if parent.group is None else parent.group,
        "kind": parent.kind or "Gateway",
    }
    if parent.namespace is not None:
        echoed["namespace"] = parent.namespace
    echoed["name"] = parent.name
    if parent.section_name is not None:
        echoed["sectionName"] = parent.section_name
    if parent.port is not None:
        echoed["port"] = parent.port
    return echoed


def _conditions_by_type(entry: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    conditions = entry.get("conditions") if entry is not None else None
    if not isinstance(conditions, list):
        return {}
    return {c["type"]: c for c in conditions if isinstance(c, Mapping) and isinstance(c.get("type"), str)}


def _previous_listener_conditions(
    cache: KubernetesCache, ref: ObjectRef
) -> dict[str, dict[str, Mapping[str, Any]]]:
    """The conditions each listener of the Gateway has in its current status, by listener name."""
    found: dict[str, dict[str, Mapping[str, Any]]] = {}
    for entry in cache.gateway_listener_status.get(ref, []):
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            found[entry["name"]] = _conditions_by_type(entry)
    return found


def _with_times(
    conditions: list[dict[str, object]], previous: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, object]]:
    """Each condition with the lastTransitionTime of the previous one of its type, if it is unchanged."""
    out = []
    for cond in conditions:
        before = previous.get(str(cond["type"]))
        if (
            before is not None
            and isinstance(before.get("lastTransitionTime"), str)
            and all(before.get(k) == cond[k] for k in ("status", "reason", "message"))
        ):
            out.append({**cond, "lastTransitionTime": before["lastTransitionTime"]})
        else:
            out.append(cond)
    return out
