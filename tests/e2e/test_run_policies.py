"""HTTPProxy route and service policies end to end: load balancing, slow start, fractional mirroring,
service-level header policies, health ports, idle timeouts, retriable status codes, route errors, and
Contour's status reasons read back with kubectl.

One `contour run` serves the module. One fixture applies every policy object at once in namespace `pol`
(one rebuild instead of one per feature), another one root per status reason in namespace `bad`.
Behaviour is proven with real requests through Envoy to the session's `contour echo` backends (`echo-a`,
`echo-b`, plus a mirror of its own); settings that traffic cannot show within a test's time (a slow-start
window, idle timeouts) are read back from Envoy's own `/config_dump`, which holds only what Envoy
accepted. After every test Envoy's `update_rejected` counters must be zero: no NACK, ever.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.echo_config import Backends
from tests.e2e.run_routing_support import (
    Manifest,
    apply_feature,
    cluster_stats,
    echoed_header,
    error_reasons,
    fetch,
    fetch_until,
    include,
    pods_served,
    proxy,
    route,
    service,
    upstream,
    wait_current_status,
)
from tests.support.contour_run import ContourRun, free_port, running, wait_until
from tests.support.envoy_harness import EchoBackend

NS = "pol"


def host(name: str) -> str:
    return f"{name}.policies.example.com"


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContourRun]:
    with running(tmp_path_factory.mktemp("policies-run") / "state") as contour:
        yield contour


@pytest.fixture(scope="module")
def mirror_echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EchoBackend]:
    """A backend of its own, so its log holds only the requests Envoy mirrored to it."""
    echo = EchoBackend("echo-shadow", tmp_path_factory.mktemp("shadow"))
    try:
        yield echo
    finally:
        echo.stop()


def two_port_service(name: str, traffic_port: int, health_port: int) -> list[Manifest]:
    """A Service with port 80 `http` (traffic) and 81 `health`, both on 127.0.0.1 at the given ports."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": NS},
            "spec": {
                "ports": [
                    {"name": "http", "port": 80, "targetPort": "http"},
                    {"name": "health", "port": 81, "targetPort": "health"},
                ]
            },
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{name}-0",
                "namespace": NS,
                "labels": {"kubernetes.io/service-name": name},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
            "ports": [
                {"name": "http", "port": traffic_port, "protocol": "TCP"},
                {"name": "health", "port": health_port, "protocol": "TCP"},
            ],
        },
    ]


HEALTH_CHECK = {
    "path": "/health",
    "intervalSeconds": 1,
    "timeoutSeconds": 1,
    "unhealthyThresholdCount": 1,
    "healthyThresholdCount": 1,
}


