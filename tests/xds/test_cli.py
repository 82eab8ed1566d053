"""`contour cli`: a real xDS client against a real grpc.aio xDS server serving the translators' output.

Most tests run the command's core (`show`) in the test's event loop, beside the server; a few run the
installed `contour cli` executable to check the flags, the exit codes and the one-line errors.
"""

from __future__ import annotations

import asyncio
import datetime
import io
import json
import os
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import json_format
from typer.testing import CliRunner

from contour.certgen.certs import generate_certs
from contour.cli.app import app
from contour.cli.xdscli import CliRequest, OutputFormat, ResourceType, TlsPaths
from contour.cli.xdsview import resource_rows, show
from contour.dag.model import ServicePort
from contour.envoy.endpoints import cluster_load_assignment
from contour.envoy.translate import TranslatorConfig, translate
from contour.xds import typeurls
from contour.xds.cache import DEFAULT_GROUP, SnapshotCache
from contour.xds.server import XdsServer, start_server
from contour.xds.snapshot import Snapshot
from contour.xds.tls import TlsFiles
from tests.support import xds_resources as xr
from tests.support.contour_run import CONTOUR, free_port
from tests.unit.envoy.builders import make_pki, rich_dag
from tests.xds.certs import CertificateAuthority
from tests.xds.client import eventually

TYPE_URLS = {
    ResourceType.LDS: typeurls.LISTENER,
    ResourceType.RDS: typeurls.ROUTE,
    ResourceType.CDS: typeurls.CLUSTER,
    ResourceType.EDS: typeurls.ENDPOINT,
    ResourceType.SDS: typeurls.SECRET,
    ResourceType.RTDS: typeurls.RUNTIME,
}
NAMED_TYPES = [ResourceType.LDS, ResourceType.RDS, ResourceType.CDS, ResourceType.EDS, ResourceType.SDS]
MODES = {
    "sotw": {},
    "delta": {"delta": True},
    "ads": {"ads": True},
    "delta-ads": {"delta": True, "ads": True},
}
SERVICE_SLICE = {
    "metadata": {"name": "slice-1"},
    "addressType": "IPv4",
    "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}],
    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
}


@dataclass
class Result:
    code: int
    out: str
    err: str

    def documents(self) -> list[dict[str, Any]]:
        """Every JSON document printed, in order."""
        decoder, text, found = json.JSONDecoder(), self.out.strip(), []
        while text:
            document, end = decoder.raw_decode(text)
            found.append(document)
            text = text[end:].lstrip()
        return found


def names_in(document: dict[str, Any], type_url: str) -> list[str]:
    """Resource names in a SotW or delta response document."""
    resources = document.get("resources", [])
    if "system_version_info" in document or (resources and "resource" in resources[0]):
        return [r["name"] for r in resources]
    field = "cluster_name" if type_url == typeurls.ENDPOINT else "name"
    return [r[field] for r in resources]


@pytest.fixture(scope="module")
def resources() -> dict[str, list[Any]]:
    """What the product's translators make of a DAG using most features, plus one EDS entry per cluster."""
    translated = translate(
        rich_dag(make_pki("secure.example.com", "*.wild.example.com"), make_pki("client")), TranslatorConfig()
    )
    service_names = sorted(
        c.eds_cluster_config.service_name
        for c in translated[typeurls.CLUSTER]
        if c.HasField("eds_cluster_config")
    )
    translated[typeurls.ENDPOINT] = [
        cluster_load_assignment(name, [SERVICE_SLICE], ServicePort("http", 80)) for name in service_names
    ]
    assert all(translated[url] for url in TYPE_URLS.values()), "every type must have resources to show"
    return translated


def names_of(resources: dict[str, list[Any]], kind: ResourceType) -> list[str]:
    return sorted(typeurls.resource_name(m) for m in resources[TYPE_URLS[kind]])


@pytest.fixture
def served(cache: SnapshotCache, server: XdsServer, resources: dict[str, list[Any]]) -> XdsServer:
    cache.set_snapshot(DEFAULT_GROUP, Snapshot.build("1", resources))
    return server


def request_to(port: int, kind: ResourceType, *names: str, **options: Any) -> CliRequest:
    options.setdefault("timeout", 5.0)
    return CliRequest(resource_type=kind, target=f"127.0.0.1:{port}", names=names, **options)


async def run_cli(request: CliRequest) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = await show(request, out, err, width=250)
    return Result(code, out.getvalue(), err.getvalue())


