"""HTTPProxy to DAG: what each feature puts into listeners, virtual hosts, routes and clusters."""

from __future__ import annotations

from typing import Any

import pytest

from contour.dag.builder import BuilderConfig
from contour.dag.model import (
    DAG,
    DirectResponse,
    HeaderMatch,
    HeaderValue,
    ObjectRef,
    PathMatch,
    PathMatchKind,
    Protocol,
    QueryParamMatch,
    Redirect,
    Route,
    SecureVirtualHost,
)

from .fixtures import (
    build,
    ca_secret,
    crl_secret,
    delegation,
    k8s_service,
    port,
    proxy,
    service,
    tls_secret,
)

Obj = dict[str, Any]
HOST = "example.com"
KUARD = k8s_service("kuard")


def root() -> Any:
    return proxy("root").fqdn(HOST)


def http_routes(dag: DAG, host: str = HOST) -> dict[str, Route]:
    vhost = dag.listeners["ingress_http"].virtual_hosts.get(host)
    return dict(vhost.routes) if vhost else {}


def https_vhost(dag: DAG, host: str = HOST) -> SecureVirtualHost | None:
    return dag.listeners["ingress_https"].secure_virtual_hosts.get(host)


def only_route(dag: DAG, host: str = HOST) -> Route:
    routes = list(http_routes(dag, host).values())
    assert len(routes) == 1, routes
    return routes[0]


def route_at(dag: DAG, path: str, host: str = HOST) -> Route:
    matches = [r for r in http_routes(dag, host).values() if r.path_match.value == path]
    assert len(matches) == 1, http_routes(dag, host)
    return matches[0]


# --- hosts and routes ------------------------------------------------------------------------------


def test_root_route_to_service() -> None:
    r = only_route(build(root().route("/", service("kuard")).build(), KUARD).dag)
    assert r.path_match == PathMatch(PathMatchKind.PREFIX, "/")
    assert [c.upstream.eds_name for c in r.clusters] == ["default/kuard/http"]
    assert (r.kind, r.owner, r.https_upgrade) == ("HTTPProxy", ObjectRef("default", "root"), False)


def test_plain_root_has_no_secure_host() -> None:
    assert https_vhost(build(root().route("/", service("kuard")).build(), KUARD).dag) is None


def test_route_without_conditions_matches_slash() -> None:
    r = only_route(build(root().route(None, service("kuard")).build(), KUARD).dag)
    assert r.path_match == PathMatch(PathMatchKind.PREFIX, "/")


def test_wildcard_fqdn_adds_single_label_authority_match() -> None:
    dag = build(proxy("w").fqdn("*.example.com").route("/", service("kuard")).build(), KUARD).dag
    r = only_route(dag, "*.example.com")
    assert r.header_matches == (
        HeaderMatch(":authority", "regex", "^[a-z0-9]([-a-z0-9]*[a-z0-9])?\\.example\\.com(:[0-9]+)?"),
    )


@pytest.mark.parametrize(
    ("include_prefix", "route_conditions", "expected"),
    [
        pytest.param(
            "/api", [{"prefix": "/v1"}], PathMatch(PathMatchKind.PREFIX, "/api/v1"), id="prefix+prefix"
        ),
        pytest.param(
            "/api/", [{"prefix": "/v1"}], PathMatch(PathMatchKind.PREFIX, "/api/v1"), id="double-slash"
        ),
        pytest.param("/api", [], PathMatch(PathMatchKind.PREFIX, "/api"), id="prefix+nothing"),
        pytest.param(
            "/api", [{"exact": "/v1"}], PathMatch(PathMatchKind.EXACT, "/api/v1"), id="prefix+exact"
        ),
        pytest.param(
            "/api", [{"regex": "/v[0-9]+"}], PathMatch(PathMatchKind.REGEX, "/api/v[0-9]+"), id="regex"
        ),
    ],
)
def test_include_path_merging(include_prefix: str, route_conditions: list[Obj], expected: PathMatch) -> None:
    dag = build(
        root().include("child", "team", prefix=include_prefix).build(),
        proxy("child", "team").route(None, service("kuard"), conditions=route_conditions).build(),
        k8s_service("kuard", "team"),
    ).dag
    assert only_route(dag).path_match == expected


