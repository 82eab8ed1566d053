"""IngressProcessor, plain HTTP: Ingress YAML in, virtual hosts / routes / clusters out (Contour 1.33)."""

from __future__ import annotations

from typing import Any

import pytest

from contour.dag.builder import BuilderConfig
from contour.dag.model import HeaderMatch, PathMatch, PathMatchKind, Protocol, RetryPolicy, TimeoutPolicy

from .fixtures import k8s_service, port
from .ingress_fixtures import (
    build_ingress,
    http_routes,
    http_vhost,
    ing,
    manifests,
    matches,
    only_route,
    path,
    upstreams,
)

Obj = dict[str, Any]

KUARD = k8s_service("kuard", ports=[port(80, "http"), port(8080, "admin")])


def test_quickstart_manifest() -> None:
    objects = manifests(
        """
apiVersion: v1
kind: Service
metadata: {name: kuard, namespace: default}
spec:
  ports: [{name: http, port: 80, protocol: TCP, targetPort: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: kuard, namespace: default}
spec:
  rules:
  - host: kuard.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: kuard, port: {number: 80}}}
"""
    )
    dag = build_ingress(*objects).dag
    route = only_route(dag, "kuard.example.com")
    assert route.path_match == PathMatch(PathMatchKind.PREFIX, "/")
    assert route.header_matches == ()
    assert not route.https_upgrade and not route.websocket
    assert route.retry_policy is None and route.timeout_policy == TimeoutPolicy()
    assert (route.kind, str(route.owner)) == ("Ingress", "default/kuard")
    [cluster] = route.clusters
    assert cluster.upstream.eds_name == "default/kuard/http"
    assert (cluster.upstream.port.port, cluster.upstream.port.target_port) == (80, 8080)
    assert cluster.protocol is Protocol.HTTP1
    assert list(dag.services) == ["default/kuard/http"]
    assert dag.listeners["ingress_https"].secure_virtual_hosts == {}


