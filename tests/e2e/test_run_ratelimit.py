"""Rate limiting through `contour run`: HTTPProxy `rateLimitPolicy`, local and global, with a real Envoy.

Local: every limited host and route is applied at once by one fixture (no later configuration change
resets Envoy's token buckets during a test) with a rate per hour, so no token comes back while a test
runs; each test uses a host of its own and waits for it on a route whose own, generous limit
overrides the host's. Proven with real requests: n requests pass, the next one gets the configured
status code and headers; a host limit; a route limit overriding its host's. Invalid policies are
reported in status (RateLimitPolicyNotValid, VirtualHostError or RouteError) while the other hosts
keep serving.

Global: a second `contour run`, started with a config file whose `rateLimitService` names an
ExtensionService (h2c) in front of a small RLS gRPC server running in the test process on 127.0.0.1
(a Service and an EndpointSlice point at it). The server records the descriptors it receives and
answers OVER_LIMIT for the descriptor entry `user=blocked`; it can be told to fail, to show `failOpen`.
Proven: genericKey / requestHeader / remoteAddress entries as the server sees them, a route's own
descriptors replacing its host's, `global.disabled`, the configuration's default global policy, 429 for
OVER_LIMIT and failing open. After every test Envoy's `update_rejected` counters must be zero (conftest).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from envoy.service.ratelimit.v3 import rls_pb2, rls_pb2_grpc

from tests.e2e.echo_config import Backends
from tests.e2e.run_routing_support import (
    Manifest,
    apply_feature,
    error_reasons,
    fetch,
    fetch_until,
    proxy,
    route,
    service,
    upstream,
    valid_condition,
    wait_current_status,
)
from tests.support.contour_run import ContourRun, running, wait_until

NS = "rl"


def host(name: str) -> str:
    return f"{name}.ratelimit.example.com"


def local(requests: int, unit: str = "hour", **fields: Any) -> dict[str, Any]:
    return {"local": {"requests": requests, "unit": unit, **fields}}


def prefix(value: str) -> Manifest:
    return {"prefix": value}


# A route the fixture waits on: its own limit overrides any host limit, so waiting spends no host token.
READY = route(prefix("/ready"), services=[upstream("echo")], rateLimitPolicy=local(1000, "second"))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContourRun]:
    with running(tmp_path_factory.mktemp("ratelimit-run") / "state") as contour:
        yield contour


@pytest.fixture(scope="module")
def limited(run: ContourRun, backends: Backends) -> None:
    """Every proxy of the module, applied together; returns once each valid host serves."""
    header_policy: dict[str, Any] = {"responseHeadersToAdd": [{"name": "x-limited-by", "value": "route"}]}
    proxies = [
        proxy(NS, "route-limit", host("route-limit"), routes=[
            READY,
            route(prefix("/limited"), services=[upstream("echo")],
                  rateLimitPolicy=local(2, responseStatusCode=503, **header_policy)),
            route(prefix("/"), services=[upstream("echo")]),
        ]),
        proxy(NS, "burst", host("burst"), routes=[
            READY,
            route(prefix("/"), services=[upstream("echo")], rateLimitPolicy=local(1, burst=2)),
        ]),
        proxy(NS, "vhost-limit", host("vhost-limit"), virtualhost={"rateLimitPolicy": local(2)}, routes=[
            READY,
            route(prefix("/"), services=[upstream("echo")]),
        ]),
        proxy(NS, "override", host("override"), virtualhost={"rateLimitPolicy": local(1)}, routes=[
            READY,
            route(prefix("/own"), services=[upstream("echo")],
                  rateLimitPolicy=local(3, responseStatusCode=507)),
            route(prefix("/"), services=[upstream("echo")]),
        ]),
        # A route's `global.disabled` configures Envoy's ratelimit filter, absent here: still no NACK.
        proxy(NS, "global-off", host("global-off"), routes=[
            route(prefix("/"), services=[upstream("echo")], rateLimitPolicy={"global": {"disabled": True}}),
        ]),
        proxy(NS, "bad-vhost", host("bad-vhost"), routes=[route(prefix("/"), services=[upstream("echo")])],
              virtualhost={"rateLimitPolicy": local(5, responseHeadersToAdd=[
                  {"name": "X-Foo", "value": "1"}, {"name": "x-foo", "value": "2"}])}),
        proxy(NS, "bad-route", host("bad-route"), routes=[
            route(prefix("/"), services=[upstream("echo")], rateLimitPolicy={"global": {"descriptors": [
                {"entries": [{"genericKey": {"value": "v"}, "remoteAddress": {}}]}]}}),
        ]),
    ]  # fmt: skip
    apply_feature(run, NS, service(NS, "echo", backends.a), proxies)
    for name in ("route-limit", "burst", "vhost-limit", "override"):
        fetch_until(run, host(name), "/ready")
    fetch_until(run, host("global-off"))


def statuses(run: ContourRun, name: str, path: str, count: int) -> list[int]:
    return [fetch(run, host(name), path).status for _ in range(count)]


@pytest.mark.usefixtures("limited")
def test_a_route_limit_passes_n_requests_then_answers_its_status(run: ContourRun) -> None:
    assert statuses(run, "route-limit", "/limited", 3) == [200, 200, 503]


@pytest.mark.usefixtures("limited")
def test_a_rate_limited_answer_carries_the_configured_headers(run: ContourRun) -> None:
    statuses(run, "route-limit", "/limited", 2)  # empty the bucket, if the test above did not
    reply = fetch(run, host("route-limit"), "/limited")
    assert (reply.status, reply.headers.get("x-limited-by")) == (503, "route")


@pytest.mark.usefixtures("limited")
def test_the_other_routes_of_a_host_are_not_limited_by_a_route_limit(run: ContourRun) -> None:
    statuses(run, "route-limit", "/limited", 3)
    assert statuses(run, "route-limit", "/", 5) == [200] * 5


@pytest.mark.usefixtures("limited")
def test_burst_adds_tokens_to_the_bucket(run: ContourRun) -> None:
    assert statuses(run, "burst", "/", 4) == [200, 200, 200, 429]


@pytest.mark.usefixtures("limited")
def test_a_host_limit_applies_to_its_routes_with_envoys_429(run: ContourRun) -> None:
    assert statuses(run, "vhost-limit", "/", 3) == [200, 200, 429]


@pytest.mark.usefixtures("limited")
def test_a_route_limit_overrides_its_hosts(run: ContourRun) -> None:
    assert statuses(run, "override", "/own", 4) == [200, 200, 200, 507]
    # The host's own bucket (one request) was not spent by the route's requests.
    assert statuses(run, "override", "/", 2) == [200, 429]


@pytest.mark.usefixtures("limited")
def test_envoy_counts_the_limited_requests_under_the_hosts_stat_prefix(run: ContourRun) -> None:
    statuses(run, "vhost-limit", "/", 3)
    stats = run.admin("/stats", format="json", filter=r"vhost\.vhost-limit").json().get("stats", [])
    counters = {s["name"]: s["value"] for s in stats if "value" in s}
    name = f"vhost.{host('vhost-limit')}.http_local_rate_limit.rate_limited"
    assert counters.get(name, 0) >= 1, counters


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param(
            "bad-vhost",
            ("VirtualHostError", "RateLimitPolicyNotValid",
             'Spec.VirtualHost.RateLimitPolicy is invalid: duplicate header addition: "X-Foo"'),
            id="vhost-duplicate-response-header",
        ),
        pytest.param(
            "bad-route",
            ("RouteError", "RateLimitPolicyNotValid",
             "route.rateLimitPolicy is invalid: rate limit descriptor entry must have exactly one field set"),
            id="route-descriptor-entry-with-two-fields",
        ),
    ],
)  # fmt: skip
@pytest.mark.usefixtures("limited")
def test_an_invalid_policy_is_reported_in_status(
    run: ContourRun, name: str, expected: tuple[str, str, str]
) -> None:
    status = wait_current_status(run, NS, name, "invalid")
    assert error_reasons(status) == [expected[:2]]
    [error] = valid_condition(status)["errors"]
    assert error["message"] == expected[2]
    assert fetch(run, host(name)).status == 404  # its host is not programmed
    assert fetch(run, host("global-off")).status == 200  # the others keep serving


# -- global rate limiting -----------------------------------------------------------------------------

GNS = "rls"
RLS_PORT = 8081
BLOCKED = ("user", "blocked")
Descriptor = tuple[tuple[str, str], ...]


class _RateLimitService(rls_pb2_grpc.RateLimitServiceServicer):  # type: ignore[misc]
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, list[Descriptor]]] = []
        self.failing = False

    def ShouldRateLimit(self, request: Any, context: Any) -> Any:  # noqa: N802 (the gRPC method's name)
        descriptors = [tuple((e.key, e.value) for e in d.entries) for d in request.descriptors]
        with self.lock:
            self.requests.append((request.domain, descriptors))
            failing = self.failing
        if failing:
            context.abort(grpc.StatusCode.UNAVAILABLE, "told to fail")
        over = any(BLOCKED in d for d in descriptors)
        code = rls_pb2.RateLimitResponse.OVER_LIMIT if over else rls_pb2.RateLimitResponse.OK
        return rls_pb2.RateLimitResponse(overall_code=code)


class RateLimitServer:
    """The RLS on 127.0.0.1 (kernel-chosen port), in a thread pool of this process."""

    def __init__(self) -> None:
        self.service = _RateLimitService()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        rls_pb2_grpc.add_RateLimitServiceServicer_to_server(self.service, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def calls(self) -> int:
        with self.service.lock:
            return len(self.service.requests)

    def since(self, start: int) -> list[tuple[str, list[Descriptor]]]:
        with self.service.lock:
            return list(self.service.requests[start:])

    def stop(self) -> None:
        self.server.stop(grace=None).wait(5)


RLS_CONFIG = f"""
rateLimitService:
  extensionService: {GNS}/ratelimit
  domain: contour
  failOpen: true
  defaultGlobalRateLimitPolicy:
    descriptors:
      - entries:
          - genericKey: {{key: default, value: all}}
