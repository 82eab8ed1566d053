"""Ingress v1 end to end through `contour run`: kubectl apply, then real HTTP(S) through its Envoy.

One `contour run` serves the module. Each feature has its own namespace and host names; a module
fixture applies the objects a family of tests shares and waits until Envoy serves them, so the tests
themselves only send requests. Negative cases ("not served", "no route") are checked only after a
later object of the same kind is served, so a 404 never just means "not there yet". After every test
Envoy's `update_rejected` counters must be zero. The catch-all host `*` (default backend, rules
without host) is removed again by its fixture, since it would otherwise answer every unknown host.
"""

from __future__ import annotations

import ssl
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.echo_config import Backends
from tests.e2e.run_ingress_support import (
    Port,
    ProtocolEcho,
    certificate,
    delegation,
    dynamic_cluster,
    from_pod,
    http_path,
    https_get,
    ingress,
    load_balancers,
    namespace,
    rule,
    service,
    simple_ingress,
    wait_for_https,
    websocket_echo,
)
from tests.echo.certs import TestPKI
from tests.support.contour_run import ContourRun, running, wait_until
from tests.support.envoy_harness import EchoBackend


def echo_service(
    ns: str, name: str, echo: EchoBackend, annotations: dict[str, str] | None = None
) -> list[Any]:
    return service(ns, name, [Port("http", 80, echo.port)], annotations)


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContourRun]:
    with running(tmp_path_factory.mktemp("contour-run-ingress") / "state") as contour:
        yield contour


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    return TestPKI(tmp_path_factory.mktemp("ingress-pki"), "ingress e2e CA")


# -- path types -------------------------------------------------------------------------------------

PATHS = "paths"


@pytest.fixture(scope="module")
def path_types(run: ContourRun, backends: Backends) -> None:
    """One host per path type, each with a single path, so 200 versus 404 says which paths matched."""
    run.apply([namespace(PATHS), *echo_service(PATHS, "echo", backends.a)])
    run.apply(
        [
            ingress(
                PATHS,
                "paths",
                [
                    rule("exact.paths.example.com", http_path("/exact", "Exact", "echo")),
                    rule("prefix.paths.example.com", http_path("/foo", "Prefix", "echo")),
                    rule("slash.paths.example.com", http_path("/foo/", "Prefix", "echo")),
                    rule("string.paths.example.com", http_path("/str", "ImplementationSpecific", "echo")),
                    rule("regex.paths.example.com", http_path("/re[0-9]+", "ImplementationSpecific", "echo")),
                ],
            )
        ]
    )
    run.wait_for("exact.paths.example.com", from_pod("echo-a"), path="/exact")


@pytest.mark.parametrize(
    ("host", "path", "status"),
    [
        ("exact", "/exact", 200),
        ("exact", "/exact/", 404),
        ("exact", "/exact/more", 404),
        ("exact", "/exactly", 404),
        ("prefix", "/foo", 200),
        ("prefix", "/foo/", 200),
        ("prefix", "/foo/bar", 200),
        ("prefix", "/foobar", 404),
        ("prefix", "/", 404),
        ("slash", "/foo", 200),
        ("slash", "/foo/bar", 200),
        ("slash", "/foobar", 404),
        ("string", "/str", 200),
        ("string", "/strange", 200),
        ("string", "/str/x", 200),
        ("string", "/other", 404),
        ("regex", "/re123", 200),
        ("regex", "/re1?query=yes", 200),
        ("regex", "/re", 404),
        ("regex", "/reX", 404),
        ("regex", "/re123/more", 404),
    ],
    ids=str,
)
def test_a_path_type_matches_as_contour_does(
    run: ContourRun, path_types: None, host: str, path: str, status: int
) -> None:
    assert run.request(f"{host}.paths.example.com", path).status == status


# -- hosts ------------------------------------------------------------------------------------------

HOSTS = "hosts"


@pytest.fixture(scope="module")
def hosts(run: ContourRun, backends: Backends) -> None:
    run.apply(
        [namespace(HOSTS), *echo_service(HOSTS, "a", backends.a), *echo_service(HOSTS, "b", backends.b)]
    )
    run.apply(
        [
            ingress(
                HOSTS,
                "hosts",
                [
                    rule("exact.hosts.example.com", http_path("/", "Prefix", "a")),
                    rule("*.wild.hosts.example.com", http_path("/", "Prefix", "b")),
                    rule("port-name.hosts.example.com", http_path("/", "Prefix", "b", "http")),
                ],
            )
        ]
    )
    run.wait_for("exact.hosts.example.com", from_pod("echo-a"))
    run.wait_for("one.wild.hosts.example.com", from_pod("echo-b"))