def test_include_header_and_query_conditions_are_prepended() -> None:
    dag = build(
        root()
        .include(
            "child",
            conditions=[
                {"header": {"name": "x-team", "exact": "a"}},
                {"queryParameter": {"name": "v", "present": True}},
            ],
        )
        .build(),
        proxy("child")
        .route("/", service("kuard"), conditions=[{"header": {"name": "x-b", "present": True}}])
        .build(),
        KUARD,
    ).dag
    r = only_route(dag)
    assert r.header_matches == (HeaderMatch("x-team", "exact", "a"), HeaderMatch("x-b", "present"))
    assert r.query_param_matches == (QueryParamMatch("v", "present"),)


def test_included_services_resolve_in_the_child_namespace() -> None:
    dag = build(
        root().include("child", "team", prefix="/t").build(),
        proxy("child", "team").route("/", service("kuard")).build(),
        k8s_service("kuard", "team"),
    ).dag
    assert [c.upstream.ref for c in only_route(dag).clusters] == [ObjectRef("team", "kuard")]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param({"present": True}, HeaderMatch("x", "present"), id="present"),
        pytest.param({"notpresent": True}, HeaderMatch("x", "present", invert=True), id="notpresent"),
        pytest.param(
            {"contains": "a", "ignoreCase": True},
            HeaderMatch("x", "contains", "a", ignore_case=True),
            id="contains",
        ),
        pytest.param(
            {"notcontains": "a", "treatMissingAsEmpty": True},
            HeaderMatch("x", "contains", "a", invert=True, treat_missing_as_empty=True),
            id="notcontains",
        ),
        pytest.param({"exact": "a"}, HeaderMatch("x", "exact", "a"), id="exact"),
        pytest.param({"notexact": "a"}, HeaderMatch("x", "exact", "a", invert=True), id="notexact"),
        pytest.param({"regex": "a.*"}, HeaderMatch("x", "regex", "a.*"), id="regex"),
    ],
)
def test_header_conditions(header: Obj, expected: HeaderMatch) -> None:
    obj = root().route("/", service("kuard"), conditions=[{"header": {"name": "x", **header}}]).build()
    assert only_route(build(obj, KUARD).dag).header_matches == (expected,)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(
            {"exact": "a", "ignoreCase": True}, QueryParamMatch("q", "exact", "a", True), id="exact"
        ),
        pytest.param({"prefix": "a"}, QueryParamMatch("q", "prefix", "a"), id="prefix"),
        pytest.param({"suffix": "a"}, QueryParamMatch("q", "suffix", "a"), id="suffix"),
        pytest.param({"regex": "a+"}, QueryParamMatch("q", "regex", "a+"), id="regex"),
        pytest.param({"contains": "a"}, QueryParamMatch("q", "contains", "a"), id="contains"),
        pytest.param({"present": True}, QueryParamMatch("q", "present"), id="present"),
    ],
)
def test_query_parameter_conditions(query: Obj, expected: QueryParamMatch) -> None:
    obj = root().route("/", service("kuard"), conditions=[{"queryParameter": {"name": "q", **query}}]).build()
    assert only_route(build(obj, KUARD).dag).query_param_matches == (expected,)


# --- services ---------------------------------------------------------------------------------------


def test_weighted_services() -> None:
    obj = root().route("/", service("a", weight=90), service("b", weight=10)).build()
    r = only_route(build(obj, k8s_service("a"), k8s_service("b")).dag)
    assert [(c.upstream.ref.name, c.weight) for c in r.clusters] == [("a", 90), ("b", 10)]


def test_missing_service_still_programs_a_503_route() -> None:
    r = only_route(build(root().route("/", service("missing")).build()).dag)
    assert (r.clusters, r.direct_response) == ([], DirectResponse(503))


def test_one_missing_service_of_two_keeps_the_other() -> None:
    r = only_route(build(root().route("/", service("missing"), service("kuard")).build(), KUARD).dag)
    assert [c.upstream.ref.name for c in r.clusters] == ["kuard"]
    assert r.direct_response is None


