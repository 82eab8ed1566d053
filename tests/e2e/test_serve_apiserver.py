"""`contour serve` against `contour apiserver` as the cluster, with a real Envoy and `contour echo`.

Each test starts its own API server and `contour serve` processes (stopped by PID at teardown), applies
objects with kubectl and watches the outcome where a user would: requests through Envoy, statuses
through kubectl, `contour serve`'s own endpoints and log.
"""

from __future__ import annotations

import datetime
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from contour.certgen.certs import generate_certs
from contour.certgen.output import pem_files, write_files
from tests.e2e.echo_config import Backends
from tests.e2e.run_routing_support import namespace, service
from tests.support.apiserver_process import APIServerProcess, wait_for
from tests.support.envoy_harness import SOTW, ClientTls, EnvoyClient, envoy_process, running
from tests.support.serve_process import CONTOUR, ServeProcess

Manifest = dict[str, Any]


@pytest.fixture
def apiserver(tmp_path: Path) -> Iterator[APIServerProcess]:
    server = APIServerProcess(tmp_path / "api").start()
    try:
        apply(server, [namespace("projectcontour")])
        yield server
    finally:
        server.stop()


@pytest.fixture
def serves(tmp_path: Path) -> Iterator[list[ServeProcess]]:
    """Every ServeProcess a test appends is stopped by PID at teardown."""
    started: list[ServeProcess] = []
    yield started
    for process in started:
        process.stop()


def start_serve(
    serves: list[ServeProcess], apiserver: APIServerProcess, tmp_path: Path, *args: str, **kw: Any
) -> ServeProcess:
    process = ServeProcess(apiserver.kubeconfig, tmp_path, list(args), name=f"serve-{len(serves)}", **kw)
    serves.append(process)
    return process.start()


def apply(apiserver: APIServerProcess, objects: list[Manifest]) -> None:
    apiserver.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objects, sort_keys=False))


def proxy(ns: str, name: str, fqdn: str | None, backend: str = "echo") -> Manifest:
    spec: Manifest = {"routes": [{"services": [{"name": backend, "port": 80}]}]}
    if fqdn is not None:
        spec["virtualhost"] = {"fqdn": fqdn}
    return {
        "apiVersion": "projectcontour.io/v1",
        "kind": "HTTPProxy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def app(ns: str, backends: Backends, fqdn: str, name: str = "app") -> list[Manifest]:
    return [namespace(ns), *service(ns, "echo", backends.a), proxy(ns, name, fqdn)]


def get(apiserver: APIServerProcess, resource: str, name: str, ns: str) -> Manifest:
    found: Manifest = json.loads(apiserver.kubectl("get", resource, name, "-n", ns, "-o", "json").stdout)
    return found


def proxy_status(apiserver: APIServerProcess, ns: str, name: str) -> Manifest:
    return dict(get(apiserver, "httpproxy", name, ns).get("status") or {})


def wait_status(
    apiserver: APIServerProcess, ns: str, name: str, current: str, timeout: float = 20
) -> Manifest:
    return dict(
        wait_for(
            lambda: (s := proxy_status(apiserver, ns, name)).get("currentStatus") == current and s,
            timeout=timeout,
            interval=0.1,
            message=f"HTTPProxy {ns}/{name} currentStatus {current}",
        )
    )


def certgen(directory: Path) -> Path:
    write_files(directory, pem_files(generate_certs(now=datetime.datetime.now(datetime.UTC))))
    return directory


def tls_flags(pems: Path) -> list[str]:
    return [
        "--contour-cafile",
        str(pems / "cacert.pem"),
        "--contour-cert-file",
        str(pems / "contourcert.pem"),
        "--contour-key-file",
        str(pems / "contourkey.pem"),
    ]


# -- xDS to a real Envoy ----------------------------------------------------------------------------


async def test_envoy_gets_its_configuration_over_mtls_and_routes_traffic(
    apiserver: APIServerProcess, serves: list[ServeProcess], backends: Backends, tmp_path: Path
) -> None:
    pems = certgen(tmp_path / "certs")
    apply(apiserver, app("shop", backends, "shop.example.com"))
    serve = start_serve(
        serves, apiserver, tmp_path, *tls_flags(pems), "--disable-leader-election", insecure=False
    )
    client_tls = ClientTls(pems / "cacert.pem", pems / "envoycert.pem", pems / "envoykey.pem")
    envoy = envoy_process(tmp_path / "envoy", serve.xds_port, SOTW, tls=client_tls)
    async with running(envoy), EnvoyClient(envoy, "ingress_http") as client:
        answer = await client.wait_for("shop.example.com", "/", lambda e: e.status == 200)
        rejected = {kind: await envoy.admin.update_rejected(kind) for kind in ("cds", "lds", "rds", "eds")}
    assert answer.pod == "echo-a"
    assert rejected == {"cds": 0, "lds": 0, "rds": 0, "eds": 0}


async def test_a_new_httpproxy_reaches_the_running_envoy(
    apiserver: APIServerProcess, serves: list[ServeProcess], backends: Backends, tmp_path: Path
) -> None:
    apply(apiserver, app("shop", backends, "shop.example.com"))
    serve = start_serve(serves, apiserver, tmp_path, "--disable-leader-election")
    envoy = envoy_process(tmp_path / "envoy", serve.xds_port, SOTW)
    async with running(envoy), EnvoyClient(envoy, "ingress_http") as client:
        await client.wait_for("shop.example.com", "/", lambda e: e.status == 200)
        apply(
            apiserver,
            [*service("shop", "other", backends.b), proxy("shop", "later", "later.example.com", "other")],
        )
        answer = await client.wait_for("later.example.com", "/", lambda e: e.status == 200)
    assert answer.pod == "echo-b"


def test_contour_cli_prints_what_a_live_serve_serves_over_mtls(
    apiserver: APIServerProcess, serves: list[ServeProcess], backends: Backends, tmp_path: Path
) -> None:
    pems = certgen(tmp_path / "certs")
    apply(apiserver, app("shop", backends, "shop.example.com"))
    serve = start_serve(
        serves, apiserver, tmp_path, *tls_flags(pems), "--disable-leader-election", insecure=False
    )
    # `contour cli` with Contour's flags, as an operator runs it against the contour pod's xDS port.
    answer = subprocess.run(
        [
            CONTOUR,
            "cli",
            "rds",
            "--contour",
            f"127.0.0.1:{serve.xds_port}",
            "--cafile",
            str(pems / "cacert.pem"),
            "--cert-file",
            str(pems / "envoycert.pem"),
            "--key-file",
            str(pems / "envoykey.pem"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert answer.returncode == 0, answer.stderr
    response = json.loads(answer.stdout)
    routes = [r for r in response["resources"] if r.get("name") == "ingress_http"]
    assert [v["domains"] for v in routes[0]["virtual_hosts"]] == [["shop.example.com"]]


def test_the_xds_server_is_bound_only_after_the_first_snapshot(
    apiserver: APIServerProcess, serves: list[ServeProcess], tmp_path: Path
) -> None:
    serve = start_serve(
        serves, apiserver, tmp_path, "--disable-leader-election", "--log-format", "json", "--debug"
    )
    messages = [str(r["msg"]) for r in serve.log_records()]

    def first(prefix: str) -> int:
        return next(i for i, m in enumerate(messages) if m.startswith(prefix))

    synced, built = first("all "), first("rebuild 1 took")
    bound = first("xDS server listening on")
    assert synced < built < bound, messages


# -- status -----------------------------------------------------------------------------------------


def test_status_is_written_with_the_envoy_service_address(
    apiserver: APIServerProcess, serves: list[ServeProcess], backends: Backends, tmp_path: Path
) -> None:
    envoy_service: Manifest = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "envoy", "namespace": "projectcontour"},
        "spec": {"type": "LoadBalancer", "ports": [{"name": "http", "port": 80}]},
    }
    apply(apiserver, [envoy_service, *app("shop", backends, "shop.example.com")])
    start_serve(serves, apiserver, tmp_path)
    valid = wait_status(apiserver, "shop", "app", "valid")
    assert "loadBalancer" not in valid or not valid["loadBalancer"].get("ingress")
    apiserver.kubectl(
        "patch", "service", "envoy", "-n", "projectcontour", "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": {"loadBalancer": {"ingress": [{"hostname": "lb.example.net"}]}}}),
    )  # fmt: skip
    addressed = wait_for(
        lambda: proxy_status(apiserver, "shop", "app").get("loadBalancer", {}).get("ingress"),
        timeout=20,
        interval=0.1,
        message="status.loadBalancer of the HTTPProxy",
    )
    assert addressed == [{"hostname": "lb.example.net"}]


