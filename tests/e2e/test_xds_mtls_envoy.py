"""mTLS between the real Envoy and the xDS server, with certificates from `contour certgen`.

tests/envoy/test_xds_mtls.py checks the handshake Envoy starts against a bare TLS endpoint, and
tests/xds/test_tls.py checks the server against Python gRPC clients; here both real ends meet: the
configuration arrives over mTLS and traffic flows, and an Envoy whose client certificate comes from
another CA never gets a stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from pathlib import Path

import pytest

from contour.certgen.certs import generate_certs
from contour.certgen.output import pem_files, write_files
from contour.xds import typeurls
from contour.xds.cache import DEFAULT_GROUP, SnapshotCache
from contour.xds.tls import TlsFiles
from tests.e2e.echo_config import LISTENER, Backends, echo_config
from tests.support.envoy_harness import (
    ADS_SOTW,
    SOTW,
    ClientTls,
    XdsMode,
    envoy_process,
    envoy_stack,
    eventually,
    start_control_plane,
    xds_connected_states,
)


def certgen(directory: Path) -> Path:
    """Contour's five PEM files (CA, contour and envoy certificates and keys) in ``directory``."""
    write_files(directory, pem_files(generate_certs(now=datetime.datetime.now(datetime.UTC))))
    return directory


def server_tls(pems: Path) -> TlsFiles:
    return TlsFiles(pems / "contourcert.pem", pems / "contourkey.pem", pems / "cacert.pem")


@pytest.mark.parametrize("mode", [SOTW, ADS_SOTW], ids=lambda mode: mode.name)
async def test_configuration_arrives_over_mtls_and_traffic_flows(
    mode: XdsMode, backends: Backends, tmp_path: Path
) -> None:
    pems = certgen(tmp_path / "certs")
    client = ClientTls(pems / "cacert.pem", pems / "envoycert.pem", pems / "envoykey.pem")
    async with envoy_stack(
        tmp_path / "envoy",
        mode,
        echo_config("v1", mode, backends),
        listener=LISTENER,
        server_tls=server_tls(pems),
        client_tls=client,
    ) as stack:
        answer = await stack.client.wait_for("a.example.com", "/over-mtls", lambda e: e.status == 200)
        streams = stack.server.open_streams()
    assert answer.pod == "echo-a"
    assert streams >= 1


async def test_envoy_with_a_certificate_from_another_ca_gets_no_stream(
    backends: Backends, tmp_path: Path
) -> None:
    pems, foreign = certgen(tmp_path / "certs"), certgen(tmp_path / "foreign")
    cache = SnapshotCache()
    cache.set_snapshot(DEFAULT_GROUP, echo_config("v1", ADS_SOTW, backends))
    server = await start_control_plane(cache, tls=server_tls(pems))
    # Envoy trusts the server's CA but presents a certificate the server's CA never signed.
    client = ClientTls(pems / "cacert.pem", foreign / "envoycert.pem", foreign / "envoykey.pem")
    envoy = envoy_process(tmp_path / "envoy", server.port, ADS_SOTW, tls=client)
    # The bootstrap's xDS cluster is `contour` with Contour's alt_stat_name `<namespace>_contour_<port>`.
    stat = f"cluster.projectcontour_contour_{server.port}."
    supervisor = asyncio.create_task(envoy.run())
    try:
        attempts = await eventually(
            lambda: envoy.admin.stat(stat + "upstream_cx_total"),
            lambda n: n >= 2,
            what="Envoy retried the xDS connection",
        )
        hung_up = await envoy.admin.stat(stat + "upstream_cx_destroy_remote")
        connected = await xds_connected_states(envoy)
        state = await envoy.admin.server_state()
    finally:
        supervisor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await supervisor
        await server.stop(None)
    assert attempts >= 2 and hung_up >= 1
    assert (connected, state) == ({0}, "PRE_INITIALIZING")
    assert server.metrics.sample("contour_xds_responses_total", type_url=typeurls.CLUSTER) == 0
    assert envoy.pid is None