@pytest.mark.parametrize(
    ("value", "path_type", "expected"),
    [
        pytest.param("/", "Prefix", ("prefix", "/"), id="prefix-root-is-string-prefix"),
        pytest.param("/foo", "Prefix", ("segment_prefix", "/foo"), id="prefix-is-segment-prefix"),
        pytest.param("/foo/", "Prefix", ("segment_prefix", "/foo"), id="prefix-trailing-slash-trimmed"),
        pytest.param("/foo///", "Prefix", ("segment_prefix", "/foo"), id="prefix-trailing-slashes-trimmed"),
        pytest.param("/foo", "Exact", ("exact", "/foo"), id="exact"),
        pytest.param("/foo/", "Exact", ("exact", "/foo/"), id="exact-keeps-trailing-slash"),
        pytest.param("/foo", "ImplementationSpecific", ("prefix", "/foo"), id="impl-specific-string-prefix"),
        pytest.param("/foo/", "ImplementationSpecific", ("prefix", "/foo/"), id="impl-specific-keeps-slash"),
        pytest.param("/foo", None, ("prefix", "/foo"), id="no-path-type-is-impl-specific"),
        pytest.param(None, None, ("prefix", "/"), id="no-path-is-root"),
        pytest.param(None, "Prefix", ("prefix", "/"), id="no-path-prefix-is-root"),
        pytest.param("/foo.*", "ImplementationSpecific", ("regex", "/foo.*"), id="impl-specific-star-regex"),
        pytest.param("^/api", "ImplementationSpecific", ("regex", "^/api"), id="impl-specific-caret-regex"),
        pytest.param(
            "/v[12]/", "ImplementationSpecific", ("regex", "/v[12]/"), id="impl-specific-class-regex"
        ),
        pytest.param("/a+", "ImplementationSpecific", ("regex", "/a+"), id="impl-specific-plus-regex"),
        pytest.param("/100%", "ImplementationSpecific", ("regex", "/100%"), id="impl-specific-percent-regex"),
        pytest.param(
            "/a.b", "ImplementationSpecific", ("prefix", "/a.b"), id="impl-specific-dot-is-not-regex"
        ),
        pytest.param("/foo.*", "Prefix", ("segment_prefix", "/foo.*"), id="prefix-never-regex"),
        pytest.param("/a?b", "Exact", ("exact", "/a?b"), id="exact-may-hold-a-question-mark"),
        pytest.param(
            "/a#b", "ImplementationSpecific", ("prefix", "/a#b"), id="impl-specific-may-hold-a-hash"
        ),
    ],
)
def test_path_types(value: str | None, path_type: str | None, expected: tuple[str, str]) -> None:
    dag = build_ingress(
        ing("app").rule("a.example.com", path(value, "kuard", 80, path_type)).build(), KUARD
    ).dag
    assert matches(http_routes(dag, "a.example.com")) == [expected]


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        pytest.param(
            [
                path("/ok", "kuard"),
                path("/bad[", "kuard", path_type="ImplementationSpecific"),
                path("/after", "kuard"),
            ],
            [("segment_prefix", "/ok")],
            id="invalid-regex-drops-rest-of-rule",
        ),
        pytest.param(
            [path("^/(?=api)", "kuard", path_type="ImplementationSpecific"), path("/after", "kuard")],
            [],
            id="lookahead-is-not-re2",
        ),
        pytest.param(
            [path("/a?b", "kuard"), path("/after", "kuard")],
            [("segment_prefix", "/after")],
            id="prefix-with-question-mark-skipped-envoy-would-nack",
        ),
        pytest.param(
            [path("//", "kuard"), path("/after", "kuard")],
            [("segment_prefix", "/after")],
            id="prefix-of-only-slashes-skipped",
        ),
        pytest.param(
            [path("/x", "kuard", path_type="Regex"), path("/after", "kuard")],
            [("segment_prefix", "/after")],
            id="unknown-path-type-skipped",
        ),
    ],
)
def test_bad_paths(paths: list[Obj], expected: list[tuple[str, str]]) -> None:
    dag = build_ingress(ing("app").rule("a.example.com", *paths).build(), KUARD).dag
    assert matches(http_routes(dag, "a.example.com")) == expected


def test_invalid_regex_leaves_other_rules_serving() -> None:
    obj = (
        ing("app")
        .rule("a.example.com", path("/bad[", "kuard", path_type="ImplementationSpecific"))
        .rule("b.example.com", path("/", "kuard"))
        .build()
    )
    dag = build_ingress(obj, KUARD).dag
    assert http_vhost(dag, "a.example.com") is None
    assert matches(http_routes(dag, "b.example.com")) == [("prefix", "/")]


def test_rule_without_host_is_the_catch_all() -> None:
    dag = build_ingress(ing("app").rule(None, path("/", "kuard")).build(), KUARD).dag
    assert list(dag.listeners["ingress_http"].virtual_hosts) == ["*"]


def test_default_backend_is_a_catch_all_root_prefix() -> None:
    dag = build_ingress(ing("app").default_backend("kuard", 80).build(), KUARD).dag
    route = only_route(dag, "*")
    assert route.path_match == PathMatch(PathMatchKind.PREFIX, "/")
    assert upstreams([route]) == ["default/kuard/80"]


def test_rules_override_the_default_backend() -> None:
    other = k8s_service("other")
    obj = (
        ing("app")
        .default_backend("kuard", 80)
        .rule(None, path("/", "other", 80, "ImplementationSpecific"), path("/api", "kuard"))
        .build()
    )
    dag = build_ingress(obj, KUARD, other).dag
    routes = http_routes(dag, "*")
    assert matches(routes) == [("prefix", "/"), ("segment_prefix", "/api")]
    assert upstreams(routes) == ["default/other/80", "default/kuard/80"]


