# ruff: noqa: N802  (test names are the upstream ShortNames, so the mapping is visible)
"""GATEWAY-HTTP extended conformance tests of Gateway API v1.6.1 for HTTPRoute features the product has.

Same structure as test_httproute_core.py. RESULTS.md lists the extended tests not written yet.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.gatewayapi.base_manifests import (
    INFRA,
    Manifest,
    backend,
    from_namespaces,
    gateway,
    http_route,
    listener,
    parent,
)
from tests.e2e.gatewayapi.echo_pods import EchoPod
from tests.e2e.gatewayapi.roundtrip import Case
from tests.e2e.gatewayapi.suite import Suite

V1, V2, V3 = "infra-backend-v1", "infra-backend-v2", "infra-backend-v3"


def rule(target: str, matches: list[Manifest], **fields: Any) -> Manifest:
    return {"matches": matches, "backendRefs": [backend(target)], **fields}


def test_HTTPRouteMethodMatching(suite: Suite) -> None:
    name = "method-matching"
    suite.apply(
        http_route(
            name,
            parentRefs=[parent("same-namespace")],
            rules=[
                rule(V1, [{"method": "POST"}]),
                rule(V2, [{"method": "GET"}]),
                rule(V1, [{"path": {"type": "PathPrefix", "value": "/path1"}, "method": "GET"}]),
                rule(V3, [{"headers": [{"name": "version", "value": "three"}], "method": "PUT"}]),
                rule(V2, [{"path": {"type": "PathPrefix", "value": "/path2"}, "method": "DELETE"}]),
            ],
        )
    )
    address = suite.gateway_and_routes_accepted("same-namespace", [name])
    suite.resolved_refs_true(name, "same-namespace")
    suite.expect(
        address,
        [
            Case(method="POST", backend=V1, namespace=INFRA),
            Case(method="GET", backend=V2, namespace=INFRA),
            Case(path="/path1", method="GET", backend=V1, namespace=INFRA),
            Case(method="PUT", headers={"version": "three"}, backend=V3, namespace=INFRA),
            Case(path="/path2", method="DELETE", backend=V2, namespace=INFRA),
            Case(method="HEAD", status=(404,)),
            Case(path="/path3", method="DELETE", status=(404,)),
            Case(method="PUT", status=(404,)),
        ],
    )


def test_HTTPRouteQueryParamMatching(suite: Suite) -> None:
    def query(**values: str) -> Manifest:
        return {"queryParams": [{"name": n, "value": v} for n, v in values.items()]}

    name = "query-param-matching"
    suite.apply(
        http_route(
            name,
            parentRefs=[parent("same-namespace")],
            rules=[
                rule(V1, [query(animal="whale")]),
                rule(V2, [query(animal="dolphin")]),
                rule(V3, [query(animal="dolphin", color="blue"), query(ANIMAL="Whale")]),
            ],
        )
    )
    address = suite.gateway_and_routes_accepted("same-namespace", [name])
    suite.resolved_refs_true(name, "same-namespace")
    suite.expect(
        address,
        [
            Case(path="/?animal=whale", backend=V1, namespace=INFRA),
            Case(path="/?animal=dolphin", backend=V2, namespace=INFRA),
            Case(path="/?animal=dolphin&color=blue", backend=V3, namespace=INFRA),
            Case(path="/?ANIMAL=Whale", backend=V3, namespace=INFRA),
            Case(path="/?animal=dog", status=(404,)),
            Case(path="/?color=blue", status=(404,)),
        ],
    )


def test_HTTPRouteResponseHeaderModifier(suite: Suite) -> None:
    def modifier(**fields: Any) -> list[Manifest]:
        return [{"type": "ResponseHeaderModifier", "responseHeaderModifier": fields}]

    name = "response-header-modifier"
    prefix = "PathPrefix"
    suite.apply(
        http_route(
            name,
            parentRefs=[parent("same-namespace")],
            rules=[
                rule(
                    V1,
                    [{"path": {"type": prefix, "value": "/set"}}],
                    filters=modifier(set=[{"name": "X-Header-Set", "value": "set-overwrites-values"}]),
                ),
                rule(
                    V1,
                    [{"path": {"type": prefix, "value": "/add"}}],
                    filters=modifier(add=[{"name": "X-Header-Add", "value": "add-appends-values"}]),
                ),
                rule(
                    V1,
                    [{"path": {"type": prefix, "value": "/remove"}}],
                    filters=modifier(remove=["X-Header-Remove"]),
                ),
            ],
        )
    )
    address = suite.gateway_and_routes_accepted("same-namespace", [name])
    suite.expect(
        address,
        [
            Case(
                path="/set",
                headers={"X-Echo-Set-Header": "X-Header-Set:original"},
                response_headers={"X-Header-Set": "set-overwrites-values"},
                backend=V1,
            ),
            Case(
                path="/add",
                headers={"X-Echo-Set-Header": "X-Header-Add:original"},
                response_headers={"X-Header-Add": "original,add-appends-values"},
                backend=V1,
            ),
            Case(
                path="/remove",
                headers={"X-Echo-Set-Header": "X-Header-Remove:val"},
                absent_response_headers=("X-Header-Remove",),
                backend=V1,
            ),
        ],
    )


def _prefix(value: str) -> Manifest:
    return {"path": {"type": "PathPrefix", "value": value}}


def _redirect(**fields: Any) -> list[Manifest]:
    return [{"type": "RequestRedirect", "requestRedirect": fields}]


def _rewrite(**fields: Any) -> Manifest:
    return {"type": "URLRewrite", "urlRewrite": fields}


def _redirect_rule(prefix: str, **fields: Any) -> Manifest:
    return {"matches": [_prefix(prefix)], "filters": _redirect(**fields)}


_MODIFY_HEADERS: Manifest = {
    "type": "RequestHeaderModifier",
    "requestHeaderModifier": {
        "set": [{"name": "X-Header-Set", "value": "set-overwrites-values"}],
        "add": [
            {"name": "X-Header-Add", "value": "header-val-1"},
            {"name": "X-Header-Add-Append", "value": "header-val-2"},
        ],
        "remove": ["X-Header-Remove"],
    },
}
_MODIFIED_SEEN = {
    "X-Header-Add": "header-val-1",
    "X-Header-Add-Append": "append-val-1,header-val-2",
    "X-Header-Set": "set-overwrites-values",
}


def test_HTTPRouteRedirectPath(suite: Suite) -> None:
    name = "redirect-path"
    full = "ReplaceFullPath"
    suite.apply(
        http_route(
            name,
            parentRefs=[parent("same-namespace")],
            rules=[
                _redirect_rule(
                    "/original-prefix",
                    path={"type": "ReplacePrefixMatch", "replacePrefixMatch": "/replacement-prefix"},
                ),
                _redirect_rule("/full", path={"type": full, "replaceFullPath": "/full-path-replacement"}),
                _redirect_rule(
                    "/path-and-host",
                    hostname="example.org",
                    path={"type": "ReplacePrefixMatch", "replacePrefixMatch": "/replacement-prefix"},
                ),
                _redirect_rule(
                    "/path-and-status",
                    path={"type": "ReplacePrefixMatch", "replacePrefixMatch": "/replacement-prefix"},
                    statusCode=301,
                ),
                _redirect_rule(
                    "/full-path-and-host",
                    hostname="example.org",
                    path={"type": full, "replaceFullPath": "/replacement-full"},
                ),
                _redirect_rule(
                    "/full-path-and-status",
                    path={"type": full, "replaceFullPath": "/replacement-full"},
                    statusCode=301,
                ),
            ],
        )
    )
    address = suite.gateway_and_routes_accepted("same-namespace", [name])
    suite.resolved_refs_true(name, "same-namespace")
    # No scheme and no port in the filters: the Location keeps the listener's port (upstream's 80 is
    # left out; the mapped one is not 80, so it is there).
    port = str(suite.ports[80])
    suite.expect(
        address,
        [
            Case(
                path="/original-prefix/lemon",
                status=(302,),
                redirect={"port": port, "path": "/replacement-prefix/lemon"},
            ),
            Case(
                path="/full/path/original",
                status=(302,),
                redirect={"port": port, "path": "/full-path-replacement"},
            ),
            Case(
                path="/path-and-host",
                status=(302,),
                redirect={"host": "example.org", "port": port, "path": "/replacement-prefix"},
            ),
            Case(
                path="/path-and-status", status=(301,), redirect={"port": port, "path": "/replacement-prefix"}
            ),
            Case(
                path="/full-path-and-host",
                status=(302,),
                redirect={"host": "example.org", "port": port, "path": "/replacement-full"},
            ),
            Case(
                path="/full-path-and-status",
                status=(301,),
                redirect={"port": port, "path": "/replacement-full"},
            ),
        ],
    )


def test_HTTPRouteRedirectPort(suite: Suite) -> None:
    name = "redirect-port"
    suite.apply(
        http_route(
            name,
            parentRefs=[parent("same-namespace")],
            rules=[
                _redirect_rule("/port", port=8083),
                _redirect_rule("/port-and-host", hostname="example.org", port=8083),
                _redirect_rule("/port-and-status", port=8083, statusCode=301),
                _redirect_rule(
                    "/port-and-host-and-status", port=8083, hostname="example.org", statusCode=302
                ),
                _redirect_rule("/port-and-temporary", port=8083, hostname="example.org", statusCode=307),
                _redirect_rule("/port-and-permanent", port=8083, hostname="example.org", statusCode=308),
            ],
        )
    )
    address = suite.gateway_and_routes_accepted("same-namespace", [name])
    suite.resolved_refs_true(name, "same-namespace")
    suite.expect(
        address,
        [
            Case(path="/port", status=(302,), redirect={"port": "8083"}),
            Case(path="/port-and-host", status=(302,), redirect={"host": "example.org", "port": "8083"}),
            Case(path="/port-and-status", status=(301,), redirect={"port": "8083"}),
            Case(
                path="/port-and-host-and-status",
                status=(302,),
                redirect={"host": "example.org", "port": "8083"},
            ),
        ],
    )


def test_HTTPRouteRedirectScheme(suite: Suite) -> None:
    name = "redirect-scheme"
    suite.apply(
        http_route(
            name,
            parentRefs=[parent("same-namespace")],
            rules=[
                _redirect_rule("/scheme", scheme="https"),
                _redirect_rule("/scheme-and-host", hostname="example.org", scheme="https"),
                _redirect_rule("/scheme-and-status", scheme="https", statusCode=301),
                _redirect_rule(
                    "/scheme-and-host-and-status", scheme="https", statusCode=302, hostname="example.org"
                ),
            ],
        )
    )
    address = suite.gateway_and_routes_accepted("same-namespace", [name])
    suite.resolved_refs_true(name, "same-namespace")
    # A scheme change without a port: the Location has no port (or the scheme's well-known one).
    suite.expect(
        address,
        [
            Case(path="/scheme", status=(302,), redirect={"scheme": "https"}),
            Case(path="/scheme-and-host", status=(302,), redirect={"scheme": "https", "host": "example.org"}),
            Case(path="/scheme-and-status", status=(301,), redirect={"scheme": "https"}),
            Case(
                path="/scheme-and-host-and-status",
                status=(302,),
                redirect={"scheme": "https", "host": "example.org"},
            ),
        ],
    )


def test_HTTPRouteRewritePath(suite: Suite) -> None:
    def rewrite_rule(prefix: str, path: Manifest, *extra: Manifest) -> Manifest:
        return rule(V1, [_prefix(prefix)], filters=[_rewrite(path=path), *extra])

    def replace_prefix(value: str) -> Manifest:
        return {"type": "ReplacePrefixMatch", "replacePrefixMatch": value}

    def replace_full(value: str) -> Manifest:
        return {"type": "ReplaceFullPath", "replaceFullPath": value}

    name = "rewrite-path"
    suite.apply(
        http_route(
            name,
            parentRefs=[parent("same-namespace")],
            rules=[
                rewrite_rule("/prefix/one", replace_prefix("/one")),
                rewrite_rule("/strip-prefix", replace_prefix("/")),
                rewrite_rule("/full/one", replace_full("/one")),
                rewrite_rule("/full/rewrite-path-and-modify-headers", replace_full("/test"), _MODIFY_HEADERS),
                rewrite_rule(
                    "/prefix/rewrite-path-and-modify-headers", replace_prefix("/prefix"), _MODIFY_HEADERS
                ),
            ],
        )
    )
    address = suite.gateway_and_routes_accepted("same-namespace", [name])
    suite.resolved_refs_true(name, "same-namespace")
    sent = {"X-Header-Remove": "remove-val", "X-Header-Add-Append": "append-val-1", "X-Header-Set": "set-val"}
    suite.expect(
        address,
        [
            Case(path="/prefix/one/two", seen_path="/one/two", backend=V1, namespace=INFRA),
            Case(path="/strip-prefix/three", seen_path="/three", backend=V1, namespace=INFRA),
            Case(path="/strip-prefix", seen_path="/", backend=V1, namespace=INFRA),
            Case(path="/full/one/two", seen_path="/one", backend=V1, namespace=INFRA),
            Case(
                path="/full/rewrite-path-and-modify-headers/test",
                headers=sent,
                seen_path="/test",
                seen_headers=_MODIFIED_SEEN,
                absent_headers=("X-Header-Remove",),
                backend=V1,
                namespace=INFRA,
            ),
            Case(
                path="/prefix/rewrite-path-and-modify-headers/one",
                headers=sent,
                seen_path="/prefix/one",
                seen_headers=_MODIFIED_SEEN,
                absent_headers=("X-Header-Remove",),
                backend=V1,
                namespace=INFRA,
            ),
        ],
    )


def test_HTTPRouteRewriteHost(suite: Suite) -> None:
    name = "rewrite-host"
    suite.apply(
        http_route(
            name,
            parentRefs=[parent("same-namespace")],
            hostnames=["rewrite.example"],
            rules=[
                rule(V1, [_prefix("/one")], filters=[_rewrite(hostname="one.example.org")]),
                {"filters": [_rewrite(hostname="example.org")], "backendRefs": [backend(V2)]},
                rule(
                    V2,
                    [_prefix("/rewrite-host-and-modify-headers")],
                    filters=[_rewrite(hostname="test.example.org"), _MODIFY_HEADERS],
                ),
            ],
        )
    )
    address = suite.gateway_and_routes_accepted("same-namespace", [name])
    suite.resolved_refs_true(name, "same-namespace")
    host = "rewrite.example"
    suite.expect(
        address,
        [
            Case(path="/one", host=host, seen_host="one.example.org", backend=V1, namespace=INFRA),
            Case(path="/two", host=host, seen_host="example.org", backend=V2, namespace=INFRA),
            Case(
                path="/rewrite-host-and-modify-headers",
                host=host,
                headers={"X-Header-Remove": "remove-val", "X-Header-Add-Append": "append-val-1"},
                seen_host="test.example.org",
                seen_headers=_MODIFIED_SEEN,
                absent_headers=("X-Header-Remove",),
                backend=V2,
                namespace=INFRA,
            ),
        ],
    )


def test_HTTPRouteTimeoutRequest(suite: Suite) -> None:
    name = "request-timeout"
    suite.apply(
        http_route(
            name,
            parentRefs=[parent("same-namespace")],
            rules=[
                rule(V1, [_prefix("/request-timeout")], timeouts={"request": "500ms"}),
                rule(V1, [_prefix("/disable-request-timeout")], timeouts={"request": "0s"}),
            ],
        )
    )
    address = suite.gateway_and_routes_accepted("same-namespace", [name])
    suite.resolved_refs_true(name, "same-namespace")
    suite.expect(
        address,
        [
            Case(path="/request-timeout", namespace=INFRA),
            Case(path="/request-timeout?delay=1s", status=(504,)),
            Case(path="/disable-request-timeout?delay=1s", namespace=INFRA),
        ],
    )


def test_HTTPRouteTimeoutBackendRequest(suite: Suite) -> None:
    name = "backend-request-timeout"
    suite.apply(
        http_route(
            name,
            parentRefs=[parent("same-namespace")],
            rules=[
                rule(V1, [_prefix("/backend-timeout")], timeouts={"backendRequest": "500ms"}),
                rule(V1, [_prefix("/disabled-backend-timeout")], timeouts={"backendRequest": "0s"}),
            ],
        )
    )
    address = suite.gateway_and_routes_accepted("same-namespace", [name])
    suite.resolved_refs_true(name, "same-namespace")
    suite.expect(
        address,
        [Case(path="/backend-timeout"), Case(path="/backend-timeout?delay=1s", status=(504,))],
    )


def _log_sizes(pods: list[EchoPod]) -> dict[str, int]:
    return {pod.pod: pod.log_path.stat().st_size for pod in pods}


def _expect_mirrored(
    suite: Suite, pods: list[EchoPod], since: dict[str, int], service: str, path: str
) -> None:
    """`ExpectMirroredRequest`: some pod of `service` logged the request to `path` after `since`."""
    line = f"Echoing back request made to {path} to client".encode()

    def found() -> bool:
        for pod in pods:
            if pod.service == service and pod.namespace == INFRA:
                with pod.log_path.open("rb") as log:
                    log.seek(since.get(pod.pod, 0))
                    if line in log.read():
                        return True
        return False

    suite.poll(found, bool, f"the request to {path} mirrored to {service}")


def _mirror(target: str) -> Manifest:
    return {"type": "RequestMirror", "requestMirror": {"backendRef": backend(target, namespace=INFRA)}}


def _mirror_rule(prefix: str, filters: list[Manifest]) -> Manifest:
    return {"matches": [_prefix(prefix)], "filters": filters, "backendRefs": [backend(V1, namespace=INFRA)]}


def test_HTTPRouteRequestMirror(suite: Suite, pods: list[EchoPod]) -> None:
    name = "request-mirror"
    suite.apply(
        http_route(
            name,
            parentRefs=[parent("same-namespace")],
            rules=[
                _mirror_rule("/mirror", [_mirror(V2)]),
                _mirror_rule("/mirror-and-modify-headers", [_MODIFY_HEADERS, _mirror(V2)]),
            ],
        )
    )
    address = suite.gateway_and_routes_accepted("same-namespace", [name])
    since = _log_sizes(pods)
    suite.expect(address, [Case(path="/mirror", backend=V1, namespace=INFRA)])
    _expect_mirrored(suite, pods, since, V2, "/mirror")
    since = _log_sizes(pods)
    suite.expect(
        address,
        [
            Case(
                path="/mirror-and-modify-headers",
                headers={"X-Header-Remove": "remove-val", "X-Header-Add-Append": "append-val-1"},
                seen_headers=_MODIFIED_SEEN,
                absent_headers=("X-Header-Remove",),
                backend=V1,
                namespace=INFRA,
            )
        ],
    )
    _expect_mirrored(suite, pods, since, V2, "/mirror-and-modify-headers")


def test_HTTPRouteRequestMultipleMirrors(suite: Suite, pods: list[EchoPod]) -> None:
    name = "request-multiple-mirrors"
    path = "/multi-mirror-and-modify-request-headers"
    suite.apply(
        http_route(
            name,
            parentRefs=[parent("same-namespace")],
            rules=[
                _mirror_rule("/multi-mirror", [_mirror(V2), _mirror(V3)]),
                _mirror_rule(path, [_MODIFY_HEADERS, _mirror(V2), _mirror(V3)]),
            ],
        )
    )
    address = suite.gateway_and_routes_accepted("same-namespace", [name])
    since = _log_sizes(pods)
    suite.expect(address, [Case(path="/multi-mirror", backend=V1, namespace=INFRA)])
    for mirror in (V2, V3):
        _expect_mirrored(suite, pods, since, mirror, "/multi-mirror")
    since = _log_sizes(pods)
    suite.expect(
        address,
        [
            Case(
                path=path,
                headers={"X-Header-Remove": "remove-val", "X-Header-Add-Append": "append-val-1"},
                seen_headers=_MODIFIED_SEEN,
                absent_headers=("X-Header-Remove",),
                backend=V1,
                namespace=INFRA,
            )
        ],
    )
    for mirror in (V2, V3):
        _expect_mirrored(suite, pods, since, mirror, path)


@pytest.mark.parametrize(
    ("code", "route", "method", "path"),
    [
        pytest.param(303, "303-redirect", "POST", "/see-other", id="HTTPRoute303Redirect"),
        pytest.param(307, "307-redirect", "GET", "/temporary", id="HTTPRoute307Redirect"),
        pytest.param(308, "308-redirect", "GET", "/permanent", id="HTTPRoute308Redirect"),
    ],
)
def test_HTTPRouteRedirectStatusCode(suite: Suite, code: int, route: str, method: str, path: str) -> None:
    """HTTPRoute303Redirect, HTTPRoute307Redirect, HTTPRoute308Redirect (provisional upstream).

    The route is rebuilt from the test body (its YAML is not in the reference): one rule matching the
    path, a RequestRedirect with only the status code.
    """
    suite.apply(
        http_route(
            route, parentRefs=[parent("same-namespace")], rules=[_redirect_rule(path, statusCode=code)]
        )
    )
    address = suite.gateway_and_routes_accepted("same-namespace", [route])
    suite.resolved_refs_true(route, "same-namespace")
    port = str(suite.ports[80])
    suite.expect(
        address, [Case(path=path, method=method, status=(code,), redirect={"port": port, "path": path})]
    )


def _host_redirect_rule(prefix: str, **fields: Any) -> Manifest:
    return _redirect_rule(prefix, hostname="example.org", **fields)


def test_HTTPRouteRedirectPortAndScheme(suite: Suite) -> None:
    """Routes rebuilt from the test body: each path `/scheme-<s>-and-port-<p>` redirects to example.org
    with that scheme and port (nil: unset). Ports in the filters are kept as written (a redirect names
    a port the client uses); "no port" in a Location means the listener's port, which is mapped here."""
    on_80, on_8080, on_443 = (f"http-route-for-listener-on-port-{p}" for p in (80, 8080, 443))
    gw_8080 = "same-namespace-with-http-listener-on-8080"
    suite.apply(
        gateway(gw_8080, listener("http", suite.ports[8080], allowedRoutes=from_namespaces("Same"))),
        http_route(
            on_80,
            parentRefs=[parent("same-namespace")],
            rules=[
                _host_redirect_rule("/scheme-nil-and-port-nil"),
                _host_redirect_rule("/scheme-nil-and-port-80", port=80),
                _host_redirect_rule("/scheme-nil-and-port-8080", port=8080),
                _host_redirect_rule("/scheme-https-and-port-nil", scheme="https"),
                _host_redirect_rule("/scheme-https-and-port-443", scheme="https", port=443),
                _host_redirect_rule("/scheme-https-and-port-8443", scheme="https", port=8443),
            ],
        ),
        http_route(
            on_8080,
            parentRefs=[parent(gw_8080)],
            rules=[
                _host_redirect_rule("/scheme-nil-and-port-nil"),
                _host_redirect_rule("/scheme-nil-and-port-80", port=80),
                _host_redirect_rule("/scheme-https-and-port-nil", scheme="https"),
            ],
        ),
        http_route(
            on_443,
            parentRefs=[parent("same-namespace-with-https-listener")],
            hostnames=["example.org"],
            rules=[
                _host_redirect_rule("/scheme-nil-and-port-nil"),
                _host_redirect_rule("/scheme-nil-and-port-443", port=443),
                _host_redirect_rule("/scheme-nil-and-port-8443", port=8443),
                _host_redirect_rule("/scheme-http-and-port-nil", scheme="http"),
                _host_redirect_rule("/scheme-http-and-port-80", scheme="http", port=80),
                _host_redirect_rule("/scheme-http-and-port-8080", scheme="http", port=8080),
            ],
        ),
    )
    addr_80 = suite.gateway_and_routes_accepted("same-namespace", [on_80])
    suite.resolved_refs_true(on_80, "same-namespace")
    addr_8080 = suite.gateway_and_routes_accepted(gw_8080, [on_8080])
    suite.resolved_refs_true(on_8080, gw_8080)
    addr_443 = suite.gateway_and_routes_accepted("same-namespace-with-https-listener", [on_443])
    suite.resolved_refs_true(on_443, "same-namespace-with-https-listener")

    def to(scheme: str, port: int | str | None = None) -> dict[str, str | None]:
        return {"scheme": scheme, "host": "example.org", "port": None if port is None else str(port)}

    def case(path: str, redirect: dict[str, str | None], **fields: Any) -> Case:
        return Case(path=path, status=(302,), redirect=redirect, **fields)

    suite.expect(
        addr_80,
        [
            case("/scheme-nil-and-port-nil", to("http", suite.ports[80])),
            case("/scheme-nil-and-port-80", to("http")),
            case("/scheme-nil-and-port-8080", to("http", 8080)),
            case("/scheme-https-and-port-nil", to("https")),
            case("/scheme-https-and-port-443", to("https")),
            case("/scheme-https-and-port-8443", to("https", 8443)),
        ],
    )
    suite.expect(
        addr_8080,
        [
            case("/scheme-nil-and-port-nil", to("http", suite.ports[8080])),
            case("/scheme-nil-and-port-80", to("http")),
            case("/scheme-https-and-port-nil", to("https")),
        ],
        port=suite.ports[8080],
    )
    tls: dict[str, Any] = {"host": "example.org", "https": True}
    suite.expect(
        addr_443,
        [
            case("/scheme-nil-and-port-nil", to("https", suite.ports[443]), **tls),
            case("/scheme-nil-and-port-443", to("https"), **tls),
            case("/scheme-nil-and-port-8443", to("https", 8443), **tls),
            case("/scheme-http-and-port-nil", to("http"), **tls),
            case("/scheme-http-and-port-80", to("http"), **tls),
            case("/scheme-http-and-port-8080", to("http", 8080), **tls),
        ],
    )