@pytest.mark.parametrize(
    ("host", "pod"),
    [
        ("exact.hosts.example.com", "echo-a"),
        ("EXACT.hosts.example.com", "echo-a"),
        ("exact.hosts.example.com:8080", "echo-a"),
        ("one.wild.hosts.example.com", "echo-b"),
        ("two.wild.hosts.example.com", "echo-b"),
        ("wild.hosts.example.com", None),
        ("a.b.wild.hosts.example.com", None),
        ("other.hosts.example.com", None),
        ("port-name.hosts.example.com", "echo-b"),
    ],
    ids=str,
)
def test_a_host_or_wildcard_host_selects_its_rule(
    run: ContourRun, hosts: None, host: str, pod: str | None
) -> None:
    answer = run.request(host)
    assert (answer.status, answer.pod) == ((200, pod) if pod else (404, None))


# -- default backend and rules without host ----------------------------------------------------------

CATCH_ALL = "catch-all"


@pytest.fixture(scope="class")
def catch_all(run: ContourRun, backends: Backends) -> Iterator[None]:
    """An Ingress with `spec.defaultBackend` (echo-a) and a rule without host for `/nohost` (echo-b),
    beside a named host (echo-b); deleted after the class's tests, and gone from Envoy before the next."""
    run.apply([namespace(CATCH_ALL), *echo_service(CATCH_ALL, "a", backends.a)])
    run.apply([*echo_service(CATCH_ALL, "b", backends.b)])
    run.apply(
        [
            ingress(
                CATCH_ALL, "default", [rule(None, http_path("/nohost", "Prefix", "b"))], default_backend="a"
            ),
            simple_ingress(CATCH_ALL, "named", "named.catch-all.example.com", "b"),
        ]
    )
    run.wait_for("anything.example.com", from_pod("echo-a"))
    run.wait_for("named.catch-all.example.com", from_pod("echo-b"))
    try:
        yield
    finally:
        run.kubectl("delete", "ingress", "default", "named", "-n", CATCH_ALL)
        run.wait_for("anything.example.com", lambda a: a.status == 404, what="the catch-all host removed")


@pytest.mark.usefixtures("catch_all")
class TestCatchAllHost:
    """The catch-all host `*` exists only while this class runs."""

    @pytest.mark.parametrize(
        ("host", "path", "pod"),
        [
            ("anything.example.com", "/", "echo-a"),
            ("anything.example.com", "/deep/path", "echo-a"),
            ("another.example.org", "/nohost/x", "echo-b"),
            ("another.example.org", "/nohostile", "echo-a"),
            ("named.catch-all.example.com", "/", "echo-b"),
        ],
        ids=[
            "default-backend",
            "default-backend-deep",
            "rule-without-host",
            "segment-miss-falls-back",
            "named-host",
        ],
    )
    def test_the_default_backend_and_host_less_rules_serve_every_host(
        self, run: ContourRun, host: str, path: str, pod: str
    ) -> None:
        answer = run.request(host, path)
        assert (answer.status, answer.pod) == (200, pod)


# -- ingress class ----------------------------------------------------------------------------------

CLASSES = "classes"
CLASS_CASES: list[tuple[str, dict[str, str], str | None, bool]] = [
    ("no-class", {}, None, True),
    ("spec-contour", {}, "contour", True),
    ("kubernetes-annotation-contour", {"kubernetes.io/ingress.class": "contour"}, None, True),
    ("contour-annotation-contour", {"projectcontour.io/ingress.class": "contour"}, None, True),
    ("annotation-beats-spec", {"projectcontour.io/ingress.class": "contour"}, "nginx", True),
    ("spec-other", {}, "nginx", False),
    ("kubernetes-annotation-other", {"kubernetes.io/ingress.class": "nginx"}, None, False),
    ("contour-annotation-other", {"projectcontour.io/ingress.class": "nginx"}, "contour", False),
    (
        "contour-annotation-first",
        {"projectcontour.io/ingress.class": "nginx", "kubernetes.io/ingress.class": "contour"},
        None,
        False,
    ),
]