def test_default_backend_and_host_rules_coexist() -> None:
    obj = ing("app").default_backend("kuard").rule("a.example.com", path("/", "kuard", 8080)).build()
    dag = build_ingress(obj, KUARD).dag
    assert sorted(dag.listeners["ingress_http"].virtual_hosts) == ["*", "a.example.com"]
    assert upstreams(http_routes(dag, "a.example.com")) == ["default/kuard/8080"]


def test_wildcard_host_matches_one_dns_label() -> None:
    dag = build_ingress(ing("app").rule("*.example.com", path("/", "kuard")).build(), KUARD).dag
    route = only_route(dag, "*.example.com")
    assert route.header_matches == (
        HeaderMatch(
            name=":authority", kind="regex", value=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?\.example\.com(:[0-9]+)?"
        ),
    )


def test_several_ingresses_share_a_host() -> None:
    dag = build_ingress(
        ing("a").rule("a.example.com", path("/a", "kuard")).build(),
        ing("b").rule("a.example.com", path("/b", "kuard")).build(),
        KUARD,
    ).dag
    assert matches(http_routes(dag, "a.example.com")) == [("segment_prefix", "/a"), ("segment_prefix", "/b")]


def test_same_match_in_two_ingresses_last_by_name_wins_whatever_the_insert_order() -> None:
    other = k8s_service("other")
    first = ing("a").rule("a.example.com", path("/", "kuard")).build()
    second = ing("b").rule("a.example.com", path("/", "other")).build()
    for order in ([first, second], [second, first]):
        dag = build_ingress(*order, KUARD, other).dag
        assert upstreams(http_routes(dag, "a.example.com")) == ["default/other/80"]


def test_build_is_deterministic() -> None:
    objects = [
        ing("a").rule("a.example.com", path("/a", "kuard"), path("/b", "kuard", 8080)).build(),
        ing("b").default_backend("kuard").build(),
        KUARD,
    ]
    forward, backward = build_ingress(*objects), build_ingress(*reversed(objects))
    assert forward.dag == backward.dag
    assert forward.statuses == backward.statuses


# --- backends -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "backend_port", "expected"),
    [
        pytest.param(KUARD, 80, ["default/kuard/80"], id="port-number"),
        pytest.param(KUARD, "admin", ["default/kuard/8080"], id="port-name"),
        pytest.param(KUARD, 81, [], id="missing-port-number"),
        pytest.param(KUARD, "metrics", [], id="missing-port-name"),
        pytest.param(k8s_service("other"), 80, [], id="missing-service"),
        pytest.param(k8s_service("kuard", "other-namespace"), 80, [], id="service-in-other-namespace"),
        pytest.param(k8s_service("kuard", ports=[port(80, "dns", "UDP")]), 80, [], id="udp-port"),
        pytest.param(k8s_service("kuard", external_name="example.org"), 80, [], id="external-name-disabled"),
    ],
)
def test_backends(service: Obj, backend_port: int | str, expected: list[str]) -> None:
    obj = ing("app").rule("a.example.com", path("/", "kuard", backend_port)).build()
    dag = build_ingress(obj, service).dag
    assert upstreams(http_routes(dag, "a.example.com")) == expected


def test_missing_service_skips_only_its_path() -> None:
    obj = ing("app").rule("a.example.com", path("/gone", "missing"), path("/", "kuard")).build()
    dag = build_ingress(obj, KUARD).dag
    assert matches(http_routes(dag, "a.example.com")) == [("prefix", "/")]


def test_external_name_service_when_enabled() -> None:
    svc = k8s_service("kuard", external_name="example.org")
    obj = ing("app").rule("a.example.com", path("/", "kuard")).build()
    dag = build_ingress(obj, svc, config=BuilderConfig(enable_external_name_service=True)).dag
    [cluster] = only_route(dag, "a.example.com").clusters
    assert cluster.upstream.external_name == "example.org"