def test_include_not_found_with_conditions_answers_502() -> None:
    r = only_route(build(root().include("gone", prefix="/gone").build()).dag)
    assert (r.path_match.value, r.direct_response) == ("/gone", DirectResponse(502))


def test_include_not_found_on_a_wildcard_root_answers_502_one_label_deep() -> None:
    """Every route of a `*.` root, the 502 of an include that cannot be followed among them, carries
    Contour's one-label `:authority` match (the translator adds none)."""
    wildcard = "*.example.com"
    dag = build(proxy("root").fqdn(wildcard).include("gone", prefix="/gone").build()).dag
    r = only_route(dag, wildcard)
    assert r.direct_response == DirectResponse(502)
    assert [h.name for h in r.header_matches] == [":authority"]


@pytest.mark.parametrize(
    ("svc", "annotations", "expected"),
    [
        pytest.param(service("kuard", protocol="h2"), {}, Protocol.H2, id="route-h2"),
        pytest.param(service("kuard", protocol="h2c"), {}, Protocol.H2C, id="route-h2c"),
        pytest.param(service("kuard", protocol="tls"), {}, Protocol.TLS, id="route-tls"),
        pytest.param(
            service("kuard"),
            {"projectcontour.io/upstream-protocol.h2c": "http"},
            Protocol.H2C,
            id="annotation-by-name",
        ),
        pytest.param(
            service("kuard"),
            {"projectcontour.io/upstream-protocol.tls": "80"},
            Protocol.TLS,
            id="annotation-by-port",
        ),
        pytest.param(service("kuard"), {}, Protocol.HTTP1, id="default"),
    ],
)
def test_upstream_protocol(svc: Obj, annotations: dict[str, str], expected: Protocol) -> None:
    r = only_route(build(root().route("/", svc).build(), k8s_service("kuard", annotations=annotations)).dag)
    assert r.clusters[0].protocol == expected


@pytest.mark.parametrize(
    ("app_protocol", "annotations", "expected"),
    [
        pytest.param(
            "kubernetes.io/h2c",
            {"projectcontour.io/upstream-protocol.tls": "80"},
            Protocol.H2C,
            id="app-protocol-wins-over-annotation",
        ),
        pytest.param(
            "grpc",
            {"projectcontour.io/upstream-protocol.tls": "http"},
            Protocol.HTTP1,
            id="unknown-app-protocol-still-hides-annotation",
        ),
        pytest.param("https", {}, Protocol.TLS, id="app-protocol-https"),
        pytest.param("kubernetes.io/ws", {}, Protocol.HTTP1, id="app-protocol-ws"),
    ],
)
def test_upstream_protocol_from_app_protocol(
    app_protocol: str, annotations: dict[str, str], expected: Protocol
) -> None:
    """Contour reads the annotations only when the port's appProtocol is unset."""
    svc = k8s_service("kuard", ports=[port(80, "http", appProtocol=app_protocol)], annotations=annotations)
    r = only_route(build(root().route("/", service("kuard")).build(), svc).dag)
    assert r.clusters[0].protocol == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(" 5", id="leading-space"),
        pytest.param("5 ", id="trailing-space"),
        pytest.param("+5", id="plus-sign"),
        pytest.param("1_000", id="underscore"),
        pytest.param("\u0665", id="non-ascii-digit"),
        pytest.param("4294967296", id="over-uint32"),
        pytest.param("9" * 5000, id="five-thousand-digits"),
    ],
)
def test_circuit_breaker_annotation_go_rejects_reads_as_zero(value: str) -> None:
    """strconv.ParseUint's grammar, not Python's int(): anything else means "not set"."""
    annotations = {
        "projectcontour.io/max-connections": value,
        "projectcontour.io/max-pending-requests": value,
        "projectcontour.io/max-requests": value,
        "projectcontour.io/max-retries": value,
        "projectcontour.io/per-host-max-connections": value,
    }
    r = only_route(
        build(root().route("/", service("kuard")).build(), k8s_service("kuard", annotations=annotations)).dag
    )
    upstream = r.clusters[0].upstream
    limits = (
        upstream.max_connections,
        upstream.max_pending_requests,
        upstream.max_requests,
        upstream.max_retries,
        upstream.per_host_max_connections,
    )
    assert limits == (0, 0, 0, 0, 0)


