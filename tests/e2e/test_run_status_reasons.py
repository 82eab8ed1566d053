"""Status reasons not proven elsewhere, end to end: kubectl reads the status `contour run` writes back,
and real HTTP(S) requests through its Envoy show what each invalid object does to the traffic.

One `contour run --root-namespaces ...` serves the module. Every family has its own namespaces and host
names, applied once by a module fixture; the valid objects beside each invalid one must keep serving,
and after every test Envoy's `update_rejected` counters must be zero (the e2e conftest checks). The
families: root HTTPProxies outside the root namespaces (RootNamespaceError), client validation without
a usable CA (TLSError/ClientValidationInvalid), repeated prefix replacements (PrefixReplaceError
DuplicateReplacement / AmbiguousReplacement), query-parameter conditions on an include (routing, and
QueryParameterMatchConditionsNotValid), and the legacy Ingress annotation
`projectcontour.io/request-timeout` (response-timeout itself is proven in test_run_ingress.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e.echo_config import Backends
from tests.e2e.run_ingress_support import simple_ingress
from tests.e2e.run_routing_support import (
    Manifest,
    apply_feature,
    error_reasons,
    fetch,
    fetch_until,
    include,
    namespace,
    proxy,
    route,
    service,
    upstream,
    wait_current_status,
)
from tests.e2e.run_tls_support import (
    Authority,
    Issued,
    client_context,
    https_get,
    opaque_secret,
    tls_secret,
)
from tests.support.contour_run import ContourRun, running, wait_until

# Namespaces where root HTTPProxies may live; every family below keeps its roots in one of them.
ROOTS_A, ROOTS_B = "roots-a", "roots-b"
MTLS, REWRITE, QUERY = "mtls-reasons", "rewrite-reasons", "include-query"
ROOT_NAMESPACES = (ROOTS_A, ROOTS_B, MTLS, REWRITE, QUERY)
# Namespaces that are not root namespaces.
ROOTS_TEAM, ROOTS_OTHER = "roots-team", "roots-other"
TIMEOUT = "legacy-timeout"  # Ingresses only: root namespaces do not apply to them


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContourRun]:
    state = tmp_path_factory.mktemp("reasons-run") / "state"
    with running(state, extra_args=("--root-namespaces", ",".join(ROOT_NAMESPACES))) as contour:
        yield contour


def _echo_route(prefix: str = "/") -> Manifest:
    return route({"prefix": prefix}, services=[upstream("echo")])


# -- root namespaces ---------------------------------------------------------------------------------

ROOT_A_HOST = "a.roots.example.com"
ROOT_B_HOST = "b.roots.example.com"
OUTSIDE_HOST = "outside.roots.example.com"


@pytest.fixture(scope="module")
def root_namespaces(run: ContourRun, backends: Backends) -> None:
    """A root in each root namespace (b's includes a proxy of a non-root namespace) and one outside."""
    run.apply([namespace(ns) for ns in (ROOTS_A, ROOTS_B, ROOTS_TEAM, ROOTS_OTHER)])
    run.apply(
        [
            *service(ROOTS_A, "echo", backends.a),
            *service(ROOTS_TEAM, "echo", backends.b),
            *service(ROOTS_OTHER, "echo", backends.a),
        ]
    )
    run.apply(
        [
            proxy(ROOTS_A, "app", ROOT_A_HOST, routes=[_echo_route()]),
            proxy(ROOTS_B, "app", ROOT_B_HOST, includes=[include("api", ROOTS_TEAM, {"prefix": "/api"})]),
            proxy(ROOTS_TEAM, "api", routes=[_echo_route()]),
            proxy(ROOTS_OTHER, "app", OUTSIDE_HOST, routes=[_echo_route()]),
        ]
    )
    fetch_until(run, ROOT_A_HOST)
    fetch_until(run, ROOT_B_HOST, "/api/x")


def test_a_root_outside_the_root_namespaces_is_invalid_with_root_proxy_not_allowed(
    run: ContourRun, root_namespaces: None
) -> None:
    status = wait_current_status(run, ROOTS_OTHER, "app", "invalid")
    assert error_reasons(status) == [("RootNamespaceError", "RootProxyNotAllowedInNamespace")]


def test_a_root_outside_the_root_namespaces_is_not_served(run: ContourRun, root_namespaces: None) -> None:
    wait_current_status(run, ROOTS_OTHER, "app", "invalid")
    assert fetch(run, OUTSIDE_HOST).status == 404


def test_a_root_in_a_root_namespace_serves(run: ContourRun, root_namespaces: None) -> None:
    reply = fetch(run, ROOT_A_HOST, "/page")
    assert (reply.status, reply.pod) == (200, "echo-a")
    assert wait_current_status(run, ROOTS_A, "app", "valid")["currentStatus"] == "valid"


def test_a_root_includes_a_proxy_from_a_namespace_that_is_not_a_root_namespace(
    run: ContourRun, root_namespaces: None
) -> None:
    reply = fetch(run, ROOT_B_HOST, "/api/items")
    assert (reply.status, reply.pod) == (200, "echo-b")
    assert reply.json is not None and reply.json["path"] == "/api/items"
    assert wait_current_status(run, ROOTS_TEAM, "api", "valid")["currentStatus"] == "valid"


# -- client validation -------------------------------------------------------------------------------

MTLS_GOOD = "good.mtls.example.com"
# name of the root -> its clientValidation (each one lacks a usable CA)
CLIENT_VALIDATIONS: dict[str, Manifest] = {
    "no-ca": {},
    "ca-secret-missing": {"caSecret": "no-such-ca"},
    "ca-secret-without-ca-crt": {"caSecret": "not-a-ca"},
}


def mtls_host(name: str) -> str:
    return f"{name}.mtls.example.com"


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return Authority(tmp_path_factory.mktemp("reasons-pki"), "status reasons CA")


@pytest.fixture(scope="module")
def mtls_client(authority: Authority) -> Issued:
    return authority.client("client", "client.mtls.example.com")


@pytest.fixture(scope="module")
def client_validation(run: ContourRun, backends: Backends, authority: Authority) -> None:
    """A plain TLS root beside one root per broken clientValidation, all with one certificate."""
    serving = authority.server("mtls-hosts", MTLS_GOOD, *(mtls_host(n) for n in CLIENT_VALIDATIONS))
    apply_feature(
        run,
        MTLS,
        [
            *service(MTLS, "echo", backends.a),
            tls_secret(MTLS, "serving", serving.cert_pem, serving.key_pem),
            opaque_secret(MTLS, "not-a-ca", {"note": "no ca.crt here"}),
        ],
        [
            proxy(
                MTLS,
                "good",
                MTLS_GOOD,
                routes=[_echo_route()],
                virtualhost={"tls": {"secretName": "serving"}},
            ),
            *(
                proxy(
                    MTLS,
                    name,
                    mtls_host(name),
                    routes=[_echo_route()],
                    virtualhost={"tls": {"secretName": "serving", "clientValidation": validation}},
                )
                for name, validation in CLIENT_VALIDATIONS.items()
            ),
        ],
    )
    context = client_context(authority)
    wait_until(
        lambda: https_get(run.https_port, MTLS_GOOD, context),
        lambda outcome: outcome.status == 200,
        what=f"HTTPS for {MTLS_GOOD}",
    )


@pytest.mark.parametrize("name", list(CLIENT_VALIDATIONS))
def test_client_validation_without_a_usable_ca_is_invalid_with_client_validation_invalid(
    run: ContourRun, client_validation: None, name: str
) -> None:
    status = wait_current_status(run, MTLS, name, "invalid")
    assert error_reasons(status) == [("TLSError", "ClientValidationInvalid")]


def test_the_tls_host_beside_broken_client_validations_keeps_serving(
    run: ContourRun, client_validation: None, authority: Authority
) -> None:
    outcome = https_get(run.https_port, MTLS_GOOD, client_context(authority), path="/tls")
    assert (outcome.status, outcome.body.get("pod"), outcome.body.get("path")) == (200, "echo-a", "/tls")
    assert wait_current_status(run, MTLS, "good", "valid")["currentStatus"] == "valid"


def test_client_validation_without_a_ca_still_serves_the_host_without_asking_for_a_certificate(
    run: ContourRun, client_validation: None, authority: Authority
) -> None:
    """Contour reports the missing CA but programs the host anyway; with no CA to verify against,
    Envoy does not request a client certificate, so the host answers clients without one."""
    wait_current_status(run, MTLS, "no-ca", "invalid")
    outcome = https_get(run.https_port, mtls_host("no-ca"), client_context(authority))
    assert (outcome.status, outcome.body.get("pod")) == (200, "echo-a")


@pytest.mark.parametrize("name", ["ca-secret-missing", "ca-secret-without-ca-crt"])
def test_a_host_whose_ca_secret_is_unusable_is_not_served(
    run: ContourRun, client_validation: None, authority: Authority, mtls_client: Issued, name: str
) -> None:
    wait_current_status(run, MTLS, name, "invalid")
    outcome = https_get(run.https_port, mtls_host(name), client_context(authority, client=mtls_client))
    assert outcome.refused, outcome
    assert fetch(run, mtls_host(name)).status == 404


# -- prefix replacements -----------------------------------------------------------------------------

REWRITE_GOOD = "good.rewrite.example.com"
# name of the root -> (its replacePrefix list on a `/app` route, the reason its status must carry)
REPLACEMENTS: dict[str, tuple[list[Manifest], str]] = {
    "duplicate": (
        [{"prefix": "/app", "replacement": "/one"}, {"prefix": "/app", "replacement": "/two"}],
        "DuplicateReplacement",
    ),
    "ambiguous": ([{"replacement": "/one"}, {"replacement": "/two"}], "AmbiguousReplacement"),
}


def rewrite_host(name: str) -> str:
    return f"{name}.rewrite.example.com"


@pytest.fixture(scope="module")
def replacements(run: ContourRun, backends: Backends) -> None:
    def rewriting(name: str, fqdn: str, replace: list[Manifest]) -> Manifest:
        app = route(
            {"prefix": "/app"}, services=[upstream("echo")], pathRewritePolicy={"replacePrefix": replace}
        )
        return proxy(REWRITE, name, fqdn, routes=[app])

    apply_feature(
        run,
        REWRITE,
        service(REWRITE, "echo", backends.b),
        [
            rewriting("good", REWRITE_GOOD, [{"prefix": "/app", "replacement": "/new"}]),
            *(rewriting(name, rewrite_host(name), replace) for name, (replace, _) in REPLACEMENTS.items()),
        ],
    )
    fetch_until(run, REWRITE_GOOD, "/app/x")


@pytest.mark.parametrize("name", list(REPLACEMENTS))
def test_repeated_prefix_replacements_are_invalid_with_contours_reason(
    run: ContourRun, replacements: None, name: str
) -> None:
    status = wait_current_status(run, REWRITE, name, "invalid")
    assert error_reasons(status) == [("PrefixReplaceError", REPLACEMENTS[name][1])]


@pytest.mark.parametrize("name", list(REPLACEMENTS))
def test_a_proxy_with_repeated_prefix_replacements_is_not_served(
    run: ContourRun, replacements: None, name: str
) -> None:
    wait_current_status(run, REWRITE, name, "invalid")
    assert fetch(run, rewrite_host(name), "/app/x").status == 404


def test_a_valid_prefix_replacement_beside_them_rewrites_the_path(
    run: ContourRun, replacements: None
) -> None:
    reply = fetch(run, REWRITE_GOOD, "/app/x")
    assert (reply.status, reply.pod) == (200, "echo-b")
    assert reply.json is not None and reply.json["path"] == "/new/x"
    assert wait_current_status(run, REWRITE, "good", "valid")["currentStatus"] == "valid"


# -- query-parameter conditions on an include ---------------------------------------------------------

QUERY_HOST = "query.include.example.com"
BAD_QUERY_HOST = "bad.query.include.example.com"


@pytest.fixture(scope="module")
def include_query(run: ContourRun, backends: Backends) -> None:
    """`app` includes `kid` under /q for ?team=blue only; `bad` includes it twice, once with a broken query
    condition (two match types in one queryParameter)."""
    team_is_blue = {"queryParameter": {"name": "team", "exact": "blue"}}
    two_matches = {"queryParameter": {"name": "team", "exact": "blue", "prefix": "b"}}
    apply_feature(
        run,
        QUERY,
        service(QUERY, "echo", backends.a),
        [
            proxy(QUERY, "kid", routes=[_echo_route()]),
            proxy(QUERY, "app", QUERY_HOST, includes=[include("kid", None, {"prefix": "/q"}, team_is_blue)]),
            proxy(
                QUERY,
                "bad",
                BAD_QUERY_HOST,
                includes=[
                    include("kid", None, {"prefix": "/ok"}),
                    include("kid", None, {"prefix": "/bad"}, two_matches),
                ],
            ),
        ],
    )
    fetch_until(run, QUERY_HOST, "/q/x?team=blue")
    fetch_until(run, BAD_QUERY_HOST, "/ok/x")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("/q/page?team=blue", 200, id="prefix-and-query-match"),
        pytest.param("/q/page?a=1&team=blue", 200, id="query-among-others"),
        pytest.param("/q/page", 404, id="no-query"),
        pytest.param("/q/page?team=red", 404, id="other-value"),
        pytest.param("/q/page?team=Blue", 404, id="value-is-case-sensitive"),
        pytest.param("/q/page?teams=blue", 404, id="other-name"),
        pytest.param("/page?team=blue", 404, id="query-without-the-prefix"),
    ],
)
def test_a_query_parameter_condition_on_an_include_selects_requests(
    run: ContourRun, include_query: None, path: str, expected: int
) -> None:
    reply = fetch(run, QUERY_HOST, path)
    assert reply.status == expected
    if expected == 200:
        assert reply.pod == "echo-a"
        assert reply.json is not None and reply.json["path"] == path