@pytest.fixture(scope="module")
def policies(run: ContourRun, backends: Backends, mirror_echo: EchoBackend) -> None:
    """Every feature's Services and proxies, applied together; returns once each host answers."""
    a, b = backends.a, backends.b
    closed_port = free_port()  # nothing listens here: health checks sent to it fail
    svc_a_headers = {"set": [{"name": "X-Service-Policy", "value": "policy-a"}]}
    svc_b_headers = {"set": [{"name": "X-Service-Policy", "value": "policy-b"}]}
    slow_start = {"window": "30s", "aggression": "2.5", "minWeightPercent": 25}
    backend_objects = [
        *service(NS, "echo", a),
        *service(NS, "random", a, b),
        *service(NS, "wlr", a, b),
        *service(NS, "slow-rr", a),
        *service(NS, "slow-wlr", a),
        *service(NS, "split-a", a),
        *service(NS, "split-b", b),
        *service(NS, "shadow", mirror_echo),
        *service(NS, "idle", a),
        *two_port_service("hp-good", a.port, b.port),
        *two_port_service("hp-bad", a.port, closed_port),
    ]
    retry_418 = {"count": 1, "retryOn": ["retriable-status-codes"], "retriableStatusCodes": [418]}
    retry_503 = {"count": 1, "retryOn": ["retriable-status-codes"], "retriableStatusCodes": [503]}
    proxies = [
        proxy(NS, "random", host("random"), routes=[
            route(services=[upstream("random")], loadBalancerPolicy={"strategy": "Random"})]),
        proxy(NS, "wlr", host("wlr"), routes=[
            route(services=[upstream("wlr")], loadBalancerPolicy={"strategy": "WeightedLeastRequest"})]),
        proxy(NS, "slow-rr", host("slow-rr"), routes=[
            route(services=[upstream("slow-rr", slowStartPolicy=slow_start)])]),
        proxy(NS, "slow-wlr", host("slow-wlr"), routes=[
            route(services=[upstream("slow-wlr", slowStartPolicy=slow_start)],
                  loadBalancerPolicy={"strategy": "WeightedLeastRequest"})]),
        proxy(NS, "mirror", host("mirror"), routes=[
            route(services=[upstream("echo"), upstream("shadow", mirror=True, weight=30)])]),
        proxy(NS, "service-headers", host("service-headers"), routes=[
            route(services=[
                upstream("split-a", weight=50, requestHeadersPolicy=svc_a_headers,
                         responseHeadersPolicy={"set": [{"name": "X-Answered-By", "value": "split-a"}]}),
                upstream("split-b", weight=50, requestHeadersPolicy=svc_b_headers,
                         responseHeadersPolicy={"set": [{"name": "X-Answered-By", "value": "split-b"}]}),
            ])]),
        proxy(NS, "hp-good", host("hp-good"), routes=[
            route(services=[upstream("hp-good", healthPort=81)], healthCheckPolicy=HEALTH_CHECK)]),
        proxy(NS, "hp-bad", host("hp-bad"), routes=[
            route(services=[upstream("hp-bad", healthPort=81)], healthCheckPolicy=HEALTH_CHECK)]),
        proxy(NS, "idle", host("idle"), routes=[
            route(services=[upstream("idle")], timeoutPolicy={"idle": "7s", "idleConnection": "45s"})]),
        proxy(NS, "retry-418", host("retry-418"),
              routes=[route(services=[upstream("echo")], retryPolicy=retry_418)]),
        proxy(NS, "retry-503", host("retry-503"),
              routes=[route(services=[upstream("echo")], retryPolicy=retry_503)]),
        # Contour drops every route of a proxy with an invalid route; the root and its other include serve.
        proxy(NS, "tree", host("tree"),
              includes=[include("good-child", None, {"prefix": "/good"}),
                        include("bad-child", None, {"prefix": "/bad"})],
              routes=[route({"prefix": "/"}, services=[upstream("echo")])]),
        proxy(NS, "good-child", routes=[route({"prefix": "/"}, services=[upstream("split-b")])]),
        proxy(NS, "bad-child", routes=[
            route({"prefix": "/fine"}, services=[upstream("echo")]),
            route({"prefix": "/broken"}, services=[upstream("echo")],
                  directResponsePolicy={"statusCode": 200, "body": "two actions"}),
        ]),
        proxy(NS, "flat", host("flat"), routes=[
            route({"prefix": "/fine"}, services=[upstream("echo")]),
            route({"prefix": "/broken"}, services=[upstream("echo")],
                  directResponsePolicy={"statusCode": 200, "body": "two actions"}),
        ]),
    ]  # fmt: skip
    apply_feature(run, NS, backend_objects, proxies)
    for name in ("random", "wlr", "slow-rr", "slow-wlr", "mirror", "service-headers", "idle", "retry-418",
                 "retry-503", "tree"):  # fmt: skip
        fetch_until(run, host(name))
    fetch_until(run, host("tree"), "/good/", lambda reply: reply.pod == "echo-b")


# -- Envoy's view -----------------------------------------------------------------------------------