def test_ingress_status_address_replaces_the_service(
    apiserver: APIServerProcess, serves: list[ServeProcess], backends: Backends, tmp_path: Path
) -> None:
    apply(apiserver, app("shop", backends, "shop.example.com"))
    start_serve(
        serves, apiserver, tmp_path, "--disable-leader-election", "--ingress-status-address", "192.0.2.10"
    )
    addressed = wait_for(
        lambda: proxy_status(apiserver, "shop", "app").get("loadBalancer", {}).get("ingress"),
        timeout=20,
        interval=0.1,
        message="status.loadBalancer of the HTTPProxy",
    )
    assert addressed == [{"ip": "192.0.2.10"}]


# -- namespaces -------------------------------------------------------------------------------------


def test_watch_namespaces_leaves_other_namespaces_alone(
    apiserver: APIServerProcess, serves: list[ServeProcess], backends: Backends, tmp_path: Path
) -> None:
    apply(apiserver, [*app("watched", backends, "w.example.com"), *app("ignored", backends, "i.example.com")])
    serve = start_serve(
        serves, apiserver, tmp_path, "--disable-leader-election", "--watch-namespaces", "watched"
    )
    wait_status(apiserver, "watched", "app", "valid")
    dag = serve.get(serve.debug_port, "/debug/dag").text
    ignored = proxy_status(apiserver, "ignored", "app").get("currentStatus")
    # NotReconciled is the CRD's default status: nobody wrote one.
    assert (ignored, "w.example.com" in dag, "i.example.com" in dag) == ("NotReconciled", True, False)


def test_root_namespaces_make_roots_elsewhere_invalid(
    apiserver: APIServerProcess, serves: list[ServeProcess], backends: Backends, tmp_path: Path
) -> None:
    apply(apiserver, [*app("roots", backends, "r.example.com"), *app("apps", backends, "a.example.com")])
    start_serve(serves, apiserver, tmp_path, "--disable-leader-election", "--root-namespaces", "roots")
    wait_status(apiserver, "roots", "app", "valid")
    invalid = wait_status(apiserver, "apps", "app", "invalid")
    errors = [e for c in invalid.get("conditions", []) for e in c.get("errors", [])]
    assert [(e["type"], e["message"]) for e in errors] == [
        ("RootNamespaceError", "root HTTPProxy cannot be defined in this namespace")
    ]