def test_backend_with_a_resource_instead_of_a_service_is_skipped() -> None:
    obj = ing("app").rule("a.example.com", path("/", "kuard")).build()
    obj["spec"]["rules"][0]["http"]["paths"][0]["backend"] = {"resource": {"kind": "Bucket", "name": "b"}}
    assert build_ingress(obj, KUARD).dag.listeners["ingress_http"].virtual_hosts == {}


@pytest.mark.parametrize(
    ("annotations", "service_port", "expected"),
    [
        pytest.param({}, port(80, "http"), Protocol.HTTP1, id="none"),
        pytest.param(
            {"projectcontour.io/upstream-protocol.h2": "80"}, port(80, "http"), Protocol.H2, id="h2"
        ),
        pytest.param(
            {"projectcontour.io/upstream-protocol.h2c": "80"}, port(80, "http"), Protocol.H2C, id="h2c"
        ),
        pytest.param(
            {"projectcontour.io/upstream-protocol.tls": "http"}, port(80, "http"), Protocol.TLS, id="tls"
        ),
        pytest.param(
            {}, port(80, "http", appProtocol="kubernetes.io/h2c"), Protocol.H2C, id="app-protocol-h2c"
        ),
    ],
)
def test_upstream_protocol_from_the_service(
    annotations: dict[str, str], service_port: Obj, expected: Protocol
) -> None:
    svc = k8s_service("kuard", ports=[service_port], annotations=annotations)
    dag = build_ingress(ing("app").rule("a.example.com", path("/", "kuard")).build(), svc).dag
    [cluster] = only_route(dag, "a.example.com").clusters
    assert (cluster.protocol, cluster.upstream.protocol) == (expected, expected)


def test_circuit_breakers_from_the_service() -> None:
    svc = k8s_service(
        "kuard",
        annotations={
            "projectcontour.io/max-connections": "9000",
            "projectcontour.io/max-pending-requests": "4096",
            "projectcontour.io/max-requests": "404",
            "projectcontour.io/max-retries": "7",
            "projectcontour.io/per-host-max-connections": "45",
        },
    )
    dag = build_ingress(ing("app").rule("a.example.com", path("/", "kuard")).build(), svc).dag
    upstream = only_route(dag, "a.example.com").clusters[0].upstream
    assert (
        upstream.max_connections,
        upstream.max_pending_requests,
        upstream.max_requests,
        upstream.max_retries,
        upstream.per_host_max_connections,
    ) == (9000, 4096, 404, 7, 45)


# --- route annotations --------------------------------------------------------------------------------


def _route_with(annotations: dict[str, str], value: str = "/", path_type: str = "Prefix") -> Any:
    builder = ing("app")
    for key, val in annotations.items():
        builder.annotate(key, val)
    dag = build_ingress(builder.rule("a.example.com", path(value, "kuard", 80, path_type)).build(), KUARD).dag
    return only_route(dag, "a.example.com")


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        pytest.param({}, None, id="default"),
        pytest.param({"projectcontour.io/response-timeout": "30s"}, 30.0, id="response-timeout"),
        pytest.param({"projectcontour.io/response-timeout": "infinity"}, 0.0, id="infinity-disables"),
        pytest.param({"projectcontour.io/response-timeout": "0s"}, None, id="zero-is-default"),
        pytest.param({"projectcontour.io/response-timeout": "soon"}, None, id="malformed-is-default"),
        pytest.param({"projectcontour.io/request-timeout": "5s"}, 5.0, id="legacy-request-timeout"),
    ],
)
def test_response_timeout(annotations: dict[str, str], expected: float | None) -> None:
    assert _route_with(annotations).timeout_policy == TimeoutPolicy(response_seconds=expected)


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        pytest.param({}, None, id="none-without-retry-on"),
        pytest.param({"projectcontour.io/num-retries": "3"}, None, id="num-retries-alone-does-nothing"),
        pytest.param(
            {"projectcontour.io/retry-on": "5xx"}, RetryPolicy(("5xx",), 1, None), id="retry-on-defaults"
        ),
        pytest.param(
            {
                "projectcontour.io/retry-on": "gateway-error,reset",
                "projectcontour.io/num-retries": "3",
                "projectcontour.io/per-try-timeout": "150ms",
            },
            RetryPolicy(("gateway-error", "reset"), 3, 0.15),
            id="all-three",
        ),
        pytest.param(
            {"projectcontour.io/retry-on": "5xx", "projectcontour.io/num-retries": "-1"},
            RetryPolicy(("5xx",), 0, None),
            id="minus-one-retries",
        ),
        pytest.param(
            {"projectcontour.io/retry-on": "5xx", "projectcontour.io/per-try-timeout": "later"},
            RetryPolicy(("5xx",), 1, None),
            id="malformed-per-try-timeout-ignored",
        ),
        pytest.param(
            {"projectcontour.io/retry-on": "5xx", "projectcontour.io/per-try-timeout": "infinity"},
            RetryPolicy(("5xx",), 1, 0.0),
            id="per-try-timeout-infinity",
        ),
    ],
)
def test_retry_policy(annotations: dict[str, str], expected: RetryPolicy | None) -> None:
    assert _route_with(annotations).retry_policy == expected


