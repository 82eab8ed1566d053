"""GRPCRoute rules -> DAG routes (contour.dag.gatewayapi_grpcroute), one table per conformance test.

Each table names the Gateway API v1.6.1 conformance test whose manifest it mirrors. Routing is checked
the way Envoy decides it: the routes are put in the real sorter's order and the first whose path and
header matches hold for a gRPC call wins; no winner means Envoy's 404, which a gRPC client reads as
UNIMPLEMENTED (what the suite expects).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from contour.api.gateway.v1 import GRPCRoute, HTTPRoute, Method, ReferenceGrant
from contour.dag.builder import BuilderConfig
from contour.dag.cache import KubernetesCache
from contour.dag.gatewayapi_grpcroute import grpcroute_rules, method_path, route_rules
from contour.dag.gatewayapi_httproute import PRIORITY_STRIDE, HTTPRouteResult, reference_check
from contour.dag.model import (
    DirectResponse,
    HeaderMatch,
    HeadersPolicy,
    HeaderValue,
    ObjectRef,
    PathMatch,
    PathMatchKind,
    Protocol,
    Route,
)
from contour.envoy.sorter import sort_routes
from tests.unit.dag.gatewayapi.gateway_fixtures import (
    NS,
    build,
    gateway,
    gatewayclass,
    listener,
    parent,
    service,
)

INFRA = "gateway-conformance-infra"
WEB = "gateway-conformance-web-backend"
ECHO = "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho"


def _service(name: str, namespace: str = INFRA, **extra: Any) -> Any:
    port: dict[str, Any] = {"name": "grpc", "port": 8080, "protocol": "TCP"}
    if "app_protocol" in extra:
        port["appProtocol"] = extra["app_protocol"]
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if "annotations" in extra:
        meta["annotations"] = extra["annotations"]
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {"ports": [port]}}


def _cache() -> KubernetesCache:
    cache = KubernetesCache()
    for n in (1, 2, 3):
        cache.insert(_service(f"grpc-infra-backend-v{n}", app_protocol="kubernetes.io/h2c"))
    cache.insert(_service("plain-backend"))
    cache.insert(_service("web-backend", WEB))
    cache.insert(_service("tls-backend", annotations={"projectcontour.io/upstream-protocol.tls": "8080"}))
    return cache


def _route(rules: str, *, name: str = "r", namespace: str = INFRA) -> GRPCRoute:
    return GRPCRoute.model_validate(
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "GRPCRoute",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"parentRefs": [{"name": "same-namespace"}], "rules": yaml.safe_load(rules)},
        }
    )


def _rules(
    rules: str,
    *,
    hostnames: tuple[str, ...] = (),
    priority_base: int = 0,
    grants: tuple[ReferenceGrant, ...] = (),
) -> HTTPRouteResult:
    return grpcroute_rules(
        _route(rules),
        hostnames,
        _cache(),
        BuilderConfig(),
        priority_base=priority_base,
        permitted=reference_check(grants),
    )


def _only_routes(result: HTTPRouteResult) -> list[Route]:
    assert result.accepted_problem is None, result.accepted_problem
    assert list(result.routes_by_host) == ["*"]
    return result.routes_by_host["*"]


def _v(n: int, weight: int | None = None) -> str:
    extra = "" if weight is None else f", weight: {weight}"
    return f"{{name: grpc-infra-backend-v{n}, port: 8080{extra}}}"


def _path_holds(match: PathMatch, path: str) -> bool:
    if match.kind == PathMatchKind.EXACT:
        return path == match.value
    if match.kind == PathMatchKind.PREFIX:
        return path.startswith(match.value)
    if match.kind == PathMatchKind.REGEX:
        return re.fullmatch(match.value, path) is not None
    raise AssertionError(f"a GRPCRoute never makes a {match.kind} match")


def _header_holds(match: HeaderMatch, headers: dict[str, str]) -> bool:
    value = headers.get(match.name)
    if value is None:
        return False
    if match.kind == "exact":
        return value == match.value
    return re.fullmatch(match.value, value) is not None


def _chosen(routes: list[Route], method: str, headers: dict[str, str] | None = None) -> str | None:
    """The backend Envoy sends a call of `method` to (first route that holds, in sorter order), or
    None when no route holds (404 -> UNIMPLEMENTED)."""
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    for route in sort_routes(routes):
        if _path_holds(route.path_match, method) and all(
            _header_holds(h, lowered) for h in route.header_matches
        ):
            return route.clusters[0].upstream.ref.name if route.clusters else "direct"
    return None


# --- GRPCExactMethodMatching ---------------------------------------------------------------------

EXACT_METHOD_RULES = f"""
- matches: [{{method: {{service: {ECHO}, method: Echo}}}}]
  backendRefs: [{_v(1)}]
