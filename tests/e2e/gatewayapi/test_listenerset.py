# ruff: noqa: N802  (test names are the upstream ShortNames, so the mapping is visible)
"""GATEWAY-HTTP extended conformance tests of Gateway API v1.6.1 for ListenerSets (feature ListenerSet).

One test per upstream test (conformance/tests/listenerset-*.go and .yaml), named after its ShortName:
a Gateway admitting (or refusing) ListenerSets through spec.allowedListeners, ListenerSets whose
listeners merge into it, HTTPRoutes attached by parentRef kind Gateway or ListenerSet; statuses read
through the API at the latest generation, requests to the Gateway's own Envoy, each case 3 answers in
a row within 30 s. The manifests are the ones of the v1.6 line (kind ListenerSet, group
gateway.networking.k8s.io, feature SupportListenerSet); where upstream revisions differ the one whose
manifests and test body agree was followed (noted per test).
"""

from __future__ import annotations

from tests.e2e.gatewayapi.base_manifests import (
    INFRA,
    WEB,
    Manifest,
    backend,
    from_namespaces,
    gateway,
    http_route,
    https_listener,
    listener,
    namespace,
    parent,
    reference_grant,
    tls_secret,
)
from tests.e2e.gatewayapi.listenerset_support import (
    ACCEPTED_LISTENER,
    LISTENER_SET,
    allow_listeners,
    attached_listener_sets,
    conflicted,
    exact_parents,
    gateway_listeners,
    listener_set,
    listenerset_condition,
    listenerset_listeners,
    namespace_ready,
    route_and_parent_accepted,
    set_parent,
)
from tests.e2e.gatewayapi.roundtrip import Case
from tests.e2e.gatewayapi.suite import Suite
from tests.e2e.run_tls_support import Authority

V1, V2, V3 = "infra-backend-v1", "infra-backend-v2", "infra-backend-v3"


def _http(suite: Suite, name: str, host: str, allow: str = "All", **selector: str) -> Manifest:
    """An HTTP listener on upstream port 80 (mapped to a free port here)."""
    routes = from_namespaces(allow, selector or None)
    return listener(name, suite.ports[80], hostname=host, allowedRoutes=routes)


def _prefix_route(name: str, parents: list[Manifest], path: str, target: str, ns: str = INFRA) -> Manifest:
    ref = backend(target) if ns == INFRA else backend(target, namespace=INFRA)
    rule = {"matches": [{"path": {"type": "PathPrefix", "value": path}}], "backendRefs": [ref]}
    return http_route(name, ns, parentRefs=parents, rules=[rule])