def active_cluster(run: ContourRun, service_name: str) -> dict[str, Any]:
    """The cluster Envoy runs for port 80 of Service `pol/<service_name>` (from /config_dump)."""
    prefix = f"{NS}/{service_name}/80/"
    dump = run.admin("/config_dump", resource="dynamic_active_clusters").json()
    for config in dump.get("configs", []):
        cluster: dict[str, Any] = config.get("cluster", {})
        if cluster.get("name", "").startswith(prefix):
            return cluster
    raise AssertionError(f"Envoy runs no cluster named {prefix}*")


def envoy_routes(run: ContourRun, fqdn: str) -> list[dict[str, Any]]:
    """The routes of virtual host `fqdn` in the `ingress_http` route configuration Envoy runs."""
    dump = run.admin("/config_dump", resource="dynamic_route_configs").json()
    for config in dump.get("configs", []):
        route_config = config.get("route_config", {})
        if route_config.get("name") != "ingress_http":
            continue
        for vhost in route_config.get("virtual_hosts", []):
            if fqdn in vhost.get("domains", []):
                found: list[dict[str, Any]] = vhost.get("routes", [])
                return found
    raise AssertionError(f"Envoy has no virtual host for {fqdn}")


def upstream_stats(run: ContourRun, stat_name: str) -> dict[str, int]:
    """The upstream request counters and gauges of the cluster with this alt_stat_name."""
    wanted = rf"^cluster\.{stat_name}\.upstream_rq_(completed|active|pending_active)$"
    stats = run.admin("/stats", format="json", filter=wanted).json().get("stats", [])
    return {s["name"].rsplit(".", 1)[1]: s["value"] for s in stats if "value" in s}


# -- load balancer strategies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "lb_policy"),
    [("random", "RANDOM"), ("wlr", "LEAST_REQUEST")],
    ids=["Random", "WeightedLeastRequest"],
)
def test_a_load_balancer_strategy_spreads_traffic_over_both_backends(
    run: ContourRun, policies: None, name: str, lb_policy: str
) -> None:
    # 60 requests: the chance that a live endpoint gets none is 2 * 0.5**60 for either strategy.
    seen = pods_served(run, host(name), 60)
    assert set(seen) == {"echo-a", "echo-b"}, seen
    assert active_cluster(run, name)["lb_policy"] == lb_policy


# -- slow start -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "lb_config"),
    [("slow-rr", "round_robin_lb_config"), ("slow-wlr", "least_request_lb_config")],
    ids=["RoundRobin", "WeightedLeastRequest"],
)
def test_slow_start_policy_reaches_the_envoy_cluster(
    run: ContourRun, policies: None, name: str, lb_config: str
) -> None:
    cluster = active_cluster(run, name)
    assert cluster[lb_config]["slow_start_config"] == {
        "slow_start_window": "30s",
        "aggression": {"default_value": 2.5, "runtime_key": "contour.slowstart.aggression"},
        "min_weight_percent": {"value": 25},
    }
    assert fetch(run, host(name)).pod == "echo-a"


# -- fractional mirroring ---------------------------------------------------------------------------


def test_a_mirror_with_a_weight_receives_about_that_share(
    run: ContourRun, policies: None, mirror_echo: EchoBackend
) -> None:
    # Envoy starts each shadow request before it forwards the original one, so once the shadow cluster
    # has nothing pending or active, its completed count is final; the mirror's log must then agree.
    def idle_shadow() -> dict[str, int]:
        return wait_until(
            lambda: upstream_stats(run, f"{NS}_shadow_80"),
            lambda s: s.get("upstream_rq_active") == 0 and s.get("upstream_rq_pending_active") == 0,
            what="the shadow cluster to go idle",
        )

    before = idle_shadow().get("upstream_rq_completed", 0)  # the fixture's probes were mirrored too
    marker = f"/share/{uuid.uuid4()}/"
    for index in range(100):
        assert fetch(run, host("mirror"), f"{marker}{index}").pod == "echo-a"
    mirrored = idle_shadow()["upstream_rq_completed"] - before
    wait_until(
        lambda: mirror_echo.log().count(f"request made to {marker}"),
        lambda count: count == mirrored,
        what=f"{mirrored} mirrored requests in the mirror's log",
    )
    # Binomial(100, 0.3): mean 30, standard deviation 4.6; 12..48 is more than 3.9 deviations each way.
    assert 12 <= mirrored <= 48, mirrored