@pytest.fixture(scope="module")
def classes(run: ContourRun, backends: Backends) -> None:
    """One Ingress per case, then a sentinel: once the sentinel serves, every case has been seen."""
    run.apply([namespace(CLASSES), *echo_service(CLASSES, "echo", backends.a)])
    run.apply(
        [
            simple_ingress(
                CLASSES, name, f"{name}.classes.example.com", "echo", annotations=ann, class_name=cls
            )
            for name, ann, cls, _ in CLASS_CASES
        ]
    )
    run.apply([simple_ingress(CLASSES, "sentinel", "sentinel.classes.example.com", "echo")])
    run.wait_for("sentinel.classes.example.com", from_pod("echo-a"))


@pytest.mark.parametrize(
    ("name", "served"), [(c[0], c[3]) for c in CLASS_CASES], ids=[c[0] for c in CLASS_CASES]
)
def test_contour_run_serves_only_its_ingress_class(
    run: ContourRun, classes: None, name: str, served: bool
) -> None:
    assert run.request(f"{name}.classes.example.com").status == (200 if served else 404)


def test_only_ingresses_of_its_class_get_a_load_balancer_status(run: ContourRun, classes: None) -> None:
    served = {name for name, _, _, ok in CLASS_CASES if ok} | {"sentinel"}
    address = {"ingress": [{"ip": "127.0.0.1"}]}
    found = wait_until(
        lambda: load_balancers(run, CLASSES),
        lambda lbs: all(lbs.get(name) == address for name in served),
        what="the load balancer status of every served Ingress",
    )
    assert {name for name, lb in found.items() if lb} == served


# -- TLS --------------------------------------------------------------------------------------------

TLS = "tls"
TLS_HOST = "secure.tls.example.com"
TLS13_HOST = "tls13.tls.example.com"
TLS12_HOST = "tls12.tls.example.com"
TLS_VERSION_ANNOTATIONS = {
    TLS13_HOST: {"projectcontour.io/tls-minimum-protocol-version": "1.3"},
    TLS12_HOST: {"projectcontour.io/tls-maximum-protocol-version": "1.2"},
}


@pytest.fixture(scope="module")
def tls_ingresses(run: ContourRun, backends: Backends, pki: TestPKI) -> None:
    """`secure`: spec.tls only; `tls13` and `tls12`: the same with a minimum / maximum TLS version."""
    hosts = [TLS_HOST, *TLS_VERSION_ANNOTATIONS]
    names = [host.split(".")[0] for host in hosts]
    run.apply(
        [
            namespace(TLS),
            *echo_service(TLS, "echo", backends.a),
            *(certificate(pki, TLS, name, host) for name, host in zip(names, hosts, strict=True)),
        ]
    )
    run.apply(
        [
            simple_ingress(
                TLS, name, host, "echo", tls=[([host], name)], annotations=TLS_VERSION_ANNOTATIONS.get(host)
            )
            for name, host in zip(names, hosts, strict=True)
        ]
    )
    for host in hosts:
        wait_for_https(run, host, pki.ca.cert, "echo-a")


def test_an_ingress_with_tls_serves_https_for_its_sni(
    run: ContourRun, tls_ingresses: None, pki: TestPKI
) -> None:
    answer = https_get(run, TLS_HOST, "/hello", ca=pki.ca.cert)
    assert (answer.status, answer.pod) == (200, "echo-a")
    assert answer.body is not None and answer.body["host"] == TLS_HOST


def test_an_ingress_with_tls_still_serves_plain_http(run: ContourRun, tls_ingresses: None) -> None:
    answer = run.request(TLS_HOST, "/hello")
    assert (answer.status, answer.pod) == (200, "echo-a")