def test_an_invalid_query_parameter_condition_on_an_include_is_reported(
    run: ContourRun, include_query: None
) -> None:
    status = wait_current_status(run, QUERY, "bad", "invalid")
    assert error_reasons(status) == [("RouteError", "QueryParameterMatchConditionsNotValid")]


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/ok/page", 200), ("/bad/page?team=blue", 404), ("/bad/page?team=black", 404)],
    ids=["the-valid-include-serves", "dropped-for-its-exact-value", "dropped-for-its-prefix-value"],
)
def test_a_proxy_with_an_invalid_include_condition_serves_only_its_valid_includes(
    run: ContourRun, include_query: None, path: str, expected: int
) -> None:
    wait_current_status(run, QUERY, "bad", "invalid")
    assert fetch(run, BAD_QUERY_HOST, path).status == expected


# -- the legacy request-timeout annotation -----------------------------------------------------------

REQUEST_TIMEOUT = "projectcontour.io/request-timeout"
RESPONSE_TIMEOUT = "projectcontour.io/response-timeout"
# A delay longer than the 1s timeouts below and shorter than Envoy's default 15s route timeout.
SLOW = "/?delay=2s"
# name of the Ingress -> its annotations
TIMEOUT_INGRESSES: dict[str, dict[str, str]] = {
    "request-timeout": {REQUEST_TIMEOUT: "1s"},
    "no-timeout": {},
    "response-timeout-wins": {RESPONSE_TIMEOUT: "5s", REQUEST_TIMEOUT: "1s"},
}