def test_HTTPRouteDisallowedKind(suite: Suite) -> None:
    gw, name = "tlsroutes-only", "disallowed-kind"
    tls_listener = listener(
        "tls",
        suite.ports[443],
        "TLS",
        tls={"mode": "Passthrough"},
        allowedRoutes={**from_namespaces("Same"), "kinds": [{"kind": "TLSRoute"}]},
    )
    suite.apply(
        gateway(gw, tls_listener),
        http_route(name, parentRefs=[parent(gw)], rules=[{"backendRefs": [backend(V1)]}]),
    )
    suite.gateway_condition(gw, "Accepted", "True")
    suite.gateway_condition(gw, "Programmed", "True")
    suite.resolved_refs_true(name, gw)
    suite.route_condition(name, gw, "Accepted", "False", "NotAllowedByListeners")
    suite.no_accepted_parents(name)
    _zero_routes(suite, gw)


def _zero_routes(suite: Suite, gateway_name: str) -> None:
    """`GatewayMustHaveZeroRoutes`: every listener's attachedRoutes is 0."""
    suite.listeners(
        gateway_name,
        lambda entries: all(e.get("attachedRoutes") == 0 for e in entries),
        f"0 routes attached to {gateway_name}",
    )


def test_HTTPRouteInvalidParentRefSectionNameNotMatchingPort(suite: Suite) -> None:
    gw, name = (
        "gw-with-one-section-name-not-matching-port-route",
        "httproute-listener-section-name-not-matching-port",
    )
    suite.apply(
        gateway(
            gw,
            listener(
                "http",
                suite.ports[80],
                allowedRoutes={**from_namespaces("All"), "kinds": [{"kind": "HTTPRoute"}]},
            ),
        ),
        http_route(
            name,
            parentRefs=[parent(gw, sectionName="http", port=81)],
            rules=[{"backendRefs": [backend(V1, kind="Service")]}],
        ),
    )
    suite.route_condition(name, gw, "Accepted", "False", "NoMatchingParent")
    suite.no_accepted_parents(name)
    _zero_routes(suite, gw)


