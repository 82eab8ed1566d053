"""Global header policies (ContourConfiguration `policy`) merged into every route's services, as
Contour's headersPolicyService does: the service's own entries win, Host becomes a host rewrite only on
requests, removes are appended, Ingress routes get them only with applyToIngress."""

from __future__ import annotations

from typing import Any

import pytest

from contour.dag.builder import BuilderConfig
from contour.dag.global_headers import GlobalHeaders, with_global_headers
from contour.dag.model import DAG, Cluster, HeadersPolicy, HeaderValue, ObjectRef
from contour.dag.policy import PolicyError

from .fixtures import build, k8s_service, proxy, service
from .ingress_fixtures import build_ingress, ing, only_route, path

ROOT = ObjectRef("default", "root")
DYNAMIC = {"CONTOUR_NAMESPACE": "ns", "CONTOUR_SERVICE_NAME": "svc", "CONTOUR_SERVICE_PORT": "80"}


def headers(*pairs: tuple[str, str], remove: tuple[str, ...] = (), host: str = "") -> HeadersPolicy:
    return HeadersPolicy(set=tuple(HeaderValue(k, v) for k, v in pairs), remove=remove, host_rewrite=host)


# -- the merge ---------------------------------------------------------------------------------------------

MERGES = [
    pytest.param(None, GlobalHeaders((("x-a", "1"),)), True, headers(("X-A", "1")), id="global-set-alone"),
    pytest.param(
        headers(("X-A", "own")),
        GlobalHeaders((("x-a", "global"),)),
        True,
        headers(("X-A", "own")),
        id="own-set-wins",
    ),
    pytest.param(
        headers(("X-B", "2")),
        GlobalHeaders((("X-A", "1"),)),
        True,
        headers(("X-A", "1"), ("X-B", "2")),
        id="sets-joined-sorted",
    ),
    pytest.param(
        headers(remove=("X-A",)),
        GlobalHeaders((), ("x-b", "x-a")),
        True,
        headers(remove=("X-A", "X-B")),
        id="removes-appended-once",
    ),
    pytest.param(
        None,
        GlobalHeaders((("Host", "up.example.com"),)),
        True,
        headers(host="up.example.com"),
        id="host-becomes-rewrite",
    ),
    pytest.param(
        headers(host="own.example.com"),
        GlobalHeaders((("host", "g.example.com"),)),
        True,
        headers(host="own.example.com"),
        id="own-host-wins",
    ),
    pytest.param(
        None,
        GlobalHeaders((("X-Ns", "%CONTOUR_NAMESPACE%/%CONTOUR_SERVICE_NAME%"),)),
        True,
        headers(("X-Ns", "ns/svc")),
        id="contour-variables",
    ),
    pytest.param(
        None, GlobalHeaders((("X-Pct", "100%"),)), True, headers(("X-Pct", "100%%")), id="percent-escaped"
    ),
    pytest.param(
        None,
        GlobalHeaders((("X-Addr", "%DOWNSTREAM_REMOTE_ADDRESS%"),)),
        True,
        headers(("X-Addr", "%DOWNSTREAM_REMOTE_ADDRESS%")),
        id="envoy-variable-kept",
    ),
]


@pytest.mark.parametrize(("own", "default", "allow_host", "want"), MERGES)
def test_merge(
    own: HeadersPolicy | None, default: GlobalHeaders, allow_host: bool, want: HeadersPolicy
) -> None:
    assert with_global_headers(own, default, allow_host, DYNAMIC) == want


def test_no_global_policy_leaves_the_service_policy_untouched() -> None:
    own = headers(("X-A", "1"))
    assert with_global_headers(own, None, True, DYNAMIC) is own
    assert with_global_headers(own, GlobalHeaders(), True, DYNAMIC) is own