def timeout_host(name: str) -> str:
    return f"{name}.timeout.example.com"


@pytest.fixture(scope="module")
def timeouts(run: ContourRun, backends: Backends) -> None:
    run.apply([namespace(TIMEOUT), *service(TIMEOUT, "echo", backends.a)])
    run.apply(
        [
            simple_ingress(TIMEOUT, name, timeout_host(name), "echo", annotations=annotations or None)
            for name, annotations in TIMEOUT_INGRESSES.items()
        ]
    )
    for name in TIMEOUT_INGRESSES:
        fetch_until(run, timeout_host(name))


def timed_fetch(run: ContourRun, host: str) -> tuple[int, float]:
    started = time.monotonic()
    status = fetch(run, host, SLOW, timeout=10.0).status
    return status, time.monotonic() - started


def test_the_legacy_request_timeout_annotation_cuts_a_slow_response_with_504(
    run: ContourRun, timeouts: None
) -> None:
    status, elapsed = timed_fetch(run, timeout_host("request-timeout"))
    assert status == 504
    assert 0.9 <= elapsed < 1.8, f"504 after {elapsed:.2f}s, not after the 1s timeout"


@pytest.mark.parametrize("name", ["no-timeout", "response-timeout-wins"])
def test_a_slow_response_succeeds_without_a_shorter_timeout(
    run: ContourRun, timeouts: None, name: str
) -> None:
    status, elapsed = timed_fetch(run, timeout_host(name))
    assert status == 200
    assert elapsed >= 1.9, f"answered after {elapsed:.2f}s: the echo did not delay"
