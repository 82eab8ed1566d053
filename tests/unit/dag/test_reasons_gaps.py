"""HTTPProxy status and DAG cases the main tables did not reach: reasons on the less travelled paths.

Covers include-level header and query condition errors, the slow-start parse error, the configured
Envoy client certificate, reasons the CRD schema makes unreachable (reported as SpecInvalid here, since
the object cannot be parsed), the Contour rule that one invalid route withdraws every route of its
proxy, and health ports that only count when a health check is configured.
"""

from __future__ import annotations

from typing import Any

import pytest

from contour.dag.builder import BuilderConfig
from contour.dag.model import ObjectRef, Route

from .fixtures import build, k8s_service, port, proxy, service

Obj = dict[str, Any]
HOST = "example.com"
ROOT = ObjectRef("default", "root")
CHILD = ObjectRef("default", "child")
KUARD = k8s_service("kuard")


def root() -> Any:
    return proxy("root").fqdn(HOST)


def errors(objects: list[Obj], ref: ObjectRef, config: BuilderConfig | None = None) -> list[tuple[str, ...]]:
    updates = [u for u in build(*objects, config=config).statuses if u.ref == ref]
    assert len(updates) == 1, updates
    cond = updates[0].status["conditions"][0]
    return [(e["type"], e["reason"], e["message"]) for e in cond.get("errors", [])]


def http_paths(objects: list[Obj]) -> list[str]:
    vhost = build(*objects).dag.listeners["ingress_http"].virtual_hosts.get(HOST)
    routes: list[Route] = list(vhost.routes.values()) if vhost else []
    return sorted(r.path_match.value for r in routes)


# --- reasons -----------------------------------------------------------------------------------------


GAP_CASES = [
    pytest.param(
        [
            root()
            .include("child", conditions=[{"header": {"name": "x-a", "regex": "(?<=a)b"}}])
            .route("/", service("kuard"))
            .build(),
            proxy("child").route("/", service("kuard")).build(),
            KUARD,
        ],
        ROOT,
        None,
        (
            "RouteError",
            "HeaderMatchConditionsNotValid",
            "invalid regular expression specified for 'regex' condition",
        ),
        id="RouteError-HeaderMatchConditionsNotValid-on-include",
    ),
    pytest.param(
        [
            root()
            .include("child", conditions=[{"queryParameter": {"name": "q"}}])
            .route("/", service("kuard"))
            .build(),
            proxy("child").route("/", service("kuard")).build(),
            KUARD,
        ],
        ROOT,
        None,
        (
            "RouteError",
            "QueryParameterMatchConditionsNotValid",
            "must specify at least one query parameter condition",
        ),
        id="RouteError-QueryParameterMatchConditionsNotValid-on-include",
    ),
    pytest.param(
        [root().route("/", service("kuard", slowStartPolicy={"window": "h"})).build(), KUARD],
        ROOT,
        None,
        (
            "ServiceError",
            "SlowStartInvalid",
            'error parsing window: time: invalid duration "h" on slow start',
        ),
        id="ServiceError-SlowStartInvalid-window",
    ),
    pytest.param(
        [
            root()
            .route(
                "/",
                service("kuard", slowStartPolicy={"window": "10s"}),
                loadBalancerPolicy={"strategy": "Cookie"},
            )
            .build(),
            KUARD,
        ],
        ROOT,
        None,
        (
            "ServiceError",
            "SlowStartInvalid",
            "slow start is only supported with RoundRobin or WeightedLeastRequest load balancer strategy",
        ),
        id="ServiceError-SlowStartInvalid-cookie",
    ),
    pytest.param(
        [root().route("/", service("kuard")).build(), KUARD],
        ROOT,
        BuilderConfig(client_certificate=ObjectRef("projectcontour", "envoy-client")),
        (
            "TLSError",
            "SecretNotValid",
            'tls.envoy-client-certificate Secret "projectcontour/envoy-client" is invalid: Secret not found',
        ),
        id="TLSError-SecretNotValid-envoy-client-certificate",
    ),
    pytest.param(
        [
            root().include("child", prefix="/child").route("/", service("kuard")).build(),
            proxy("child").route("/", service("kuard"), directResponsePolicy={"statusCode": 200}).build(),
            KUARD,
        ],
        CHILD,
        None,
        (
            "RouteError",
            "RouteActionCountNotValid",
            "must set exactly one of route.services or route.requestRedirectPolicy or "
            "route.directResponsePolicy",
        ),
        id="RouteError-reported-on-the-included-proxy",
    ),
]


@pytest.mark.parametrize(("objects", "ref", "config", "error"), GAP_CASES)
def test_error(
    objects: list[Obj], ref: ObjectRef, config: BuilderConfig | None, error: tuple[str, str, str]
) -> None:
    assert error in errors(objects, ref, config)


