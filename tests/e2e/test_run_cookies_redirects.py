"""Cookie rewriting, internal redirects and the fallback certificate through `contour run` and Envoy.

* cookieRewritePolicies: the echo backend sends a Set-Cookie asked for with `X-Echo-Set-Header`; Envoy's
  Lua filter rewrites its Path, Domain, Secure and SameSite per route and per service, and leaves
  other cookies and routes alone.
* internalRedirectPolicy: the echo's `/redirect?to=URL` answers 302; with the policy Envoy follows it
  itself (the client sees the target's answer), without it the client gets the 302.
* enableFallbackCertificate: a client that sends no SNI gets the fallback certificate configured with
  `--fallback-certificate` (delegated to the proxy's namespace) and is routed by its Host header
  through `ingress_fallbackcert`; a proxy in a namespace without the delegation is FallbackNotDelegated.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.echo_config import Backends
from tests.e2e.run_tls_support import (
    Authority,
    Outcome,
    backend_service,
    delegation,
    error_reasons,
    httpproxy,
    namespace,
    route,
    tls_secret,
    upstream,
    wait_for_proxy_status,
)
from tests.support.contour_run import ContourRun, running, wait_until

NS = "cookies"
HOST = "cookies.example"
FALLBACK_HOST = "fallback.example"
FALLBACK_CN = "fallback.contour"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, backends: Backends) -> Iterator[ContourRun]:
    # The backends take their ports first: Envoy binds the ports picked here only once a host exists.
    state = tmp_path_factory.mktemp("contour-run-cookies") / "state"
    with running(state, extra_args=("--fallback-certificate", "projectcontour/fallback")) as contour:
        yield contour


SESSION_EVERYTHING = {
    "name": "session",
    "pathRewrite": {"value": "/app"},
    "domainRewrite": {"value": HOST},
    "secure": True,
    "sameSite": "Strict",
}


# /follow/redirect and /nofollow/redirect both reach the echo's /redirect.
TO_ROOT: dict[str, Any] = {"pathRewritePolicy": {"replacePrefix": [{"replacement": "/"}]}}


@pytest.fixture(scope="module")
def cookie_host(run: ContourRun, backends: Backends) -> None:
    redirect_policy = {"redirectResponseCodes": [302]}
    service_policy = [{"name": "session", "secure": False, "sameSite": "Lax"}]
    routes = [
        route("/route", upstream("echo-a", 80), cookieRewritePolicies=[SESSION_EVERYTHING]),
        route("/service", upstream("echo-a", 80, cookieRewritePolicies=service_policy)),
        route("/plain", upstream("echo-a", 80)),
        route("/follow", upstream("echo-a", 80), internalRedirectPolicy=redirect_policy, **TO_ROOT),
        route("/nofollow", upstream("echo-a", 80), **TO_ROOT),
        route("/landing", upstream("echo-b", 80)),
    ]
    run.apply(
        [
            namespace(NS),
            *backend_service(NS, "echo-a", {"http": (80, backends.a.port)}),
            *backend_service(NS, "echo-b", {"http": (80, backends.b.port)}),
            httpproxy(NS, "app", HOST, routes),
        ]
    )
    wait_for_proxy_status(run, NS, "app", "valid")


def get(run: ContourRun, path: str, set_cookie: str = "") -> httpx.Response:
    headers = {"host": HOST}
    if set_cookie:
        headers["X-Echo-Set-Header"] = f"Set-Cookie:{set_cookie}"
    with httpx.Client(timeout=5.0, trust_env=False, follow_redirects=False) as client:
        return client.get(f"http://127.0.0.1:{run.http_port}{path}", headers=headers)


def served_cookie(run: ContourRun, path: str, cookie: str) -> str:
    response = wait_until(lambda: get(run, path, cookie), lambda r: r.status_code == 200, what=path)
    return str(response.headers.get("set-cookie"))


@pytest.mark.parametrize(
    ("path", "sent", "expected"),
    [
        (
            "/route",
            "session=abc; Path=/; Domain=old.example; SameSite=None",
            f"session=abc; Path=/app; Domain={HOST}; SameSite=Strict; Secure",
        ),
        ("/route", "session=abc", f"session=abc; Path=/app; Domain={HOST}; SameSite=Strict; Secure"),
        ("/route", "other=1; Path=/", "other=1; Path=/"),
        (
            "/service",
            "session=abc; Secure; HttpOnly; Path=/x",
            "session=abc; HttpOnly; Path=/x; SameSite=Lax",
        ),
        ("/plain", "session=abc; Path=/", "session=abc; Path=/"),
    ],
    ids=["route-replaces", "route-adds", "route-other-cookie", "service-policy", "no-policy"],
)
def test_set_cookie_is_rewritten(
    run: ContourRun, cookie_host: None, path: str, sent: str, expected: str
) -> None:
    assert served_cookie(run, path, sent) == expected


def test_internal_redirect_is_followed_by_envoy(run: ContourRun, cookie_host: None) -> None:
    target = f"http://{HOST}/landing/here"
    response = wait_until(
        lambda: get(run, f"/follow/redirect?to={target}"), lambda r: r.status_code == 200, what="followed"
    )
    body = response.json()
    assert (body["pod"], body["path"]) == ("echo-b", "/landing/here")


def test_without_the_policy_the_client_gets_the_redirect(run: ContourRun, cookie_host: None) -> None:
    target = f"http://{HOST}/landing/here"
    response = wait_until(
        lambda: get(run, f"/nofollow/redirect?to={target}"), lambda r: r.status_code == 302, what="302"
    )
    assert response.headers["location"] == target


# -- fallback certificate -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fallback(run: ContourRun, backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Authority:
    ca = Authority(tmp_path_factory.mktemp("fallback-pki"), "fallback-ca")
    fallback_cert = ca.server("fallback", FALLBACK_CN)
    host_cert = ca.server("host", FALLBACK_HOST)
    run.apply(
        [
            namespace("projectcontour"),
            tls_secret("projectcontour", "fallback", fallback_cert.cert_pem, fallback_cert.key_pem),
            delegation("projectcontour", "fallback", "fallback", ["fallback-ns"]),
        ]
    )
    objects: list[dict[str, Any]] = []
    for ns in ("fallback-ns", "undelegated-ns"):
        objects += [
            namespace(ns),
            *backend_service(ns, "echo", {"http": (80, backends.a.port)}),
            tls_secret(ns, "cert", host_cert.cert_pem, host_cert.key_pem),
        ]
    tls = {"secretName": "cert", "enableFallbackCertificate": True}
    objects.append(httpproxy("fallback-ns", "app", FALLBACK_HOST, [route("/", upstream("echo", 80))], tls))
    objects.append(
        httpproxy("undelegated-ns", "app", "other.example", [route("/", upstream("echo", 80))], tls)
    )
    run.apply(objects)
    return ca


def without_sni(run: ContourRun, ca: Authority, host: str) -> Outcome:
    """GET / with `Host: host` over TLS with no SNI at all (server_hostname None)."""
    context = ssl.create_default_context(cadata=ca.pem)
    context.check_hostname = False
    try:
        raw = socket.create_connection(("127.0.0.1", run.https_port), timeout=5)
    except OSError as exc:
        return Outcome(None, f"connect: {exc!r}")
    with raw:
        try:
            tls = context.wrap_socket(raw, server_hostname=None)
        except (ssl.SSLError, OSError) as exc:
            return Outcome(None, f"handshake: {exc!r}")
        with tls:
            peer: Any = tls.getpeercert()
            subject = {key: value for rdn in peer["subject"] for key, value in rdn}
            tls.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            response = http.client.HTTPResponse(tls)
            try:
                response.begin()
                text = response.read().decode("utf-8", "replace")
            except (ssl.SSLError, OSError, http.client.HTTPException) as exc:
                return Outcome(None, f"request: {exc!r}", str(subject.get("commonName", "")))
            return Outcome(response.status, "", str(subject.get("commonName", "")), text=text)


def test_a_client_without_sni_gets_the_fallback_certificate(run: ContourRun, fallback: Authority) -> None:
    outcome = wait_until(
        lambda: without_sni(run, fallback, FALLBACK_HOST),
        lambda o: o.status == 200,
        what="the fallback chain serving fallback.example",
    )
    assert outcome.served_cn == FALLBACK_CN
    assert (outcome.body.get("pod"), outcome.body.get("host")) == ("echo-a", FALLBACK_HOST)


def test_a_fallback_without_delegation_is_reported(run: ContourRun, fallback: Authority) -> None:
    status = wait_for_proxy_status(run, "undelegated-ns", "app", "invalid")
    assert error_reasons(status) == [("TLSError", "FallbackNotDelegated")]