@pytest.mark.parametrize(
    ("annotation", "value", "path_type", "expected"),
    [
        pytest.param("/ws", "/ws", "Prefix", True, id="listed-path"),
        pytest.param("/chat, /ws", "/ws", "Prefix", True, id="one-of-several"),
        pytest.param("/ws", "/", "Prefix", False, id="other-path"),
        pytest.param("/ws", "/ws/", "Prefix", False, id="matched-on-the-path-as-written"),
        pytest.param("/ws/", "/ws/", "Prefix", True, id="trailing-slash-as-written"),
        pytest.param("/", None, "Prefix", True, id="missing-path-is-root"),
        pytest.param("/ws.*", "/ws.*", "ImplementationSpecific", True, id="regex-path"),
    ],
)
def test_websocket_routes(annotation: str, value: str | None, path_type: str, expected: bool) -> None:
    route = _route_with({"projectcontour.io/websocket-routes": annotation}, value or "", path_type)
    assert route.websocket is expected


def test_legacy_contour_heptio_annotations_are_ignored() -> None:
    route = _route_with(
        {
            "contour.heptio.com/websocket-routes": "/",
            "contour.heptio.com/retry-on": "5xx",
            "contour.heptio.com/request-timeout": "5s",
        }
    )
    assert (route.websocket, route.retry_policy, route.timeout_policy) == (False, None, TimeoutPolicy())


def test_force_ssl_redirect_without_tls_still_redirects() -> None:
    route = _route_with({"ingress.kubernetes.io/force-ssl-redirect": "true"})
    assert route.https_upgrade


def test_allow_http_false_without_tls_serves_nothing() -> None:
    obj = (
        ing("app")
        .annotate("kubernetes.io/ingress.allow-http", "false")
        .rule("a.example.com", path("/", "kuard"))
    )
    assert build_ingress(obj.build(), KUARD).dag.listeners["ingress_http"].virtual_hosts == {}


def test_malformed_objects_do_not_crash_the_build() -> None:
    broken: list[Obj] = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "a", "namespace": "d"},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "b", "namespace": "default", "annotations": {"x": 1}},
            "spec": {"rules": [None, {"host": 5, "http": {"paths": [{"path": 7, "backend": {}}, None]}}]},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "c", "namespace": "default"},
            "spec": {"tls": "nope", "rules": "nope", "defaultBackend": {"service": {"name": "kuard"}}},
        },
    ]
    # The Service goes in first: the cache scans Ingress backends when a Service arrives.
    result = build_ingress(KUARD, *broken)
    assert result.dag.listeners["ingress_http"].virtual_hosts == {}
    assert len(result.statuses) == 3
