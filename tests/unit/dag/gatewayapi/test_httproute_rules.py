"""HTTPRoute rules -> DAG routes (contour.dag.gatewayapi_httproute), one table per conformance test.

Each table names the Gateway API v1.6.1 conformance test whose manifest it mirrors; the expectations
are the DAG routes (matches, actions, policies) and the status findings the processor reports. Route
precedence is checked through the real sorter, as Envoy will see it.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from contour.api.gateway.v1 import HTTPRoute, ReferenceGrant
from contour.dag.builder import BuilderConfig
from contour.dag.cache import KubernetesCache
from contour.dag.gatewayapi_httproute import (
    PRIORITY_STRIDE,
    CrossReference,
    HTTPRouteResult,
    httproute_rules,
    reference_check,
)
from contour.dag.model import (
    CORSPolicy,
    DirectResponse,
    HeaderMatch,
    HeadersPolicy,
    HeaderValue,
    ObjectRef,
    PathMatch,
    PathMatchKind,
    QueryParamMatch,
    Redirect,
    Route,
)
from contour.envoy.sorter import sort_routes

INFRA = "gateway-conformance-infra"
WEB = "gateway-conformance-web-backend"


def _service(name: str, namespace: str = INFRA, port: int = 8080, app_protocol: str | None = None) -> Any:
    entry: dict[str, Any] = {"name": "http", "port": port, "protocol": "TCP"}
    if app_protocol is not None:
        entry["appProtocol"] = app_protocol
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"ports": [entry]},
    }


def _cache() -> KubernetesCache:
    cache = KubernetesCache()
    for name in ("infra-backend-v1", "infra-backend-v2", "infra-backend-v3"):
        cache.insert(_service(name))
    cache.insert(_service("web-backend", WEB))
    cache.insert(_service("h2c-backend", app_protocol="kubernetes.io/h2c"))
    cache.insert(_service("ws-backend", app_protocol="kubernetes.io/ws"))
    cache.insert(_service("odd-backend", app_protocol="example.com/odd"))
    return cache


def _route(rules: str, *, name: str = "r", namespace: str = INFRA) -> HTTPRoute:
    return HTTPRoute.model_validate(
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"parentRefs": [{"name": "same-namespace"}], "rules": yaml.safe_load(rules)},
        }
    )


def _rules(
    rules: str,
    *,
    hostnames: tuple[str, ...] = (),
    priority_base: int = 0,
    namespace: str = INFRA,
    grants: tuple[ReferenceGrant, ...] = (),
    listener_port: int | None = None,
) -> HTTPRouteResult:
    return httproute_rules(
        _route(rules, namespace=namespace),
        hostnames,
        _cache(),
        BuilderConfig(),
        priority_base=priority_base,
        permitted=reference_check(grants),
        listener_port=listener_port,
    )


def _only_routes(result: HTTPRouteResult) -> list[Route]:
    assert result.accepted_problem is None, result.accepted_problem
    assert list(result.routes_by_host) == ["*"]
    return result.routes_by_host["*"]


def _backend_names(route: Route) -> list[tuple[str, int]]:
    return [(c.upstream.ref.name, c.weight) for c in route.clusters]


def _v(n: int) -> str:
    return f"{{name: infra-backend-v{n}, port: 8080}}"


# --- HTTPRouteSimpleSameNamespace / hosts -------------------------------------------------------


def test_simple_route_forwards_to_its_backend_under_every_hostname() -> None:
    result = _rules(f"[{{backendRefs: [{_v(1)}]}}]", hostnames=("a.example.com", "*.example.org"))
    assert sorted(result.routes_by_host) == ["*.example.org", "a.example.com"]
    route = result.routes_by_host["a.example.com"][0]
    assert route.path_match == PathMatch(PathMatchKind.SEGMENT_PREFIX, "/")
    assert _backend_names(route) == [("infra-backend-v1", 1)]
    assert route.kind == "HTTPRoute" and route.owner == ObjectRef(INFRA, "r")
    assert result.resolved_refs.ok and result.resolved_refs.reason == "ResolvedRefs"
    assert list(result.services) == [f"{INFRA}/infra-backend-v1/http"]


# --- HTTPRouteExactPathMatching, HTTPRoutePathMatchOrder -------------------------------------------

PATH_CASES = [
    pytest.param("{type: Exact, value: /one}", PathMatch(PathMatchKind.EXACT, "/one"), id="exact"),
    pytest.param(
        "{type: PathPrefix, value: /v2}", PathMatch(PathMatchKind.SEGMENT_PREFIX, "/v2"), id="prefix"
    ),
    pytest.param(
        "{type: PathPrefix, value: /v2/}",
        PathMatch(PathMatchKind.SEGMENT_PREFIX, "/v2"),
        id="prefix-trailing-slash",
    ),
    pytest.param("{value: /}", PathMatch(PathMatchKind.SEGMENT_PREFIX, "/"), id="default-type-prefix"),
    pytest.param(
        "{type: RegularExpression, value: '/v[0-9]+/.*'}",
        PathMatch(PathMatchKind.REGEX, "/v[0-9]+/.*"),
        id="regex",
    ),
]


@pytest.mark.parametrize(("path", "expected"), PATH_CASES)
def test_path_match_kinds(path: str, expected: PathMatch) -> None:
    routes = _only_routes(_rules(f"[{{matches: [{{path: {path}}}], backendRefs: [{_v(1)}]}}]"))
    assert routes[0].path_match == expected


def test_no_matches_means_prefix_slash() -> None:
    routes = _only_routes(_rules(f"[{{backendRefs: [{_v(1)}]}}]"))
    assert [r.path_match for r in routes] == [PathMatch(PathMatchKind.SEGMENT_PREFIX, "/")]


def test_path_match_order_exact_then_longest_prefix() -> None:
    """HTTPRoutePathMatchOrder: /match/exact/one exact beats every prefix; longer prefixes first."""
    rules = f"""
    - matches: [{{path: {{type: PathPrefix, value: /match}}}}]
      backendRefs: [{_v(1)}]
    - matches: [{{path: {{type: PathPrefix, value: /match/prefix/one}}}}]
      backendRefs: [{_v(2)}]
    - matches: [{{path: {{type: Exact, value: /match/exact/one}}}}]
      backendRefs: [{_v(3)}]
    - matches: [{{path: {{type: PathPrefix, value: /match/prefix}}}}]
      backendRefs: [{_v(1)}]
    """
    ordered = sort_routes(_only_routes(_rules(rules)))
    assert [r.path_match.value for r in ordered] == [
        "/match/exact/one",
        "/match/prefix/one",
        "/match/prefix",
        "/match",
    ]


# --- HTTPRouteHeaderMatching, HTTPRouteQueryParamMatching, HTTPRouteMethodMatching ----------------


def test_header_matches_are_lowercased_and_first_entry_per_name_wins() -> None:
    rules = f"""
    - matches:
      - headers:
        - {{name: Version, value: one}}
        - {{name: version, value: two}}
        - {{name: Color, type: RegularExpression, value: 'or.*ge'}}
      backendRefs: [{_v(1)}]
    """
    (route,) = _only_routes(_rules(rules))
    assert route.header_matches == (
        HeaderMatch("version", "exact", "one"),
        HeaderMatch("color", "regex", "or.*ge"),
    )


def test_query_param_matches_keep_case_and_first_entry_per_name_wins() -> None:
    rules = f"""
    - matches:
      - queryParams:
        - {{name: animal, value: whale}}
        - {{name: animal, value: dolphin}}
        - {{name: Color, type: RegularExpression, value: 'bl.*'}}
      backendRefs: [{_v(1)}]
    """
    (route,) = _only_routes(_rules(rules))
    assert route.query_param_matches == (
        QueryParamMatch("animal", "exact", "whale"),
        QueryParamMatch("Color", "regex", "bl.*"),
    )


def test_method_match_is_a_method_pseudo_header() -> None:
    (route,) = _only_routes(_rules(f"[{{matches: [{{method: POST}}], backendRefs: [{_v(1)}]}}]"))
    assert route.header_matches == (HeaderMatch(":method", "exact", "POST"),)


def test_precedence_method_then_headers_then_query_then_rule_order() -> None:
    """HTTPRouteMatching / HTTPRouteMethodMatching: at one path, a method match first, then more
    headers, then more query params, then the earlier rule."""
    rules = f"""
    - matches: [{{path: {{value: /}}}}]
      backendRefs: [{_v(1)}]
    - matches: [{{queryParams: [{{name: q, value: '1'}}]}}]
      backendRefs: [{_v(1)}]
    - matches: [{{headers: [{{name: a, value: '1'}}, {{name: b, value: '2'}}]}}]
      backendRefs: [{_v(2)}]
    - matches: [{{headers: [{{name: a, value: '1'}}]}}]
      backendRefs: [{_v(3)}]
    - matches: [{{method: GET}}]
      backendRefs: [{_v(1)}]
    """
    ordered = sort_routes(_only_routes(_rules(rules)))
    described = [
        (tuple(h.name for h in r.header_matches), tuple(q.name for q in r.query_param_matches))
        for r in ordered
    ]
    assert described == [((":method",), ()), (("a", "b"), ()), (("a",), ()), ((), ("q",)), ((), ())]


def test_matching_across_routes_older_route_wins_ties() -> None:
    """HTTPRouteMatchingAcrossRoutes: identical matches in two routes: the lower priority_base (older
    route, then namespace/name) sorts first."""
    older = _only_routes(_rules(f"[{{backendRefs: [{_v(1)}]}}]", priority_base=0))
    newer = _only_routes(_rules(f"[{{backendRefs: [{_v(2)}]}}]", priority_base=PRIORITY_STRIDE))
    ordered = sort_routes(newer + older)
    assert _backend_names(ordered[0]) == [("infra-backend-v1", 1)]


def test_priorities_follow_rule_then_match_order_within_the_stride() -> None:
    rules = f"""
    - matches: [{{path: {{value: /a}}}}, {{path: {{value: /b}}}}]
      backendRefs: [{_v(1)}]
    - backendRefs: [{_v(1)}]
    """
    routes = _only_routes(_rules(rules, priority_base=5 * PRIORITY_STRIDE))
    priorities = [r.priority for r in routes]
    assert priorities == sorted(priorities) and len(set(priorities)) == 3
    assert all(5 * PRIORITY_STRIDE <= p < 6 * PRIORITY_STRIDE for p in priorities)


INVALID_REGEX_CASES = [
    pytest.param("{path: {type: RegularExpression, value: '/(?=x)'}}", id="path-lookahead"),
    pytest.param("{headers: [{name: a, type: RegularExpression, value: '(a'}]}", id="header-unbalanced"),
    pytest.param("{queryParams: [{name: a, type: RegularExpression, value: '\\1'}]}", id="query-backref"),
]


@pytest.mark.parametrize("match", INVALID_REGEX_CASES)
def test_invalid_re2_regex_rejects_the_route(match: str) -> None:
    result = _rules(f"[{{matches: [{match}], backendRefs: [{_v(1)}]}}]")
    assert result.accepted_problem is not None and result.accepted_problem[0] == "UnsupportedValue"
    assert result.routes_by_host == {}


# --- HTTPRouteWeight, HTTPRouteNoBackendRefs, invalid backends -------------------------------------


def test_weights_keep_nonzero_backends_with_their_weights() -> None:
    rules = """
    - backendRefs:
      - {name: infra-backend-v1, port: 8080, weight: 70}
      - {name: infra-backend-v2, port: 8080, weight: 30}
      - {name: infra-backend-v3, port: 8080, weight: 0}
    """
    (route,) = _only_routes(_rules(rules))
    assert _backend_names(route) == [("infra-backend-v1", 70), ("infra-backend-v2", 30)]
    assert route.invalid_backend_weight == 0 and route.direct_response is None


@pytest.mark.parametrize(
    "rule",
    [
        pytest.param("{matches: [{path: {value: /}}]}", id="omitted-backendRefs"),
        pytest.param("{backendRefs: []}", id="empty-backendRefs"),
        pytest.param(
            "{backendRefs: [{name: infra-backend-v1, port: 8080, weight: 0}]}", id="all-weights-zero"
        ),
    ],
)
def test_no_usable_backend_answers_500(rule: str) -> None:
    (route,) = _only_routes(_rules(f"[{rule}]"))
    assert route.direct_response == DirectResponse(500) and route.clusters == []


INVALID_BACKEND_CASES = [
    pytest.param(
        "{name: does-not-exist, port: 8080}", "BackendNotFound", id="HTTPRouteInvalidNonExistentBackendRef"
    ),
    pytest.param("{name: infra-backend-v1, port: 9999}", "BackendNotFound", id="port-not-on-service"),
    pytest.param(
        "{group: unknown.example.com, kind: UnknownKind, name: infra-backend-v1, port: 8080}",
        "InvalidKind",
        id="HTTPRouteInvalidBackendRefUnknownKind",
    ),
    pytest.param(
        f"{{name: web-backend, namespace: {WEB}, port: 8080}}",
        "RefNotPermitted",
        id="HTTPRouteInvalidCrossNamespaceBackendRef",
    ),
    pytest.param("{name: odd-backend, port: 8080}", "UnsupportedProtocol", id="unsupported-appProtocol"),
    pytest.param("{name: infra-backend-v1}", "UnsupportedValue", id="service-without-port"),
]


@pytest.mark.parametrize(("ref", "reason"), INVALID_BACKEND_CASES)
def test_single_invalid_backend_answers_500_and_unresolves_refs(ref: str, reason: str) -> None:
    result = _rules(f"[{{backendRefs: [{ref}]}}]")
    (route,) = _only_routes(result)
    assert route.direct_response == DirectResponse(500)
    assert not result.resolved_refs.ok and result.resolved_refs.reason == reason
    assert result.resolved_refs.message


def test_partly_invalid_backends_answer_500_in_proportion() -> None:
    rules = """
    - backendRefs:
      - {name: infra-backend-v1, port: 8080, weight: 3}
      - {name: does-not-exist, port: 8080, weight: 1}
    """
    result = _rules(rules)
    (route,) = _only_routes(result)
    assert _backend_names(route) == [("infra-backend-v1", 3)]
    assert route.invalid_backend_weight == 1
    assert result.resolved_refs.reason == "BackendNotFound"


def test_partially_invalid_via_reference_grant_keeps_the_valid_rule() -> None:
    """HTTPRoutePartiallyInvalidViaInvalidReferenceGrant: the valid rule serves, the other answers 500."""
    rules = f"""
    - matches: [{{path: {{value: /v1}}}}]
      backendRefs: [{_v(1)}]
    - matches: [{{path: {{value: /v2}}}}]
      backendRefs: [{{name: web-backend, namespace: {WEB}, port: 8080}}]
    """
    result = _rules(rules)
    ok, refused = _only_routes(result)
    assert _backend_names(ok) == [("infra-backend-v1", 1)] and refused.direct_response == DirectResponse(500)
    assert result.accepted_problem is None and result.resolved_refs.reason == "RefNotPermitted"


def _grant(to_name: str | None, from_namespace: str = INFRA, to_kind: str = "Service") -> ReferenceGrant:
    to: dict[str, Any] = {"group": "", "kind": to_kind}
    if to_name is not None:
        to["name"] = to_name
    return ReferenceGrant.model_validate(
        {
            "metadata": {"name": "g", "namespace": WEB},
            "spec": {
                "from": [
                    {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": from_namespace}
                ],
                "to": [to],
            },
        }
    )


GRANT_CASES = [
    pytest.param(_grant(None), True, id="HTTPRouteReferenceGrant-all-services"),
    pytest.param(_grant("web-backend"), True, id="grant-names-the-service"),
    pytest.param(_grant("other"), False, id="HTTPRouteInvalidReferenceGrant-other-name"),
    pytest.param(_grant(None, from_namespace="elsewhere"), False, id="grant-from-another-namespace"),
    pytest.param(_grant(None, to_kind="Secret"), False, id="grant-for-another-kind"),
]


@pytest.mark.parametrize(("grant", "allowed"), GRANT_CASES)
def test_reference_grants_decide_cross_namespace_backends(grant: ReferenceGrant, allowed: bool) -> None:
    result = _rules(
        f"[{{backendRefs: [{{name: web-backend, namespace: {WEB}, port: 8080}}]}}]", grants=(grant,)
    )
    (route,) = _only_routes(result)
    assert result.resolved_refs.ok is allowed
    assert (route.direct_response is None) is allowed


def test_reference_check_only_uses_grants_in_the_target_namespace() -> None:
    check = reference_check([_grant(None)])
    ref = CrossReference("gateway.networking.k8s.io", "HTTPRoute", INFRA, "", "Service", ObjectRef("x", "y"))
    assert not check(ref)
    assert check(ref._replace(to=ObjectRef(WEB, "y")))


@pytest.mark.parametrize(
    ("service", "protocol", "websocket"),
    [
        pytest.param("h2c-backend", "h2c", False, id="HTTPRouteBackendProtocolH2C"),
        pytest.param("ws-backend", "", True, id="HTTPRouteBackendProtocolWebSocket"),
    ],
)
def test_backend_app_protocols(service: str, protocol: str, websocket: bool) -> None:
    (route,) = _only_routes(_rules(f"[{{backendRefs: [{{name: {service}, port: 8080}}]}}]"))
    assert route.clusters[0].protocol.value == protocol and route.websocket is websocket


# --- HTTPRouteRequestHeaderModifier, HTTPRouteResponseHeaderModifier, backend filters ---------------


def test_request_header_modifier_set_add_remove() -> None:
    rules = f"""
    - filters:
      - type: RequestHeaderModifier
        requestHeaderModifier:
          set: [{{name: X-Header-Set, value: set-overwrites-values}}, {{name: x-header-set, value: ignored}}]
          add: [{{name: X-Header-Add, value: '100%'}}]
          remove: [X-Header-Remove]
      backendRefs: [{_v(1)}]
    """
    (route,) = _only_routes(_rules(rules))
    assert route.request_headers_policy == HeadersPolicy(
        set=(HeaderValue("X-Header-Set", "set-overwrites-values"),),
        add=(HeaderValue("X-Header-Add", "100%%"),),
        remove=("X-Header-Remove",),
    )


def test_host_header_becomes_a_host_rewrite() -> None:
    rules = f"""
    - filters:
      - type: RequestHeaderModifier
        requestHeaderModifier: {{set: [{{name: Host, value: other.example.com}}], remove: [host]}}
      backendRefs: [{_v(1)}]
    """
    (route,) = _only_routes(_rules(rules))
    assert route.request_headers_policy == HeadersPolicy(host_rewrite="other.example.com")


def test_response_header_modifier() -> None:
    rules = f"""
    - filters:
      - type: ResponseHeaderModifier
        responseHeaderModifier:
          {{set: [{{name: X-S, value: s}}], add: [{{name: X-A, value: a}}], remove: [X-R]}}
      backendRefs: [{_v(1)}]
    """
    (route,) = _only_routes(_rules(rules))
    assert route.response_headers_policy == HeadersPolicy(
        set=(HeaderValue("X-S", "s"),), add=(HeaderValue("X-A", "a"),), remove=("X-R",)
    )


def test_backend_request_header_modifier_applies_to_that_backend_only() -> None:
    """HTTPRouteBackendRequestHeaderModifier / HTTPRouteRequestHeaderModifierBackendWeights."""
    rules = f"""
    - backendRefs:
      - name: infra-backend-v1
        port: 8080
        filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: {{set: [{{name: X-Backend, value: v1}}]}}
      - {_v(2)}
    """
    (route,) = _only_routes(_rules(rules))
    v1, v2 = route.clusters
    assert v1.request_headers_policy == HeadersPolicy(set=(HeaderValue("X-Backend", "v1"),))
    assert v2.request_headers_policy is None


# --- HTTPRouteRedirect* ----------------------------------------------------------------------------

REDIRECT_CASES = [
    pytest.param(
        "{hostname: example.org}", 8080, Redirect(hostname="example.org", port=8080), id="HostAndStatus-host"
    ),
    pytest.param("{statusCode: 301}", None, Redirect(status_code=301), id="HostAndStatus-301"),
    pytest.param("{statusCode: 303}", None, Redirect(status_code=303), id="HTTPRoute303Redirect"),
    pytest.param("{statusCode: 307}", None, Redirect(status_code=307), id="HTTPRoute307Redirect"),
    pytest.param("{statusCode: 308}", None, Redirect(status_code=308), id="HTTPRoute308Redirect"),
    pytest.param("{hostname: example.org}", 80, Redirect(hostname="example.org"), id="host-listener-80"),
    pytest.param("{scheme: https}", 80, Redirect(scheme="https"), id="Scheme-default-port-omitted"),
    pytest.param(
        "{scheme: https}", 8080, Redirect(scheme="https", port=443), id="Scheme-replaces-listener-port"
    ),
    pytest.param(
        "{scheme: https, hostname: example.org}",
        8080,
        Redirect(scheme="https", hostname="example.org"),
        id="Scheme-and-host-default-port-omitted",
    ),
    pytest.param("{port: 80}", 80, Redirect(), id="default-port-omitted"),
    pytest.param("{scheme: http, port: 8081}", 80, Redirect(scheme="http", port=8081), id="Scheme-and-port"),
    pytest.param("{port: 8083}", 80, Redirect(port=8083), id="HTTPRouteRedirectPort"),
    pytest.param(
        "{path: {type: ReplaceFullPath, replaceFullPath: /full-path-replacement}}",
        None,
        Redirect(path="/full-path-replacement"),
        id="RedirectPath-full",
    ),
    pytest.param(
        "{path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix}}",
        None,
        Redirect(prefix="/replacement-prefix"),
        id="RedirectPath-prefix",
    ),
    pytest.param(
        "{path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}",
        None,
        Redirect(regex_rewrite=("^/original-prefix/*", "/")),
        id="RedirectPath-prefix-to-root",
    ),
]


@pytest.mark.parametrize(("redirect", "listener_port", "expected"), REDIRECT_CASES)
def test_request_redirect(redirect: str, listener_port: int | None, expected: Redirect) -> None:
    rules = f"""
    - matches: [{{path: {{type: PathPrefix, value: /original-prefix}}}}]
      filters: [{{type: RequestRedirect, requestRedirect: {redirect}}}]
    """
    (route,) = _only_routes(_rules(rules, listener_port=listener_port))
    assert route.redirect == expected and route.clusters == []


def test_redirect_ignores_backend_refs() -> None:
    rules = f"""
    - filters: [{{type: RequestRedirect, requestRedirect: {{statusCode: 302}}}}]
      backendRefs: [{_v(1)}]
    """
    (route,) = _only_routes(_rules(rules))
    assert route.redirect == Redirect() and route.clusters == []


# --- HTTPRouteRewriteHost, HTTPRouteRewritePath -----------------------------------------------------

REWRITE_CASES = [
    pytest.param(
        "/prefix/one", "{type: ReplacePrefixMatch, replacePrefixMatch: /one}", "/one", None, id="prefix"
    ),
    pytest.param(
        "/strip-prefix",
        "{type: ReplacePrefixMatch, replacePrefixMatch: /}",
        None,
        ("^/strip-prefix/*", "/"),
        id="strip",
    ),
    pytest.param(
        "/", "{type: ReplacePrefixMatch, replacePrefixMatch: /app}", None, ("^/*", "/app/"), id="root-prefix"
    ),
    pytest.param(
        "/foo/",
        "{type: ReplacePrefixMatch, replacePrefixMatch: /xyz/}",
        None,
        ("^/foo/*", "/xyz/"),
        id="trailing-slash",
    ),
    pytest.param(
        "/full/one", "{type: ReplaceFullPath, replaceFullPath: /one}", None, ("^/.*$", "/one"), id="full"
    ),
]


@pytest.mark.parametrize(("prefix", "path", "prefix_rewrite", "regex_rewrite"), REWRITE_CASES)
def test_url_rewrite_path(
    prefix: str, path: str, prefix_rewrite: str | None, regex_rewrite: tuple[str, str] | None
) -> None:
    rules = f"""
    - matches: [{{path: {{type: PathPrefix, value: {prefix}}}}}]
      filters: [{{type: URLRewrite, urlRewrite: {{path: {path}}}}}]
      backendRefs: [{_v(1)}]
    """
    (route,) = _only_routes(_rules(rules))
    assert (route.prefix_rewrite, route.regex_rewrite) == (prefix_rewrite, regex_rewrite)


def test_url_rewrite_hostname_wins_over_a_host_header_set() -> None:
    rules = f"""
    - filters:
      - type: URLRewrite
        urlRewrite: {{hostname: one.example.org}}
      - type: RequestHeaderModifier
        requestHeaderModifier: {{set: [{{name: Host, value: two.example.org}}]}}
      backendRefs: [{_v(1)}]
    """
    (route,) = _only_routes(_rules(rules))
    assert route.request_headers_policy == HeadersPolicy(host_rewrite="one.example.org")


def test_prefix_rewrite_of_a_regex_match_is_unsupported() -> None:
    rules = f"""
    - matches: [{{path: {{type: RegularExpression, value: /a.*}}}}]
      filters:
      - {{type: URLRewrite, urlRewrite: {{path: {{type: ReplacePrefixMatch, replacePrefixMatch: /b}}}}}}
      backendRefs: [{_v(1)}]
    """
    assert _rules(rules).accepted_problem == (
        "UnsupportedValue",
        "ReplacePrefixMatch needs a PathPrefix match",
    )


# --- filter combinations that reject the route --------------------------------------------------------

REJECTED_FILTER_CASES = [
    pytest.param(
        "[{type: URLRewrite, urlRewrite: {hostname: a.example.com}},"
        " {type: RequestRedirect, requestRedirect: {}}]",
        "IncompatibleFilters",
        id="URLRewrite-with-RequestRedirect",
    ),
    pytest.param(
        "[{type: URLRewrite, urlRewrite: {hostname: a}}, {type: URLRewrite, urlRewrite: {hostname: b}}]",
        "UnsupportedValue",
        id="URLRewrite-twice",
    ),
    pytest.param("[{type: RequestHeaderModifier}]", "UnsupportedValue", id="type-without-configuration"),
    pytest.param(
        f"[{{type: RequestMirror, requestMirror:"
        f" {{backendRef: {_v(2)}, percent: 5, fraction: {{numerator: 1}}}}}}]",
        "UnsupportedValue",
        id="mirror-percent-and-fraction",
    ),
]


@pytest.mark.parametrize(("filters", "reason"), REJECTED_FILTER_CASES)
def test_rejected_filter_lists(filters: str, reason: str) -> None:
    result = _rules(f"[{{filters: {filters}, backendRefs: [{_v(1)}]}}]")
    assert result.accepted_problem is not None and result.accepted_problem[0] == reason
    assert result.routes_by_host == {}


def test_backend_ref_redirect_filter_is_unsupported() -> None:
    rules = """
    - backendRefs:
      - {name: infra-backend-v1, port: 8080, filters: [{type: RequestRedirect, requestRedirect: {}}]}
    """
    result = _rules(rules)
    assert result.accepted_problem is not None and result.accepted_problem[0] == "UnsupportedValue"


def test_extension_ref_filter_answers_500_with_invalid_kind() -> None:
    rules = f"""
    - filters: [{{type: ExtensionRef, extensionRef: {{group: example.com, kind: Thing, name: t}}}}]
      backendRefs: [{_v(1)}]
    """
    result = _rules(rules)
    (route,) = _only_routes(result)
    assert route.direct_response == DirectResponse(500)
    assert result.resolved_refs.reason == "InvalidKind"


# --- HTTPRouteRequestMirror, HTTPRouteRequestMultipleMirrors, HTTPRouteRequestPercentageMirror -------

MIRROR_CASES = [
    pytest.param("", [(100, 100)], id="HTTPRouteRequestMirror"),
    pytest.param(", percent: 20", [(20, 100)], id="percent"),
    pytest.param(", fraction: {numerator: 1, denominator: 3}", [(1, 3)], id="fraction"),
    pytest.param(", percent: 0", [], id="percent-zero-mirrors-nothing"),
]


@pytest.mark.parametrize(("extra", "fractions"), MIRROR_CASES)
def test_request_mirror_fractions(extra: str, fractions: list[tuple[int, int]]) -> None:
    rules = f"""
    - filters: [{{type: RequestMirror, requestMirror: {{backendRef: {_v(2)}{extra}}}}}]
      backendRefs: [{_v(1)}]
    """
    (route,) = _only_routes(_rules(rules))
    assert [(m.weight, m.denominator) for m in route.mirror_policies] == fractions


def test_multiple_mirrors_each_get_a_policy_and_services() -> None:
    rules = f"""
    - filters:
      - {{type: RequestMirror, requestMirror: {{backendRef: {_v(2)}}}}}
      - {{type: RequestMirror, requestMirror: {{backendRef: {_v(3)}}}}}
      backendRefs: [{_v(1)}]
    """
    result = _rules(rules)
    (route,) = _only_routes(result)
    assert [m.cluster.upstream.ref.name for m in route.mirror_policies] == [
        "infra-backend-v2",
        "infra-backend-v3",
    ]
    assert len(result.services) == 3


def test_mirror_to_missing_service_is_dropped_and_unresolves_refs() -> None:
    rules = f"""
    - filters: [{{type: RequestMirror, requestMirror: {{backendRef: {{name: nope, port: 8080}}}}}}]
      backendRefs: [{_v(1)}]
    """
    result = _rules(rules)
    (route,) = _only_routes(result)
    assert route.mirror_policies == [] and _backend_names(route) == [("infra-backend-v1", 1)]
    assert result.resolved_refs.reason == "BackendNotFound"


# --- HTTPRouteTimeout* ----------------------------------------------------------------------------------

TIMEOUT_CASES = [
    pytest.param("{request: 500ms}", 0.5, id="HTTPRouteTimeoutRequest"),
    pytest.param("{request: 0s}", 0.0, id="request-0s-disables"),
    pytest.param("{backendRequest: 500ms}", 0.5, id="HTTPRouteTimeoutBackendRequest"),
    pytest.param("{backendRequest: 0s}", 0.0, id="backendRequest-0s-disables"),
    pytest.param("{request: 10s, backendRequest: 1s}", 1.0, id="both-shorter-wins"),
    pytest.param("{request: 0s, backendRequest: 2s}", 2.0, id="request-disabled-backend-bounds"),
    pytest.param("{}", None, id="unset"),
]


@pytest.mark.parametrize(("timeouts", "seconds"), TIMEOUT_CASES)
def test_timeouts(timeouts: str, seconds: float | None) -> None:
    (route,) = _only_routes(_rules(f"[{{timeouts: {timeouts}, backendRefs: [{_v(1)}]}}]"))
    assert route.timeout_policy.response_seconds == seconds


def test_backend_request_longer_than_request_is_unsupported() -> None:
    result = _rules(f"[{{timeouts: {{request: 1s, backendRequest: 2s}}, backendRefs: [{_v(1)}]}}]")
    assert result.accepted_problem is not None and result.accepted_problem[0] == "UnsupportedValue"


# --- HTTPRouteCORS ------------------------------------------------------------------------------------------


def test_cors_filter_becomes_the_routes_cors_policy() -> None:
    rules = f"""
    - filters:
      - type: CORS
        cors:
          allowOrigins: ['https://www.foo.com', 'https://*.bar.com', '*']
          allowMethods: [GET, OPTIONS]
          allowHeaders: [x-header-1]
          exposeHeaders: [x-header-3]
          allowCredentials: true
          maxAge: 3600
      backendRefs: [{_v(1)}]
    """
    (route,) = _only_routes(_rules(rules))
    assert route.cors_policy == CORSPolicy(
        allow_origin=("https://www.foo.com", "https://[^/]*\\.bar\\.com", "*"),
        allow_credentials=True,
        allow_methods=("GET", "OPTIONS"),
        allow_headers=("x-header-1",),
        expose_headers=("x-header-3",),
        max_age="3600s",
    )


def test_named_rules_route_normally() -> None:
    """HTTPRouteNamedRule: a rule's name changes nothing about its routes."""
    (route,) = _only_routes(_rules(f"[{{name: rule-one, backendRefs: [{_v(1)}]}}]"))
    assert _backend_names(route) == [("infra-backend-v1", 1)]