def test_circuit_breaker_annotations() -> None:
    annotations = {
        "projectcontour.io/max-connections": "9",
        "projectcontour.io/per-host-max-connections": "3",
    }
    r = only_route(
        build(root().route("/", service("kuard")).build(), k8s_service("kuard", annotations=annotations)).dag
    )
    assert (r.clusters[0].upstream.max_connections, r.clusters[0].upstream.per_host_max_connections) == (9, 3)


def test_external_name_service_when_enabled() -> None:
    objs = (root().route("/", service("ext")).build(), k8s_service("ext", external_name="example.org"))
    r = only_route(build(*objs, config=BuilderConfig(enable_external_name_service=True)).dag)
    assert (r.clusters[0].upstream.external_name, r.clusters[0].sni) == ("example.org", "example.org")


def test_unnamed_port_eds_name_is_the_service() -> None:
    # Contour's xds.ClusterLoadAssignmentName leaves an empty port name out: "namespace/name".
    r = only_route(
        build(root().route("/", service("kuard", 8080)).build(), k8s_service("kuard", ports=[port(8080)])).dag
    )
    assert r.clusters[0].upstream.eds_name == "default/kuard"


def test_mirror_defaults_to_all_traffic() -> None:
    r = only_route(
        build(
            root().route("/", service("kuard"), service("shadow", mirror=True)).build(),
            KUARD,
            k8s_service("shadow"),
        ).dag
    )
    assert [(m.cluster.upstream.ref.name, m.weight) for m in r.mirror_policies] == [("shadow", 100)]
    assert [c.upstream.ref.name for c in r.clusters] == ["kuard"]


def test_mirror_weight_is_a_percentage() -> None:
    obj = root().route("/", service("kuard"), service("shadow", mirror=True, weight=10)).build()
    r = only_route(build(obj, KUARD, k8s_service("shadow")).dag)
    assert r.mirror_policies[0].weight == 10


def test_health_port() -> None:
    obj = root().route("/", service("kuard", healthPort=8081), healthCheckPolicy={"path": "/healthz"}).build()
    svc = k8s_service("kuard", ports=[port(80, "http"), port(8081, "health")])
    cluster = only_route(build(obj, svc).dag).clusters[0]
    assert cluster.upstream.health_port is not None and cluster.upstream.health_port.port == 8081


# --- TLS --------------------------------------------------------------------------------------------


def tls_root(**tls: Any) -> Any:
    return root().tls("cert", **tls).route("/", service("kuard"))


def test_tls_host_gets_secure_vhost_with_secret_and_defaults() -> None:
    dag = build(tls_root().build(), KUARD, tls_secret("cert")).dag
    svh = https_vhost(dag)
    assert svh is not None and svh.secret is not None
    assert (svh.secret.ref, svh.min_tls_version, svh.max_tls_version) == (
        ObjectRef("default", "cert"),
        "1.2",
        "1.3",
    )
    assert len(svh.virtual_host.routes) == 1
    assert dag.secrets == {ObjectRef("default", "cert"): svh.secret}


def test_tls_host_plain_route_upgrades_to_https() -> None:
    assert only_route(build(tls_root().build(), KUARD, tls_secret("cert")).dag).https_upgrade is True


def test_permit_insecure_serves_plain_http() -> None:
    obj = root().tls("cert").route("/", service("kuard"), permitInsecure=True).build()
    assert only_route(build(obj, KUARD, tls_secret("cert")).dag).https_upgrade is False


def test_disable_permit_insecure_overrides_permit_insecure() -> None:
    obj = root().tls("cert").route("/", service("kuard"), permitInsecure=True).build()
    dag = build(obj, KUARD, tls_secret("cert"), config=BuilderConfig(disable_permit_insecure=True)).dag
    assert only_route(dag).https_upgrade is True