- matches: [{{method: {{service: {ECHO}, method: EchoTwo}}}}]
  backendRefs: [{_v(2)}]
"""


@pytest.mark.parametrize(
    ("call", "backend"),
    [
        pytest.param(f"/{ECHO}/Echo", "grpc-infra-backend-v1", id="Echo->v1"),
        pytest.param(f"/{ECHO}/EchoTwo", "grpc-infra-backend-v2", id="EchoTwo->v2"),
        pytest.param(f"/{ECHO}/EchoThree", None, id="EchoThree->unimplemented"),
    ],
)
def test_exact_method_matching_routes_each_method_to_its_backend(call: str, backend: str | None) -> None:
    assert _chosen(_only_routes(_rules(EXACT_METHOD_RULES)), call) == backend


def test_exact_service_and_method_is_an_exact_path() -> None:
    routes = _only_routes(_rules(EXACT_METHOD_RULES))
    assert [r.path_match for r in routes] == [
        PathMatch(PathMatchKind.EXACT, f"/{ECHO}/Echo"),
        PathMatch(PathMatchKind.EXACT, f"/{ECHO}/EchoTwo"),
    ]


# --- method matches ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        pytest.param(None, PathMatch(PathMatchKind.PREFIX, "/"), id="no-method-matches-all"),
        pytest.param({"service": "a.B"}, PathMatch(PathMatchKind.PREFIX, "/a.B/"), id="exact-service-only"),
        pytest.param({"method": "Get"}, PathMatch(PathMatchKind.REGEX, "/[^/]+/Get"), id="exact-method-only"),
        pytest.param(
            {"service": "", "method": ""}, PathMatch(PathMatchKind.PREFIX, "/"), id="empty-names-match-all"
        ),
        pytest.param(
            {"type": "RegularExpression", "service": "a\\..*", "method": "Get|Put"},
            PathMatch(PathMatchKind.REGEX, "/(?:a\\..*)/(?:Get|Put)"),
            id="regex-service-and-method",
        ),
        pytest.param(
            {"type": "RegularExpression", "service": "a\\.B"},
            PathMatch(PathMatchKind.REGEX, "/(?:a\\.B)/[^/]+"),
            id="regex-service-only",
        ),
        pytest.param(
            {"type": "RegularExpression", "method": "Get.*"},
            PathMatch(PathMatchKind.REGEX, "/[^/]+/(?:Get.*)"),
            id="regex-method-only",
        ),
    ],
)
def test_method_match_becomes_a_path_match(method: dict[str, str] | None, expected: PathMatch) -> None:
    assert method_path(Method.model_validate(method) if method is not None else None) == expected


@pytest.mark.parametrize(
    ("call", "matches"),
    [
        pytest.param("/a.B/Get", True, id="first-alternative"),
        pytest.param("/a.B/Put", True, id="second-alternative"),
        pytest.param("/a.B/Delete", False, id="other-method"),
        pytest.param("/x.Y/Get", False, id="other-service"),
    ],
)
def test_regex_alternation_stays_on_its_side_of_the_slash(call: str, matches: bool) -> None:
    path = method_path(Method(type="RegularExpression", service="a\\.B", method="Get|Put"))
    assert _path_holds(path, call) is matches


def test_exact_service_prefix_does_not_match_a_longer_service_name() -> None:
    path = method_path(Method(service="a.B"))
    assert not _path_holds(path, "/a.BC/Get")


@pytest.mark.parametrize(
    ("method", "fragment"),
    [
        pytest.param({"service": "a/b", "method": "Get"}, "service 'a/b'", id="slash-in-service"),
        pytest.param({"service": "a.B", "method": "Get/x"}, "method 'Get/x'", id="slash-in-method"),
        pytest.param({"service": "1a", "method": "Get"}, "service '1a'", id="service-starts-with-digit"),
        pytest.param(
            {"type": "RegularExpression", "service": "(a"}, "service regular expression", id="bad-regex"
        ),
    ],
)
def test_invalid_method_match_rejects_the_route_with_unsupported_value(
    method: dict[str, str], fragment: str
) -> None:
    rules = [
        {"matches": [{"method": method}], "backendRefs": [{"name": "grpc-infra-backend-v1", "port": 8080}]}
    ]
    result = _rules(json.dumps(rules))
    assert result.accepted_problem is not None
    assert result.accepted_problem[0] == "UnsupportedValue"
    assert fragment in result.accepted_problem[1]
    assert result.routes_by_host == {}


# --- precedence ----------------------------------------------------------------------------------


def test_exact_method_wins_over_service_prefix_and_catch_all() -> None:
    rules = f"""
