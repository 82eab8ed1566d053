"""BackendTLSPolicy through `contour run`: a Gateway's Envoy re-encrypts to a TLS echo backend.

One `contour run` and one `contour echo --tls-port` (certificate `backend.example.com` from a test
CA) serve the module. One HTTPRoute on one Gateway sends `/right`, `/wrong` and `/missing` to three
Services on that echo's TLS port; each Service has a BackendTLSPolicy: the right CA, another CA, a
ConfigMap that does not exist. Traffic goes to the Gateway's own address from its status.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.run_routing_support import namespace
from tests.e2e.run_tls_support import Authority, backend_service
from tests.echo.process import EchoProcess
from tests.support.contour_run import ContourRun, free_port, running, wait_until

NS = "gw-btls"
CLASS = "contour-btls"
GATEWAY_API = "gateway.networking.k8s.io/v1"
CONTROLLER = "projectcontour.io/gateway-controller"
BACKEND_NAME = "backend.example.com"
PATHS = ("right", "wrong", "missing")


@pytest.fixture(scope="module")
def tls_echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EchoProcess, Authority, Authority]]:
    work = tmp_path_factory.mktemp("btls-echo")
    right, wrong = Authority(work / "right", "right-ca"), Authority(work / "wrong", "wrong-ca")
    cert = right.server("echo", BACKEND_NAME)
    args = ["--port", "0", "--tls-port", "0", "--pod", "echo-tls"]
    args += ["--tls-cert", str(cert.cert_path), "--tls-key", str(cert.key_path)]
    with EchoProcess(*args, stderr_path=work / "stderr") as echo:
        yield echo, right, wrong


def _configmap(name: str, pem: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NS},
        "data": {"ca.crt": pem},
    }


def _policy(name: str, configmap: str) -> dict[str, Any]:
    return {
        "apiVersion": GATEWAY_API,
        "kind": "BackendTLSPolicy",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "targetRefs": [{"group": "", "kind": "Service", "name": name}],
            "validation": {
                "caCertificateRefs": [{"group": "", "kind": "ConfigMap", "name": configmap}],
                "hostname": BACKEND_NAME,
            },
        },
    }


@pytest.fixture(scope="module")
def gateway_port(
    tmp_path_factory: pytest.TempPathFactory, tls_echo: tuple[EchoProcess, Authority, Authority]
) -> Iterator[tuple[ContourRun, int]]:
    echo, right, wrong = tls_echo
    port = free_port()
    rules = [
        {
            "matches": [{"path": {"type": "PathPrefix", "value": f"/{path}"}}],
            "backendRefs": [{"name": path, "port": 443}],
        }
        for path in PATHS
    ]
    objects: list[dict[str, Any]] = [
        namespace(NS),
        _configmap("right-ca", right.pem),
        _configmap("wrong-ca", wrong.pem),
        {
            "apiVersion": GATEWAY_API,
            "kind": "GatewayClass",
            "metadata": {"name": CLASS},
            "spec": {"controllerName": CONTROLLER},
        },
        {
            "apiVersion": GATEWAY_API,
            "kind": "Gateway",
            "metadata": {"name": "gw", "namespace": NS},
            "spec": {
                "gatewayClassName": CLASS,
                "listeners": [{"name": "http", "protocol": "HTTP", "port": port}],
            },
        },
        {
            "apiVersion": GATEWAY_API,
            "kind": "HTTPRoute",
            "metadata": {"name": "route", "namespace": NS},
            "spec": {"parentRefs": [{"name": "gw"}], "rules": rules},
        },
        _policy("right", "right-ca"),
        _policy("wrong", "wrong-ca"),
        _policy("missing", "no-such-configmap"),
    ]
    for path in PATHS:
        objects += backend_service(NS, path, {"https": (443, echo.ports["https"])})
    with running(tmp_path_factory.mktemp("btls-run") / "state") as run:
        run.apply(objects)
        yield run, port
        assert run.gateway_rejections() == {}


def _gateway_stats(run: ContourRun, pattern: str) -> dict[str, int]:
    """The nonzero counters matching `pattern` of the Gateway's own Envoy."""
    envoy = json.loads((run.state_dir / "gateways.json").read_text())[f"{NS}/gw"]
    with httpx.Client(base_url=f"http://{envoy['admin']}", timeout=5.0, trust_env=False) as client:
        stats = client.get("/stats", params={"format": "json", "filter": pattern}).json()
    return {s["name"]: s["value"] for s in stats.get("stats", []) if s.get("value")}


def _address(run: ContourRun) -> str:
    addresses = wait_until(
        lambda: (run.get("gateways", "gw", NS).get("status") or {}).get("addresses") or [],
        what="an address for the Gateway",
        timeout=30.0,
    )
    value: str = addresses[0]["value"]
    return value


def _get(address: str, port: int, path: str) -> httpx.Response:
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        return client.get(f"http://{address}:{port}/{path}", headers={"host": "app.example.com"})


def _wait_status(run: ContourRun, port: int, path: str, code: int) -> httpx.Response:
    address = _address(run)
    return wait_until(
        lambda: _get(address, port, path),
        lambda r: r.status_code == code,
        what=f"{code} on /{path}",
        timeout=30.0,
    )


def _policy_conditions(run: ContourRun, name: str) -> dict[str, tuple[str, str]]:
    def ancestors() -> list[Any]:
        found: list[Any] = (run.get("backendtlspolicies", name, NS).get("status") or {}).get(
            "ancestors"
        ) or []
        return found

    (entry,) = wait_until(ancestors, what=f"ancestors of policy {name}", timeout=30.0)
    assert entry["ancestorRef"]["name"] == "gw"
    return {c["type"]: (c["status"], c["reason"]) for c in entry["conditions"]}


def test_policy_with_the_right_ca_reaches_the_backend_over_tls_with_its_sni(
    gateway_port: tuple[ContourRun, int],
) -> None:
    run, port = gateway_port
    body = _wait_status(run, port, "right", 200).json()
    assert (body["pod"], body["tls"]["serverName"]) == ("echo-tls", BACKEND_NAME)


def test_policy_with_the_right_ca_is_accepted(gateway_port: tuple[ContourRun, int]) -> None:
    run, _ = gateway_port
    assert _policy_conditions(run, "right") == {
        "Accepted": ("True", "Accepted"),
        "ResolvedRefs": ("True", "ResolvedRefs"),
    }


def test_policy_with_a_ca_that_did_not_sign_the_backend_gets_503(
    gateway_port: tuple[ContourRun, int],
) -> None:
    run, port = gateway_port
    _wait_status(run, port, "right", 200)
    assert _get(_address(run), port, "wrong").status_code == 503
    # It is the certificate check that failed (a plaintext request to a TLS port also gets a 503).
    assert _gateway_stats(run, r"ssl\.fail_verify_error$") == {
        "cluster.gw-btls_wrong_443.ssl.fail_verify_error": 1
    }


def test_policy_with_a_missing_configmap_is_reported_and_answers_500(
    gateway_port: tuple[ContourRun, int],
) -> None:
    run, port = gateway_port
    _wait_status(run, port, "missing", 500)
    assert _policy_conditions(run, "missing") == {
        "Accepted": ("False", "NoValidCACertificate"),
        "ResolvedRefs": ("False", "InvalidCACertificateRef"),
    }