@pytest.mark.parametrize(
    ("minimum", "maximum", "expected"),
    [
        pytest.param("1.3", None, ("1.3", "1.3"), id="min-1.3"),
        pytest.param(None, "1.2", ("1.2", "1.2"), id="max-1.2"),
        pytest.param("1.1", "9", ("1.2", "1.3"), id="unknown-values-fall-back"),
    ],
)
def test_tls_protocol_versions(minimum: str | None, maximum: str | None, expected: tuple[str, str]) -> None:
    tls: Obj = {}
    if minimum:
        tls["minimumProtocolVersion"] = minimum
    if maximum:
        tls["maximumProtocolVersion"] = maximum
    svh = https_vhost(build(tls_root(**tls).build(), KUARD, tls_secret("cert")).dag)
    assert svh is not None and (svh.min_tls_version, svh.max_tls_version) == expected


@pytest.mark.parametrize("targets", [["default"], ["*"]], ids=["named-namespace", "all-namespaces"])
def test_delegated_certificate(targets: list[str]) -> None:
    objs = (
        root().tls("certs/cert").route("/", service("kuard")).build(),
        KUARD,
        tls_secret("cert", "certs"),
        delegation("d", "certs", {"cert": targets}),
    )
    svh = https_vhost(build(*objs).dag)
    assert svh is not None and svh.secret is not None and svh.secret.ref == ObjectRef("certs", "cert")


def test_invalid_certificate_removes_the_host_entirely() -> None:
    dag = build(root().tls("missing").route("/", service("kuard")).build(), KUARD).dag
    assert https_vhost(dag) is None and http_routes(dag) == {}


def test_client_validation() -> None:
    client_validation = {
        "caSecret": "ca",
        "crlSecret": "crl",
        "crlOnlyVerifyLeafCert": True,
        "optionalClientCertificate": True,
        "forwardClientCertificate": {"subject": True, "dns": True},
    }
    objs = (
        tls_root(clientValidation=client_validation).build(),
        KUARD,
        tls_secret("cert"),
        ca_secret("ca"),
        crl_secret("crl"),
    )
    dag = build(*objs).dag
    svh = https_vhost(dag)
    assert svh is not None and svh.downstream_validation is not None
    dv = svh.downstream_validation
    assert dv.ca is not None and dv.ca.ca.startswith(b"-----BEGIN CERTIFICATE")
    assert dv.crl is not None and dv.crl.crl.startswith(b"-----BEGIN X509 CRL")
    assert (dv.only_verify_leaf_cert_crl, dv.optional_client_certificate) == (True, True)
    assert dv.forward_client_certificate == ("subject", "dns")
    assert set(dag.secrets) == {ObjectRef("default", n) for n in ("cert", "ca", "crl")}


def test_skip_client_cert_validation_needs_no_ca() -> None:
    result = build(
        tls_root(clientValidation={"skipClientCertValidation": True}).build(), KUARD, tls_secret("cert")
    )
    svh = https_vhost(result.dag)
    assert svh is not None and svh.downstream_validation is not None
    assert svh.downstream_validation.skip_client_cert_validation is True
    assert result.statuses[0].status["currentStatus"] == "valid"


def test_fallback_certificate() -> None:
    objs = (
        tls_root(enableFallbackCertificate=True).build(),
        KUARD,
        tls_secret("cert"),
        tls_secret("fallback", "projectcontour"),
        delegation("d", "projectcontour", {"fallback": ["*"]}),
    )
    dag = build(*objs, config=BuilderConfig(fallback_certificate=ObjectRef("projectcontour", "fallback"))).dag
    svh = https_vhost(dag)
    assert svh is not None and svh.fallback_certificate is not None
    assert svh.fallback_certificate.ref == ObjectRef("projectcontour", "fallback")


def test_tcpproxy_passthrough() -> None:
    obj = root().tls(passthrough=True).with_spec(tcpproxy={"services": [service("kuard")]}).build()
    svh = https_vhost(build(obj, KUARD).dag)
    assert svh is not None and svh.secret is None
    assert [c.upstream.ref.name for c in svh.tcp_proxy or []] == ["kuard"]