- backendRefs: [{_v(3)}]
- matches: [{{method: {{service: {ECHO}}}}}]
  backendRefs: [{_v(2)}]
- matches: [{{method: {{service: {ECHO}, method: Echo}}}}]
  backendRefs: [{_v(1)}]
"""
    routes = _only_routes(_rules(rules))
    assert _chosen(routes, f"/{ECHO}/Echo") == "grpc-infra-backend-v1"
    assert _chosen(routes, f"/{ECHO}/EchoTwo") == "grpc-infra-backend-v2"
    assert _chosen(routes, "/other.Service/Echo") == "grpc-infra-backend-v3"


def test_older_route_wins_an_identical_match() -> None:
    rules = f"[{{matches: [{{method: {{service: {ECHO}, method: Echo}}}}], backendRefs: [{_v(1)}]}}]"
    older = _only_routes(_rules(rules, priority_base=0))
    newer_rules = rules.replace("v1", "v2")
    newer = _only_routes(_rules(newer_rules, priority_base=PRIORITY_STRIDE))
    assert _chosen(newer + older, f"/{ECHO}/Echo") == "grpc-infra-backend-v1"


# --- GRPCRouteHeaderMatching ---------------------------------------------------------------------

HEADER_RULES = f"""
- matches: [{{headers: [{{name: version, value: one}}]}}]
  backendRefs: [{_v(1)}]
- matches: [{{headers: [{{name: version, value: two}}]}}]
  backendRefs: [{_v(2)}]
- matches: [{{headers: [{{name: version, value: two}}, {{name: color, value: orange}}]}}]
  backendRefs: [{_v(1)}]
- matches: [{{headers: [{{name: color, value: blue}}]}}, {{headers: [{{name: color, value: green}}]}}]
  backendRefs: [{_v(1)}]
- matches: [{{headers: [{{name: color, value: red}}]}}, {{headers: [{{name: color, value: yellow}}]}}]
  backendRefs: [{_v(2)}]
"""


@pytest.mark.parametrize(
    ("headers", "backend"),
    [
        pytest.param({"Version": "one"}, "grpc-infra-backend-v1", id="version=one->v1"),
        pytest.param({"Version": "two"}, "grpc-infra-backend-v2", id="version=two->v2"),
        pytest.param({"Version": "two", "Color": "orange"}, "grpc-infra-backend-v1", id="two+orange->v1"),
        pytest.param({"Version": "two", "Color": "blue"}, "grpc-infra-backend-v2", id="two+blue->v2"),
        pytest.param({"Color": "orange"}, None, id="orange->unimplemented"),
        pytest.param({"Some-Other-Header": "one"}, None, id="other-header->unimplemented"),
        pytest.param({"Color": "blue"}, "grpc-infra-backend-v1", id="blue->v1"),
        pytest.param({"Color": "green"}, "grpc-infra-backend-v1", id="green->v1"),
        pytest.param({"Color": "red"}, "grpc-infra-backend-v2", id="red->v2"),
        pytest.param({"Color": "yellow"}, "grpc-infra-backend-v2", id="yellow->v2"),
        pytest.param({"Color": "purple"}, None, id="purple->unimplemented"),
    ],
)
def test_header_matching(headers: dict[str, str], backend: str | None) -> None:
    routes = _only_routes(_rules(HEADER_RULES))
    assert _chosen(routes, f"/{ECHO}/Echo", headers) == backend


def test_header_match_names_are_lowercased_and_first_entry_wins() -> None:
    rules = f"""
