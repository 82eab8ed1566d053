"""HTTPProxy `spec.tcpproxy` in the DAG: passthrough and TLS-terminated TCP proxying, includes (and the
deprecated `includes`), TCP health checks, load balancer policies and the plain-HTTP side of the host.

Contour's rules (internal/dag/httpproxy_processor.go processHTTPProxyTCPProxy): the secure host gets the
TCP proxy clusters and no HTTP routes; the proxy's routes, if any, go to plain HTTP only, as 301s to
HTTPS unless permitInsecure; Cookie and RequestHash load balancing are ignored with a warning.
"""

from __future__ import annotations

from typing import Any

import pytest

from contour.dag.builder import BuildResult
from contour.dag.model import HealthCheckPolicy, ObjectRef, SecureVirtualHost, VirtualHost

from .fixtures import build, k8s_service, port, proxy, service, tls_secret

HOST = "tcp.example.com"
ROOT = ObjectRef("default", "root")
BACKEND = k8s_service("backend", ports=[port(443, "tls"), port(8080, "health")])
OTHER = k8s_service("other", ports=[port(443, "tls")])


def root(**tls: Any) -> Any:
    return proxy("root").fqdn(HOST).tls(**(tls or {"passthrough": True}))


def secure_host(result: BuildResult) -> SecureVirtualHost | None:
    return result.dag.listeners["ingress_https"].secure_virtual_hosts.get(HOST)


def plain_host(result: BuildResult) -> VirtualHost | None:
    return result.dag.listeners["ingress_http"].virtual_hosts.get(HOST)


def status(result: BuildResult, ref: ObjectRef = ROOT) -> dict[str, Any]:
    return next(u.status for u in result.statuses if u.ref == ref and u.plural == "httpproxies")


def test_passthrough_host_proxies_tcp_without_a_certificate() -> None:
    result = build(root().with_spec(tcpproxy={"services": [service("backend", 443)]}).build(), BACKEND)
    svh = secure_host(result)
    assert svh is not None and svh.secret is None
    assert [c.upstream.eds_name for c in svh.tcp_proxy or []] == ["default/backend/tls"]
    assert status(result)["currentStatus"] == "valid"


def test_terminated_host_proxies_tcp_behind_its_certificate() -> None:
    result = build(
        root(secretName="cert").with_spec(tcpproxy={"services": [service("backend", 443)]}).build(),
        BACKEND,
        tls_secret("cert"),
    )
    svh = secure_host(result)
    assert svh is not None and svh.secret is not None and svh.secret.ref == ObjectRef("default", "cert")
    assert [c.upstream.ref.name for c in svh.tcp_proxy or []] == ["backend"]


def test_weights_are_kept_per_service() -> None:
    services = [service("backend", 443, weight=80), service("other", 443, weight=20)]
    result = build(root().with_spec(tcpproxy={"services": services}).build(), BACKEND, OTHER)
    svh = secure_host(result)
    assert svh is not None
    assert [(c.upstream.ref.name, c.weight) for c in svh.tcp_proxy or []] == [("backend", 80), ("other", 20)]


@pytest.mark.parametrize(
    ("spelling", "key"), [("include", "include"), ("includes", "includes")], ids=["include", "deprecated"]
)
def test_an_included_proxy_supplies_the_services(spelling: str, key: str) -> None:
    result = build(
        root().with_spec(tcpproxy={key: {"name": "child", "namespace": "team"}}).build(),
        proxy("child", "team").with_spec(tcpproxy={"services": [service("db", 443)]}).build(),
        k8s_service("db", "team", ports=[port(443, "tls")]),
    )
    svh = secure_host(result)
    assert svh is not None and [c.upstream.eds_name for c in svh.tcp_proxy or []] == ["team/db/tls"]
    assert status(result, ObjectRef("team", "child"))["currentStatus"] == "valid"


def test_include_is_preferred_over_the_deprecated_includes() -> None:
    result = build(
        root().with_spec(tcpproxy={"include": {"name": "good"}, "includes": {"name": "missing"}}).build(),
        proxy("good").with_spec(tcpproxy={"services": [service("backend", 443)]}).build(),
        BACKEND,
    )
    svh = secure_host(result)
    assert svh is not None and [c.upstream.ref.name for c in svh.tcp_proxy or []] == ["backend"]