def test_tcpproxy_include() -> None:
    objs = (
        root()
        .tls(passthrough=True)
        .with_spec(tcpproxy={"include": {"name": "tcp", "namespace": "team"}})
        .build(),
        proxy("tcp", "team").with_spec(tcpproxy={"services": [service("db", 5432)]}).build(),
        k8s_service("db", "team", ports=[port(5432, "pg")]),
    )
    svh = https_vhost(build(*objs).dag)
    assert svh is not None and [c.upstream.eds_name for c in svh.tcp_proxy or []] == ["team/db/pg"]


# --- policies ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "response", "idle", "idle_connection"),
    [
        pytest.param({"response": "1m", "idle": "2s"}, 60.0, 2.0, None, id="durations"),
        pytest.param({"response": "infinity", "idle": "infinite"}, 0.0, 0.0, None, id="infinity"),
        pytest.param({"response": "0s"}, None, None, None, id="zero-is-envoy-default"),
        pytest.param({"idleConnection": "1.5s"}, None, None, 1.5, id="idle-connection"),
    ],
)
def test_timeout_policy(
    policy: Obj, response: float | None, idle: float | None, idle_connection: float | None
) -> None:
    r = only_route(build(root().route("/", service("kuard"), timeoutPolicy=policy).build(), KUARD).dag)
    assert (r.timeout_policy.response_seconds, r.timeout_policy.idle_stream_seconds) == (response, idle)
    assert r.clusters[0].idle_connection_timeout_seconds == idle_connection


@pytest.mark.parametrize(
    ("policy", "num_retries", "per_try", "retry_on"),
    [
        pytest.param({}, 1, None, ("5xx",), id="defaults"),
        pytest.param({"count": -1}, 0, None, ("5xx",), id="minus-one-disables"),
        pytest.param({"count": 0}, 1, None, ("5xx",), id="zero-is-one"),
        pytest.param({"count": 3, "perTryTimeout": "250ms"}, 3, 0.25, ("5xx",), id="count-and-per-try"),
        pytest.param({"perTryTimeout": "infinity"}, 1, None, ("5xx",), id="per-try-infinity-ignored"),
        pytest.param({"perTryTimeout": "0s"}, 1, None, ("5xx",), id="per-try-zero-is-envoy-default"),
        pytest.param(
            {"retryOn": ["reset", "gateway-error"]}, 1, None, ("reset", "gateway-error"), id="retry-on"
        ),
    ],
)
def test_retry_policy(
    policy: Obj, num_retries: int, per_try: float | None, retry_on: tuple[str, ...]
) -> None:
    r = only_route(build(root().route("/", service("kuard"), retryPolicy=policy).build(), KUARD).dag)
    assert r.retry_policy is not None
    assert (r.retry_policy.num_retries, r.retry_policy.per_try_timeout_seconds, r.retry_policy.retry_on) == (
        num_retries,
        per_try,
        retry_on,
    )


def test_health_check_policy_defaults() -> None:
    obj = (
        root()
        .route(
            "/",
            service("kuard"),
            healthCheckPolicy={"path": "/healthz", "expectedStatuses": [{"start": 200, "end": 300}]},
        )
        .build()
    )
    hc = only_route(build(obj, KUARD).dag).clusters[0].health_check_policy
    assert hc is not None
    assert (hc.path, hc.host, hc.interval_seconds, hc.timeout_seconds) == (
        "/healthz",
        "contour-envoy-healthcheck",
        10,
        2,
    )
    assert (hc.unhealthy_threshold, hc.healthy_threshold, hc.expected_statuses) == (3, 2, ((200, 300),))


@pytest.mark.parametrize(
    ("policy", "strategy"),
    [
        pytest.param({"strategy": "Random"}, "Random", id="random"),
        pytest.param({"strategy": "WeightedLeastRequest"}, "WeightedLeastRequest", id="wlr"),
        pytest.param({"strategy": "Cookie"}, "Cookie", id="cookie"),
        pytest.param({"strategy": "Bogus"}, "RoundRobin", id="unknown-falls-back"),
    ],
)
def test_load_balancer_strategy(policy: Obj, strategy: str) -> None:
    r = only_route(build(root().route("/", service("kuard"), loadBalancerPolicy=policy).build(), KUARD).dag)
    assert r.clusters[0].load_balancer_policy.strategy == strategy


