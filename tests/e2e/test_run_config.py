"""`contour run --config FILE` and `--contour-config-name NAME` end to end, through a real Envoy.

A config file sets options Envoy shows: a global response header on every route (seen in real
answers), `disablePermitInsecure` (a TLS host's permitInsecure route still redirects), the upstream
connect timeout and `num-trusted-hops` (read back from Envoy's /config_dump, which holds only what Envoy
accepted). An invalid file stops `contour run` before anything starts, with exit code 2 and a message
naming the key. A ContourConfiguration applied with `-f` is read at start; its `Valid` status is read
back with kubectl.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.echo_config import Backends
from tests.e2e.run_routing_support import apply_feature, fetch_until, proxy, route, service, upstream
from tests.support.contour_run import CONTOUR, ContourRun, running, wait_until
from tests.unit.dag.fixtures import tls_secret

NS = "cfg"
CONFIG = """
disablePermitInsecure: true
network:
  num-trusted-hops: 2
timeouts:
  connect-timeout: 7s
policy:
  response-headers:
    set:
      x-global-policy: from-config
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, backends: Backends) -> Iterator[ContourRun]:
    work = tmp_path_factory.mktemp("config-run")
    config = work / "contour.yaml"
    config.write_text(CONFIG)
    with running(work / "state", ("--config", str(config))) as contour:
        apply_feature(
            contour,
            NS,
            [*service(NS, "echo", backends.a), tls_secret("tls", NS)],
            [
                proxy(NS, "plain", "plain.config.example.com", routes=[route(services=[upstream("echo")])]),
                proxy(
                    NS,
                    "secure",
                    "secure.config.example.com",
                    virtualhost={"tls": {"secretName": "tls"}},
                    routes=[route(services=[upstream("echo")], permitInsecure=True)],
                ),
            ],
        )
        yield contour


def config_dump(run: ContourRun, resource: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = run.admin("/config_dump", resource=resource).json().get("configs", [])
    return found


def test_global_response_header_is_on_every_route(run: ContourRun) -> None:
    reply = fetch_until(run, "plain.config.example.com")
    assert reply.headers.get("x-global-policy") == "from-config"


def test_disable_permit_insecure_redirects_the_permit_insecure_route(run: ContourRun) -> None:
    reply = fetch_until(run, "secure.config.example.com", accept=lambda r: r.status != 404)
    assert reply.status == 301


def test_connect_timeout_reaches_envoys_clusters(run: ContourRun) -> None:
    def echo_cluster() -> list[dict[str, Any]]:
        clusters = [c["cluster"] for c in config_dump(run, "dynamic_active_clusters")]
        return [c for c in clusters if c["name"].startswith(f"{NS}/echo/")]

    (cluster,) = wait_until(echo_cluster, what="the echo cluster in Envoy")
    assert cluster["connect_timeout"] == "7s"


def test_num_trusted_hops_reaches_envoys_connection_manager(run: ContourRun) -> None:
    def managers() -> list[dict[str, Any]]:
        found = []
        for listener in config_dump(run, "dynamic_listeners"):
            active = listener.get("active_state", {}).get("listener", {})
            if not active.get("name", "").startswith("ingress_"):
                continue  # the stats listener has a connection manager of its own
            for chain in active.get("filter_chains", []):
                found += [
                    f["typed_config"] for f in chain["filters"] if "http_connection_manager" in f["name"]
                ]
        return found

    found = wait_until(managers, what="Envoy's HTTP connection managers")
    assert {m.get("xff_num_trusted_hops") for m in found} == {2}


# -- invalid configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "timeouts:\n  connect-timeot: 2s\n", "unknown field timeouts.connect-timeot", id="unknown-key"
        ),
        pytest.param(
            "cluster:\n  dns-lookup-family: ipv9\n",
            "cluster.dns-lookup-family: invalid value 'ipv9'",
            id="invalid-value",
        ),
    ],
)
def test_invalid_config_file_fails_at_start(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "contour.yaml"
    config.write_text(text)
    state = tmp_path / "state"
    result = subprocess.run(
        [CONTOUR, "run", "--state-dir", str(state), "--config", str(config), "--api-port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert not (state / "run.json").exists()


# -- ContourConfiguration --------------------------------------------------------------------------------


def contour_configuration(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "projectcontour"}},
        {
            "apiVersion": "projectcontour.io/v1alpha1",
            "kind": "ContourConfiguration",
            "metadata": {"name": "contour", "namespace": "projectcontour"},
            "spec": spec,
        },
    ]


def valid_condition(contour: ContourRun) -> dict[str, Any]:
    status = contour.get("contourconfiguration", "contour", "projectcontour").get("status") or {}
    (condition,) = [c for c in status.get("conditions", []) if c["type"] == "Valid"]
    return dict(condition)


def test_contour_configuration_object_is_read_and_marked_valid(tmp_path: Path, backends: Backends) -> None:
    manifest = tmp_path / "config.yaml"
    spec = {"policy": {"responseHeaders": {"set": {"x-from-crd": "yes"}}}}
    manifest.write_text(yaml.safe_dump_all(contour_configuration(spec)))
    args = (
        "-f",
        str(manifest),
        "--contour-config-name",
        "contour",
        "--contour-config-namespace",
        "projectcontour",
    )
    with running(tmp_path / "state", args) as contour:
        assert valid_condition(contour)["status"] == "True"
        apply_feature(
            contour,
            NS,
            [*service(NS, "echo", backends.a)],
            [proxy(NS, "crd", "crd.config.example.com", routes=[route(services=[upstream("echo")])])],
        )
        reply = fetch_until(contour, "crd.config.example.com")
        assert reply.headers.get("x-from-crd") == "yes"
        assert contour.rejections() == {}


def test_invalid_contour_configuration_fails_at_start_with_code_2(tmp_path: Path) -> None:
    manifest = tmp_path / "config.yaml"
    bad = {"envoy": {"cluster": {"dnsLookupFamily": "v9"}}}
    manifest.write_text(yaml.safe_dump_all(contour_configuration(bad)))
    state = tmp_path / "state"
    command = [
        CONTOUR,
        "run",
        "--state-dir",
        str(state),
        "--api-port",
        "0",
        "--admin-port",
        "0",
        "-f",
        str(manifest),
    ]
    command += ["--contour-config-name", "contour", "--contour-config-namespace", "projectcontour"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "spec.envoy.cluster.dnsLookupFamily: invalid value 'v9'" in result.stdout + result.stderr
    assert not (state / "run.json").exists()
