"""`contour run` end to end: kubectl against its API server, real HTTP(S) through its Envoy, status back.

One `contour run` serves the routing tests of this module; each test uses its own namespace and host
names, and after each one Envoy's `update_rejected` counters must still be zero (no NACK, ever). The
backends are the e2e tier's `contour echo` processes, reached through a selector-less Service and an
EndpointSlice on 127.0.0.1. The quickstart and the shutdown tests start their own `contour run`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.echo_config import Backends
from tests.echo.certs import TestPKI
from tests.support.contour_run import Answer, ContourRun, pid_alive, running, wait_until
from tests.support.envoy_harness import EchoBackend

REPO_ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = REPO_ROOT / "examples" / "quickstart" / "run"


# -- objects ----------------------------------------------------------------------------------------


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def service(ns: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }


def endpoint_slice(ns: str, service_name: str, backend: EchoBackend) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{service_name}-1",
            "namespace": ns,
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
        "ports": [{"name": "http", "port": backend.port, "protocol": "TCP"}],
    }


def backend(ns: str, name: str, echo: EchoBackend) -> list[dict[str, Any]]:
    return [service(ns, name), endpoint_slice(ns, name, echo)]


def httpproxy(ns: str, name: str, fqdn: str, service_name: str, tls_secret: str = "") -> dict[str, Any]:
    virtualhost: dict[str, Any] = {"fqdn": fqdn}
    if tls_secret:
        virtualhost["tls"] = {"secretName": tls_secret}
    return {
        "apiVersion": "projectcontour.io/v1",
        "kind": "HTTPProxy",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "virtualhost": virtualhost,
            "routes": [{"conditions": [{"prefix": "/"}], "services": [{"name": service_name, "port": 80}]}],
        },
    }


def ingress(ns: str, name: str, host: str, service_name: str) -> dict[str, Any]:
    path = {
        "path": "/",
        "pathType": "Prefix",
        "backend": {"service": {"name": service_name, "port": {"number": 80}}},
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"rules": [{"host": host, "http": {"paths": [path]}}]},
    }


def tls_secret(ns: str, name: str, cert: Path, key: Path) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "type": "kubernetes.io/tls",
        "stringData": {"tls.crt": cert.read_text(), "tls.key": key.read_text()},
    }


def from_pod(pod: str) -> Any:
    return lambda answer: answer.status == 200 and answer.pod == pod


def current_status(run: ContourRun, ns: str, name: str) -> str:
    """The STATUS column of `kubectl get httpproxy` (the CRD's printer column)."""
    table = run.kubectl("get", "httpproxy", name, "-n", ns, "--no-headers").stdout.split()
    return table[2] if len(table) > 2 else ""


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContourRun]:
    with running(tmp_path_factory.mktemp("contour-run") / "state") as contour:
        yield contour


# -- routing ----------------------------------------------------------------------------------------


def test_an_httpproxy_routes_to_its_service(run: ContourRun, backends: Backends) -> None:
    run.apply([namespace("routing"), *backend("routing", "echo", backends.a)])
    run.apply([httpproxy("routing", "app", "routing.example.com", "echo")])
    answer = run.wait_for("routing.example.com", from_pod("echo-a"))
    assert answer.body is not None and answer.body["host"] == "routing.example.com"


def test_an_unknown_host_gets_404(run: ContourRun, backends: Backends) -> None:
    run.apply([namespace("unknown"), *backend("unknown", "echo", backends.a)])
    run.apply([httpproxy("unknown", "app", "known.example.com", "echo")])
    run.wait_for("known.example.com", from_pod("echo-a"))
    assert run.request("nobody.example.com").status == 404


def test_an_httpproxy_changed_with_kubectl_routes_to_the_new_service(
    run: ContourRun, backends: Backends
) -> None:
    run.apply(
        [
            namespace("update"),
            *backend("update", "first", backends.a),
            *backend("update", "second", backends.b),
        ]
    )
    run.apply([httpproxy("update", "app", "update.example.com", "first")])
    run.wait_for("update.example.com", from_pod("echo-a"))
    run.apply([httpproxy("update", "app", "update.example.com", "second")])
    run.wait_for("update.example.com", from_pod("echo-b"), what="the route to the second service")


def test_an_endpoint_slice_change_moves_the_traffic(run: ContourRun, backends: Backends) -> None:
    run.apply([namespace("endpoints"), *backend("endpoints", "echo", backends.a)])
    run.apply([httpproxy("endpoints", "app", "endpoints.example.com", "echo")])
    run.wait_for("endpoints.example.com", from_pod("echo-a"))
    run.apply([endpoint_slice("endpoints", "echo", backends.b)])
    run.wait_for("endpoints.example.com", from_pod("echo-b"), what="traffic on the new endpoint")


def test_an_ingress_routes_to_its_service(run: ContourRun, backends: Backends) -> None:
    run.apply([namespace("ingress"), *backend("ingress", "echo", backends.b)])
    run.apply([ingress("ingress", "web", "ingress.example.com", "echo")])
    run.wait_for("ingress.example.com", from_pod("echo-b"))