@pytest.mark.parametrize(
    ("default", "allow_host", "message"),
    [
        pytest.param(
            GlobalHeaders((("Host", "x"),)),
            False,
            'rewriting "Host" header is not supported',
            id="host-on-response",
        ),
        pytest.param(GlobalHeaders((("a b", "x"),)), True, 'invalid set header "a b"', id="bad-set-name"),
        pytest.param(GlobalHeaders((), ("a:b",)), True, 'invalid set header "a:b"', id="bad-remove-name"),
    ],
)
def test_merge_errors(default: GlobalHeaders, allow_host: bool, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        with_global_headers(None, default, allow_host, DYNAMIC)


# -- HTTPProxy -----------------------------------------------------------------------------------------------

CONFIG = BuilderConfig(
    global_request_headers=GlobalHeaders((("X-Global-Req", "r"),)),
    global_response_headers=GlobalHeaders((("X-Global-Resp", "s"),), ("Server",)),
)


def proxy_clusters(dag: DAG) -> list[Cluster]:
    vhost = dag.listeners["ingress_http"].virtual_hosts["example.com"]
    return [c for r in vhost.routes.values() for c in r.clusters]


def test_every_httpproxy_service_gets_the_global_policies() -> None:
    root = proxy("root").fqdn("example.com").route("/", service("a")).route("/b", service("b")).build()
    result = build(root, k8s_service("a"), k8s_service("b"), config=CONFIG)
    clusters = proxy_clusters(result.dag)
    assert len(clusters) == 2
    for cluster in clusters:
        assert cluster.request_headers_policy == headers(("X-Global-Req", "r"))
        assert cluster.response_headers_policy == headers(("X-Global-Resp", "s"), remove=("Server",))


def test_service_policy_overrides_the_global_one() -> None:
    own = {"set": [{"name": "X-Global-Resp", "value": "mine"}]}
    root = proxy("root").fqdn("example.com").route("/", service("a", responseHeadersPolicy=own)).build()
    (cluster,) = proxy_clusters(build(root, k8s_service("a"), config=CONFIG).dag)
    assert cluster.response_headers_policy == headers(("X-Global-Resp", "mine"), remove=("Server",))


def test_global_host_on_responses_invalidates_the_proxy() -> None:
    config = BuilderConfig(global_response_headers=GlobalHeaders((("Host", "x"),)))
    root = proxy("root").fqdn("example.com").route("/", service("a")).build()
    result = build(root, k8s_service("a"), config=config)
    (update,) = [u for u in result.statuses if u.ref == ROOT]
    errors: list[dict[str, Any]] = update.status["conditions"][0]["errors"]
    assert [(e["type"], e["reason"]) for e in errors] == [("ServiceError", "ResponseHeadersPolicyInvalid")]


def test_without_global_policies_services_have_none() -> None:
    root = proxy("root").fqdn("example.com").route("/", service("a")).build()
    (cluster,) = proxy_clusters(build(root, k8s_service("a")).dag)
    assert (cluster.request_headers_policy, cluster.response_headers_policy) == (None, None)


# -- Ingress -------------------------------------------------------------------------------------------------


def ingress_cluster(config: BuilderConfig) -> Cluster:
    obj = ing("web").rule("example.com", path("/", "a")).build()
    result = build_ingress(obj, k8s_service("a"), config=config)
    (cluster,) = only_route(result.dag, "example.com").clusters
    return cluster


def test_ingress_routes_get_the_global_policies_with_apply_to_ingress() -> None:
    config = BuilderConfig(
        global_request_headers=GlobalHeaders((("X-Svc", "%CONTOUR_SERVICE_NAME%:%CONTOUR_SERVICE_PORT%"),)),
        apply_to_ingress=True,
    )
    assert ingress_cluster(config).request_headers_policy == headers(("X-Svc", "a:80"))


def test_ingress_routes_do_not_get_them_without_apply_to_ingress() -> None:
    config = BuilderConfig(global_request_headers=GlobalHeaders((("X-A", "1"),)))
    assert ingress_cluster(config).request_headers_policy is None


def test_ingress_path_is_skipped_when_the_global_policy_cannot_apply() -> None:
    config = BuilderConfig(global_response_headers=GlobalHeaders((("Host", "x"),)), apply_to_ingress=True)
    obj = ing("web").rule("example.com", path("/", "a")).build()
    result = build_ingress(obj, k8s_service("a"), config=config)
    assert (
        "ingress_http" not in result.dag.listeners or not result.dag.listeners["ingress_http"].virtual_hosts
    )
