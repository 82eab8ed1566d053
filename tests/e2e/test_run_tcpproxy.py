"""`spec.tcpproxy` through `contour run`: TLS passthrough and TLS-terminated TCP proxying, proven with
raw TLS connections through a real Envoy.

Passthrough: the client's handshake reaches the backend (a `contour echo` serving TLS), so the client
sees the backend's certificate, never one Envoy holds. Terminated: Envoy answers the handshake with the
host's certificate and forwards the decrypted bytes to a plain TCP backend (the echo's HTTP port, so an
HTTP request written on the TLS connection is answered by the echo). Also: weighted services, a
tcpproxy delegated to another namespace with `include`, the plain-HTTP side of a tcpproxy host (a 301
to HTTPS), and a status error for a missing Service. After every test Envoy's `update_rejected`
counters must still be zero (tests/e2e/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.echo_config import Backends
from tests.e2e.run_tls_support import (
    Authority,
    Outcome,
    backend_service,
    client_context,
    error_reasons,
    https_get,
    namespace,
    tls_secret,
    wait_for_proxy_status,
)
from tests.echo.process import EchoProcess
from tests.support.contour_run import ContourRun, running, wait_until

NS = "tcp"
PASSTHROUGH = "pass.tcp.example"
TERMINATED = "term.tcp.example"
WEIGHTED = "weighted.tcp.example"
INCLUDED = "included.tcp.example"
BROKEN = "broken.tcp.example"


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory, backends: Backends, tls_echo: EchoProcess
) -> Iterator[ContourRun]:
    # The backends take their ports first: Envoy binds the ports picked here only once a host
    # exists, and a backend started in between could be given one of them.
    with running(tmp_path_factory.mktemp("contour-run-tcpproxy") / "state") as contour:
        yield contour


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return Authority(tmp_path_factory.mktemp("tcp-pki"), "tcp-ca")


@pytest.fixture(scope="module")
def tls_echo(ca: Authority, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EchoProcess]:
    """The passthrough backend: it serves the certificate for PASSTHROUGH itself."""
    cert = ca.server("backend", PASSTHROUGH)
    args = ["--port", "0", "--tls-port", "0", "--pod", "echo-tls"]
    args += ["--tls-cert", str(cert.cert_path), "--tls-key", str(cert.key_path)]
    with EchoProcess(*args, stderr_path=tmp_path_factory.mktemp("tcp-echo") / "stderr") as echo:
        yield echo


def tcp_httpproxy(ns: str, name: str, fqdn: str, tls: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "projectcontour.io/v1",
        "kind": "HTTPProxy",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"virtualhost": {"fqdn": fqdn, "tls": tls}, **spec},
    }


def svc(name: str, port: int, **extra: Any) -> dict[str, Any]:
    return {"name": name, "port": port, **extra}


@pytest.fixture(scope="module")
def hosts(run: ContourRun, backends: Backends, tls_echo: EchoProcess, ca: Authority) -> None:
    term = ca.server("term", TERMINATED, WEIGHTED, INCLUDED)
    terminated = {"secretName": "term"}
    run.apply(
        [
            namespace(NS),
            namespace("tcp-team"),
            *backend_service(NS, "echo-tls", {"https": (443, tls_echo.ports["https"])}),
            *backend_service(NS, "echo-a", {"http": (80, backends.a.port)}),
            *backend_service(NS, "echo-b", {"http": (80, backends.b.port)}),
            *backend_service("tcp-team", "echo-b", {"http": (80, backends.b.port)}),
            tls_secret(NS, "term", term.cert_pem, term.key_pem),
            tcp_httpproxy(
                NS,
                "pass",
                PASSTHROUGH,
                {"passthrough": True},
                tcpproxy={"services": [svc("echo-tls", 443)]},
                routes=[{"conditions": [{"prefix": "/"}], "services": [svc("echo-a", 80)]}],
            ),
            tcp_httpproxy(NS, "term", TERMINATED, terminated, tcpproxy={"services": [svc("echo-a", 80)]}),
            tcp_httpproxy(
                NS,
                "weighted",
                WEIGHTED,
                terminated,
                tcpproxy={
                    "services": [svc("echo-a", 80, weight=50), svc("echo-b", 80, weight=50)],
                    "healthCheckPolicy": {"intervalSeconds": 1},
                    "loadBalancerPolicy": {"strategy": "Random"},
                },
            ),
            tcp_httpproxy(
                NS,
                "included",
                INCLUDED,
                terminated,
                tcpproxy={"include": {"name": "child", "namespace": "tcp-team"}},
            ),
            {
                "apiVersion": "projectcontour.io/v1",
                "kind": "HTTPProxy",
                "metadata": {"name": "child", "namespace": "tcp-team"},
                "spec": {"tcpproxy": {"services": [svc("echo-b", 80)]}},
            },
            tcp_httpproxy(
                NS, "broken", BROKEN, {"passthrough": True}, tcpproxy={"services": [svc("missing", 443)]}
            ),
        ]
    )


def through(run: ContourRun, sni: str, ca: Authority) -> Outcome:
    context = client_context(ca)
    return https_get(run.https_port, sni, context)


def wait_through(run: ContourRun, sni: str, ca: Authority, pod: str) -> Outcome:
    return wait_until(
        lambda: through(run, sni, ca),
        lambda o: o.status == 200 and o.body.get("pod") == pod,
        what=f"{sni} answered by {pod}",
    )


def test_passthrough_reaches_the_backend_handshake(run: ContourRun, hosts: None, ca: Authority) -> None:
    outcome = wait_through(run, PASSTHROUGH, ca, "echo-tls")
    assert outcome.served_cn == PASSTHROUGH  # the echo's own certificate: Envoy did not terminate


def test_terminated_tcp_proxy_forwards_the_plain_bytes(run: ContourRun, hosts: None, ca: Authority) -> None:
    outcome = wait_through(run, TERMINATED, ca, "echo-a")
    assert outcome.served_cn == TERMINATED  # Envoy's certificate for the host
    assert outcome.body.get("host") == TERMINATED


def test_weighted_services_share_the_connections(run: ContourRun, hosts: None, ca: Authority) -> None:
    seen: set[str] = set()

    def both_seen() -> set[str]:
        outcome = through(run, WEIGHTED, ca)
        if outcome.status == 200:
            seen.add(str(outcome.body.get("pod")))
        return seen

    assert wait_until(both_seen, lambda s: s >= {"echo-a", "echo-b"}, what="both weighted backends")


def test_include_delegates_the_tcp_proxy(run: ContourRun, hosts: None, ca: Authority) -> None:
    wait_through(run, INCLUDED, ca, "echo-b")
    assert wait_for_proxy_status(run, "tcp-team", "child", "valid")["currentStatus"] == "valid"


def test_plain_http_to_a_passthrough_host_is_redirected(run: ContourRun, hosts: None, ca: Authority) -> None:
    wait_through(run, PASSTHROUGH, ca, "echo-tls")
    answer = run.wait_for(PASSTHROUGH, lambda a: a.status == 301, what="the 301 to https")
    assert answer.headers["location"] == f"https://{PASSTHROUGH}/"


def test_a_missing_service_is_reported(run: ContourRun, hosts: None) -> None:
    status = wait_for_proxy_status(run, NS, "broken", "invalid")
    assert error_reasons(status) == [("TCPProxyError", "ServiceUnresolvedReference")]