def test_an_error_in_an_included_proxy_leaves_the_root_valid() -> None:
    objects = [
        root().include("child", prefix="/child").route("/", service("kuard")).build(),
        proxy("child").route("/", service("kuard"), directResponsePolicy={"statusCode": 200}).build(),
        KUARD,
    ]
    assert errors(objects, ROOT) == []


# The CRD schema (and the generated model) rejects these values, so Contour's reasons for them
# (FQDNNotSpecified, ServicePortInvalid, UnsupportedProtocol) cannot occur: the object does not parse.
@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(
            {"virtualhost": {"fqdn": " "}, "routes": [{"services": [service("kuard")]}]}, id="blank-fqdn"
        ),
        pytest.param(
            {"virtualhost": {"fqdn": HOST}, "routes": [{"services": [service("kuard", 0)]}]}, id="port-0"
        ),
        pytest.param(
            {"virtualhost": {"fqdn": HOST}, "routes": [{"services": [service("kuard", 70000)]}]},
            id="port-70000",
        ),
        pytest.param(
            {"virtualhost": {"fqdn": HOST}, "routes": [{"services": [service("kuard", protocol="h3")]}]},
            id="protocol-h3",
        ),
    ],
)
def test_values_the_crd_rejects_are_spec_invalid_and_others_keep_serving(spec: Obj) -> None:
    bad = proxy("root").with_spec(**spec).build()
    good = proxy("good").fqdn("good.example.com").route("/", service("kuard")).build()
    result = build(bad, good, KUARD)
    reasons = [e[:2] for e in errors([bad, good, KUARD], ROOT)]
    assert reasons == [("SpecError", "SpecInvalid")]
    assert errors([bad, good, KUARD], ObjectRef("default", "good")) == []
    assert "good.example.com" in result.dag.listeners["ingress_http"].virtual_hosts


def test_an_unparsable_delegation_is_spec_invalid() -> None:
    bad = {
        "apiVersion": "projectcontour.io/v1",
        "kind": "TLSCertificateDelegation",
        "metadata": {"name": "d", "namespace": "certs", "generation": 3},
        "spec": {"delegations": "everything"},
    }
    updates = [u for u in build(bad).statuses if u.plural == "tlscertificatedelegations"]
    assert len(updates) == 1
    cond = updates[0].status["conditions"][0]
    assert (cond["status"], [e["reason"] for e in cond["errors"]]) == ("False", ["SpecInvalid"])
    assert updates[0].generation == 3


# --- what an invalid route withdraws ----------------------------------------------------------------


def test_an_invalid_route_withdraws_every_route_of_its_proxy() -> None:
    bad = (
        root()
        .route("/fine", service("kuard"))
        .route("/broken", service("kuard"), directResponsePolicy={"statusCode": 200})
        .build()
    )
    assert http_paths([bad, KUARD]) == []


def test_an_invalid_included_route_withdraws_only_that_proxys_routes() -> None:
    objects = [
        root()
        .include("child", prefix="/child")
        .include("other", prefix="/other")
        .route("/", service("kuard"))
        .build(),
        proxy("child")
        .route("/fine", service("kuard"))
        .route("/broken", service("kuard"), directResponsePolicy={"statusCode": 200})
        .build(),
        proxy("other").route("/", service("kuard")).build(),
        KUARD,
    ]
    assert http_paths(objects) == ["/", "/other/"]


def test_a_missing_service_keeps_the_proxys_other_routes() -> None:
    objects = [root().route("/a", service("kuard")).route("/b", service("missing")).build(), KUARD]
    assert http_paths(objects) == ["/a", "/b"]
    assert [e[1] for e in errors(objects, ROOT)] == ["ServiceUnresolvedReference"]


# --- health ports -----------------------------------------------------------------------------------


def test_health_port_is_ignored_without_a_health_check_policy() -> None:
    obj = root().route("/", service("kuard", healthPort=8081)).build()
    svc = k8s_service("kuard", ports=[port(80, "http"), port(8081, "health")])
    vhost = build(obj, svc).dag.listeners["ingress_http"].virtual_hosts[HOST]
    (only,) = vhost.routes.values()
    assert only.clusters[0].upstream.health_port is None


def test_a_health_port_the_service_lacks_is_an_unresolved_reference() -> None:
    obj = root().route("/", service("kuard", healthPort=8081), healthCheckPolicy={"path": "/healthz"}).build()
    found = errors([obj, KUARD], ROOT)
    assert [e[:2] for e in found] == [("ServiceError", "ServiceUnresolvedReference")]
