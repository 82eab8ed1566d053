"""External Service Routing: with --enable-external-name-service, an ExternalName Service becomes a DNS
cluster to its external name, and traffic reaches whatever that name resolves to.

The external name must resolve to loopback without any network: the test uses a host name that
/etc/hosts maps to 127.0.0.1 other than `localhost`, which Contour refuses as an external name.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.run_routing_support import (
    apply_feature,
    external_name_service,
    fetch_until,
    proxy,
    route,
    upstream,
    wait_current_status,
)
from tests.support.contour_run import ContourRun, running
from tests.support.envoy_harness import EchoBackend


def loopback_alias() -> str | None:
    """A name other than localhost that /etc/hosts maps to 127.0.0.1, if there is one."""
    for line in Path("/etc/hosts").read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        if fields and fields[0] == "127.0.0.1":
            for name in fields[1:]:
                if name != "localhost" and socket.gethostbyname(name) == "127.0.0.1":
                    return name
    return None


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContourRun]:
    state_dir = tmp_path_factory.mktemp("external-run") / "state"
    with running(state_dir, extra_args=("--enable-external-name-service",)) as contour:
        yield contour


def test_an_external_name_service_routes_to_its_dns_name(run: ContourRun, tmp_path: Path) -> None:
    alias = loopback_alias()
    if alias is None:
        pytest.skip(reason="/etc/hosts maps no name other than localhost to 127.0.0.1 for the DNS cluster")
    echo = EchoBackend("echo-external", tmp_path)
    try:
        service = external_name_service("external", "outside", alias)
        service["spec"]["ports"] = [{"name": "http", "port": echo.port}]
        host = "external.enabled.example.com"
        apply_feature(
            run,
            "external",
            [service],
            [
                proxy(
                    "external",
                    "app",
                    host,
                    routes=[route({"prefix": "/"}, services=[upstream("outside", port=echo.port)])],
                )
            ],
        )
        wait_current_status(run, "external", "app", "valid")
        reply = fetch_until(run, host, "/through-dns")
        assert reply.status == 200 and reply.pod == "echo-external"
    finally:
        echo.stop()