@pytest.mark.parametrize(
    ("host", "version", "accepted"),
    [
        (TLS_HOST, ssl.TLSVersion.TLSv1_2, True),
        (TLS_HOST, ssl.TLSVersion.TLSv1_3, True),
        (TLS13_HOST, ssl.TLSVersion.TLSv1_2, False),
        (TLS13_HOST, ssl.TLSVersion.TLSv1_3, True),
        (TLS12_HOST, ssl.TLSVersion.TLSv1_2, True),
        (TLS12_HOST, ssl.TLSVersion.TLSv1_3, False),
    ],
    ids=[
        "default-accepts-tls1.2",
        "default-accepts-tls1.3",
        "minimum-1.3-refuses-tls1.2",
        "minimum-1.3-accepts-tls1.3",
        "maximum-1.2-accepts-tls1.2",
        "maximum-1.2-refuses-tls1.3",
    ],
)
def test_tls_protocol_version_annotations_bound_the_handshake(
    run: ContourRun, tls_ingresses: None, pki: TestPKI, *, host: str, version: ssl.TLSVersion, accepted: bool
) -> None:
    if accepted:
        assert https_get(run, host, ca=pki.ca.cert, tls_version=version).status == 200
    else:
        with pytest.raises(httpx.ConnectError):
            https_get(run, host, ca=pki.ca.cert, tls_version=version)


WILD_TLS = "wildtls"


@pytest.fixture(scope="module")
def wildcard_tls(run: ContourRun, backends: Backends, pki: TestPKI) -> None:
    """A wildcard rule with a wildcard certificate in `spec.tls`."""
    host = "*.wildtls.example.com"
    run.apply(
        [
            namespace(WILD_TLS),
            *echo_service(WILD_TLS, "echo", backends.b),
            certificate(pki, WILD_TLS, "wild", host),
        ]
    )
    run.apply([simple_ingress(WILD_TLS, "wild", host, "echo", tls=[([host], "wild")])])
    wait_for_https(run, "first.wildtls.example.com", pki.ca.cert, "echo-b")


@pytest.mark.parametrize("host", ["first.wildtls.example.com", "second.wildtls.example.com"])
def test_a_wildcard_tls_host_serves_https_for_each_name_under_it(
    run: ContourRun, wildcard_tls: None, pki: TestPKI, host: str
) -> None:
    answer = https_get(run, host, ca=pki.ca.cert)
    assert (answer.status, answer.pod) == (200, "echo-b")
    assert answer.body is not None and answer.body["host"] == host


def test_a_wildcard_tls_host_does_not_cover_its_parent_name(
    run: ContourRun, wildcard_tls: None, pki: TestPKI
) -> None:
    with pytest.raises(httpx.ConnectError):
        https_get(run, "wildtls.example.com", ca=pki.ca.cert)


# -- TLS certificate delegation ----------------------------------------------------------------------

CERTS = "certs"
DELEGATED = "delegated"
UNDELEGATED = "undelegated"


@pytest.fixture(scope="module")
def delegated_certs(run: ContourRun, backends: Backends, pki: TestPKI) -> None:
    """Secrets in `certs`; `delegated` may use one through a TLSCertificateDelegation, `undelegated`
    names the other with tls-cert-namespace but has no delegation."""
    run.apply(
        [
            namespace(CERTS),
            namespace(DELEGATED),
            namespace(UNDELEGATED),
            certificate(pki, CERTS, "shared", "app.delegated.example.com"),
            certificate(pki, CERTS, "private", "app.undelegated.example.com"),
            delegation(CERTS, "shared", "shared", [DELEGATED]),
            *echo_service(DELEGATED, "echo", backends.a),
            *echo_service(UNDELEGATED, "echo", backends.b),
        ]
    )
    annotations = {"projectcontour.io/tls-cert-namespace": CERTS}
    run.apply(
        [
            simple_ingress(
                UNDELEGATED,
                "app",
                "app.undelegated.example.com",
                "echo",
                tls=[(["app.undelegated.example.com"], "private")],
                annotations=annotations,
            ),
            simple_ingress(
                DELEGATED,
                "app",
                "app.delegated.example.com",
                "echo",
                tls=[(["app.delegated.example.com"], "shared")],
                annotations=annotations,
            ),
        ]
    )
    run.wait_for("app.undelegated.example.com", from_pod("echo-b"))
    wait_for_https(run, "app.delegated.example.com", pki.ca.cert, "echo-a")


def test_a_delegated_certificate_in_another_namespace_serves_https(
    run: ContourRun, delegated_certs: None, pki: TestPKI
) -> None:
    answer = https_get(run, "app.delegated.example.com", ca=pki.ca.cert)
    assert (answer.status, answer.pod) == (200, "echo-a")


def test_a_certificate_without_delegation_gets_no_https_host(
    run: ContourRun, delegated_certs: None, pki: TestPKI
) -> None:
    with pytest.raises(httpx.ConnectError):
        https_get(run, "app.undelegated.example.com", ca=pki.ca.cert)