@pytest.mark.parametrize("mode", MODES.keys())
@pytest.mark.parametrize("kind", list(ResourceType), ids=str)
async def test_every_resource_of_the_type_is_printed(
    served: XdsServer, resources: dict[str, list[Any]], kind: ResourceType, mode: str
) -> None:
    result = await run_cli(request_to(served.port, kind, **MODES[mode]))
    assert (result.code, result.err) == (0, "")
    [document] = result.documents()
    assert sorted(names_in(document, TYPE_URLS[kind])) == names_of(resources, kind)


@pytest.mark.parametrize("kind", list(ResourceType), ids=str)
async def test_json_parses_back_into_the_served_messages(
    served: XdsServer, resources: dict[str, list[Any]], kind: ResourceType
) -> None:
    [document] = (await run_cli(request_to(served.port, kind))).documents()
    response = json_format.ParseDict(document, discovery_pb2.DiscoveryResponse())
    message_class = typeurls.MESSAGE_CLASSES[TYPE_URLS[kind]]
    assert [message_class.FromString(r.value) for r in response.resources] == resources[TYPE_URLS[kind]]
    assert response.version_info == Snapshot.build("1", resources).type_version(TYPE_URLS[kind])


async def test_delta_json_parses_back_into_the_served_messages(
    served: XdsServer, resources: dict[str, list[Any]]
) -> None:
    [document] = (await run_cli(request_to(served.port, ResourceType.CDS, delta=True))).documents()
    response = json_format.ParseDict(document, discovery_pb2.DeltaDiscoveryResponse())
    clusters = {
        r.name: typeurls.MESSAGE_CLASSES[typeurls.CLUSTER].FromString(r.resource.value)
        for r in response.resources
    }
    assert clusters == {c.name: c for c in resources[typeurls.CLUSTER]}


@pytest.mark.parametrize("mode", ["sotw", "delta"])
@pytest.mark.parametrize("kind", NAMED_TYPES, ids=str)
async def test_names_restrict_what_is_printed(
    served: XdsServer, resources: dict[str, list[Any]], kind: ResourceType, mode: str
) -> None:
    every = names_of(resources, kind)
    wanted = (every[0], every[-1])
    result = await run_cli(request_to(served.port, kind, *wanted, **MODES[mode]))
    [document] = result.documents()
    assert sorted(names_in(document, TYPE_URLS[kind])) == sorted(set(wanted))


async def test_a_name_that_does_not_exist_is_reported_removed_on_delta(served: XdsServer) -> None:
    [document] = (await run_cli(request_to(served.port, ResourceType.RDS, "nope", delta=True))).documents()
    assert (document.get("resources"), document["removed_resources"]) == (None, ["nope"])


SUMMARY_WORDS = {
    ResourceType.LDS: "filter chain",
    ResourceType.RDS: "virtual host",
    ResourceType.CDS: "EDS, service",
    ResourceType.EDS: "2 endpoints: 10.0.0.1:8080, 10.0.0.2:8080",
    ResourceType.SDS: "tls_certificate",
    ResourceType.RTDS: "keys",
}


@pytest.mark.parametrize("mode", ["sotw", "delta"])
@pytest.mark.parametrize("kind", list(ResourceType), ids=str)
async def test_table_lists_every_resource_with_a_summary(
    served: XdsServer, resources: dict[str, list[Any]], kind: ResourceType, mode: str
) -> None:
    result = await run_cli(request_to(served.port, kind, output=OutputFormat.TABLE, **MODES[mode]))
    assert result.code == 0
    rows = [line for line in result.out.splitlines() if line.startswith("│")]
    for name in names_of(resources, kind):
        assert any(f"│ {name} " in row for row in rows), f"{name} missing from\n{result.out}"
    assert SUMMARY_WORDS[kind] in result.out
    assert result.out.startswith(f"{kind.value.upper()} version ")


async def test_table_shows_a_delta_removal(served: XdsServer) -> None:
    result = await run_cli(
        request_to(served.port, ResourceType.SDS, "gone", delta=True, output=OutputFormat.TABLE)
    )
    assert re.search(r"│ gone +│ - +│ removed +│", result.out), result.out


def response_of(*messages: Any) -> Any:
    response = discovery_pb2.DiscoveryResponse(type_url=typeurls.type_url_of(messages[0]))
    for message in messages:
        response.resources.add().Pack(message)
    return response