def test_HTTPRouteListenerPortMatching(suite: Suite) -> None:
    """Routes rebuilt from the test body (the YAML is not in the reference): each route's parentRef
    names a listener port (mapped here); backend-v3 has hostname foo.com, so bar.com on 8090 is 404."""
    gw = "httproute-listener-port-matching"
    same = from_namespaces("Same")
    p80, p8080, p8090 = suite.ports[80], suite.ports[8080], suite.ports[8090]
    suite.apply(
        gateway(
            gw,
            listener("listener-1", p80, allowedRoutes=same, hostname="foo.com"),
            listener("listener-2", p8080, allowedRoutes=same, hostname="foo.com"),
            listener("listener-3", p8080, allowedRoutes=same, hostname="bar.com"),
            listener("listener-4", p8090, allowedRoutes=same),
        ),
        http_route("backend-v1", parentRefs=[parent(gw, port=p80)], rules=[{"backendRefs": [backend(V1)]}]),
        http_route("backend-v2", parentRefs=[parent(gw, port=p8080)], rules=[{"backendRefs": [backend(V2)]}]),
        http_route(
            "backend-v3",
            parentRefs=[parent(gw, port=p8090)],
            hostnames=["foo.com"],
            rules=[{"backendRefs": [backend(V3)]}],
        ),
    )
    address = suite.gateway_and_routes_accepted(gw, ["backend-v1", "backend-v2", "backend-v3"])
    for route in ("backend-v1", "backend-v2", "backend-v3"):
        suite.resolved_refs_true(route, gw)
    suite.expect(address, [Case(host="foo.com", backend=V1, namespace=INFRA)], port=p80)
    suite.expect(
        address,
        [
            Case(host=f"foo.com:{p8080}", backend=V2, namespace=INFRA),
            Case(host=f"bar.com:{p8080}", backend=V2, namespace=INFRA),
        ],
        port=p8080,
    )
    suite.expect(
        address,
        [
            Case(host=f"foo.com:{p8090}", backend=V3, namespace=INFRA),
            Case(host=f"bar.com:{p8090}", status=(404,)),
        ],
        port=p8090,
    )