def test_a_certificate_without_delegation_leaves_plain_http_serving(
    run: ContourRun, delegated_certs: None
) -> None:
    assert run.request("app.undelegated.example.com").pod == "echo-b"


# -- force-ssl-redirect and allow-http ----------------------------------------------------------------

REDIRECT = "redirect"
REDIRECT_HOST = "force.redirect.example.com"
NO_HTTP_HOST = "nohttp.redirect.example.com"


@pytest.fixture(scope="module")
def https_only(run: ContourRun, backends: Backends, pki: TestPKI) -> None:
    run.apply(
        [
            namespace(REDIRECT),
            *echo_service(REDIRECT, "echo", backends.a),
            certificate(pki, REDIRECT, "force", REDIRECT_HOST),
            certificate(pki, REDIRECT, "nohttp", NO_HTTP_HOST),
        ]
    )
    run.apply(
        [
            simple_ingress(
                REDIRECT,
                "force",
                REDIRECT_HOST,
                "echo",
                tls=[([REDIRECT_HOST], "force")],
                annotations={"ingress.kubernetes.io/force-ssl-redirect": "true"},
            ),
            simple_ingress(
                REDIRECT,
                "nohttp",
                NO_HTTP_HOST,
                "echo",
                tls=[([NO_HTTP_HOST], "nohttp")],
                annotations={"kubernetes.io/ingress.allow-http": "false"},
            ),
        ]
    )
    for host in (REDIRECT_HOST, NO_HTTP_HOST):
        wait_for_https(run, host, pki.ca.cert, "echo-a")


def test_force_ssl_redirect_answers_plain_http_with_301_to_https(run: ContourRun, https_only: None) -> None:
    answer = run.request(REDIRECT_HOST, "/some/path?q=1")
    assert answer.status == 301
    assert answer.headers["location"] == f"https://{REDIRECT_HOST}/some/path?q=1"


def test_allow_http_false_leaves_no_plain_http_route(run: ContourRun, https_only: None) -> None:
    assert run.request(NO_HTTP_HOST, "/").status == 404


@pytest.mark.parametrize(
    "host", [REDIRECT_HOST, NO_HTTP_HOST], ids=["force-ssl-redirect", "allow-http-false"]
)
def test_https_only_ingresses_serve_https(run: ContourRun, https_only: None, pki: TestPKI, host: str) -> None:
    assert https_get(run, host, ca=pki.ca.cert).pod == "echo-a"


# -- timeouts and retries ----------------------------------------------------------------------------

POLICIES = "policies"


@pytest.fixture(scope="module")
def policies(run: ContourRun, backends: Backends) -> None:
    run.apply([namespace(POLICIES), *echo_service(POLICIES, "echo", backends.a)])
    retry = {"projectcontour.io/retry-on": "5xx"}
    run.apply(
        [
            simple_ingress(
                POLICIES,
                "timeout",
                "timeout.policies.example.com",
                "echo",
                annotations={"projectcontour.io/response-timeout": "1s"},
            ),
            simple_ingress(
                POLICIES,
                "retry2",
                "retry2.policies.example.com",
                "echo",
                annotations={**retry, "projectcontour.io/num-retries": "2"},
            ),
            simple_ingress(
                POLICIES,
                "retry1",
                "retry1.policies.example.com",
                "echo",
                annotations={**retry, "projectcontour.io/num-retries": "1"},
            ),
            simple_ingress(
                POLICIES,
                "pertry",
                "pertry.policies.example.com",
                "echo",
                annotations={**retry, "projectcontour.io/per-try-timeout": "300ms"},
            ),
        ]
    )
    for name in ("timeout", "retry2", "retry1", "pertry"):
        run.wait_for(f"{name}.policies.example.com", from_pod("echo-a"))


def test_response_timeout_gives_504_for_a_slow_backend(run: ContourRun, policies: None) -> None:
    assert run.request("timeout.policies.example.com", "/?delay=3s").status == 504


def test_response_timeout_lets_a_quick_backend_answer(run: ContourRun, policies: None) -> None:
    assert run.request("timeout.policies.example.com", "/?delay=100ms").pod == "echo-a"