@pytest.mark.parametrize(
    ("message", "summary"),
    [
        (xr.http_listener("http", "routes", xr.ads_source(), port=8080), "127.0.0.1:8080, 1 filter chain"),
        (
            xr.route_configuration(
                "routes",
                [
                    xr.virtual_host(
                        "a", ["a.com", "a.org"], [xr.prefix_route("/", "x"), xr.prefix_route("/b", "y")]
                    ),
                    xr.virtual_host("b", ["b.com"], [xr.prefix_route("/", "z")]),
                ],
            ),
            "2 virtual hosts, 3 routes, domains a.com, a.org, b.com",
        ),
        (xr.eds_cluster("default/kuard/80", xr.ads_source()), "EDS, service default/kuard/80"),
        (
            xr.static_cluster("static", 1, 2, 3, 4),
            "STATIC, 4 endpoints: 127.0.0.1:1, 127.0.0.1:2, 127.0.0.1:3, +1",
        ),
        (xr.assignment("default/kuard/http"), "0 endpoints"),
        (xr.assignment("default/kuard/http", 80), "1 endpoint: 127.0.0.1:80"),
        (xr.runtime(a=1), "1 key"),
    ],
    ids=[
        "listener",
        "route-configuration",
        "eds-cluster",
        "static-cluster",
        "empty-assignment",
        "assignment",
        "runtime",
    ],
)
def test_summary(message: Any, summary: str) -> None:
    [(_, _, shown)] = resource_rows(response_of(message))
    assert shown == summary


async def test_the_first_response_is_acknowledged_before_the_command_returns(
    cache: SnapshotCache, resources: dict[str, list[Any]]
) -> None:
    acks: list[tuple[str, str, str]] = []
    cache.set_snapshot(DEFAULT_GROUP, Snapshot.build("1", resources))
    server = await start_server(cache, "127.0.0.1", 0, on_ack=lambda *ack: acks.append(ack))
    try:
        result = await run_cli(request_to(server.port, ResourceType.CDS, node_id="debugger"))
    finally:
        await server.stop(None)
    [document] = result.documents()
    assert acks == [(typeurls.CLUSTER, "debugger", document["version_info"])]