def test_the_weighted_mirror_is_a_runtime_fraction_in_envoy(run: ContourRun, policies: None) -> None:
    (only,) = envoy_routes(run, host("mirror"))
    (mirror,) = only["route"]["request_mirror_policies"]
    assert mirror["cluster"].startswith(f"{NS}/shadow/80/")
    assert mirror["runtime_fraction"]["default_value"] == {"numerator": 30}


# -- service-level header policies ------------------------------------------------------------------


def test_each_service_applies_its_own_request_and_response_headers(run: ContourRun, policies: None) -> None:
    expected = {"echo-a": ("policy-a", "split-a"), "echo-b": ("policy-b", "split-b")}
    seen: set[str] = set()
    for _ in range(40):
        reply = fetch(run, host("service-headers"))
        assert reply.pod in expected, reply
        assert (echoed_header(reply, "X-Service-Policy"), reply.headers.get("x-answered-by")) == expected[
            reply.pod
        ]
        seen.add(reply.pod)
    assert seen == {"echo-a", "echo-b"}  # 40 draws at 50/50: both services were exercised


# -- health port ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "counter", "healthy", "status"),
    [("hp-good", "health_check.success", 1, 200), ("hp-bad", "health_check.failure", 0, 503)],
    ids=["health-port-answers", "health-port-closed"],
)
def test_health_checks_go_to_the_health_port_not_the_traffic_port(
    run: ContourRun, policies: None, name: str, counter: str, *, healthy: int, status: int
) -> None:
    # Both traffic ports reach echo-a; only the health port differs, so it alone decides health.
    stats = wait_until(
        lambda: cluster_stats(run, f"{NS}_{name}_80"),
        lambda found: found.get(counter, 0) >= 1,
        what=f"Envoy's {counter} for {NS}/{name}",
    )
    assert stats["membership_healthy"] == healthy
    reply = fetch_until(run, host(name), accept=lambda r: r.status == status)
    assert reply.pod == ("echo-a" if status == 200 else None)


# -- idle timeouts ----------------------------------------------------------------------------------


def test_timeout_policy_idle_sets_the_route_stream_idle_timeout(run: ContourRun, policies: None) -> None:
    (only,) = envoy_routes(run, host("idle"))
    assert only["route"]["idle_timeout"] == "7s"
    assert "timeout" not in only["route"]


def test_timeout_policy_idle_connection_sets_the_cluster_idle_timeout(
    run: ContourRun, policies: None
) -> None:
    options = active_cluster(run, "idle")["typed_extension_protocol_options"]
    http_options = options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
    assert http_options["common_http_protocol_options"] == {"idle_timeout": "45s"}
    assert fetch(run, host("idle")).pod == "echo-a"


# -- retriable status codes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [("retry-418", 200), ("retry-503", 418)],
    ids=["listed-status-is-retried", "unlisted-status-is-passed-on"],
)
def test_retriable_status_codes_decide_which_answers_are_retried(
    run: ContourRun, policies: None, name: str, expected: int
) -> None:
    reply = fetch(run, host(name), f"/retry/?uuid={uuid.uuid4()}&succeedAfter=1&responseCode=418")
    assert reply.status == expected


# -- an invalid route -------------------------------------------------------------------------------


