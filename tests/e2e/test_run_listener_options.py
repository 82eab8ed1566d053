"""Listener, access log and compression options of the Contour configuration, through `contour run`
and a real Envoy.

A config file (`--config`) asks for JSON access logs at level `error`, listener and cluster buffer
limits, the exact connection balancer and the `pass_through` server header: the log lines appear on
Envoy's stdout (the `envoy.log` of the state directory) with the configured fields, a 404 is logged and
a 200 is not, the options are in Envoy's /config_dump (which holds only what Envoy accepted), and the
answer carries no `server: envoy` (the echo backend sends no Server header of its own). Compression
exists only in a ContourConfiguration (`envoy.listener.compression.algorithm`): with brotli a
compressible answer comes back `content-encoding: br`, with `disabled` it comes back uncompressed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.echo_config import Backends
from tests.e2e.run_routing_support import apply_feature, fetch, fetch_until, proxy, route, service, upstream
from tests.support.contour_run import ContourRun, running, wait_until

NS = "opts"
HOST = "opts.example.com"
CONFIG = """
accesslog-format: json
accesslog-level: error
json-fields:
  - "@timestamp"
  - method
  - path
  - response_code
  - "host=%REQ(:AUTHORITY)%"
serverHeaderTransformation: pass_through
listener:
  connection-balancer: exact
  per-connection-buffer-limit-bytes: 65536
  max-requests-per-connection: 50
cluster:
  per-connection-buffer-limit-bytes: 32768
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, backends: Backends) -> Iterator[ContourRun]:
    work = tmp_path_factory.mktemp("listener-options")
    config = work / "contour.yaml"
    config.write_text(CONFIG)
    with running(work / "state", ("--config", str(config))) as contour:
        apply_feature(
            contour,
            NS,
            [*service(NS, "echo", backends.a)],
            [proxy(NS, "app", HOST, routes=[route(services=[upstream("echo")])])],
        )
        fetch_until(run=contour, host=HOST)
        yield contour


def access_log_lines(run: ContourRun) -> list[dict[str, Any]]:
    """The JSON lines of Envoy's stdout (its other output is not JSON)."""
    lines = []
    for line in Path(run.info["envoy_log"]).read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return lines


def logged(run: ContourRun, path: str) -> list[dict[str, Any]]:
    return [line for line in access_log_lines(run) if line.get("path") == path]


def test_json_access_log_lines_have_the_configured_fields(run: ContourRun) -> None:
    # The echo answers 200 to every path: a host nobody serves gets Envoy's own 404.
    assert fetch(run, "nobody.example.com", "/json-fields").status == 404
    (line,) = wait_until(lambda: logged(run, "/json-fields"), what="the access log line of the 404")
    assert set(line) == {"@timestamp", "method", "path", "response_code", "host"}
    assert (line["method"], line["response_code"], line["host"]) == ("GET", 404, "nobody.example.com")


def test_error_level_logs_a_404_and_not_a_200(run: ContourRun) -> None:
    assert fetch(run, HOST, "/served-ok").status == 200
    assert fetch(run, "nobody.example.com", "/not-found-marker").status == 404
    wait_until(lambda: logged(run, "/not-found-marker"), what="the 404's access log line")
    # Every listener shares one buffered log file: once the later 404's line is out, the 200 would be too.
    assert logged(run, "/served-ok") == []


def dynamic_listeners(run: ContourRun) -> dict[str, dict[str, Any]]:
    configs = run.admin("/config_dump", resource="dynamic_listeners").json().get("configs", [])
    return {c["name"]: c.get("active_state", {}).get("listener", {}) for c in configs}


def test_buffer_limit_and_connection_balancer_are_in_envoys_listener(run: ContourRun) -> None:
    listener = wait_until(
        lambda: dynamic_listeners(run).get("ingress_http", {}), what="the ingress_http listener"
    )
    assert listener["per_connection_buffer_limit_bytes"] == 65536
    assert listener["connection_balance_config"] == {"exact_balance": {}}


def test_cluster_buffer_limit_is_in_envoys_cluster(run: ContourRun) -> None:
    def echo_cluster() -> list[dict[str, Any]]:
        configs = run.admin("/config_dump", resource="dynamic_active_clusters").json().get("configs", [])
        return [c["cluster"] for c in configs if c["cluster"]["name"].startswith(f"{NS}/echo/")]

    (cluster,) = wait_until(echo_cluster, what="the echo cluster in Envoy")
    assert cluster["per_connection_buffer_limit_bytes"] == 32768


def test_pass_through_server_header_adds_no_server_of_envoys_own(run: ContourRun) -> None:
    reply = fetch(run, HOST, "/")
    assert reply.status == 200
    assert "server" not in reply.headers


# -- compression (ContourConfiguration only) ---------------------------------------------------------------


def compression_run(tmp_path: Path, backends: Backends, algorithm: str) -> Any:
    manifest = tmp_path / "config.yaml"
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "projectcontour"}},
        {
            "apiVersion": "projectcontour.io/v1alpha1",
            "kind": "ContourConfiguration",
            "metadata": {"name": "contour", "namespace": "projectcontour"},
            "spec": {"envoy": {"listener": {"compression": {"algorithm": algorithm}}}},
        },
    ]
    manifest.write_text(yaml.safe_dump_all(objects))
    args = (
        "-f",
        str(manifest),
        "--contour-config-name",
        "contour",
        "--contour-config-namespace",
        "projectcontour",
    )
    return running(tmp_path / "state", args)


@pytest.mark.parametrize(
    ("algorithm", "encoding"),
    [pytest.param("brotli", "br", id="brotli"), pytest.param("disabled", None, id="off")],
)
def test_compression_of_a_compressible_answer(
    tmp_path: Path, backends: Backends, algorithm: str, encoding: str | None
) -> None:
    with compression_run(tmp_path, backends, algorithm) as contour:
        apply_feature(
            contour,
            NS,
            [*service(NS, "echo", backends.a)],
            [proxy(NS, "app", HOST, routes=[route(services=[upstream("echo")])])],
        )
        reply = fetch_until(contour, HOST, headers={"accept-encoding": "br, gzip, zstd"})
        assert reply.headers.get("content-type", "").startswith("application/json")
        assert reply.headers.get("content-encoding") == encoding
        assert contour.rejections() == {}