@pytest.mark.parametrize(
    ("name", "status"), [("retry2", 200), ("retry1", 503)], ids=["num-retries-2", "num-retries-1"]
)
def test_retry_on_retries_num_retries_times(run: ContourRun, policies: None, name: str, status: int) -> None:
    path = f"/retry/?uuid={uuid.uuid4()}&succeedAfter=2&responseCode=503"
    assert run.request(f"{name}.policies.example.com", path).status == status


def test_per_try_timeout_cuts_a_slow_attempt_and_retries(run: ContourRun, policies: None) -> None:
    path = f"/retry/?uuid={uuid.uuid4()}&succeedAfter=1&responseCode=503&delayRetry=3s"
    started = time.monotonic()
    answer = run.request("pertry.policies.example.com", path)
    elapsed = time.monotonic() - started
    assert (answer.status, answer.pod) == (200, "echo-a")
    assert elapsed < 2.0, f"the first attempt was not cut at 300ms: {elapsed:.2f}s"


# -- WebSockets --------------------------------------------------------------------------------------

WS = "websockets"


@pytest.fixture(scope="module")
def websockets(run: ContourRun, backends: Backends) -> None:
    run.apply([namespace(WS), *echo_service(WS, "echo", backends.a)])
    paths = [http_path("/ws", "Prefix", "echo"), http_path("/", "Prefix", "echo")]
    run.apply(
        [
            ingress(
                WS,
                "ws",
                [rule("ws.websockets.example.com", *paths)],
                annotations={"projectcontour.io/websocket-routes": "/ws"},
            ),
            ingress(WS, "plain", [rule("plain.websockets.example.com", *paths)]),
        ]
    )
    run.wait_for("ws.websockets.example.com", from_pod("echo-a"))
    run.wait_for("plain.websockets.example.com", from_pod("echo-a"))


def test_a_websocket_route_carries_a_websocket(run: ContourRun, websockets: None) -> None:
    result = websocket_echo(run.http_port, "ws.websockets.example.com", "/ws", ["hello", "again"])
    assert (result.status, result.echoed) == (101, ("hello", "again"))


def test_a_route_not_named_in_websocket_routes_refuses_the_upgrade(run: ContourRun, websockets: None) -> None:
    assert websocket_echo(run.http_port, "plain.websockets.example.com", "/ws", ["hello"]).status == 403


# -- upstream protocols ------------------------------------------------------------------------------

UPSTREAM = "upstream"


@pytest.fixture(scope="module")
def protocol_echo(tmp_path_factory: pytest.TempPathFactory, pki: TestPKI) -> Iterator[ProtocolEcho]:
    issued = pki.issue("upstream-echo", "echo.upstream.example.com", server=True)
    echo = ProtocolEcho("echo-p", tmp_path_factory.mktemp("protocol-echo"), issued.cert, issued.key)
    try:
        yield echo
    finally:
        echo.stop()


@pytest.fixture(scope="module")
def upstreams(run: ContourRun, protocol_echo: ProtocolEcho) -> None:
    """One Service, a port per protocol; h2c named by port name, h2 and tls by port number."""
    ports = protocol_echo.ports
    svc = service(
        UPSTREAM,
        "echo",
        [
            Port("http", 80, ports["http"]),
            Port("h2c", 81, ports["h2c"]),
            Port("h2", 443, ports["https"]),
            Port("tls", 444, ports["https"]),
        ],
        {
            "projectcontour.io/upstream-protocol.h2c": "h2c",
            "projectcontour.io/upstream-protocol.h2": "443",
            "projectcontour.io/upstream-protocol.tls": "444",
        },
    )
    run.apply([namespace(UPSTREAM), *svc])
    rules = [
        rule(f"{name}.upstream.example.com", http_path("/", "Prefix", "echo", port))
        for name, port in (("http", 80), ("h2c", 81), ("h2", 443), ("tls", 444))
    ]
    run.apply([ingress(UPSTREAM, "protocols", rules)])
    for name in ("http", "h2c", "h2", "tls"):
        run.wait_for(f"{name}.upstream.example.com", from_pod("echo-p"))


