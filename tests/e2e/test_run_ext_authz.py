"""External authorization through `contour run`: ExtensionServices and HTTPProxy `authorization`.

A real gRPC ext_authz server (tests.support.authz_servers) runs in the test process on 127.0.0.1 and
is reached through a Service and EndpointSlice, as an ExtensionService (h2c). Every host terminates
TLS with one certificate. Proven with real requests through Envoy: allowed and denied requests, a
route with `authPolicy.disabled`, the context extensions (host and route merged) reaching the server,
the request body sent with `withRequestBody`, `responseTimeout` against a slow answer, `failOpen`
against a server that is down (and closed without it), the plain-HTTP redirect copy not being checked,
the ExtensionService status, and invalid references reported in status while the rest serves.
An HTTP authorization server (serviceType http, an http/1.1 ExtensionService) proves httpSettings:
the checked path under pathPrefix, only allowedAuthorizationHeaders (besides Envoy's own) reaching it,
and only allowedUpstreamHeaders of its answer added to the request the echo backend reflects.
An ExtensionService of two Services (a second gRPC server behind its own Service) gets its checks to
both, through the one merged ClusterLoadAssignment of its cluster.

A negative check (403) is made only after a positive one on the same host has shown it is live.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e.echo_config import Backends
from tests.e2e.run_tls_support import (
    Authority,
    backend_service,
    error_reasons,
    namespace,
    route,
    status_of,
    tls_secret,
    upstream,
    wait_for_proxy_status,
)
from tests.support.authz_servers import (
    BODY_HEADER,
    CONTEXT_HEADER,
    EXTRA_HEADER,
    USER_HEADER,
    GrpcAuthServer,
    HttpAuthServer,
)
from tests.support.contour_run import ContourRun, free_port, running, wait_until

NS = "authz"
AUTH_PORT = 9000
HOSTS = {
    "guarded": "guarded.authz.example",
    "body": "body.authz.example",
    "timeout": "timeout.authz.example",
    "open": "open.authz.example",
    "closed": "closed.authz.example",
    "missing": "missing.authz.example",
    "version": "version.authz.example",
    "plain": "plain.authz.example",
    "http": "http.authz.example",
    "pair": "pair.authz.example",
}
ALLOW = {"x-allow": "yes"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContourRun]:
    with running(tmp_path_factory.mktemp("contour-run-authz") / "state") as contour:
        yield contour


@pytest.fixture(scope="module")
def auth_server() -> Iterator[GrpcAuthServer]:
    with GrpcAuthServer() as server:
        yield server


@pytest.fixture(scope="module")
def second_auth_server() -> Iterator[GrpcAuthServer]:
    with GrpcAuthServer() as server:
        yield server


@pytest.fixture(scope="module")
def http_auth_server() -> Iterator[HttpAuthServer]:
    with HttpAuthServer() as server:
        yield server


def extension_service(name: str, service: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "projectcontour.io/v1alpha1",
        "kind": "ExtensionService",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"services": [{"name": service, "port": AUTH_PORT}], "protocol": "h2c", **spec},
    }


def proxy(
    name: str, routes: list[dict[str, Any]], *, tls: bool = True, **authorization: Any
) -> dict[str, Any]:
    virtualhost: dict[str, Any] = {"fqdn": HOSTS[name], "authorization": authorization}
    if tls:
        virtualhost["tls"] = {"secretName": "authz-cert"}
    return {
        "apiVersion": "projectcontour.io/v1",
        "kind": "HTTPProxy",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"virtualhost": virtualhost, "routes": routes},
    }


def ref(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, **extra}


def echo(prefix: str = "/", **extra: Any) -> dict[str, Any]:
    return route(prefix, upstream("echo", 80), **extra)


@dataclass(frozen=True)
class Reply:
    status: int
    headers: httpx.Headers
    text: str = ""


def send(
    run: ContourRun,
    name: str,
    path: str = "/",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    *,
    https: bool = True,
) -> Reply:
    host = HOSTS[name]
    scheme, port = ("https", run.https_port) if https else ("http", run.http_port)
    extensions = {"sni_hostname": host} if https else {}
    with httpx.Client(verify=False, timeout=10.0, trust_env=False) as client:
        response = client.request(
            "POST" if body is not None else "GET",
            f"{scheme}://127.0.0.1:{port}{path}",
            headers={"host": host, **(headers or {})},
            content=body,
            extensions=extensions,
        )
    return Reply(response.status_code, response.headers, response.text)


def wait_reply(run: ContourRun, name: str, status: int, path: str = "/", **kw: Any) -> Reply:
    return wait_until(
        lambda: send(run, name, path, **kw), lambda r: r.status == status, what=f"{status} from {name}{path}"
    )


@pytest.fixture(scope="module")
def applied(
    *,
    run: ContourRun,
    backends: Backends,
    auth_server: GrpcAuthServer,
    http_auth_server: HttpAuthServer,
    second_auth_server: GrpcAuthServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    cert = Authority(tmp_path_factory.mktemp("authz-pki"), "authz-ca").server("authz", *HOSTS.values())
    run.apply(
        [
            namespace(NS),
            tls_secret(NS, "authz-cert", cert.cert_pem, cert.key_pem),
            *backend_service(NS, "echo", {"http": (80, backends.a.port)}),
            *backend_service(NS, "authz-grpc", {"grpc": (AUTH_PORT, auth_server.port)}),
            *backend_service(NS, "authz-down", {"grpc": (AUTH_PORT, free_port())}),
            *backend_service(NS, "authz-http", {"http": (AUTH_PORT, http_auth_server.port)}),
            *backend_service(NS, "authz-grpc-b", {"grpc": (AUTH_PORT, second_auth_server.port)}),
        ]
    )
    run.apply(
        [
            extension_service("grpc-auth", "authz-grpc"),
            extension_service("down-auth", "authz-down"),
            extension_service("broken-auth", "no-such-service"),
            extension_service("http-auth", "authz-http", protocol="http/1.1"),
            extension_service(
                "pair-auth",
                "authz-grpc",
                services=[
                    {"name": "authz-grpc", "port": AUTH_PORT},
                    {"name": "authz-grpc-b", "port": AUTH_PORT},
                ],
            ),
        ]
    )
    run.apply(
        [
            proxy(
                "guarded",
                [
                    echo("/"),
                    echo("/public", authPolicy={"disabled": True}),
                    echo("/scoped", authPolicy={"context": {"scope": "route"}}),
                    echo("/insecure", permitInsecure=True),
                ],
                extensionRef=ref("grpc-auth"),
                authPolicy={"context": {"tenant": "a", "scope": "host"}},
            ),
            proxy(
                "body",
                [echo()],
                extensionRef=ref("grpc-auth"),
                withRequestBody={"maxRequestBytes": 64, "allowPartialMessage": True},
            ),
            proxy("timeout", [echo()], extensionRef=ref("grpc-auth"), responseTimeout="300ms"),
            proxy("open", [echo()], extensionRef=ref("down-auth"), failOpen=True),
            proxy("closed", [echo()], extensionRef=ref("down-auth")),
            proxy("missing", [echo()], extensionRef=ref("broken-auth")),
            proxy(
                "version",
                [echo()],
                extensionRef=ref("grpc-auth", apiVersion="projectcontour.io/v1"),
            ),
            proxy("plain", [echo()], tls=False, extensionRef=ref("grpc-auth")),
            proxy("pair", [echo()], extensionRef=ref("pair-auth")),
            proxy(
                "http",
                [echo()],
                extensionRef=ref("http-auth"),
                serviceType="http",
                httpSettings={
                    "pathPrefix": "/verify",
                    "allowedAuthorizationHeaders": ["x-allow", "x-tenant"],
                    "allowedUpstreamHeaders": [USER_HEADER],
                },
            ),
        ]
    )
    wait_reply(run, "guarded", 200, headers=ALLOW)


# -- the ExtensionService ---------------------------------------------------------------------------


def _valid_condition(status: dict[str, Any]) -> dict[str, Any]:
    return next((c for c in status.get("conditions") or [] if c.get("type") == "Valid"), {})


def test_a_usable_extension_service_reports_valid(run: ContourRun, applied: None) -> None:
    status = wait_until(
        lambda: status_of(run, "extensionservice", NS, "grpc-auth"),
        lambda s: _valid_condition(s).get("status") == "True",
        what="ExtensionService grpc-auth Valid",
    )
    assert _valid_condition(status)["message"] == "Valid ExtensionService"


def test_an_extension_service_without_its_service_reports_the_reference(
    run: ContourRun, applied: None
) -> None:
    status = wait_until(
        lambda: status_of(run, "extensionservice", NS, "broken-auth"),
        lambda s: _valid_condition(s).get("status") == "False",
        what="ExtensionService broken-auth invalid",
    )
    assert error_reasons(status) == [("ServiceError", "ServiceUnresolvedReference")]


# -- checks on a guarded host -----------------------------------------------------------------------


def test_an_allowed_request_reaches_the_backend(run: ContourRun, applied: None) -> None:
    assert send(run, "guarded", headers=ALLOW).status == 200


def test_a_request_the_server_denies_gets_403(run: ContourRun, applied: None) -> None:
    assert send(run, "guarded").status == 403


def test_a_route_with_authorization_disabled_is_not_checked(
    run: ContourRun, applied: None, auth_server: GrpcAuthServer
) -> None:
    before = len(auth_server.checks)
    assert send(run, "guarded", "/public").status == 200
    assert len(auth_server.checks) == before


def test_the_host_context_reaches_the_server(run: ContourRun, applied: None) -> None:
    reply = send(run, "guarded", headers=ALLOW)
    assert reply.headers.get(CONTEXT_HEADER) == "scope=host;tenant=a"


def test_a_route_context_is_merged_over_the_host_context(run: ContourRun, applied: None) -> None:
    reply = send(run, "guarded", "/scoped", headers=ALLOW)
    assert reply.headers.get(CONTEXT_HEADER) == "scope=route;tenant=a"


def test_the_plain_http_redirect_is_not_checked(
    run: ContourRun, applied: None, auth_server: GrpcAuthServer
) -> None:
    before = len(auth_server.checks)
    assert send(run, "guarded", https=False).status == 301
    assert len(auth_server.checks) == before


def test_a_permit_insecure_route_on_plain_http_is_not_checked_without_a_global_server(
    run: ContourRun, applied: None, auth_server: GrpcAuthServer
) -> None:
    before = len(auth_server.checks)
    assert send(run, "guarded", "/insecure", https=False).status == 200
    assert len(auth_server.checks) == before


# -- settings of the authorization stanza ------------------------------------------------------------


def test_with_request_body_sends_the_body(run: ContourRun, applied: None) -> None:
    wait_reply(run, "body", 200, headers=ALLOW)
    reply = send(run, "body", headers=ALLOW, body=b"hello-authz")
    assert (reply.status, reply.headers.get(BODY_HEADER)) == (200, "hello-authz")


def test_a_body_above_max_request_bytes_is_sent_partially(run: ContourRun, applied: None) -> None:
    wait_reply(run, "body", 200, headers=ALLOW)
    reply = send(run, "body", headers=ALLOW, body=b"x" * 200)
    assert reply.status == 200
    assert reply.headers.get(BODY_HEADER) == "x" * 64


def test_a_server_slower_than_the_response_timeout_is_denied(run: ContourRun, applied: None) -> None:
    wait_reply(run, "timeout", 200, headers=ALLOW)
    assert send(run, "timeout", headers={**ALLOW, "x-auth-delay": "1.5"}).status == 403


def test_fail_open_lets_requests_through_when_the_server_is_down(run: ContourRun, applied: None) -> None:
    assert wait_reply(run, "open", 200).status == 200


def test_without_fail_open_a_server_that_is_down_denies(run: ContourRun, applied: None) -> None:
    wait_reply(run, "open", 200)  # the down server's cluster is live: the next 403 is its doing
    assert wait_reply(run, "closed", 403, headers=ALLOW).status == 403


# -- invalid references ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("missing", ("AuthError", "ExtensionServiceNotFound")),
        ("version", ("AuthError", "AuthBadResourceVersion")),
        ("plain", ("AuthError", "AuthNotPermitted")),
    ],
    ids=["invalid-extension-service", "bad-api-version", "no-tls"],
)
def test_an_invalid_authorization_is_reported_and_the_host_is_not_served(
    run: ContourRun, applied: None, name: str, reason: tuple[str, str]
) -> None:
    status = wait_for_proxy_status(run, NS, name, "invalid")
    assert error_reasons(status) == [reason]
    assert send(run, "guarded", headers=ALLOW).status == 200  # the rest keeps serving


# -- an HTTP authorization server -------------------------------------------------------------------


def test_http_server_allows_a_request(run: ContourRun, applied: None) -> None:
    assert wait_reply(run, "http", 200, headers=ALLOW).status == 200


def test_http_server_denies_a_request(run: ContourRun, applied: None) -> None:
    wait_reply(run, "http", 200, headers=ALLOW)
    assert send(run, "http").status == 403


def test_http_server_is_asked_under_the_path_prefix(
    run: ContourRun, applied: None, http_auth_server: HttpAuthServer
) -> None:
    wait_reply(run, "http", 200, headers=ALLOW)
    assert send(run, "http", "/some/page?q=1", headers=ALLOW).status == 200
    assert http_auth_server.checks[-1].path == "/verify/some/page?q=1"


def test_http_server_gets_only_the_allowed_request_headers(
    run: ContourRun, applied: None, http_auth_server: HttpAuthServer
) -> None:
    wait_reply(run, "http", 200, headers=ALLOW)
    headers = {**ALLOW, "x-tenant": "t1", "x-secret": "s3"}
    assert send(run, "http", "/headers", headers=headers).status == 200
    [check] = [c for c in http_auth_server.checks if c.path == "/verify/headers"]
    assert check.headers.get("x-tenant") == "t1"
    assert "x-secret" not in check.headers


def test_only_allowed_upstream_headers_reach_the_backend(run: ContourRun, applied: None) -> None:
    reply = wait_reply(run, "http", 200, headers=ALLOW)
    reflected = {k.lower(): v for k, v in json.loads(reply.text).get("headers", {}).items()}
    assert reflected.get(USER_HEADER) == ["alice"]
    assert EXTRA_HEADER not in reflected


# -- an ExtensionService of two Services ------------------------------------------------------------


def test_both_services_of_an_extension_service_get_checks(
    run: ContourRun, applied: None, auth_server: GrpcAuthServer, second_auth_server: GrpcAuthServer
) -> None:
    def checks_of_pair(server: GrpcAuthServer) -> int:
        return sum(1 for c in list(server.checks) if c.attributes.request.http.host == HOSTS["pair"])

    def probe() -> tuple[int, int, int]:
        status = send(run, "pair", headers=ALLOW).status
        return status, checks_of_pair(auth_server), checks_of_pair(second_auth_server)

    status, first, second = wait_until(
        probe, lambda r: r[0] == 200 and min(r[1:]) > 0, what="checks of the pair host on both servers"
    )
    assert (status, first > 0, second > 0) == (200, True, True)