def test_a_tcp_health_check_uses_the_health_port_and_the_defaults() -> None:
    spec = {
        "services": [service("backend", 443, healthPort=8080)],
        "healthCheckPolicy": {"intervalSeconds": 5},
    }
    result = build(root().with_spec(tcpproxy=spec).build(), BACKEND)
    svh = secure_host(result)
    assert svh is not None and svh.tcp_proxy
    cluster = svh.tcp_proxy[0]
    assert cluster.health_check_policy == HealthCheckPolicy(
        path="", interval_seconds=5, timeout_seconds=2, unhealthy_threshold=3, healthy_threshold=2
    )
    assert cluster.upstream.health_port is not None and cluster.upstream.health_port.port == 8080


def test_no_health_check_without_a_policy() -> None:
    result = build(root().with_spec(tcpproxy={"services": [service("backend", 443)]}).build(), BACKEND)
    svh = secure_host(result)
    assert svh is not None and svh.tcp_proxy and svh.tcp_proxy[0].health_check_policy is None


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (None, "RoundRobin"),
        ("Random", "Random"),
        ("WeightedLeastRequest", "WeightedLeastRequest"),
        ("Cookie", "RoundRobin"),
        ("RequestHash", "RoundRobin"),
    ],
    ids=["default", "random", "least-request", "cookie-ignored", "request-hash-ignored"],
)
def test_load_balancer_policy(strategy: str | None, expected: str) -> None:
    spec: dict[str, Any] = {"services": [service("backend", 443)]}
    if strategy is not None:
        spec["loadBalancerPolicy"] = {"strategy": strategy}
    result = build(root().with_spec(tcpproxy=spec).build(), BACKEND)
    svh = secure_host(result)
    assert svh is not None and svh.tcp_proxy
    assert svh.tcp_proxy[0].load_balancer_policy.strategy == expected


@pytest.mark.parametrize("strategy", ["Cookie", "RequestHash"])
def test_an_http_only_strategy_is_a_warning_not_an_error(strategy: str) -> None:
    spec = {"services": [service("backend", 443)], "loadBalancerPolicy": {"strategy": strategy}}
    result = build(root().with_spec(tcpproxy=spec).build(), BACKEND)
    condition = status(result)["conditions"][0]
    assert condition["status"] == "True" and not condition.get("errors")
    assert [(w["type"], w["reason"]) for w in condition["warnings"]] == [("TCPProxyError", "IgnoredField")]


@pytest.mark.parametrize(
    ("permit_insecure", "upgrade"), [(False, True), (True, False)], ids=["redirected", "permit-insecure"]
)
def test_routes_of_a_tcp_proxy_host_serve_plain_http_only(permit_insecure: bool, upgrade: bool) -> None:
    obj = (
        root()
        .with_spec(tcpproxy={"services": [service("backend", 443)]})
        .route("/", service("other", 443), permitInsecure=permit_insecure)
        .build()
    )
    result = build(obj, BACKEND, OTHER)
    svh, vh = secure_host(result), plain_host(result)
    assert svh is not None and not svh.virtual_host.routes
    assert vh is not None and [r.https_upgrade for r in vh.routes.values()] == [upgrade]


def test_a_tcp_proxy_host_without_routes_has_no_plain_http_host() -> None:
    result = build(root().with_spec(tcpproxy={"services": [service("backend", 443)]}).build(), BACKEND)
    assert plain_host(result) is None


def test_an_include_without_a_tcpproxy_leaves_nothing_to_serve() -> None:
    result = build(
        root().with_spec(tcpproxy={"include": {"name": "child"}}).build(),
        proxy("child").route("/", service("backend", 443)).build(),
        BACKEND,
    )
    assert secure_host(result) is None


def test_a_missing_service_stops_the_whole_tcp_proxy() -> None:
    services = [service("backend", 443), service("missing", 443)]
    result = build(root().with_spec(tcpproxy={"services": services}).build(), BACKEND)
    assert secure_host(result) is None
    errors = status(result)["conditions"][0]["errors"]
    assert [(e["type"], e["reason"]) for e in errors] == [("TCPProxyError", "ServiceUnresolvedReference")]