def _grant_services_to_routes(name: str, *from_namespaces: str) -> Manifest:
    """A ReferenceGrant in the infra namespace letting HTTPRoutes of these namespaces use its Services."""
    grant = reference_grant(name, INFRA, from_ns=from_namespaces[0])
    grant["spec"]["from"] = [
        {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": ns} for ns in from_namespaces
    ]
    return grant


def _not_allowed(suite: Suite, name: str, ns: str = INFRA) -> None:
    listenerset_condition(suite, name, "Accepted", "False", "NotAllowed", ns=ns)
    listenerset_condition(suite, name, "Programmed", "False", "NotAllowed", ns=ns)


def _set_accepted(suite: Suite, name: str, *, accepted_reason: str = "", ns: str = INFRA) -> None:
    listenerset_condition(suite, name, "Accepted", "True", accepted_reason, ns=ns)
    listenerset_condition(suite, name, "Programmed", "True", "Programmed", ns=ns)


def _set_listeners_not_valid(suite: Suite, name: str, ns: str = INFRA) -> None:
    listenerset_condition(suite, name, "Accepted", "False", "ListenersNotValid", ns=ns)
    listenerset_condition(suite, name, "Programmed", "False", "ListenersNotValid", ns=ns)


# -- which ListenerSets a Gateway admits -------------------------------------------------------------


def test_ListenerSetAllowedNamespaceNone(suite: Suite) -> None:
    gw = "gateway-does-not-allow-listenerset"
    suite.apply(
        gateway(
            gw,
            _http(suite, "gateway-listener", "gateway-listener.com"),
            allowedListeners=allow_listeners("None"),
        ),
        listener_set(
            "listenerset-not-allowed", gw, _http(suite, "listener-set-listener", "listener-set-listener.com")
        ),
    )
    namespace_ready(suite)
    suite.gateway_condition(gw, "Accepted", "True")
    attached_listener_sets(suite, gw, 0)
    _not_allowed(suite, "listenerset-not-allowed")


def test_ListenerSetDefaultNotAllowed(suite: Suite) -> None:
    gw = "gateway-default-does-not-allow-listenerset"
    name = "listenerset-default-not-allowed"
    suite.apply(
        gateway(gw, _http(suite, "gateway-listener", "gateway-listener.com")),
        listener_set(name, gw, _http(suite, f"{name}-listener", f"{name}-listener.com")),
    )
    namespace_ready(suite)
    suite.gateway_condition(gw, "Accepted", "True")
    attached_listener_sets(suite, gw, 0)
    _not_allowed(suite, name)


def test_ListenerSetAllowedNamespaceSame(suite: Suite) -> None:
    gw = "gateway-allows-listenerset-in-same-namespace"
    other_ns = "gateway-api-listenerset-not-allowed-ns"
    same, other = "listenerset-in-same-namespace", "listenerset-in-different-namespace"
    suite.apply(
        gateway(
            gw,
            _http(suite, "gateway-listener", "gateway-listener.com"),
            allowedListeners=allow_listeners("Same"),
        ),
        listener_set(same, gw, _http(suite, f"{same}-listener", f"{same}-listener.com")),
        namespace(other_ns),
        listener_set(other, gw, _http(suite, f"{other}-listener", f"{other}-listener"), ns=other_ns),
    )
    namespace_ready(suite)
    suite.gateway_condition(gw, "Accepted", "True")
    attached_listener_sets(suite, gw, 1)
    _set_accepted(suite, same, accepted_reason="Accepted")
    listenerset_listeners(suite, same, {f"{same}-listener": ACCEPTED_LISTENER})
    _not_allowed(suite, other, other_ns)


def test_ListenerSetAllowedNamespaceSelector(suite: Suite) -> None:
    gw = "gateway-allows-listenerset-in-selected-namespace"
    allowed_ns, other_ns = (
        "gateway-api-listenerset-selector-allowed-ns",
        "gateway-api-listenerset-selector-not-allowed-ns",
    )
    selected, other = "listenerset-in-selected-namespace", "listenerset-not-in-selected-namespace"
    suite.apply(
        gateway(
            gw,
            _http(suite, "gateway-listener", "gateway-listener.com"),
            allowedListeners=allow_listeners("Selector", {"allowed": "ns"}),
        ),
        namespace(allowed_ns, {"allowed": "ns"}),
        listener_set(
            selected, gw, _http(suite, f"{selected}-listener", f"{selected}-listener.com"), ns=allowed_ns
        ),
        namespace(other_ns),
        listener_set(other, gw, _http(suite, f"{other}-listener", f"{other}-listener.com"), ns=other_ns),
    )
    namespace_ready(suite)
    suite.gateway_condition(gw, "Accepted", "True")
    attached_listener_sets(suite, gw, 1)
    _set_accepted(suite, selected, accepted_reason="Accepted", ns=allowed_ns)
    listenerset_listeners(suite, selected, {f"{selected}-listener": ACCEPTED_LISTENER}, allowed_ns)
    _not_allowed(suite, other, other_ns)


# -- routes on ListenerSet listeners ------------------------------------------------------------------


def test_ListenerSetAllowedRoutesNamespaces(suite: Suite) -> None:
    """Both parts of the v1.6 test: a ListenerSet in the Gateway's namespace whose listeners allow
    routes from All / Same / a Selector, and one in another namespace whose `Same` means its own."""
    gw = "gateway-with-listener-sets-test-allowed-routes"
    same_set, cross_set = (
        "listenerset-test-allowed-routes-namespaces",
        "listenerset-test-allowed-routes-cross-ns",
    )
    allowed_ns, other_ns, cross_ns = (
        "gateway-api-routes-allowed-ns",
        "gateway-api-routes-not-allowed-ns",
        "gateway-api-ls-cross-ns",
    )
    all_l, same_l, sel_l = (f"listener-set-listener-allowed-routes-{s}" for s in ("all", "same", "selector"))
    cross_l = "listener-set-listener-allowed-routes-cross-ns-same"
    suite.apply(
        namespace(allowed_ns, {"allowed": "ns"}),
        namespace(other_ns),
        namespace(cross_ns),
        gateway(
            gw,
            _http(suite, "gateway-listener", "gateway-listener.com"),
            allowedListeners=allow_listeners("All"),
        ),
        listener_set(
            same_set,
            gw,
            _http(suite, all_l, f"{all_l}.com"),
            _http(suite, same_l, f"{same_l}.com", "Same"),
            _http(suite, sel_l, f"{sel_l}.com", "Selector", allowed="ns"),
        ),
        listener_set(cross_set, gw, _http(suite, cross_l, f"{cross_l}.com", "Same"), ns=cross_ns),
        _prefix_route("route-in-same-namespace", [set_parent(same_set)], "/route-in-same-namespace", V1),
        _prefix_route(
            "route-in-selected-namespace",
            [set_parent(same_set)],
            "/route-in-selected-namespace",
            V2,
            allowed_ns,
        ),
        _prefix_route(
            "route-not-in-selected-namespace",
            [set_parent(same_set)],
            "/route-not-in-selected-namespace",
            V3,
            other_ns,
        ),
        _prefix_route(
            "route-in-listenerset-namespace",
            [set_parent(cross_set, cross_ns)],
            "/route-in-listenerset-namespace",
            V1,
            cross_ns,
        ),
        _prefix_route(
            "route-in-gateway-namespace", [set_parent(cross_set, cross_ns)], "/route-in-gateway-namespace", V2
        ),
        _grant_services_to_routes(
            "listenerset-test-allowed-routes-namespaces-reference-grant", allowed_ns, other_ns, cross_ns
        ),
    )
    namespace_ready(suite)
    address = suite.gateway_address(gw)
    suite.gateway_condition(gw, "Accepted", "True")
    attached_listener_sets(suite, gw, 2)

    # Same-namespace ListenerSet
    routes = [
        (INFRA, "route-in-same-namespace"),
        (allowed_ns, "route-in-selected-namespace"),
        (other_ns, "route-not-in-selected-namespace"),
    ]
    route_and_parent_accepted(suite, LISTENER_SET, same_set, routes)
    listenerset_listeners(
        suite,
        same_set,
        {all_l: ACCEPTED_LISTENER, same_l: ACCEPTED_LISTENER, sel_l: ACCEPTED_LISTENER},
        attached={all_l: 3, same_l: 1, sel_l: 1},
    )
    paths = ("/route-in-same-namespace", "/route-in-selected-namespace", "/route-not-in-selected-namespace")
    suite.expect(
        address,
        [
            Case(host=f"{all_l}.com", path=paths[0], backend=V1, namespace=INFRA),
            Case(host=f"{all_l}.com", path=paths[1], backend=V2, namespace=INFRA),
            Case(host=f"{all_l}.com", path=paths[2], backend=V3, namespace=INFRA),
            Case(host=f"{same_l}.com", path=paths[0], backend=V1, namespace=INFRA),
            Case(host=f"{same_l}.com", path=paths[1], status=(404,)),
            Case(host=f"{same_l}.com", path=paths[2], status=(404,)),
            Case(host=f"{sel_l}.com", path=paths[0], status=(404,)),
            Case(host=f"{sel_l}.com", path=paths[1], backend=V2, namespace=INFRA),
            Case(host=f"{sel_l}.com", path=paths[2], status=(404,)),
        ],
    )

    # Cross-namespace ListenerSet: its listener's `Same` is the ListenerSet's namespace.
    route_and_parent_accepted(
        suite, LISTENER_SET, cross_set, [(cross_ns, "route-in-listenerset-namespace")], cross_ns
    )
    suite.route_condition(
        "route-in-gateway-namespace",
        cross_set,
        "Accepted",
        "False",
        "NotAllowedByListeners",
        gateway_ns=cross_ns,
    )
    listenerset_listeners(suite, cross_set, {cross_l: ACCEPTED_LISTENER}, cross_ns, attached={cross_l: 1})
    suite.expect(
        address,
        [
            Case(host=f"{cross_l}.com", path="/route-in-listenerset-namespace", backend=V1, namespace=INFRA),
            Case(host=f"{cross_l}.com", path="/route-in-gateway-namespace", status=(404,)),
        ],
    )


def test_ListenerSetHTTPRouting(suite: Suite) -> None:
    gw = "gateway-with-listener-sets-http-routing"
    ls1, ls2 = "listener-set-http-routing-1", "listener-set-http-routing-2"
    l11, l12, l21, l22 = (f"{s}-listener-{i}" for s in (ls1, ls2) for i in (1, 2))
    suite.apply(
        gateway(
            gw,
            _http(suite, "gateway-listener-1", "gateway-listener-1.com"),
            _http(suite, "gateway-listener-2", "gateway-listener-2.com"),
            allowedListeners=allow_listeners("All"),
        ),
        listener_set(ls1, gw, _http(suite, l11, f"{l11}.com"), _http(suite, l12, f"{l12}.com")),
        listener_set(ls2, gw, _http(suite, l21, f"{l21}.com"), _http(suite, l22, f"{l22}.com")),
        _prefix_route(
            "attaches-to-all-listeners", [parent(gw), set_parent(ls1), set_parent(ls2)], "/route", V1
        ),
        _prefix_route("gateway-route", [parent(gw)], "/gateway-route", V2),
        _prefix_route(
            "gateway-section-route",
            [parent(gw, sectionName="gateway-listener-1")],
            "/gateway-section-route",
            V3,
        ),
        _prefix_route(f"{ls1}-route", [set_parent(ls1)], f"/{ls1}-route", V2),
        _prefix_route(
            f"{ls1}-section-route", [set_parent(ls1, sectionName=l11)], f"/{ls1}-section-route", V3
        ),
        _prefix_route(f"{ls2}-route", [set_parent(ls2)], f"/{ls2}-route", V2),
    )
    namespace_ready(suite)
    address = suite.gateway_and_routes_accepted(
        gw, ["attaches-to-all-listeners", "gateway-route", "gateway-section-route"]
    )
    attached_listener_sets(suite, gw, 2)
    route_and_parent_accepted(
        suite,
        LISTENER_SET,
        ls1,
        [(INFRA, "attaches-to-all-listeners"), (INFRA, f"{ls1}-route"), (INFRA, f"{ls1}-section-route")],
    )
    listenerset_listeners(
        suite, ls1, {l11: ACCEPTED_LISTENER, l12: ACCEPTED_LISTENER}, attached={l11: 3, l12: 2}
    )
    route_and_parent_accepted(
        suite, LISTENER_SET, ls2, [(INFRA, "attaches-to-all-listeners"), (INFRA, f"{ls2}-route")]
    )
    listenerset_listeners(
        suite, ls2, {l21: ACCEPTED_LISTENER, l22: ACCEPTED_LISTENER}, attached={l21: 2, l22: 2}
    )

    hosts = [
        "gateway-listener-1.com",
        "gateway-listener-2.com",
        f"{l11}.com",
        f"{l12}.com",
        f"{l21}.com",
        f"{l22}.com",
    ]
    # path -> (backend, the hosts that serve it); every other host answers 404.
    served = {
        "/route": (V1, hosts),
        "/gateway-route": (V2, hosts[:2]),
        "/gateway-section-route": (V3, hosts[:1]),
        f"/{ls1}-route": (V2, hosts[2:4]),
        f"/{ls1}-section-route": (V3, hosts[2:3]),
        f"/{ls2}-route": (V2, hosts[4:6]),
    }
    cases = [
        Case(host=host, path=path, backend=target, namespace=INFRA)
        if host in serving
        else Case(host=host, path=path, status=(404,))
        for path, (target, serving) in served.items()
        for host in hosts
    ]
    suite.expect(address, cases)


def test_ListenerSetDualParentRefIndependence(suite: Suite) -> None:
    gw, ls = "gateway-dual-parentref", "ls-dual-parentref"
    suite.apply(
        gateway(
            gw,
            _http(suite, "gw-dual-parentref-listener", "gw-dual.com", "Same"),
            allowedListeners=allow_listeners("Same"),
        ),
        listener_set(ls, gw, _http(suite, "ls-dual-parentref-listener", "ls-dual.com", "Same")),
        _prefix_route("route-dual-parentref-both", [parent(gw), set_parent(ls)], "/dualboth", V1),
        _prefix_route(
            "route-dual-parentref-one",
            [
                parent(gw, sectionName="ls-dual-parentref-listener"),
                set_parent(ls, sectionName="ls-dual-parentref-listener"),
            ],
            "/dualone",
            V2,
        ),
    )
    namespace_ready(suite)
    address = suite.gateway_address(gw)
    suite.gateway_condition(gw, "Accepted", "True")
    attached_listener_sets(suite, gw, 1)
    listenerset_listeners(
        suite,
        ls,
        {"ls-dual-parentref-listener": ACCEPTED_LISTENER},
        attached={"ls-dual-parentref-listener": 2},
    )

    # Both parentRefs are Accepted
    suite.route_condition("route-dual-parentref-both", gw, "Accepted", "True")
    suite.route_condition("route-dual-parentref-both", ls, "Accepted", "True")
    suite.expect(
        address,
        [
            Case(host="gw-dual.com", path="/dualboth", backend=V1, namespace=INFRA),
            Case(host="ls-dual.com", path="/dualboth", backend=V1, namespace=INFRA),
        ],
    )

    # One of two parentRefs is Accepted
    suite.route_condition("route-dual-parentref-one", gw, "Accepted", "False", "NoMatchingParent")
    suite.route_condition("route-dual-parentref-one", ls, "Accepted", "True")
    route_and_parent_accepted(suite, LISTENER_SET, ls, [(INFRA, "route-dual-parentref-one")])
    suite.expect(
        address,
        [
            Case(host="ls-dual.com", path="/dualone", backend=V2, namespace=INFRA),
            Case(host="gw-dual.com", path="/dualone", status=(404,)),
        ],
    )


def test_ListenerSetGatewayParentSectionNameNotFound(suite: Suite) -> None:
    """The revision whose manifests name gateway-section-name / listenerset-section-name."""
    gw, ls = "gateway-section-name", "listenerset-section-name"
    suite.apply(
        gateway(
            gw,
            _http(suite, "gw-listener", "gw-section.com", "Same"),
            allowedListeners=allow_listeners("Same"),
        ),
        listener_set(ls, gw, _http(suite, "ls-only-listener", "ls-section-name.com", "Same")),
        _prefix_route(
            "route-via-listenerset", [set_parent(ls, sectionName="ls-only-listener")], "/goodsection", V1
        ),
        _prefix_route("route-via-gateway", [parent(gw, sectionName="ls-only-listener")], "/badsection", V2),
    )
    namespace_ready(suite)
    address = suite.gateway_address(gw)
    suite.gateway_condition(gw, "Accepted", "True")
    attached_listener_sets(suite, gw, 1)
    route_and_parent_accepted(suite, LISTENER_SET, ls, [(INFRA, "route-via-listenerset")])
    suite.route_condition("route-via-gateway", gw, "Accepted", "False", "NoMatchingParent")
    suite.expect(
        address,
        [
            Case(host="ls-section-name.com", path="/goodsection", backend=V1, namespace=INFRA),
            Case(host="gw-section.com", path="/badsection", status=(404,)),
        ],
    )


def test_ListenerSetRouteStatusScopedToParentRef(suite: Suite) -> None:
    """The revision whose manifests name gateway-parentref / listenerset-parentref (status only
    upstream); the route parents are checked strictly (upstream's helper checks presence only), and
    the requests of the later revision (each route only on its own parent's listener) are added."""
    gw, ls = "gateway-parentref", "listenerset-parentref"
    suite.apply(
        gateway(
            gw,
            _http(suite, "gw-parentref-listener", "gw-parentref.com", "Same"),
            allowedListeners=allow_listeners("Same"),
        ),
        listener_set(
            ls, gw, _http(suite, "listenerset-parentref-listener", "listenerset-parentref.com", "Same")
        ),
        _prefix_route("route-parentref-gwonly", [parent(gw)], "/gwonly", V1),
        _prefix_route("route-parentref-lsonly", [set_parent(ls)], "/lsonly", V2),
    )
    namespace_ready(suite)
    suite.gateway_condition(gw, "Accepted", "True")
    attached_listener_sets(suite, gw, 1)
    listenerset_listeners(
        suite,
        ls,
        {"listenerset-parentref-listener": ACCEPTED_LISTENER},
        attached={"listenerset-parentref-listener": 1},
    )

    # Gateway-only parentRef
    suite.route_condition("route-parentref-gwonly", gw, "Accepted", "True")
    exact_parents(suite, "route-parentref-gwonly", [("Gateway", gw)])
    # ListenerSet-only parentRef
    route_and_parent_accepted(suite, LISTENER_SET, ls, [(INFRA, "route-parentref-lsonly")])
    exact_parents(suite, "route-parentref-lsonly", [(LISTENER_SET, ls)])

    suite.expect(
        suite.gateway_address(gw),
        [
            Case(host="gw-parentref.com", path="/gwonly", backend=V1, namespace=INFRA),
            Case(host="listenerset-parentref.com", path="/gwonly", status=(404,)),
            Case(host="listenerset-parentref.com", path="/lsonly", backend=V2, namespace=INFRA),
            Case(host="gw-parentref.com", path="/lsonly", status=(404,)),
        ],
    )


# -- conflicts and references ----------------------------------------------------------------------


def test_ListenerSetHostnameConflict(suite: Suite) -> None:
    """The revision tagged Gateway + ListenerSet only (same-namespace conflicts; the later one adds
    wildcard and cross-namespace cases)."""
    gw = "gateway-with-listenerset-hostname-conflict"
    gw_clash, ls_clash = (
        "hostname-conflict-with-gateway-listener",
        "hostname-conflict-with-listener-set-listener",
    )
    prefix = "listenerset-with-hostname-conflict-with"
    suite.apply(
        gateway(
            gw,
            _http(suite, "gateway-listener", "gateway-listener.com"),
            _http(suite, gw_clash, f"{gw_clash}.com"),
            allowedListeners=allow_listeners("Same"),
        ),
        listener_set(
            f"{prefix}-gateway-1",
            gw,
            _http(suite, "listener-set-1-listener", "listener-set-1-listener.com"),
            _http(suite, gw_clash, f"{gw_clash}.com"),
            _http(suite, ls_clash, f"{ls_clash}.com"),
        ),
        listener_set(f"{prefix}-gateway-2", gw, _http(suite, gw_clash, f"{gw_clash}.com")),
        listener_set(
            f"{prefix}-listener-set-1",
            gw,
            _http(suite, "listener-set-2-listener", "listener-set-2-listener.com"),
            _http(suite, ls_clash, f"{ls_clash}.com"),
        ),
        listener_set(f"{prefix}-listener-set-2", gw, _http(suite, ls_clash, f"{ls_clash}.com")),
    )
    _conflict_precedence(suite, gw, "HostnameConflict", prefix, clashes=(gw_clash, ls_clash))


def test_ListenerSetProtocolConflict(suite: Suite) -> None:
    gw = "gateway-with-listenerset-protocol-conflict"
    gw_clash, ls_clash = (
        "protocol-conflict-with-gateway-listener",
        "protocol-conflict-with-listener-set-listener",
    )
    prefix = "listenerset-with-protocol-conflict-with"
    tcp = {"allowedRoutes": from_namespaces("All")}
    suite.apply(
        gateway(
            gw,
            _http(suite, "gateway-listener", "gateway-listener.com"),
            _http(suite, gw_clash, f"{gw_clash}.com"),
            allowedListeners=allow_listeners("Same"),
        ),
        listener_set(
            f"{prefix}-gateway-1",
            gw,
            _http(suite, "listener-set-1-listener", "listener-set-1-listener.com"),
            listener(gw_clash, suite.ports[80], "TCP", **tcp),
            _http(suite, ls_clash, f"{ls_clash}.com"),
        ),
        listener_set(f"{prefix}-gateway-2", gw, listener(gw_clash, suite.ports[80], "TCP", **tcp)),
        listener_set(
            f"{prefix}-listener-set-1",
            gw,
            _http(suite, "listener-set-2-listener", "listener-set-2-listener.com"),
            listener(ls_clash, suite.ports[80], "TCP", **tcp),
        ),
        listener_set(f"{prefix}-listener-set-2", gw, listener(ls_clash, suite.ports[80], "TCP", **tcp)),
    )
    _conflict_precedence(suite, gw, "ProtocolConflict", prefix, clashes=(gw_clash, ls_clash))


def _conflict_precedence(
    suite: Suite, gw: str, reason: str, prefix: str, *, clashes: tuple[str, str]
) -> None:
    """The assertions the hostname and protocol conflict tests share: the Gateway's listeners win over
    ListenerSets', an older (then alphabetically first) ListenerSet over a later one; a ListenerSet
    with a valid listener left stays accepted, one without is ListenersNotValid."""
    gw_clash, ls_clash = clashes
    namespace_ready(suite)
    suite.gateway_condition(gw, "Accepted", "True")
    gateway_listeners(suite, gw, {"gateway-listener": ACCEPTED_LISTENER, gw_clash: ACCEPTED_LISTENER})
    attached_listener_sets(suite, gw, 2)

    name = f"{prefix}-gateway-1"
    _set_accepted(suite, name)
    listenerset_listeners(
        suite,
        name,
        {
            "listener-set-1-listener": ACCEPTED_LISTENER,
            gw_clash: conflicted(reason),
            ls_clash: ACCEPTED_LISTENER,
        },
    )
    _set_listeners_not_valid(suite, f"{prefix}-gateway-2")
    listenerset_listeners(suite, f"{prefix}-gateway-2", {gw_clash: conflicted(reason)})

    name = f"{prefix}-listener-set-1"
    _set_accepted(suite, name)
    listenerset_listeners(
        suite, name, {"listener-set-2-listener": ACCEPTED_LISTENER, ls_clash: conflicted(reason)}
    )
    _set_listeners_not_valid(suite, f"{prefix}-listener-set-2")
    listenerset_listeners(suite, f"{prefix}-listener-set-2", {ls_clash: conflicted(reason)})


def test_ListenerSetReferenceGrant(suite: Suite, authority: Authority) -> None:
    gw = "gateway-with-listener-sets-test-reference-grant"
    with_grant, without_grant = "listenerset-with-reference-grant", "listenerset-without-reference-grant"
    grant_less_ns = "gateway-api-listener-sets-test-reference-grant-ns"
    # The suite's Setup creates web-backend/certificate (SAN *); made here from the session CA.
    issued = authority.server("web-backend-certificate", "*")
    cert_ref = {"group": "", "kind": "Secret", "name": "certificate", "namespace": WEB}

    def https(name: str, host: str) -> Manifest:
        found = https_listener(name, suite.ports[443], hostname=host, allowedRoutes=from_namespaces("All"))
        found["tls"]["certificateRefs"] = [cert_ref]
        return found

    suite.apply(
        tls_secret(WEB, "certificate", issued.cert_pem, issued.key_pem),
        gateway(
            gw, https("gateway-listener", "gateway-listener.com"), allowedListeners=allow_listeners("All")
        ),
        reference_grant(
            "reference-grant-for-gateway", WEB, from_ns=INFRA, from_kind="Gateway", to_kind="Secret"
        ),
        listener_set(with_grant, gw, https(f"{with_grant}-listener", f"{with_grant}-listener.com")),
        reference_grant(
            "reference-grant-for-listener-set", WEB, from_ns=INFRA, from_kind=LISTENER_SET, to_kind="Secret"
        ),
        namespace(grant_less_ns),
        listener_set(
            without_grant,
            gw,
            https(f"{without_grant}-listener", f"{without_grant}-listener-1.com"),
            ns=grant_less_ns,
        ),
    )
    namespace_ready(suite)
    suite.gateway_condition(gw, "Accepted", "True")

    _set_accepted(suite, with_grant)
    listenerset_listeners(suite, with_grant, {f"{with_grant}-listener": {"ResolvedRefs": ("True", "")}})
    _set_listeners_not_valid(suite, without_grant, grant_less_ns)
    listenerset_listeners(
        suite,
        without_grant,
        {f"{without_grant}-listener": {"ResolvedRefs": ("False", "RefNotPermitted")}},
        grant_less_ns,
    )


def test_ListenerSetAllowedRoutesSupportedKinds(suite: Suite) -> None:
    """GATEWAY-TLS extended (features ListenerSet, TLSRoute): a ListenerSet's TLS Passthrough listener
    that allows only HTTPRoute has no kind it can serve, so its ResolvedRefs is False/InvalidRouteKinds
    (the v1 ListenerSet revision of the manifests); the Gateway stays Accepted."""
    gw, ls = (
        "gateway-with-listener-sets-test-supported-route-kinds",
        "listenerset-test-allowed-routes-supported-kinds",
    )
    tls_only = "listener-set-listener-allowed-routes-tls-only"
    passthrough = listener(
        tls_only,
        suite.ports[443],
        "TLS",
        hostname=f"{tls_only}.com",
        allowedRoutes={**from_namespaces("All"), "kinds": [{"kind": "HTTPRoute"}]},
        tls={"mode": "Passthrough"},
    )
    suite.apply(
        gateway(
            gw,
            _http(suite, "gateway-listener", "gateway-listener.com"),
            allowedListeners=allow_listeners("All"),
        ),
        listener_set(ls, gw, passthrough),
    )
    namespace_ready(suite)
    suite.gateway_condition(gw, "Accepted", "True")
    listenerset_listeners(suite, ls, {tls_only: {"ResolvedRefs": ("False", "InvalidRouteKinds")}})