def test_an_ingress_gets_the_envoy_address_in_its_status(run: ContourRun, backends: Backends) -> None:
    run.apply([namespace("ingress-status"), *backend("ingress-status", "echo", backends.b)])
    run.apply([ingress("ingress-status", "web", "ingress-status.example.com", "echo")])
    status = wait_until(
        lambda: run.get("ingress", "web", "ingress-status").get("status", {}).get("loadBalancer", {}),
        what="the Ingress load balancer status",
    )
    assert status == {"ingress": [{"ip": "127.0.0.1"}]}


# -- TLS --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    return TestPKI(tmp_path_factory.mktemp("pki"), "contour run test CA")


@pytest.fixture(scope="module")
def secure_host(run: ContourRun, backends: Backends, pki: TestPKI) -> str:
    host = "secure.example.com"
    issued = pki.issue("secure", host, server=True)
    run.apply(
        [
            namespace("tls"),
            *backend("tls", "echo", backends.a),
            tls_secret("tls", "cert", issued.cert, issued.key),
        ]
    )
    run.apply([httpproxy("tls", "app", host, "echo", tls_secret="cert")])
    return host


def test_a_tls_httpproxy_serves_https_for_its_sni(run: ContourRun, secure_host: str, pki: TestPKI) -> None:
    answer = run.wait_for(secure_host, from_pod("echo-a"), https=True, ca=pki.ca.cert)
    assert answer.body is not None and answer.body["host"] == secure_host


def test_plain_http_to_a_tls_httpproxy_is_redirected_to_https(
    run: ContourRun, secure_host: str, pki: TestPKI
) -> None:
    run.wait_for(secure_host, from_pod("echo-a"), https=True, ca=pki.ca.cert)
    answer = run.request(secure_host, "/some/path")
    assert answer.status == 301
    assert answer.headers["location"].startswith(f"https://{secure_host}")


# -- status -----------------------------------------------------------------------------------------


def test_kubectl_shows_a_routed_httpproxy_as_valid_with_the_envoy_address(
    run: ContourRun, backends: Backends
) -> None:
    run.apply([namespace("status"), *backend("status", "echo", backends.a)])
    run.apply([httpproxy("status", "app", "status.example.com", "echo")])
    wait_until(lambda: current_status(run, "status", "app"), lambda s: s == "valid", what="STATUS valid")
    status = run.get("httpproxy", "app", "status")["status"]
    assert status["loadBalancer"] == {"ingress": [{"ip": "127.0.0.1"}]}
    assert status["conditions"][0]["observedGeneration"] == 1


def test_an_invalid_httpproxy_is_reported_and_the_valid_one_keeps_serving(
    run: ContourRun, backends: Backends
) -> None:
    run.apply([namespace("invalid"), *backend("invalid", "echo", backends.a)])
    run.apply([httpproxy("invalid", "good", "good.example.com", "echo")])
    run.wait_for("good.example.com", from_pod("echo-a"))
    run.apply([httpproxy("invalid", "bad", "bad.example.com", "no-such-service")])
    wait_until(lambda: current_status(run, "invalid", "bad"), lambda s: s == "invalid", what="STATUS invalid")
    errors = run.get("httpproxy", "bad", "invalid")["status"]["conditions"][0]["errors"]
    assert [e["reason"] for e in errors] == ["ServiceUnresolvedReference"]
    assert current_status(run, "invalid", "good") == "valid"
    assert run.request("good.example.com").pod == "echo-a"


# -- the quickstart and stopping ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContourRun]:
    contour = ContourRun(
        tmp_path_factory.mktemp("quickstart") / "state", manifests=(QUICKSTART,), extra_args=("--quickstart",)
    ).start()
    try:
        yield contour
    finally:
        contour.stop()
        contour.kill_leftovers()


@pytest.mark.parametrize(
    "host",
    ["local.projectcontour.io", "ingress.local.projectcontour.io"],
    ids=["httpproxy", "ingress"],
)
def test_the_quickstart_answers_from_its_echo_backends(quickstart: ContourRun, host: str) -> None:
    answer: Answer = quickstart.wait_for(host, lambda a: a.status == 200)
    assert answer.pod in {"echo-1", "echo-2"}
    assert quickstart.rejections() == {}


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"], ids=["ctrl-c", "sigterm"])
def test_a_signal_stops_envoy_and_the_echo_backends(tmp_path: Path, signal_name: str) -> None:
    import signal  # noqa: PLC0415

    contour = ContourRun(tmp_path / "state", manifests=(QUICKSTART,), extra_args=("--quickstart",)).start()
    try:
        children = contour.child_pids
        assert len(children) == 3  # Envoy and two echo backends
        assert all(pid_alive(pid) for pid in children)
        assert contour.stop(getattr(signal, signal_name)) == 0
        assert [pid for pid in children if pid_alive(pid)] == []
        assert not (tmp_path / "state" / "run.json").exists()
    finally:
        contour.stop()
        contour.kill_leftovers()