def test_request_hash_policies() -> None:
    policy = {
        "strategy": "RequestHash",
        "requestHashPolicies": [
            {"headerHashOptions": {"headerName": "x-user"}, "terminal": True},
            {"queryParameterHashOptions": {"parameterName": "Session"}},
            {"hashSourceIP": True},
        ],
    }
    lb = (
        only_route(build(root().route("/", service("kuard"), loadBalancerPolicy=policy).build(), KUARD).dag)
        .clusters[0]
        .load_balancer_policy
    )
    assert lb.strategy == "RequestHash"
    assert [
        (h.header_name, h.query_parameter, h.hash_source_ip, h.terminal) for h in lb.request_hash_policies
    ] == [
        ("X-User", "", False, True),
        ("", "session", False, False),
        ("", "", True, False),
    ]


def test_prefix_rewrite_is_expanded_for_both_slash_forms() -> None:
    obj = (
        root()
        .route("/api", service("kuard"), pathRewritePolicy={"replacePrefix": [{"replacement": "/v2"}]})
        .build()
    )
    dag = build(obj, KUARD).dag
    assert {(r.path_match.value, r.prefix_rewrite) for r in http_routes(dag).values()} == {
        ("/api", "/v2"),
        ("/api/", "/v2/"),
    }


def test_prefix_rewrite_picks_the_matching_include_prefix() -> None:
    replace = {
        "replacePrefix": [{"prefix": "/a", "replacement": "/x"}, {"prefix": "/b", "replacement": "/y"}]
    }
    objs = (
        root().include("child", prefix="/a").include("child2", prefix="/b").build(),
        proxy("child").route(None, service("kuard"), pathRewritePolicy=replace).build(),
        proxy("child2").route(None, service("kuard"), pathRewritePolicy=replace).build(),
        KUARD,
    )
    dag = build(*objs).dag
    assert (route_at(dag, "/a").prefix_rewrite, route_at(dag, "/b/").prefix_rewrite) == ("/x", "/y/")


def test_header_policies_with_contour_variables_and_host_rewrite() -> None:
    route_headers = {
        "set": [{"name": "x-ns", "value": "%CONTOUR_NAMESPACE%"}, {"name": "Host", "value": "up.example.com"}]
    }
    svc_headers = {
        "set": [{"name": "x-svc", "value": "%CONTOUR_SERVICE_NAME%:%CONTOUR_SERVICE_PORT%"}],
        "remove": ["x-drop"],
    }
    obj = (
        root()
        .route("/", service("kuard", requestHeadersPolicy=svc_headers), requestHeadersPolicy=route_headers)
        .build()
    )
    r = only_route(build(obj, KUARD).dag)
    assert r.request_headers_policy is not None
    assert r.request_headers_policy.set == (HeaderValue("X-Ns", "default"),)
    assert r.request_headers_policy.host_rewrite == "up.example.com"
    cluster = r.clusters[0]
    assert cluster.request_headers_policy is not None
    assert cluster.request_headers_policy.set == (HeaderValue("X-Svc", "kuard:80"),)
    assert cluster.request_headers_policy.remove == ("X-Drop",)
    assert cluster.sni == "up.example.com"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("100%", "100%%", id="literal-percent-escaped"),
        pytest.param("%DOWNSTREAM_REMOTE_ADDRESS%", "%DOWNSTREAM_REMOTE_ADDRESS%", id="envoy-variable"),
        pytest.param("%REQ(x-a)%", "%REQ(x-a)%", id="req-variable"),
        pytest.param("%UNKNOWN%", "%%UNKNOWN%%", id="unknown-variable-escaped"),
    ],
)
def test_header_value_escaping(value: str, expected: str) -> None:
    obj = (
        root()
        .route("/", service("kuard"), responseHeadersPolicy={"set": [{"name": "x-a", "value": value}]})
        .build()
    )
    policy = only_route(build(obj, KUARD).dag).response_headers_policy
    assert policy is not None and policy.set == (HeaderValue("X-A", expected),)