- matches:
  - headers:
    - {{name: X-Tag, value: a}}
    - {{name: x-tag, value: b}}
    - {{name: Env, type: RegularExpression, value: "pr.*"}}
  backendRefs: [{_v(1)}]
"""
    (route,) = _only_routes(_rules(rules))
    assert route.header_matches == (HeaderMatch("x-tag", "exact", "a"), HeaderMatch("env", "regex", "pr.*"))


def test_invalid_header_regex_rejects_the_route() -> None:
    header = "{name: a, type: RegularExpression, value: '(x'}"
    rules = f"[{{matches: [{{headers: [{header}]}}], backendRefs: [{_v(1)}]}}]"
    result = _rules(rules)
    assert result.accepted_problem is not None
    assert result.accepted_problem[0] == "UnsupportedValue"


# --- GRPCRouteListenerHostnameMatching -----------------------------------------------------------


def test_routes_appear_under_every_effective_hostname() -> None:
    result = _rules(f"[{{backendRefs: [{_v(3)}]}}]", hostnames=("bar.com", "*.foo.com"))
    assert sorted(result.routes_by_host) == ["*.foo.com", "bar.com"]
    assert result.routes_by_host["bar.com"] == result.routes_by_host["*.foo.com"]


def test_no_hostnames_means_the_catch_all_host() -> None:
    assert list(_rules(f"[{{backendRefs: [{_v(1)}]}}]").routes_by_host) == ["*"]


# --- GRPCRouteWeight / GRPCRouteAllBackendsWeightZero ---------------------------------------------


def test_weights_are_kept_and_zero_weight_backends_dropped() -> None:
    (route,) = _only_routes(_rules(f"[{{backendRefs: [{_v(1, 70)}, {_v(2, 30)}, {_v(3, 0)}]}}]"))
    assert [(c.upstream.ref.name, c.weight) for c in route.clusters] == [
        ("grpc-infra-backend-v1", 70),
        ("grpc-infra-backend-v2", 30),
    ]
    assert route.invalid_backend_weight == 0


def test_all_backends_weight_zero_answers_unavailable() -> None:
    (route,) = _only_routes(_rules(f"[{{backendRefs: [{_v(1, 0)}, {_v(2, 0)}]}}]"))
    assert route.direct_response == DirectResponse(503)
    assert route.clusters == []


def test_rule_without_backends_answers_unavailable() -> None:
    (route,) = _only_routes(_rules(f"[{{matches: [{{method: {{service: {ECHO}}}}}]}}]"))
    assert route.direct_response == DirectResponse(503)


# --- upstream protocol ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "protocol"),
    [
        pytest.param("grpc-infra-backend-v1", Protocol.H2C, id="appProtocol-h2c"),
        pytest.param("plain-backend", Protocol.H2C, id="no-appProtocol-is-h2c"),
        pytest.param("tls-backend", Protocol.H2, id="tls-annotation-is-h2"),
    ],
)
def test_backends_speak_http2(backend: str, protocol: Protocol) -> None:
    (route,) = _only_routes(_rules(f"[{{backendRefs: [{{name: {backend}, port: 8080}}]}}]"))
    assert [c.protocol for c in route.clusters] == [protocol]


# --- GRPCRouteNamedRule --------------------------------------------------------------------------


def test_named_rules_are_routed_like_unnamed_ones() -> None:
    rules = f"""
- name: name-one
  matches: [{{method: {{service: {ECHO}, method: Echo}}}}]
  backendRefs: [{_v(1)}]
- name: name-two
  matches: [{{method: {{service: {ECHO}, method: EchoTwo}}}}]
  backendRefs: [{_v(2)}]
"""
    routes = _only_routes(_rules(rules))
    assert _chosen(routes, f"/{ECHO}/EchoTwo") == "grpc-infra-backend-v2"


# --- filters: GRPCRouteRequestHeaderModifier, ResponseHeaderModifier, RequestMirror ---------------


def test_request_header_modifier_sets_adds_and_removes_metadata() -> None:
    rules = f"""
- filters:
  - type: RequestHeaderModifier
    requestHeaderModifier:
      set: [{{name: X-Header-Set, value: set-overwrites-values}}]
      add: [{{name: X-Header-Add, value: header-val-1}}]
      remove: [X-Header-Remove]
  backendRefs: [{_v(1)}]