"""


@pytest.fixture(autouse=True)
def no_global_run_rejections(request: pytest.FixtureRequest) -> Iterator[None]:
    """The conftest's NACK check, for the tests on `global_run`."""
    yield
    if "global_run" in request.fixturenames:
        run: ContourRun = request.getfixturevalue("global_run")
        assert run.rejections() == {}


@pytest.fixture(scope="module")
def rls_server() -> Iterator[RateLimitServer]:
    server = RateLimitServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def global_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContourRun]:
    work: Path = tmp_path_factory.mktemp("ratelimit-global-run")
    config = work / "contour.yaml"
    config.write_text(RLS_CONFIG)
    with running(work / "state", ("--config", str(config))) as contour:
        yield contour


def ghost(name: str) -> str:
    return f"{name}.rls.example.com"


def rls_service(port: int) -> list[Manifest]:
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "rls", "namespace": GNS},
            "spec": {"ports": [{"name": "grpc", "port": RLS_PORT, "targetPort": "grpc"}]},
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": "rls-0", "namespace": GNS, "labels": {"kubernetes.io/service-name": "rls"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
            "ports": [{"name": "grpc", "port": port, "protocol": "TCP"}],
        },
        {
            "apiVersion": "projectcontour.io/v1alpha1",
            "kind": "ExtensionService",
            "metadata": {"name": "ratelimit", "namespace": GNS},
            "spec": {"services": [{"name": "rls", "port": RLS_PORT}], "protocol": "h2c"},
        },
    ]