def test_an_invalid_route_in_an_included_proxy_is_a_route_error(run: ContourRun, policies: None) -> None:
    status = wait_current_status(run, NS, "bad-child", "invalid")
    assert error_reasons(status) == [("RouteError", "RouteActionCountNotValid")]
    assert wait_current_status(run, NS, "tree", "valid")["currentStatus"] == "valid"
    assert wait_current_status(run, NS, "good-child", "valid")["currentStatus"] == "valid"


@pytest.mark.parametrize(
    ("path", "status", "pod"),
    [
        ("/", 200, "echo-a"),
        ("/good/x", 200, "echo-b"),
        ("/bad/fine", 200, "echo-a"),
        ("/bad/broken", 200, "echo-a"),
    ],
    ids=["root-route-serves", "valid-include-serves", "bad-include-falls-to-root", "bad-route-falls-to-root"],
)
def test_the_other_routes_keep_serving_beside_an_invalid_included_route(
    run: ContourRun, policies: None, path: str, status: int, pod: str
) -> None:
    reply = fetch(run, host("tree"), path)
    assert (reply.status, reply.pod) == (status, pod)


def test_an_invalid_route_in_a_root_withdraws_all_of_its_routes(run: ContourRun, policies: None) -> None:
    status = wait_current_status(run, NS, "flat", "invalid")
    assert error_reasons(status) == [("RouteError", "RouteActionCountNotValid")]
    # As Contour: computeRoutes returns no routes for a proxy with an invalid route, so the host has
    # none and Envoy answers 404 even on the proxy's valid path.
    assert fetch(run, host("flat"), "/fine").status == 404


# -- status reasons through the whole path ----------------------------------------------------------

BAD = "bad"


def _svc(**fields: Any) -> list[Manifest]:
    return [upstream("echo", **fields)]


def _routed(**fields: Any) -> list[Manifest]:
    """One route to `echo` with extra route fields."""
    return [route({"prefix": "/"}, services=_svc(), **fields)]


