"""`contour bootstrap`: the files it writes are accepted by the real Envoy, and bad flags fail clearly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from contour.cli.app import app
from contour.envoy.bootstrap import BootstrapConfig, BootstrapError, bootstrap, sds_resources
from tests.envoy.conftest import envoy_validate, flat

runner = CliRunner()


def run_bootstrap(*args: str) -> Any:
    return runner.invoke(app, ["bootstrap", *args])


def tls_flags(pem_dir: Path) -> list[str]:
    return [
        "--envoy-cafile",
        str(pem_dir / "cacert.pem"),
        "--envoy-cert-file",
        str(pem_dir / "envoycert.pem"),
        "--envoy-key-file",
        str(pem_dir / "envoykey.pem"),
    ]


def xds_cluster(document: dict[str, Any]) -> dict[str, Any]:
    clusters: list[dict[str, Any]] = document["static_resources"]["clusters"]
    return next(c for c in clusters if c["name"] == "contour")


# -- the real Envoy accepts what we write ---------------------------------------------------------

VALID_CASES = {
    "defaults": [],
    "ip-admin-and-dns-xds": ["--admin-address", "127.0.0.1", "--admin-port", "0", "--xds-address", "contour"],
    "ads-delta": ["--ads", "--delta"],
    "json-log-and-overload": ["--log-format", "json", "--overload-max-heap", "1073741824"],
    "no-connection-limit": ["--overload-downstream-max-conn", "0"],
    "dns-v6": ["--dns-lookup-family", "v6", "--xds-address", "contour.projectcontour"],
}


@pytest.mark.parametrize("flags", VALID_CASES.values(), ids=VALID_CASES.keys())
def test_envoy_accepts_bootstrap(tmp_path: Path, envoy_bin: str, flags: list[str]) -> None:
    path = tmp_path / "envoy.json"
    result = run_bootstrap(str(path), *flags)
    assert result.exit_code == 0, result.output
    validated = envoy_validate(envoy_bin, path)
    assert validated.returncode == 0, validated.stdout + validated.stderr


@pytest.mark.parametrize("with_resources_dir", [True, False], ids=["sds-resource-files", "inline-files"])
def test_envoy_accepts_tls_bootstrap(
    tmp_path: Path, envoy_bin: str, pem_dir: Path, with_resources_dir: bool
) -> None:
    path = tmp_path / "envoy.json"
    resources = ["--resources-dir", str(tmp_path / "resources")] if with_resources_dir else []
    result = run_bootstrap(str(path), *tls_flags(pem_dir), *resources)
    assert result.exit_code == 0, result.output
    validated = envoy_validate(envoy_bin, path)
    assert validated.returncode == 0, validated.stdout + validated.stderr


def test_empty_node_leaves_id_and_cluster_to_envoy_flags(tmp_path: Path, envoy_bin: str) -> None:
    path = tmp_path / "envoy.json"
    result = run_bootstrap(str(path), "--node-id", "", "--node-cluster", "")
    assert result.exit_code == 0, result.output
    assert "node" not in json.loads(path.read_text())
    assert envoy_validate(envoy_bin, path).returncode != 0
    flagged = envoy_validate(
        envoy_bin, path, "--service-node", "envoy-0", "--service-cluster", "projectcontour"
    )
    assert flagged.returncode == 0, flagged.stdout + flagged.stderr


def test_envoy_rejects_a_broken_bootstrap(tmp_path: Path, envoy_bin: str) -> None:
    """The validation used above can fail: a bootstrap with an unknown field is refused."""
    document = bootstrap(BootstrapConfig())
    document["static_resources"]["clusters"][0]["no_such_field"] = True
    path = tmp_path / "envoy.json"
    path.write_text(json.dumps(document))
    assert envoy_validate(envoy_bin, path).returncode != 0


# -- what the files say ----------------------------------------------------------------------------


def test_sds_resource_files_point_at_the_certificates(tmp_path: Path, pem_dir: Path) -> None:
    resources_dir = tmp_path / "resources"
    result = run_bootstrap(
        str(tmp_path / "envoy.json"), *tls_flags(pem_dir), "--resources-dir", str(resources_dir)
    )
    assert result.exit_code == 0, result.output
    certificate = json.loads((resources_dir / "sds" / "xds-tls-certificate.json").read_text())
    validation = json.loads((resources_dir / "sds" / "xds-validation-context.json").read_text())
    assert certificate["resources"][0]["tls_certificate"] == {
        "certificate_chain": {"filename": str(pem_dir / "envoycert.pem")},
        "private_key": {"filename": str(pem_dir / "envoykey.pem")},
    }
    assert validation["resources"][0]["validation_context"]["trusted_ca"] == {
        "filename": str(pem_dir / "cacert.pem")
    }


def test_tls_bootstrap_with_resources_dir_references_sds_files() -> None:
    config = BootstrapConfig(
        ca_file="/c/ca.pem", cert_file="/c/cert.pem", key_file="/c/key.pem", resources_dir="/r"
    )
    common = xds_cluster(bootstrap(config))["transport_socket"]["typed_config"]["common_tls_context"]
    assert common["tls_certificate_sds_secret_configs"][0]["sds_config"]["path_config_source"] == {
        "path": "/r/sds/xds-tls-certificate.json"
    }
    assert common["validation_context_sds_secret_config"]["sds_config"]["path_config_source"] == {
        "path": "/r/sds/xds-validation-context.json"
    }
    assert sorted(sds_resources(config)) == [
        "/r/sds/xds-tls-certificate.json",
        "/r/sds/xds-validation-context.json",
    ]


def test_tls_bootstrap_checks_the_contour_san() -> None:
    config = BootstrapConfig(ca_file="/c/ca.pem", cert_file="/c/cert.pem", key_file="/c/key.pem")
    common = xds_cluster(bootstrap(config))["transport_socket"]["typed_config"]["common_tls_context"]
    assert common["validation_context"]["match_typed_subject_alt_names"] == [
        {"san_type": "DNS", "matcher": {"exact": "contour"}}
    ]
    assert sds_resources(config) == {}


def test_xds_cluster_speaks_http2() -> None:
    options = xds_cluster(bootstrap(BootstrapConfig()))["typed_extension_protocol_options"]
    assert options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]["explicit_http_config"] == {
        "http2_protocol_options": {}
    }


@pytest.mark.parametrize(
    ("address", "cluster_type"),
    [("127.0.0.1", "STATIC"), ("::1", "STATIC"), ("contour", "STRICT_DNS")],
    ids=["ipv4-static", "ipv6-static", "hostname-strict-dns"],
)
def test_xds_cluster_type_follows_the_address(address: str, cluster_type: str) -> None:
    assert xds_cluster(bootstrap(BootstrapConfig(xds_address=address)))["type"] == cluster_type


def test_node_id_and_cluster_are_set_for_ads() -> None:
    document = bootstrap(BootstrapConfig(ads=True, node_id="envoy-1", node_cluster="contour"))
    assert document["node"] == {"id": "envoy-1", "cluster": "contour"}
    assert document["dynamic_resources"]["lds_config"] == {"ads": {}, "resource_api_version": "V3"}
    assert document["dynamic_resources"]["ads_config"]["api_type"] == "GRPC"


def test_delta_without_ads_uses_delta_grpc_per_type() -> None:
    lds = bootstrap(BootstrapConfig(delta=True))["dynamic_resources"]["lds_config"]
    assert lds["api_config_source"]["api_type"] == "DELTA_GRPC"


def test_overload_manager_holds_only_the_asked_monitors() -> None:
    heap_only = bootstrap(BootstrapConfig(overload_max_heap=1 << 30, overload_downstream_max_conn=0))
    monitors = [m["name"] for m in heap_only["overload_manager"]["resource_monitors"]]
    assert monitors == ["envoy.resource_monitors.fixed_heap"]
    assert "overload_manager" not in bootstrap(BootstrapConfig(overload_downstream_max_conn=0))


def test_json_log_format_sets_envoy_application_log() -> None:
    assert (
        "json_format" in bootstrap(BootstrapConfig(log_format="json"))["application_log_config"]["log_format"]
    )
    assert "application_log_config" not in bootstrap(BootstrapConfig())


def test_dash_writes_bootstrap_to_stdout() -> None:
    result = run_bootstrap("-", "--xds-port", "18001")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert xds_cluster(document)["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"][
        "address"
    ] == {"socket_address": {"address": "127.0.0.1", "port_value": 18001}}


def test_rendering_is_deterministic() -> None:
    config = BootstrapConfig(ads=True, log_format="json", overload_max_heap=5)
    assert json.dumps(bootstrap(config)) == json.dumps(bootstrap(config))


# -- bad input --------------------------------------------------------------------------------------

INVALID_FLAGS = {
    "xds-resource-version-v2": (["--xds-resource-version", "v2"], "only 'v3'"),
    "dns-lookup-family-v5": (["--dns-lookup-family", "v5"], "'v5' is not one of auto, v4, v6, all"),
    "log-format-xml": (["--log-format", "xml"], "'xml' is not one of text, json"),
    "xds-port-zero": (["--xds-port", "0"], "not a port number"),
    "admin-address-hostname": (
        ["--admin-address", "localhost"],
        "neither an absolute unix socket path nor an IP",
    ),
    "admin-port-too-big": (["--admin-address", "127.0.0.1", "--admin-port", "70000"], "not a port number"),
    "negative-heap": (["--overload-max-heap", "-1"], "negative"),
    "tls-cafile-only": (["--envoy-cafile", "/tmp/ca.pem"], "all three TLS files or none"),
}


@pytest.mark.parametrize(("flags", "message"), INVALID_FLAGS.values(), ids=INVALID_FLAGS.keys())
def test_invalid_flag_fails_with_clear_message(tmp_path: Path, flags: list[str], message: str) -> None:
    path = tmp_path / "envoy.json"
    result = run_bootstrap(str(path), *flags)
    assert result.exit_code == 2
    assert message in flat(result.output), result.output
    assert not path.exists()


def test_missing_tls_file_fails_before_writing(tmp_path: Path, pem_dir: Path) -> None:
    (pem_dir / "envoykey.pem").unlink()
    path = tmp_path / "envoy.json"
    result = run_bootstrap(str(path), *tls_flags(pem_dir), "--resources-dir", str(tmp_path / "resources"))
    assert result.exit_code == 2
    assert "is missing or empty" in result.output
    assert not path.exists()
    assert not (tmp_path / "resources").exists()


def test_validate_names_the_option() -> None:
    with pytest.raises(BootstrapError) as raised:
        bootstrap(BootstrapConfig(xds_resource_version="v2"))
    assert raised.value.option == "--xds-resource-version"