@pytest.mark.parametrize(
    ("name", "proto", "tls"),
    [
        ("http", "HTTP/1.1", False),
        ("h2c", "HTTP/2.0", False),
        ("h2", "HTTP/2.0", True),
        ("tls", "HTTP/1.1", True),
    ],
    ids=["plain", "upstream-protocol.h2c", "upstream-protocol.h2", "upstream-protocol.tls"],
)
def test_upstream_protocol_annotations_choose_how_envoy_calls_the_service(
    run: ContourRun, upstreams: None, name: str, proto: str, tls: bool
) -> None:
    body = run.request(f"{name}.upstream.example.com").body
    assert body is not None
    assert (body["proto"], "tls" in body) == (proto, tls)


# -- circuit breakers --------------------------------------------------------------------------------

LIMITS = "limits"


def test_service_circuit_breaker_annotations_reach_the_envoy_cluster(
    run: ContourRun, backends: Backends
) -> None:
    limits = {
        "projectcontour.io/max-connections": "7",
        "projectcontour.io/max-pending-requests": "8",
        "projectcontour.io/max-requests": "9",
        "projectcontour.io/max-retries": "10",
        "projectcontour.io/per-host-max-connections": "11",
    }
    run.apply([namespace(LIMITS), *echo_service(LIMITS, "echo", backends.a, limits)])
    run.apply([simple_ingress(LIMITS, "limits", "limits.example.com", "echo")])
    run.wait_for("limits.example.com", from_pod("echo-a"))
    breakers = dynamic_cluster(run, f"{LIMITS}/echo/80/")["circuit_breakers"]
    assert breakers["thresholds"] == [
        {"max_connections": 7, "max_pending_requests": 8, "max_requests": 9, "max_retries": 10}
    ]
    assert breakers["per_host_thresholds"] == [{"max_connections": 11}]


# -- a missing Service -------------------------------------------------------------------------------

MISSING = "missing"


def test_a_path_to_a_missing_service_is_skipped_while_the_rest_serves(
    run: ContourRun, backends: Backends
) -> None:
    run.apply([namespace(MISSING), *echo_service(MISSING, "present", backends.a)])
    run.apply(
        [
            ingress(
                MISSING,
                "partial",
                [
                    rule(
                        "partial.missing.example.com",
                        http_path("/present", "Prefix", "present"),
                        http_path("/absent", "Prefix", "absent"),
                    )
                ],
            ),
        ]
    )
    run.apply([simple_ingress(MISSING, "broken", "broken.missing.example.com", "absent")])
    run.apply([simple_ingress(MISSING, "sentinel", "sentinel.missing.example.com", "present")])
    run.wait_for("sentinel.missing.example.com", from_pod("echo-a"))
    assert run.request("partial.missing.example.com", "/present").pod == "echo-a"
    assert run.request("partial.missing.example.com", "/absent").status == 404
    assert run.request("broken.missing.example.com").status == 404


def test_a_path_serves_once_its_missing_service_appears(run: ContourRun, backends: Backends) -> None:
    ns = "appears"
    run.apply([namespace(ns), *echo_service(ns, "present", backends.a)])
    paths = [http_path("/present", "Prefix", "present"), http_path("/late", "Prefix", "late")]
    run.apply([ingress(ns, "partial", [rule("partial.appears.example.com", *paths)])])
    run.wait_for("partial.appears.example.com", from_pod("echo-a"), path="/present")
    assert run.request("partial.appears.example.com", "/late").status == 404
    run.apply(echo_service(ns, "late", backends.b))
    run.wait_for("partial.appears.example.com", from_pod("echo-b"), path="/late", what="the late Service")


# -- status and kubectl ------------------------------------------------------------------------------

STATUS = "ingress-status"


def test_kubectl_get_ingress_shows_contours_columns_with_the_envoy_address(
    run: ContourRun, backends: Backends, pki: TestPKI
) -> None:
    host = "status.example.com"
    run.apply(
        [
            namespace(STATUS),
            *echo_service(STATUS, "echo", backends.a),
            certificate(pki, STATUS, "cert", host),
        ]
    )
    run.apply([simple_ingress(STATUS, "web", host, "echo", class_name="contour", tls=[([host], "cert")])])
    wait_until(
        lambda: run.get("ingress", "web", STATUS).get("status", {}).get("loadBalancer", {}),
        lambda lb: lb == {"ingress": [{"ip": "127.0.0.1"}]},
        what="the Ingress load balancer status",
    )
    header, row = run.kubectl("get", "ingress", "-n", STATUS).stdout.splitlines()
    assert header.split() == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    assert row.split()[:6] == ["web", "contour", host, "127.0.0.1", "80,", "443"]