# name -> (spec parts of a root proxy of that name, the one (type, reason) its status must carry)
REASONS: dict[str, tuple[dict[str, Any], tuple[str, str]]] = {
    "nothing-defined": ({}, ("SpecError", "NothingDefined")),
    "duplicate-one": (
        {"fqdn": host("duplicate"), "routes": _routed()},
        ("VirtualHostError", "DuplicateVhost"),
    ),
    "duplicate-two": (
        {"fqdn": host("duplicate"), "routes": _routed()},
        ("VirtualHostError", "DuplicateVhost"),
    ),
    "root-includes-root": (
        {"includes": [include("valid", None, {"prefix": "/v"})]},
        ("IncludeError", "RootIncludesRoot"),
    ),
    "include-exact": (
        {"includes": [include("kid", None, {"exact": "/x"})]},
        ("IncludeError", "PathMatchConditionsNotValid"),
    ),
    "include-twice": (
        {"includes": [include("kid", None, {"prefix": "/x"}), include("kid", None, {"prefix": "/x"})]},
        ("IncludeError", "DuplicateMatchConditions"),
    ),
    "two-prefixes": (
        {"routes": [route({"prefix": "/a"}, {"prefix": "/b"}, services=_svc())]},
        ("RouteError", "PathMatchConditionsNotValid"),
    ),
    "header-lookbehind": (
        {"routes": [route({"header": {"name": "x-a", "regex": "(?<=a)b"}}, services=_svc())]},
        ("RouteError", "HeaderMatchConditionsNotValid"),
    ),
    "query-without-match": (
        {"routes": [route({"queryParameter": {"name": "q"}}, services=_svc())]},
        ("RouteError", "QueryParameterMatchConditionsNotValid"),
    ),
    "timeout-without-unit": (
        {"routes": _routed(timeoutPolicy={"response": "s"})},
        ("RouteError", "TimeoutPolicyNotValid"),
    ),
    "health-range-reversed": (
        {
            "routes": _routed(
                healthCheckPolicy={"path": "/h", "expectedStatuses": [{"start": 300, "end": 200}]}
            )
        },
        ("RouteError", "HealthCheckPolicyInvalid"),
    ),
    "redirect-path-and-prefix": (
        {"routes": [route({"prefix": "/"}, requestRedirectPolicy={"path": "/a", "prefix": "/b"})]},
        ("RouteError", "RequestRedirectPolicy"),
    ),
    "route-header-set-twice": (
        {
            "routes": _routed(
                requestHeadersPolicy={"set": [{"name": "x-a", "value": "1"}, {"name": "X-A", "value": "2"}]}
            )
        },
        ("RouteError", "RequestHeadersPolicyInvalid"),
    ),
    "route-response-host": (
        {"routes": _routed(responseHeadersPolicy={"set": [{"name": "Host", "value": "x"}]})},
        ("RouteError", "ResponseHeaderPolicyInvalid"),
    ),
    "replace-without-prefix": (
        {
            "routes": [
                route(
                    {"exact": "/a"},
                    services=_svc(),
                    pathRewritePolicy={"replacePrefix": [{"replacement": "/b"}]},
                )
            ]
        },
        ("PrefixReplaceError", "MustHavePrefix"),
    ),
    "two-mirrors": (
        {
            "routes": [
                route(
                    services=[upstream("echo"), upstream("echo", mirror=True), upstream("echo", mirror=True)]
                )
            ]
        },
        ("ServiceError", "OnlyOneMirror"),
    ),
    "slow-start-random": (
        {
            "routes": [
                route(
                    services=_svc(slowStartPolicy={"window": "5s"}), loadBalancerPolicy={"strategy": "Random"}
                )
            ]
        },
        ("ServiceError", "SlowStartInvalid"),
    ),
    "service-header-removed-twice": (
        {"routes": [route(services=_svc(requestHeadersPolicy={"remove": ["x-a", "X-A"]}))]},
        ("ServiceError", "RequestHeadersPolicyInvalid"),
    ),
    "service-response-host": (
        {"routes": [route(services=_svc(responseHeadersPolicy={"set": [{"name": "Host", "value": "a"}]}))]},
        ("ServiceError", "ResponseHeadersPolicyInvalid"),
    ),
    "cors-bad-origin": (
        {
            "virtualhost": {"corsPolicy": {"allowOrigin": ["(bad"], "allowMethods": ["GET"]}},
            "routes": _routed(),
        },
        ("CORSError", "PolicyDidNotParse"),
    ),
}


@pytest.fixture(scope="module")
def invalid_proxies(run: ContourRun, backends: Backends) -> None:
    """One root per reason beside a valid root and an includable child, all applied at once."""
    proxies = [
        proxy(BAD, "valid", host("valid"), routes=_routed()),
        proxy(BAD, "kid", routes=_routed()),
    ]
    for name, (parts, _) in REASONS.items():
        fields = dict(parts)
        proxies.append(proxy(BAD, name, fields.pop("fqdn", host(name)), **fields))
    apply_feature(run, BAD, service(BAD, "echo", backends.a), proxies)
    fetch_until(run, host("valid"))


@pytest.mark.parametrize("name", sorted(REASONS), ids=[f"{REASONS[n][1][1]}-{n}" for n in sorted(REASONS)])
def test_an_invalid_proxy_reports_contours_reason_through_kubectl(
    run: ContourRun, invalid_proxies: None, name: str
) -> None:
    status = wait_current_status(run, BAD, name, "invalid")
    assert error_reasons(status) == [REASONS[name][1]]


def test_valid_proxies_beside_the_invalid_ones_serve_and_stay_valid(
    run: ContourRun, invalid_proxies: None
) -> None:
    assert fetch(run, host("valid")).pod == "echo-a"
    assert wait_current_status(run, BAD, "valid", "valid")["currentStatus"] == "valid"
    assert wait_current_status(run, BAD, "kid", "valid")["currentStatus"] == "valid"
