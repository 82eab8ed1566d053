"""HTTPProxy routing end to end: manifests applied with kubectl to `contour run`, real requests through Envoy.

One `contour run` serves the whole module. Every feature family has its own namespace and host names,
applied once by a module fixture; each test then sends real HTTP requests through Envoy to the
session's `contour echo` backends (`echo-a`, `echo-b`, plus `echo-mirror` for mirroring), whose JSON
answers tell which pod served and which headers and path arrived. Which route matched is told by the
`X-Route` request header each route adds (`tagged`). Invalid objects are checked through the status
the controller writes back, while the valid routes beside them keep answering. After every test Envoy's
`update_rejected` counters must be zero: no NACK, ever.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import pytest

from tests.e2e.echo_config import Backends
from tests.e2e.run_routing_support import (
    Manifest,
    Reply,
    apply_feature,
    cluster_stats,
    echoed_header,
    error_reasons,
    external_name_service,
    fetch,
    fetch_until,
    include,
    namespace,
    pods_served,
    proxy,
    route,
    service,
    tagged,
    upstream,
    valid_condition,
    wait_current_status,
    websocket_echo,
)
from tests.support.contour_run import ContourRun, running, wait_until
from tests.support.envoy_harness import EchoBackend

# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContourRun]:
    with running(tmp_path_factory.mktemp("routing-run") / "state") as contour:
        yield contour


@pytest.fixture(scope="module")
def mirror_echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EchoBackend]:
    """A backend of its own, so its log holds only the requests Envoy mirrored to it."""
    echo = EchoBackend("echo-mirror", tmp_path_factory.mktemp("mirror"))
    try:
        yield echo
    finally:
        echo.stop()


# -- path conditions and Contour's route ordering ---------------------------------------------------

PATHS_HOST = "paths.routing.example.com"


@pytest.fixture(scope="module")
def paths(run: ContourRun, backends: Backends) -> str:
    beta = {"header": {"name": "X-Beta", "exact": "1"}}
    routes = [
        tagged("prefix-app", {"prefix": "/app"}),
        tagged("prefix-app-admin", {"prefix": "/app/admin"}),
        tagged("exact", {"exact": "/app/exact"}),
        tagged("regex", {"regex": "/app/[0-9]+"}),
        tagged("header-beta", {"prefix": "/app"}, beta),
        tagged("root", {"prefix": "/"}),
    ]
    apply_feature(
        run, "paths", service("paths", "echo", backends.a), [proxy("paths", "app", PATHS_HOST, routes=routes)]
    )
    fetch_until(run, PATHS_HOST, "/app/exact", lambda reply: reply.tag == "exact")
    return PATHS_HOST


@pytest.mark.parametrize(
    ("path", "headers", "expected"),
    [
        pytest.param("/app/x", {}, "prefix-app", id="prefix"),
        pytest.param("/apple", {}, "prefix-app", id="prefix-is-a-string-prefix-not-a-segment"),
        pytest.param("/app/admin/users", {}, "prefix-app-admin", id="longest-prefix-wins"),
        pytest.param("/app/exact", {}, "exact", id="exact-before-prefix"),
        pytest.param("/app/exact/more", {}, "prefix-app", id="exact-matches-only-the-whole-path"),
        pytest.param("/app/123", {}, "regex", id="regex-before-prefix"),
        pytest.param("/app/123/x", {}, "prefix-app", id="regex-matches-only-the-whole-path"),
        pytest.param("/other", {}, "root", id="slash-catches-the-rest"),
        pytest.param("/app/x", {"X-Beta": "1"}, "header-beta", id="header-match-before-same-prefix"),
        pytest.param("/app/admin/x", {"X-Beta": "1"}, "prefix-app-admin", id="longer-prefix-before-header"),
        pytest.param("/app/exact", {"X-Beta": "1"}, "exact", id="exact-before-prefix-with-header"),
    ],
)
def test_the_route_contour_orders_first_serves_the_path(
    run: ContourRun, paths: str, path: str, headers: dict[str, str], expected: str
) -> None:
    reply = fetch(run, paths, path, headers=headers)
    assert (reply.status, reply.tag) == (200, expected)
    assert reply.json is not None and reply.json["path"] == path


# -- header conditions ------------------------------------------------------------------------------

# name -> (the header condition on X-Tag besides `name`, an X-Tag value it matches; None: no header)
HEADER_CONDITIONS: dict[str, tuple[dict[str, Any], str | None]] = {
    "present": ({"present": True}, "anything"),
    "notpresent": ({"notpresent": True}, None),
    "contains": ({"contains": "foo"}, "foo"),
    "contains-ignorecase": ({"contains": "foo", "ignoreCase": True}, "foo"),
    "notcontains": ({"notcontains": "foo"}, "bar"),
    "notcontains-missing-as-empty": ({"notcontains": "foo", "treatMissingAsEmpty": True}, "bar"),
    "exact": ({"exact": "abc"}, "abc"),
    "exact-ignorecase": ({"exact": "abc", "ignoreCase": True}, "abc"),
    "notexact": ({"notexact": "abc"}, "xyz"),
    "notexact-missing-as-empty": ({"notexact": "abc", "treatMissingAsEmpty": True}, "xyz"),
    "regex": ({"regex": "v[0-9]+"}, "v1"),
}


def header_host(case: str) -> str:
    return f"{case}.headers.routing.example.com"


@pytest.fixture(scope="module")
def header_proxies(run: ContourRun, backends: Backends) -> None:
    proxies = [
        proxy(
            "headers", case, header_host(case), routes=[tagged(case, {"header": {"name": "X-Tag", **match}})]
        )
        for case, (match, _) in HEADER_CONDITIONS.items()
    ]
    apply_feature(run, "headers", service("headers", "echo", backends.a), proxies)
    for case, (_, probe) in HEADER_CONDITIONS.items():
        fetch_until(run, header_host(case), headers={} if probe is None else {"X-Tag": probe})


@pytest.mark.parametrize(
    ("case", "sent", "expected"),
    [
        pytest.param("present", "anything", 200, id="present-sent"),
        pytest.param("present", None, 404, id="present-missing"),
        pytest.param("notpresent", None, 200, id="notpresent-missing"),
        pytest.param("notpresent", "anything", 404, id="notpresent-sent"),
        pytest.param("contains", "xfooy", 200, id="contains-hit"),
        pytest.param("contains", "bar", 404, id="contains-miss"),
        pytest.param("contains", "xFOOy", 404, id="contains-is-case-sensitive"),
        pytest.param("contains-ignorecase", "xFOOy", 200, id="contains-ignorecase"),
        pytest.param("notcontains", "bar", 200, id="notcontains-hit"),
        pytest.param("notcontains", "xfooy", 404, id="notcontains-miss"),
        pytest.param("notcontains", None, 404, id="notcontains-missing-header-does-not-match"),
        pytest.param("notcontains-missing-as-empty", None, 200, id="notcontains-treat-missing-as-empty"),
        pytest.param("notcontains-missing-as-empty", "xfooy", 404, id="notcontains-missing-as-empty-miss"),
        pytest.param("exact", "abc", 200, id="exact-hit"),
        pytest.param("exact", "abcd", 404, id="exact-longer-value"),
        pytest.param("exact", "ABC", 404, id="exact-is-case-sensitive"),
        pytest.param("exact-ignorecase", "ABC", 200, id="exact-ignorecase"),
        pytest.param("exact-ignorecase", "abd", 404, id="exact-ignorecase-miss"),
        pytest.param("notexact", "xyz", 200, id="notexact-hit"),
        pytest.param("notexact", "abc", 404, id="notexact-miss"),
        pytest.param("notexact", None, 404, id="notexact-missing-header-does-not-match"),
        pytest.param("notexact-missing-as-empty", None, 200, id="notexact-treat-missing-as-empty"),
        pytest.param("regex", "v12", 200, id="regex-hit"),
        pytest.param("regex", "v12x", 404, id="regex-matches-the-whole-value"),
    ],
)
def test_a_header_condition_selects_requests(
    run: ContourRun, header_proxies: None, case: str, sent: str | None, expected: int
) -> None:
    reply = fetch(run, header_host(case), "/", headers={} if sent is None else {"X-Tag": sent})
    assert reply.status == expected
    if expected == 200:
        assert reply.tag == case


# -- query parameter conditions ---------------------------------------------------------------------

QUERY_CONDITIONS: dict[str, dict[str, Any]] = {
    "exact": {"exact": "v"},
    "exact-ignorecase": {"exact": "v", "ignoreCase": True},
    "prefix": {"prefix": "ab"},
    "prefix-ignorecase": {"prefix": "ab", "ignoreCase": True},
    "suffix": {"suffix": "yz"},
    "regex": {"regex": "[0-9]+"},
    "contains": {"contains": "mid"},
    "present": {"present": True},
}
QUERY_PROBES = {
    "exact": "v",
    "exact-ignorecase": "V",
    "prefix": "abc",
    "prefix-ignorecase": "ABc",
    "suffix": "xyz",
    "regex": "123",
    "contains": "amidb",
    "present": "",
}


def query_host(case: str) -> str:
    return f"{case}.queries.routing.example.com"


@pytest.fixture(scope="module")
def query_proxies(run: ContourRun, backends: Backends) -> None:
    proxies = [
        proxy(
            "queries", case, query_host(case), routes=[tagged(case, {"queryParameter": {"name": "q", **m}})]
        )
        for case, m in QUERY_CONDITIONS.items()
    ]
    apply_feature(run, "queries", service("queries", "echo", backends.a), proxies)
    for case, value in QUERY_PROBES.items():
        fetch_until(run, query_host(case), f"/?q={value}")


@pytest.mark.parametrize(
    ("case", "query", "expected"),
    [
        pytest.param("exact", "q=v", 200, id="exact-hit"),
        pytest.param("exact", "q=vv", 404, id="exact-miss"),
        pytest.param("exact", "q=V", 404, id="exact-is-case-sensitive"),
        pytest.param("exact-ignorecase", "q=V", 200, id="exact-ignorecase"),
        pytest.param("prefix", "q=abc", 200, id="prefix-hit"),
        pytest.param("prefix", "q=xab", 404, id="prefix-miss"),
        pytest.param("prefix-ignorecase", "q=ABc", 200, id="prefix-ignorecase"),
        pytest.param("suffix", "q=xyz", 200, id="suffix-hit"),
        pytest.param("suffix", "q=yzx", 404, id="suffix-miss"),
        pytest.param("regex", "q=123", 200, id="regex-hit"),
        pytest.param("regex", "q=12a", 404, id="regex-matches-the-whole-value"),
        pytest.param("contains", "q=amidb", 200, id="contains-hit"),
        pytest.param("contains", "q=mi", 404, id="contains-miss"),
        pytest.param("present", "q=anything", 200, id="present-hit"),
        pytest.param("present", "other=1", 404, id="present-miss"),
        pytest.param("exact", "other=1&q=v", 200, id="any-position-in-the-query"),
    ],
)
def test_a_query_parameter_condition_selects_requests(
    run: ContourRun, query_proxies: None, case: str, query: str, expected: int
) -> None:
    reply = fetch(run, query_host(case), f"/search?{query}")
    assert reply.status == expected
    if expected == 200:
        assert reply.tag == case


# -- includes across namespaces ---------------------------------------------------------------------

INCLUDES_HOST = "includes.routing.example.com"


@pytest.fixture(scope="module")
def includes(run: ContourRun, backends: Backends) -> str:
    run.apply([namespace("inc-root"), namespace("inc-team"), namespace("inc-tenant")])
    # The children's `echo` Service is a different backend than the root's: the pod says whose it is.
    run.apply([*service("inc-root", "echo", backends.a), *service("inc-team", "echo", backends.b)])
    run.apply(service("inc-tenant", "echo", backends.b))
    tenant = {"header": {"name": "X-Tenant", "exact": "t1"}}
    run.apply(
        [
            proxy(
                "inc-team",
                "api",
                routes=[tagged("api-v1", {"prefix": "/v1"}), tagged("api-root", {"prefix": "/"})],
            ),
            proxy("inc-tenant", "tenant", routes=[tagged("tenant")]),
            proxy(
                "inc-root",
                "root",
                INCLUDES_HOST,
                includes=[
                    include("api", "inc-team", {"prefix": "/api/"}),
                    include("tenant", "inc-tenant", {"prefix": "/t"}, tenant),
                ],
                routes=[tagged("root", {"prefix": "/"})],
            ),
        ]
    )
    fetch_until(run, INCLUDES_HOST, "/api/v1", lambda reply: reply.tag == "api-v1")
    return INCLUDES_HOST


@pytest.mark.parametrize(
    ("path", "headers", "expected"),
    [
        pytest.param(
            "/api/v1/users", {}, ("api-v1", "echo-b"), id="include-prefix-concatenated-with-child-prefix"
        ),
        pytest.param("/api/other", {}, ("api-root", "echo-b"), id="child-slash-route-under-include-prefix"),
        pytest.param("/apiv1", {}, ("root", "echo-a"), id="include-prefix-with-slash-is-not-a-string-prefix"),
        pytest.param("/t/x", {"X-Tenant": "t1"}, ("tenant", "echo-b"), id="include-header-condition-met"),
        pytest.param("/t/x", {"X-Tenant": "t2"}, ("root", "echo-a"), id="include-header-condition-not-met"),
        pytest.param("/elsewhere", {}, ("root", "echo-a"), id="root-route"),
    ],
)
def test_an_include_serves_the_child_routes_under_its_conditions(
    run: ContourRun, includes: str, path: str, headers: dict[str, str], expected: tuple[str, str]
) -> None:
    reply = fetch(run, includes, path, headers=headers)
    assert (reply.status, (reply.tag, reply.pod)) == (200, expected)
    assert reply.json is not None and reply.json["path"] == path  # no rewrite: the full path arrives


def test_included_proxies_are_valid(run: ContourRun, includes: str) -> None:
    for ns, name in [("inc-root", "root"), ("inc-team", "api"), ("inc-tenant", "tenant")]:
        wait_current_status(run, ns, name, "valid")


CYCLE_HOST = "cycle.routing.example.com"
BROKEN_HOST = "broken-include.routing.example.com"


@pytest.fixture(scope="module")
def cycle(run: ContourRun, backends: Backends) -> str:
    apply_feature(
        run,
        "cycle",
        service("cycle", "echo", backends.a),
        [
            proxy("cycle", "first", includes=[include("second", None, {"prefix": "/second"})],
                  routes=[tagged("first", {"prefix": "/"})]),
            proxy("cycle", "second", includes=[include("first", None, {"prefix": "/again"})],
                  routes=[tagged("second", {"prefix": "/"})]),
            proxy("cycle", "lonely", routes=[tagged("lonely", {"prefix": "/"})]),
            proxy("cycle", "root", CYCLE_HOST, includes=[include("first", None, {"prefix": "/first"})],
                  routes=[tagged("root", {"prefix": "/"})]),
            proxy("cycle", "broken", BROKEN_HOST, includes=[include("nowhere", None, {"prefix": "/gone"})],
                  routes=[tagged("broken", {"prefix": "/"})]),
        ],
    )  # fmt: skip
    return CYCLE_HOST


def test_an_include_cycle_is_reported_and_the_root_keeps_serving(run: ContourRun, cycle: str) -> None:
    status = wait_current_status(run, "cycle", "first", "invalid")
    assert error_reasons(status) == [("IncludeError", "IncludeCreatesCycle")]
    message = valid_condition(status)["errors"][0]["message"]
    assert "cycle/first -> cycle/second -> cycle/first" in message
    assert fetch_until(run, cycle, "/x").tag == "root"
    assert fetch(run, cycle, "/first/second/x").tag == "second"  # the chain up to the cycle still serves


def test_an_orphaned_proxy_is_reported_and_serves_nothing(run: ContourRun, cycle: str) -> None:
    status = wait_current_status(run, "cycle", "lonely", "orphaned")
    assert error_reasons(status) == [("Orphaned", "Orphaned")]
    assert fetch_until(run, cycle, "/x").tag == "root"


def test_a_missing_include_is_reported_and_answers_502_under_its_prefix(run: ContourRun, cycle: str) -> None:
    status = wait_current_status(run, "cycle", "broken", "invalid")
    assert error_reasons(status) == [("IncludeError", "IncludeNotFound")]
    assert fetch_until(run, BROKEN_HOST, "/gone/x", lambda reply: reply.status == 502).status == 502
    assert fetch(run, BROKEN_HOST, "/elsewhere").tag == "broken"


# -- virtual host names -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wildcard(run: ContourRun, backends: Backends, paths: str) -> None:
    apply_feature(
        run,
        "wildcard",
        service("wildcard", "echo", backends.b),
        [proxy("wildcard", "star", "*.example.com", routes=[tagged("wildcard", {"prefix": "/"})])],
    )
    fetch_until(run, "any.example.com")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        pytest.param("foo.example.com", 200, id="one-label-matches"),
        pytest.param("foo.example.com:8080", 200, id="one-label-with-port-matches"),
        pytest.param("foo.bar.example.com", 404, id="two-labels-do-not-match"),
        pytest.param("example.com", 404, id="bare-domain-does-not-match"),
    ],
)
def test_a_wildcard_fqdn_matches_one_dns_label(
    run: ContourRun, wildcard: None, host: str, expected: int
) -> None:
    reply = fetch(run, host, "/")
    assert reply.status == expected
    if expected == 200:
        assert (reply.tag, reply.pod) == ("wildcard", "echo-b")


def test_an_exact_fqdn_matches_a_host_with_a_port_and_beats_the_wildcard(
    run: ContourRun, wildcard: None, paths: str
) -> None:
    reply = fetch(run, f"{paths}:31337", "/other")
    assert (reply.status, reply.tag, reply.pod) == (200, "root", "echo-a")


# -- services: weights and mirroring ----------------------------------------------------------------


@pytest.fixture(scope="module")
def weighted(run: ContourRun, backends: Backends) -> None:
    def split(a: int, b: int) -> list[Manifest]:
        return [route(services=[upstream("a", weight=a), upstream("b", weight=b)])]

    apply_feature(
        run,
        "weights",
        [*service("weights", "a", backends.a), *service("weights", "b", backends.b)],
        [
            proxy("weights", "ninety-ten", "ninety-ten.routing.example.com", routes=split(90, 10)),
            proxy("weights", "zero-hundred", "zero-hundred.routing.example.com", routes=split(0, 100)),
        ],
    )
    fetch_until(run, "ninety-ten.routing.example.com")
    fetch_until(run, "zero-hundred.routing.example.com")


def test_weights_90_10_split_the_traffic_in_proportion(run: ContourRun, weighted: None) -> None:
    seen = pods_served(run, "ninety-ten.routing.example.com", 200)
    assert set(seen) == {"echo-a", "echo-b"}
    # 200 draws at p=0.1: mean 20, standard deviation 4.2; 5..45 is more than 3.5 deviations each way.
    assert 5 <= seen["echo-b"] <= 45, seen


def test_a_zero_weight_service_gets_no_traffic(run: ContourRun, weighted: None) -> None:
    assert pods_served(run, "zero-hundred.routing.example.com", 50) == Counter({"echo-b": 50})


def test_a_mirror_service_receives_a_copy_of_each_request(
    run: ContourRun, backends: Backends, mirror_echo: EchoBackend
) -> None:
    host = "mirror.routing.example.com"
    apply_feature(
        run,
        "mirror",
        [*service("mirror", "echo", backends.a), *service("mirror", "shadow", mirror_echo)],
        [
            proxy(
                "mirror",
                "app",
                host,
                routes=[route(services=[upstream("echo"), upstream("shadow", mirror=True)])],
            )
        ],
    )
    fetch_until(run, host)
    path = f"/mirrored/{uuid.uuid4()}"
    assert fetch(run, host, path).pod == "echo-a"
    wait_until(
        mirror_echo.log,
        lambda log: f"Echoing back request made to {path} " in log,
        what=f"the mirrored request {path} in the mirror's log",
    )


# -- request and response manipulation --------------------------------------------------------------


@pytest.fixture(scope="module")
def policies(run: ContourRun, backends: Backends) -> str:
    host = "policies.routing.example.com"
    service_headers = {
        "set": [{"name": "X-Service", "value": "%CONTOUR_SERVICE_NAME%:%CONTOUR_SERVICE_PORT%"}]
    }
    routes = [
        route(
            {"prefix": "/headers"},
            services=[upstream("echo", requestHeadersPolicy=service_headers)],
            requestHeadersPolicy={
                "set": [
                    {"name": "X-Namespace", "value": "%CONTOUR_NAMESPACE%"},
                    {"name": "Host", "value": "rewritten.example.com"},
                ],
                "remove": ["X-Drop"],
            },
            responseHeadersPolicy={
                "set": [{"name": "X-Answer", "value": "from-contour"}],
                "remove": ["X-Content-Type-Options"],
            },
        ),
        route(
            {"prefix": "/old"},
            services=[upstream("echo")],
            pathRewritePolicy={"replacePrefix": [{"prefix": "/old", "replacement": "/new"}]},
        ),
        route({"prefix": "/moved"}, requestRedirectPolicy={
            "scheme": "https", "hostname": "new.example.com", "port": 8443, "statusCode": 301,
            "path": "/landing",
        }),
        route({"prefix": "/legacy"}, requestRedirectPolicy={"prefix": "/modern"}),
        route({"prefix": "/teapot"}, directResponsePolicy={"statusCode": 418, "body": "short and stout"}),
        route({"prefix": "/present"}, services=[upstream("echo")]),
        route({"prefix": "/absent"}, services=[upstream("no-such-service")]),
    ]  # fmt: skip
    apply_feature(
        run,
        "policies",
        service("policies", "echo", backends.a),
        [proxy("policies", "app", host, routes=routes)],
    )
    fetch_until(run, host, "/teapot", lambda reply: reply.status == 418)
    return host


def test_request_headers_policy_expands_contour_variables(run: ContourRun, policies: str) -> None:
    reply = fetch(run, policies, "/headers")
    assert echoed_header(reply, "X-Namespace") == "policies"
    assert echoed_header(reply, "X-Service") == "echo:80"


def test_request_headers_policy_removes_a_header(run: ContourRun, policies: str) -> None:
    reply = fetch(run, policies, "/headers", headers={"X-Drop": "secret", "X-Keep": "kept"})
    assert echoed_header(reply, "X-Keep") == "kept"
    assert echoed_header(reply, "X-Drop") is None


def test_a_host_header_in_the_request_policy_rewrites_the_host(run: ContourRun, policies: str) -> None:
    reply = fetch(run, policies, "/headers")
    assert reply.json is not None and reply.json["host"] == "rewritten.example.com"


def test_response_headers_policy_sets_and_removes_headers(run: ContourRun, policies: str) -> None:
    assert fetch(run, policies, "/present").headers.get("x-content-type-options") == "nosniff"  # the echo's
    reply = fetch(run, policies, "/headers")
    assert reply.headers.get("x-answer") == "from-contour"
    assert "x-content-type-options" not in reply.headers


@pytest.mark.parametrize(
    ("path", "rewritten"),
    [("/old/page", "/new/page"), ("/old", "/new"), ("/old/a?b=c", "/new/a?b=c")],
    ids=["below-the-prefix", "the-prefix-itself", "with-a-query"],
)
def test_replace_prefix_rewrites_the_path_sent_upstream(
    run: ContourRun, policies: str, path: str, rewritten: str
) -> None:
    reply = fetch(run, policies, path)
    assert reply.json is not None and reply.json["path"] == rewritten


@pytest.mark.parametrize(
    ("path", "status", "location"),
    [
        ("/moved/x", 301, "https://new.example.com:8443/landing"),
        ("/legacy/x", 302, "http://policies.routing.example.com/modern/x"),
    ],
    ids=["301-scheme-host-port-path", "302-by-default-prefix-replaced"],
)
def test_request_redirect_policy_answers_a_redirect(
    run: ContourRun, policies: str, path: str, status: int, location: str
) -> None:
    reply = fetch(run, policies, path)
    assert (reply.status, reply.headers.get("location")) == (status, location)


def test_direct_response_policy_answers_its_status_and_body(run: ContourRun, policies: str) -> None:
    reply = fetch(run, policies, "/teapot")
    assert (reply.status, reply.text) == (418, "short and stout")


def test_a_missing_service_gives_503_on_its_route_only_and_an_error(run: ContourRun, policies: str) -> None:
    assert fetch(run, policies, "/absent").status == 503
    assert fetch(run, policies, "/present").pod == "echo-a"
    status = wait_current_status(run, "policies", "app", "invalid")
    assert error_reasons(status) == [("ServiceError", "ServiceUnresolvedReference")]


def test_the_backend_receives_x_request_start(run: ContourRun, policies: str) -> None:
    started = echoed_header(fetch(run, policies, "/present"), "X-Request-Start") or ""
    assert re.fullmatch(r"t=\d{10}\.\d{3}", started), started
    assert abs(float(started[2:]) - time.time()) < 60


# -- websockets, timeouts, retries ------------------------------------------------------------------


@pytest.fixture(scope="module")
def behaviours(run: ContourRun, backends: Backends) -> None:
    plain = [upstream("echo")]
    apply_feature(
        run,
        "behaviours",
        service("behaviours", "echo", backends.a),
        [
            proxy("behaviours", "ws-on", "ws-on.routing.example.com",
                  routes=[route({"prefix": "/"}, services=plain, enableWebsockets=True)]),
            proxy("behaviours", "ws-off", "ws-off.routing.example.com", routes=[route(services=plain)]),
            proxy("behaviours", "timeout", "timeout.routing.example.com",
                  routes=[route(services=plain, timeoutPolicy={"response": "1s"})]),
            proxy("behaviours", "retry", "retry.routing.example.com",
                  routes=[route(services=plain, retryPolicy={"count": 2, "retryOn": ["5xx"]})]),
            proxy("behaviours", "no-retry", "no-retry.routing.example.com", routes=[route(services=plain)]),
        ],
    )  # fmt: skip
    for name in ("ws-on", "ws-off", "timeout", "retry", "no-retry"):
        fetch_until(run, f"{name}.routing.example.com")


async def test_enable_websockets_lets_a_websocket_through(run: ContourRun, behaviours: None) -> None:
    assert (
        await websocket_echo(run, "ws-on.routing.example.com", "hello through envoy") == "hello through envoy"
    )


async def test_without_enable_websockets_the_upgrade_is_refused(run: ContourRun, behaviours: None) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await websocket_echo(run, "ws-off.routing.example.com", "nope")
    assert refused.value.status == 403


def test_a_response_timeout_gives_504(run: ContourRun, behaviours: None) -> None:
    started = time.monotonic()
    reply = fetch(run, "timeout.routing.example.com", "/?delay=3s", timeout=10)
    elapsed = time.monotonic() - started
    assert reply.status == 504
    assert 0.9 < elapsed < 2.5


@pytest.mark.parametrize(
    ("host", "expected"),
    [("retry.routing.example.com", 200), ("no-retry.routing.example.com", 503)],
    ids=["retry-policy-retries-a-503", "no-retry-policy-passes-the-503-on"],
)
def test_retry_policy_retries_a_failed_attempt(
    run: ContourRun, behaviours: None, host: str, expected: int
) -> None:
    reply = fetch(run, host, f"/retry/?uuid={uuid.uuid4()}&succeedAfter=1&responseCode=503")
    assert reply.status == expected


# -- load balancer policies -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def balanced(run: ContourRun, backends: Backends) -> None:
    hashed = {
        "strategy": "RequestHash",
        "requestHashPolicies": [{"headerHashOptions": {"headerName": "X-User"}}],
    }
    apply_feature(
        run,
        "balancing",
        service("balancing", "pair", backends.a, backends.b),
        [
            proxy("balancing", "cookie", "cookie.routing.example.com",
                  routes=[route(services=[upstream("pair")], loadBalancerPolicy={"strategy": "Cookie"})]),
            proxy("balancing", "hash", "hash.routing.example.com",
                  routes=[route(services=[upstream("pair")], loadBalancerPolicy=hashed)]),
        ],
    )  # fmt: skip
    fetch_until(run, "cookie.routing.example.com")
    fetch_until(run, "hash.routing.example.com", headers={"X-User": "probe"})


def test_cookie_load_balancing_keeps_a_client_on_one_backend(run: ContourRun, balanced: None) -> None:
    host = "cookie.routing.example.com"
    first_pods: set[str | None] = set()
    for _ in range(24):
        reply = fetch(run, host)
        cookie = reply.headers.get("set-cookie", "").split(";")[0]
        assert cookie.startswith("X-Contour-Session-Affinity="), reply.headers
        first_pods.add(reply.pod)
        assert pods_served(run, host, 5, cookie=cookie) == Counter({reply.pod: 5})
    assert first_pods == {"echo-a", "echo-b"}  # both endpoints are live, so the stickiness is the policy's


def test_request_hash_on_a_header_keeps_a_user_on_one_backend(run: ContourRun, balanced: None) -> None:
    chosen: set[str | None] = set()
    for user in range(24):
        seen = pods_served(run, "hash.routing.example.com", 5, **{"X-User": f"user-{user}"})
        assert len(seen) == 1, seen
        chosen |= set(seen)
    assert chosen == {"echo-a", "echo-b"}


# -- CORS -------------------------------------------------------------------------------------------

CORS_HOST = "cors.routing.example.com"


@pytest.fixture(scope="module")
def cors(run: ContourRun, backends: Backends) -> str:
    policy = {
        "allowOrigin": ["https://allowed.example"],
        "allowMethods": ["GET", "POST"],
        "allowHeaders": ["X-Custom"],
        "exposeHeaders": ["X-Exposed"],
        "maxAge": "10m",
        "allowCredentials": True,
    }
    apply_feature(
        run,
        "cors",
        service("cors", "echo", backends.a),
        [
            proxy(
                "cors",
                "app",
                CORS_HOST,
                virtualhost={"corsPolicy": policy},
                routes=[route(services=[upstream("echo")])],
            )
        ],
    )
    fetch_until(run, CORS_HOST)
    return CORS_HOST


def preflight(run: ContourRun, origin: str) -> Reply:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "X-Custom",
    }
    return fetch(run, CORS_HOST, "/", method="OPTIONS", headers=headers)


def test_a_cors_preflight_from_an_allowed_origin_gets_the_policy(run: ContourRun, cors: str) -> None:
    reply = preflight(run, "https://allowed.example")
    assert reply.status == 200
    got = {name: reply.headers.get(name, "").lower() for name in (
        "access-control-allow-origin", "access-control-allow-methods", "access-control-allow-headers",
        "access-control-max-age", "access-control-allow-credentials",
    )}  # fmt: skip
    assert got == {
        "access-control-allow-origin": "https://allowed.example",
        "access-control-allow-methods": "get,post",
        "access-control-allow-headers": "x-custom",
        "access-control-max-age": "600",
        "access-control-allow-credentials": "true",
    }


def test_a_cors_preflight_from_another_origin_gets_no_allow_origin(run: ContourRun, cors: str) -> None:
    assert "access-control-allow-origin" not in preflight(run, "https://elsewhere.example").headers


def test_a_cors_request_from_an_allowed_origin_exposes_headers(run: ContourRun, cors: str) -> None:
    reply = fetch(run, cors, "/", headers={"Origin": "https://allowed.example"})
    assert reply.pod == "echo-a"
    assert reply.headers.get("access-control-allow-origin") == "https://allowed.example"
    assert reply.headers.get("access-control-expose-headers", "").lower() == "x-exposed"


# -- Envoy's stats listener and active health checks ------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "expected"),
    [("/ready", 200, "LIVE"), ("/stats/prometheus", 200, "envoy_server_live"), ("/config_dump", 404, "")],
    ids=["ready", "prometheus", "admin-pages-not-exposed"],
)
def test_the_stats_listener_serves_ready_and_prometheus(
    run: ContourRun, path: str, status: int, expected: str
) -> None:
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        response = client.get(f"http://127.0.0.1:{run.stats_port}{path}")
    assert response.status_code == status
    assert expected in response.text


@pytest.mark.parametrize(
    ("check_path", "counter", "healthy"),
    [("/health", "health_check.success", 1), ("/status/500", "health_check.failure", 0)],
    ids=["healthy-backend", "failing-backend"],
)
def test_health_check_policy_makes_envoy_probe_the_backend(
    run: ContourRun, backends: Backends, check_path: str, counter: str, healthy: int
) -> None:
    ns = "health-ok" if healthy else "health-failing"
    policy = {"path": check_path, "intervalSeconds": 1, "timeoutSeconds": 1,
              "unhealthyThresholdCount": 1, "healthyThresholdCount": 1}  # fmt: skip
    apply_feature(
        run,
        ns,
        service(ns, "echo", backends.a),
        [
            proxy(
                ns,
                "app",
                f"{ns}.routing.example.com",
                routes=[route(services=[upstream("echo")], healthCheckPolicy=policy)],
            )
        ],
    )
    stats = wait_until(
        lambda: cluster_stats(run, f"{ns}_echo_80"),
        lambda found: found.get(counter, 0) >= 1,
        what=f"Envoy's {counter} for {ns}/echo",
    )
    assert stats["membership_healthy"] == healthy


# -- ExternalName Services --------------------------------------------------------------------------


def test_an_external_name_service_is_refused_without_enable_external_name_service(
    run: ContourRun, backends: Backends
) -> None:
    host = "external.routing.example.com"
    apply_feature(
        run,
        "external",
        [
            external_name_service("external", "outside", "example.org"),
            *service("external", "echo", backends.a),
        ],
        [proxy("external", "app", host, routes=[
            route({"prefix": "/out"}, services=[upstream("outside")]),
            route({"prefix": "/"}, services=[upstream("echo")]),
        ])],
    )  # fmt: skip
    status = wait_current_status(run, "external", "app", "invalid")
    assert error_reasons(status) == [("ServiceError", "ServiceUnresolvedReference")]
    assert (
        "is an ExternalName service, these are not currently enabled"
        in valid_condition(status)["errors"][0]["message"]
    )
    assert fetch_until(run, host, "/out", lambda reply: reply.status == 503).status == 503
    assert fetch(run, host, "/").pod == "echo-a"