def test_request_redirect_policy() -> None:
    policy = {
        "scheme": "https",
        "hostname": "other.example.com",
        "port": 8443,
        "statusCode": 301,
        "prefix": "/new",
    }
    r = only_route(build(root().route("/", requestRedirectPolicy=policy).build()).dag)
    assert r.redirect == Redirect(
        scheme="https", hostname="other.example.com", port=8443, status_code=301, prefix="/new"
    )
    assert (r.clusters, r.direct_response) == ([], None)


def test_direct_response_policy() -> None:
    r = only_route(
        build(root().route("/", directResponsePolicy={"statusCode": 418, "body": "teapot"}).build()).dag
    )
    assert r.direct_response == DirectResponse(418, "teapot")


def test_cors_policy_on_both_hosts() -> None:
    cors = {
        "allowOrigin": ["*", "https://a.example.com", "https://.*\\.example\\.org"],
        "allowMethods": ["GET"],
        "maxAge": "10m",
    }
    dag = build(
        root().tls("cert").vhost(corsPolicy=cors).route("/", service("kuard")).build(),
        KUARD,
        tls_secret("cert"),
    ).dag
    vhost = dag.listeners["ingress_http"].virtual_hosts[HOST]
    svh = https_vhost(dag)
    assert vhost.cors_policy is not None and svh is not None
    assert vhost.cors_policy.allow_origin == ("*", "https://a.example.com", "https://.*\\.example\\.org")
    assert (vhost.cors_policy.allow_methods, vhost.cors_policy.max_age) == (("GET",), "10m")
    assert svh.virtual_host.cors_policy == vhost.cors_policy


def test_slow_start_policy() -> None:
    svc = service("kuard", slowStartPolicy={"window": "30s", "aggression": "1.5", "minWeightPercent": 5})
    ss = only_route(build(root().route("/", svc).build(), KUARD).dag).clusters[0].slow_start
    assert ss is not None and (ss.window_seconds, ss.aggression, ss.min_weight_percent) == (30.0, 1.5, 5)


def test_upstream_validation() -> None:
    svc = service(
        "kuard", protocol="tls", validation={"caSecret": "ca", "subjectName": "a", "subjectNames": ["a", "b"]}
    )
    dag = build(root().route("/", svc).build(), KUARD, ca_secret("ca")).dag
    uv = only_route(dag).clusters[0].upstream_validation
    assert (
        uv is not None and uv.subject_names == ("a", "b") and uv.ca_secret.ref == ObjectRef("default", "ca")
    )
    assert ObjectRef("default", "ca") in dag.secrets


def test_upstream_validation_ignored_for_plain_http() -> None:
    svc = service("kuard", validation={"caSecret": "missing", "subjectName": "a"})
    result = build(root().route("/", svc).build(), KUARD)
    assert only_route(result.dag).clusters[0].upstream_validation is None


def test_enable_websockets() -> None:
    assert (
        only_route(
            build(root().route("/", service("kuard"), enableWebsockets=True).build(), KUARD).dag
        ).websocket
        is True
    )


def test_services_collected_for_eds() -> None:
    dag = build(
        root().route("/", service("kuard"), service("shadow", mirror=True)).build(),
        KUARD,
        k8s_service("shadow"),
    ).dag
    assert list(dag.services) == ["default/kuard/http", "default/shadow/http"]


def test_same_match_from_include_and_root_keeps_the_later() -> None:
    objs = (
        root().include("child").route("/", service("kuard")).build(),
        proxy("child").route("/", service("other")).build(),
        KUARD,
        k8s_service("other"),
    )
    assert [c.upstream.ref.name for c in only_route(build(*objs).dag).clusters] == ["kuard"]


def test_build_is_deterministic() -> None:
    objs = [
        root().tls("cert").include("child", prefix="/c").route("/", service("kuard")).build(),
        proxy("child").route("/", service("kuard", weight=5), service("other", weight=5)).build(),
        KUARD,
        k8s_service("other"),
        tls_secret("cert"),
    ]
    first, second = build(*objs), build(*reversed(objs))
    assert first.dag == second.dag
    assert first.statuses == second.statuses