"""
    (route,) = _only_routes(_rules(rules))
    assert route.request_headers_policy == HeadersPolicy(
        set=(HeaderValue("X-Header-Set", "set-overwrites-values"),),
        add=(HeaderValue("X-Header-Add", "header-val-1"),),
        remove=("X-Header-Remove",),
    )


def test_response_header_modifier_applies_to_responses() -> None:
    rules = f"""
- filters:
  - type: ResponseHeaderModifier
    responseHeaderModifier: {{set: [{{name: X-Out, value: "100%"}}]}}
  backendRefs: [{_v(1)}]
"""
    (route,) = _only_routes(_rules(rules))
    assert route.response_headers_policy == HeadersPolicy(set=(HeaderValue("X-Out", "100%%"),))
    assert route.request_headers_policy is None


def test_backend_header_modifier_applies_to_that_backend_only() -> None:
    rules = f"""
- backendRefs:
  - name: grpc-infra-backend-v1
    port: 8080
    filters: [{{type: RequestHeaderModifier, requestHeaderModifier: {{add: [{{name: X-B, value: one}}]}}}}]
  - {_v(2)}
"""
    (route,) = _only_routes(_rules(rules))
    assert [c.request_headers_policy for c in route.clusters] == [
        HeadersPolicy(add=(HeaderValue("X-B", "one"),)),
        None,
    ]


def test_repeated_request_header_modifier_rejects_the_route() -> None:
    modifier = "{type: RequestHeaderModifier, requestHeaderModifier: {remove: [a]}}"
    result = _rules(f"[{{filters: [{modifier}, {modifier}], backendRefs: [{_v(1)}]}}]")
    assert result.accepted_problem is not None
    assert result.accepted_problem[0] == "UnsupportedValue"


def test_request_mirror_sends_copies_to_an_h2c_cluster() -> None:
    rules = f"""
- filters:
  - type: RequestMirror
    requestMirror: {{backendRef: {{name: grpc-infra-backend-v2, port: 8080}}, percent: 25}}
  backendRefs: [{_v(1)}]
"""
    (route,) = _only_routes(_rules(rules))
    (mirror,) = route.mirror_policies
    assert (mirror.cluster.upstream.ref.name, mirror.cluster.protocol) == (
        "grpc-infra-backend-v2",
        Protocol.H2C,
    )
    assert (mirror.weight, mirror.denominator) == (25, 100)


def test_unknown_extension_ref_filter_answers_an_error_and_reports_invalid_kind() -> None:
    rules = f"""
- filters: [{{type: ExtensionRef, extensionRef: {{group: example.com, kind: Thing, name: t}}}}]
  backendRefs: [{_v(1)}]