def entries(*items: dict[str, Any]) -> dict[str, Any]:
    return {"entries": list(items)}


USER = {"requestHeader": {"headerName": "x-user", "descriptorKey": "user"}}
DISABLED = {"global": {"disabled": True}}
HOST_LIMITS = {"global": {"descriptors": [entries({"genericKey": {"key": "host", "value": "described"}})]}}


@pytest.fixture(scope="module")
def global_limited(global_run: ContourRun, rls_server: RateLimitServer, backends: Backends) -> None:
    echo = upstream("echo")
    proxies = [
        proxy(GNS, "described", ghost("described"), virtualhost={"rateLimitPolicy": HOST_LIMITS}, routes=[
            route(prefix("/own"), services=[echo], rateLimitPolicy={"global": {"descriptors": [
                entries(USER), entries({"remoteAddress": {}})]}}),
            route(prefix("/free"), services=[echo], rateLimitPolicy=DISABLED),
            route(prefix("/"), services=[echo]),
        ]),
        proxy(GNS, "defaulted", ghost("defaulted"), routes=[route(prefix("/"), services=[echo])]),
        proxy(GNS, "opted-out", ghost("opted-out"), virtualhost={"rateLimitPolicy": DISABLED},
              routes=[route(prefix("/"), services=[echo])]),
    ]  # fmt: skip
    apply_feature(
        global_run, GNS, [*service(GNS, "echo", backends.a), *rls_service(rls_server.port)], proxies
    )
    for name in ("described", "defaulted", "opted-out"):
        fetch_until(global_run, ghost(name))