async def test_nack_is_recorded_by_the_server(served: XdsServer) -> None:
    task = asyncio.create_task(run_cli(request_to(served.port, ResourceType.LDS, nack=True, watch=True)))
    try:
        await eventually(lambda: bool(served.nacks.current()))
        [nack] = served.nacks.current()
        assert (nack.node_id, nack.type_url, nack.message) == (
            "ContourCLI",
            typeurls.LISTENER,
            "Told to create a NACK for testing",
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.parametrize("mode", ["sotw", "delta"])
async def test_watch_prints_each_new_version(
    served: XdsServer, cache: SnapshotCache, resources: dict[str, list[Any]], mode: str
) -> None:
    out, err = io.StringIO(), io.StringIO()
    request = request_to(served.port, ResourceType.EDS, watch=True, **MODES[mode])
    task = asyncio.create_task(show(request, out, err))
    try:
        await eventually(lambda: bool(out.getvalue()))
        changed = {**resources, typeurls.ENDPOINT: [xr.assignment("default/kuard/http", 9999)]}
        cache.set_snapshot(DEFAULT_GROUP, Snapshot.build("2", changed))
        await eventually(lambda: len(Result(0, out.getvalue(), "").documents()) == 2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    first, second = Result(0, out.getvalue(), "").documents()
    assert first != second
    if mode == "delta":
        assert (second["system_version_info"], names_in(second, typeurls.ENDPOINT)) == (
            "2",
            ["default/kuard/http"],
        )
        assert "default/blue/http" in second["removed_resources"]
    else:
        assert names_in(second, typeurls.ENDPOINT) == ["default/kuard/http"]
        assert second["version_info"] != first["version_info"]
    assert "9999" in json.dumps(second)


# mTLS


@pytest.fixture(scope="module")
def certgen_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`contour certgen`'s CA and certificates: the server one names `contour`, as in a cluster."""
    directory = tmp_path_factory.mktemp("certgen")
    certs = generate_certs(now=datetime.datetime.now(datetime.UTC))
    for name, pem in {
        "ca.crt": certs.ca_certificate,
        "contour.crt": certs.contour_certificate,
        "contour.key": certs.contour_private_key,
        "envoy.crt": certs.envoy_certificate,
        "envoy.key": certs.envoy_private_key,
    }.items():
        (directory / name).write_bytes(pem)
    return directory


@pytest.fixture
async def tls_server(
    cache: SnapshotCache, resources: dict[str, list[Any]], certgen_files: Path
) -> AsyncIterator[XdsServer]:
    cache.set_snapshot(DEFAULT_GROUP, Snapshot.build("1", resources))
    files = TlsFiles(certgen_files / "contour.crt", certgen_files / "contour.key", certgen_files / "ca.crt")
    server = await start_server(cache, "127.0.0.1", 0, tls=files)
    try:
        yield server
    finally:
        await server.stop(None)


def client_tls(
    directory: Path, *, ca: str = "ca.crt", stem: str = "envoy", server_name: str = "contour"
) -> TlsPaths:
    return TlsPaths(directory / ca, directory / f"{stem}.crt", directory / f"{stem}.key", server_name)


async def test_mtls_with_certgen_certificates(
    tls_server: XdsServer, certgen_files: Path, resources: dict[str, list[Any]]
) -> None:
    result = await run_cli(request_to(tls_server.port, ResourceType.CDS, tls=client_tls(certgen_files)))
    assert (result.code, result.err) == (0, "")
    [document] = result.documents()
    assert sorted(names_in(document, typeurls.CLUSTER)) == names_of(resources, ResourceType.CDS)


@pytest.fixture
def other_ca_files(tmp_path: Path) -> Path:
    """A CA unrelated to the server's, and a client certificate it signed."""
    other = CertificateAuthority("someone else")
    (tmp_path / "other-ca.crt").write_bytes(other.pem)
    other.issue("intruder", server=False).write(tmp_path, "intruder")
    return tmp_path


@dataclass(frozen=True)
class TlsFailure:
    ca: str
    stem: str
    server_name: str
    words: str


TLS_FAILURES = {
    "server-cert-from-another-ca": TlsFailure(
        "other-ca.crt", "envoy", "contour", "CERTIFICATE_VERIFY_FAILED"
    ),
    "client-cert-from-another-ca": TlsFailure(
        "ca.crt", "intruder", "contour", "refused the client certificate"
    ),
    "wrong-server-name": TlsFailure("ca.crt", "envoy", "elsewhere", "Hostname Verification Check failed"),
}


@pytest.mark.parametrize("case", TLS_FAILURES.values(), ids=TLS_FAILURES.keys())
async def test_tls_failure_is_one_clear_line(
    tls_server: XdsServer, certgen_files: Path, other_ca_files: Path, case: TlsFailure
) -> None:
    for name in ("ca.crt", "envoy.crt", "envoy.key"):
        (other_ca_files / name).write_bytes((certgen_files / name).read_bytes())
    tls = client_tls(other_ca_files, ca=case.ca, stem=case.stem, server_name=case.server_name)
    result = await run_cli(request_to(tls_server.port, ResourceType.CDS, tls=tls))
    assert (result.code, result.out) == (1, "")
    assert result.err.count("\n") == 1 and case.words in result.err, result.err
    assert result.err.startswith(f"contour cli: xDS server 127.0.0.1:{tls_server.port}: UNAVAILABLE:")


async def test_plaintext_to_a_tls_server_suggests_tls(tls_server: XdsServer) -> None:
    result = await run_cli(request_to(tls_server.port, ResourceType.CDS))
    assert result.code == 1 and "does the server require TLS?" in result.err, result.err


async def test_unreadable_ca_file_is_named(
    tls_server: XdsServer, certgen_files: Path, tmp_path: Path
) -> None:
    tls = replace(client_tls(certgen_files), ca_file=tmp_path / "missing.crt")
    result = await run_cli(request_to(tls_server.port, ResourceType.CDS, tls=tls))
    assert (result.code, result.err) == (
        1,
        f"contour cli: cannot read the CA file '{tmp_path}/missing.crt': No such file or directory\n",
    )


# Failures


async def test_unreachable_server_is_one_clear_line() -> None:
    port = free_port()
    result = await run_cli(request_to(port, ResourceType.LDS))
    assert (result.code, result.out) == (1, "")
    assert result.err.startswith(f"contour cli: xDS server 127.0.0.1:{port}: UNAVAILABLE:")
    assert "Connection refused" in result.err and result.err.count("\n") == 1, result.err


async def test_no_response_in_time_is_an_error(served: XdsServer) -> None:
    result = await run_cli(request_to(served.port, ResourceType.RDS, "nope", timeout=0.2))
    assert (result.code, result.err) == (
        1,
        f"contour cli: xDS server 127.0.0.1:{served.port}: no rds response for nope within 0.2 s\n",
    )


async def test_server_going_away_while_watching_is_an_error(served: XdsServer) -> None:
    out, err = io.StringIO(), io.StringIO()
    task = asyncio.create_task(show(request_to(served.port, ResourceType.CDS, watch=True), out, err))
    await eventually(lambda: bool(out.getvalue()))
    await served.stop(None)
    assert await asyncio.wait_for(task, 5) == 1
    assert (
        err.getvalue().startswith(f"contour cli: xDS server 127.0.0.1:{served.port}")
        and err.getvalue().count("\n") == 1
    )


# The installed command


async def contour_cli(*args: str) -> Result:
    # Without COLUMNS, as in a pipeline: the table is as wide as its rows.
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    process = await asyncio.create_subprocess_exec(
        CONTOUR, "cli", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


async def test_command_prints_a_table_and_exits_0(served: XdsServer, resources: dict[str, list[Any]]) -> None:
    result = await contour_cli("cds", "--xds-port", str(served.port), "-o", "table")
    assert (result.code, result.err) == (0, "")
    assert all(name in result.out for name in names_of(resources, ResourceType.CDS)), result.out


async def test_command_takes_contours_flags(
    tls_server: XdsServer, certgen_files: Path, resources: dict[str, list[Any]]
) -> None:
    result = await contour_cli(
        "eds",
        "default/kuard/http",
        f"--contour=127.0.0.1:{tls_server.port}",
        f"--cafile={certgen_files / 'ca.crt'}",
        f"--cert-file={certgen_files / 'envoy.crt'}",
        f"--key-file={certgen_files / 'envoy.key'}",
        "--node-id=cli-test",
    )
    assert (result.code, result.err) == (0, "")
    assert names_in(json.loads(result.out), typeurls.ENDPOINT) == ["default/kuard/http"]


async def test_command_failure_prints_exactly_one_line() -> None:
    result = await contour_cli("lds", "--contour", f"127.0.0.1:{free_port()}")
    assert (result.code, result.out, result.err.count("\n")) == (1, "", 1), result.err


def invoke(*args: str) -> tuple[int, str]:
    """`contour cli ARGS` in-process; the exit code and the output with typer's boxes flattened."""
    result = CliRunner().invoke(app, ["cli", *args], env={"COLUMNS": "250", "NO_COLOR": "1"})
    return result.exit_code, " ".join(re.sub(r"[│╭╮╰╯─]+", " ", result.output).split())


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            ["lds", "--cafile", "ca.crt"],
            "supply all three TLS parameters (--cafile, --cert-file, --key-file)",
        ),
        (
            ["lds", "--contour", "127.0.0.1:1", "--xds-port", "2"],
            "give --contour or --xds-address/--xds-port",
        ),
        (["lds", "--contour", "nowhere"], "'nowhere' is not host:port"),
        (
            ["lds", "--xds-port", "70000"],
            "Invalid value for '--xds-port': Input should be less than or equal to 65535",
        ),
        (["xds"], "'xds' is not one of 'lds', 'rds', 'cds', 'eds', 'sds', 'rtds'"),
        (["lds", "-o", "yaml"], "'yaml' is not one of 'json', 'table'"),
    ],
    ids=[
        "partial-tls",
        "two-addresses",
        "bad-contour",
        "port-out-of-range",
        "unknown-type",
        "unknown-output",
    ],
)
def test_bad_flags_fail_before_connecting(args: list[str], words: str) -> None:
    code, output = invoke(*args)
    assert code == 2 and words in output, output


@pytest.mark.parametrize(
    "flag",
    [
        "--contour",
        "--cafile",
        "--cert-file",
        "--key-file",
        "--delta",
        "--nack",
        "--node-id",
        "--xds-port",
        "--watch",
    ],
)
def test_help_lists_contours_flags(flag: str) -> None:
    code, output = invoke("--help")
    assert code == 0 and f" {flag} " in f" {output} "


async def test_importing_the_command_loads_neither_grpc_nor_protobuf() -> None:
    code = (
        "import sys, contour.cli.xdscli; "
        "print(sorted(m for m in ('grpc', 'google.protobuf', 'envoy', 'rich') if m in sys.modules))"
    )
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert out.decode().strip() == "[]"