"""
    result = _rules(rules)
    (route,) = _only_routes(result)
    assert route.direct_response == DirectResponse(500)
    assert (result.resolved_refs.ok, result.resolved_refs.reason) == (False, "InvalidKind")


# --- backend references --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "reason"),
    [
        pytest.param("{name: missing, port: 8080}", "BackendNotFound", id="missing-service"),
        pytest.param("{name: grpc-infra-backend-v1, port: 9999}", "BackendNotFound", id="missing-port"),
        pytest.param("{group: example.com, kind: Thing, name: t}", "InvalidKind", id="not-a-service"),
        pytest.param(
            f"{{name: web-backend, namespace: {WEB}, port: 8080}}", "RefNotPermitted", id="cross-namespace"
        ),
    ],
)
def test_invalid_backend_sets_resolved_refs_and_answers_unavailable(backend: str, reason: str) -> None:
    result = _rules(f"[{{backendRefs: [{backend}]}}]")
    (route,) = _only_routes(result)
    assert (result.resolved_refs.ok, result.resolved_refs.reason) == (False, reason)
    assert route.direct_response == DirectResponse(503)


def test_partly_invalid_backends_keep_the_invalid_share() -> None:
    result = _rules(f"[{{backendRefs: [{_v(1, 3)}, {{name: missing, port: 8080, weight: 1}}]}}]")
    (route,) = _only_routes(result)
    assert [c.upstream.ref.name for c in route.clusters] == ["grpc-infra-backend-v1"]
    assert route.invalid_backend_weight == 1
    assert route.kind == "GRPCRoute"


def _grant(from_kind: str) -> ReferenceGrant:
    return ReferenceGrant.model_validate(
        {
            "metadata": {"name": "g", "namespace": WEB},
            "spec": {
                "from": [{"group": "gateway.networking.k8s.io", "kind": from_kind, "namespace": INFRA}],
                "to": [{"group": "", "kind": "Service"}],
            },
        }
    )


@pytest.mark.parametrize(
    ("from_kind", "allowed"),
    [
        pytest.param("GRPCRoute", True, id="grant-from-GRPCRoute"),
        pytest.param("HTTPRoute", False, id="grant-from-HTTPRoute"),
    ],
)
def test_cross_namespace_backend_needs_a_grant_from_grpcroutes(from_kind: str, allowed: bool) -> None:
    result = _rules(
        f"[{{backendRefs: [{{name: web-backend, namespace: {WEB}, port: 8080}}]}}]",
        grants=(_grant(from_kind),),
    )
    assert result.resolved_refs.ok is allowed
    (route,) = _only_routes(result)
    assert bool(route.clusters) is allowed


def test_services_used_are_reported_by_eds_name() -> None:
    result = _rules(f"[{{backendRefs: [{_v(2)}, {_v(1)}]}}]")
    assert [s.ref.name for s in result.services.values()] == [
        "grpc-infra-backend-v1",
        "grpc-infra-backend-v2",
    ]


# --- dispatch and the processor ------------------------------------------------------------------


def test_route_rules_dispatches_by_kind() -> None:
    http = HTTPRoute.model_validate(
        {
            "metadata": {"name": "h", "namespace": INFRA},
            "spec": {"rules": [{"backendRefs": [{"name": "plain-backend", "port": 8080}]}]},
        }
    )
    grpc = _route("[{backendRefs: [{name: plain-backend, port: 8080}]}]")
    http_route = route_rules(http, (), _cache(), BuilderConfig(), priority_base=0).routes_by_host["*"][0]
    grpc_route = route_rules(grpc, (), _cache(), BuilderConfig(), priority_base=0).routes_by_host["*"][0]
    assert (http_route.kind, http_route.path_match.kind) == ("HTTPRoute", PathMatchKind.SEGMENT_PREFIX)
    assert (grpc_route.kind, grpc_route.path_match.kind) == ("GRPCRoute", PathMatchKind.PREFIX)


def _grpcroute_obj(rules: list[Any]) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GRPCRoute",
        "metadata": {
            "name": "g",
            "namespace": NS,
            "generation": 2,
            "creationTimestamp": "2024-01-01T00:00:00Z",
        },
        "spec": {"parentRefs": [parent("gw")], "hostnames": ["grpc.example.com"], "rules": rules},
    }


def test_processor_attaches_grpcroute_to_the_gateway_listener() -> None:
    rules = [
        {
            "matches": [{"method": {"service": "s.S", "method": "M"}}],
            "backendRefs": [{"name": "svc", "port": 80}],
        }
    ]
    built = build(
        gatewayclass(), gateway("gw", listener("http", 8080, "HTTP")), service(), _grpcroute_obj(rules)
    )
    vhost = built.dag.gateways[ObjectRef(NS, "gw")].listeners["http-8080"].virtual_hosts["grpc.example.com"]
    (route,) = vhost.routes.values()
    assert route.path_match == PathMatch(PathMatchKind.EXACT, "/s.S/M")
    assert [c.protocol for c in route.clusters] == [Protocol.H2C]
    accepted = built.route_condition("g", "Accepted", plural="grpcroutes")
    assert (accepted["status"], accepted["observedGeneration"]) == ("True", 2)


def test_processor_reports_a_rejected_grpcroute_as_not_accepted() -> None:
    rules = [
        {
            "matches": [{"method": {"service": "a/b", "method": "M"}}],
            "backendRefs": [{"name": "svc", "port": 80}],
        }
    ]
    built = build(
        gatewayclass(), gateway("gw", listener("http", 8080, "HTTP")), service(), _grpcroute_obj(rules)
    )
    accepted = built.route_condition("g", "Accepted", plural="grpcroutes")
    assert (accepted["status"], accepted["reason"]) == ("False", "UnsupportedValue")
    assert built.dag.gateways[ObjectRef(NS, "gw")].listeners["http-8080"].virtual_hosts == {}