def descriptors_of(
    run: ContourRun, server: RateLimitServer, name: str, path: str, **headers: str
) -> list[Any]:
    """The (domain, descriptors) the RLS received for one request (fails if it was not asked)."""
    start = server.calls()
    reply = fetch(run, ghost(name), path, headers=headers)
    assert reply.status == 200, reply.text
    [received] = wait_until(lambda: server.since(start), bool, what=f"the RLS call for {name}{path}")
    return list(received)


@pytest.mark.usefixtures("global_limited")
def test_a_routes_descriptors_reach_the_service(global_run: ContourRun, rls_server: RateLimitServer) -> None:
    received = descriptors_of(global_run, rls_server, "described", "/own", **{"x-user": "alice"})
    assert received == ["contour", [(("user", "alice"),), (("remote_address", "127.0.0.1"),)]]


@pytest.mark.usefixtures("global_limited")
def test_a_route_without_descriptors_sends_its_hosts(
    global_run: ContourRun, rls_server: RateLimitServer
) -> None:
    received = descriptors_of(global_run, rls_server, "described", "/")
    assert received == ["contour", [(("host", "described"),)]]


@pytest.mark.usefixtures("global_limited")
def test_the_default_global_policy_applies_to_a_host_without_one(
    global_run: ContourRun, rls_server: RateLimitServer
) -> None:
    received = descriptors_of(global_run, rls_server, "defaulted", "/")
    assert received == ["contour", [(("default", "all"),)]]


@pytest.mark.parametrize(
    ("name", "path"),
    [
        pytest.param("described", "/free", id="route-global-disabled"),
        pytest.param("opted-out", "/", id="host-opted-out"),
    ],
)  # fmt: skip
@pytest.mark.usefixtures("global_limited")
def test_a_disabled_global_policy_asks_the_service_nothing(
    global_run: ContourRun, rls_server: RateLimitServer, name: str, path: str
) -> None:
    start = rls_server.calls()
    assert fetch(global_run, ghost(name), path).status == 200
    # A later checked request is answered after this one: had this one been checked, its call came first.
    descriptors_of(global_run, rls_server, "defaulted", "/")
    assert [d for _, d in rls_server.since(start)] == [[(("default", "all"),)]]


@pytest.mark.usefixtures("global_limited")
def test_over_limit_is_answered_429(global_run: ContourRun) -> None:
    assert fetch(global_run, ghost("described"), "/own", headers={"x-user": "alice"}).status == 200
    assert fetch(global_run, ghost("described"), "/own", headers={"x-user": "blocked"}).status == 429


@pytest.mark.usefixtures("global_limited")
def test_fail_open_lets_requests_through_when_the_service_fails(
    global_run: ContourRun, rls_server: RateLimitServer
) -> None:
    rls_server.service.failing = True
    try:
        start = rls_server.calls()
        reply = fetch(global_run, ghost("described"), "/own", headers={"x-user": "blocked"})
        assert rls_server.calls() > start  # the service was asked, and failed
        assert reply.status == 200
    finally:
        rls_server.service.failing = False
