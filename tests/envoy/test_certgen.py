"""certgen: certificates that verify and carry Contour's names, written the way Contour writes them."""

from __future__ import annotations

import asyncio
import base64
import datetime
import ssl
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from typer.testing import CliRunner

from contour.certgen.certs import Certificates, generate_certs
from contour.certgen.output import OutputExistsError, pem_files, secrets, write_files
from contour.cli.app import app
from tests.envoy.conftest import NOW, flat

runner = CliRunner()
PEM_NAMES = ["cacert.pem", "contourcert.pem", "contourkey.pem", "envoycert.pem", "envoykey.pem"]


@pytest.fixture(scope="module")
def certs_at_now() -> Certificates:
    return generate_certs(now=NOW, namespace="team-a", lifetime_days=30)


def load(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def store(certs: Certificates) -> Store:
    return Store([load(certs.ca_certificate)])


def dns_names(cert: x509.Certificate) -> list[str]:
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    )


# -- the certificates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["contour", "contour.team-a", "contour.team-a.svc", "contour.team-a.svc.cluster.local"]
)
def test_contour_certificate_verifies_as_server(certs_at_now: Certificates, name: str) -> None:
    verifier = PolicyBuilder().store(store(certs_at_now)).time(NOW).build_server_verifier(x509.DNSName(name))
    chain = verifier.verify(load(certs_at_now.contour_certificate), [])
    assert chain[-1] == load(certs_at_now.ca_certificate)


def test_envoy_certificate_verifies_as_client(certs_at_now: Certificates) -> None:
    verifier = PolicyBuilder().store(store(certs_at_now)).time(NOW).build_client_verifier()
    verified = verifier.verify(load(certs_at_now.envoy_certificate), [])
    assert verified.subjects == [
        x509.DNSName(n)
        for n in ["envoy", "envoy.team-a", "envoy.team-a.svc", "envoy.team-a.svc.cluster.local"]
    ]


def test_envoy_certificate_is_not_a_contour_server(certs_at_now: Certificates) -> None:
    verifier = (
        PolicyBuilder().store(store(certs_at_now)).time(NOW).build_server_verifier(x509.DNSName("contour"))
    )
    with pytest.raises(VerificationError):
        verifier.verify(load(certs_at_now.envoy_certificate), [])


def test_certificates_from_another_ca_do_not_verify(
    certs_at_now: Certificates, certificates: Certificates
) -> None:
    verifier = (
        PolicyBuilder().store(store(certificates)).time(NOW).build_server_verifier(x509.DNSName("contour"))
    )
    with pytest.raises(VerificationError):
        verifier.verify(load(certs_at_now.contour_certificate), [])


def test_contour_certificate_has_the_service_names(certs_at_now: Certificates) -> None:
    assert dns_names(load(certs_at_now.contour_certificate)) == [
        "contour",
        "contour.team-a",
        "contour.team-a.svc",
        "contour.team-a.svc.cluster.local",
    ]


@pytest.mark.parametrize("field", ["ca_certificate", "contour_certificate", "envoy_certificate"])
def test_lifetime_is_as_asked(certs_at_now: Certificates, field: str) -> None:
    cert = load(getattr(certs_at_now, field))
    assert cert.not_valid_after_utc - NOW == datetime.timedelta(days=30)
    assert NOW - cert.not_valid_before_utc == datetime.timedelta(days=1)


@pytest.mark.parametrize(
    ("cert", "key"),
    [("contour_certificate", "contour_private_key"), ("envoy_certificate", "envoy_private_key")],
)
def test_private_key_is_rsa_2048_and_matches(certs_at_now: Certificates, cert: str, key: str) -> None:
    private = load_pem_private_key(getattr(certs_at_now, key), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    assert private.key_size == 2048
    assert getattr(certs_at_now, key).startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert load(getattr(certs_at_now, cert)).public_key() == private.public_key()


def test_zero_lifetime_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 day"):
        generate_certs(now=NOW, lifetime_days=0)


async def test_mutual_tls_handshake_succeeds(tmp_path: Path, certificates: Certificates) -> None:
    """Contour's certificate serves, Envoy's authenticates, over a real TLS 1.3 connection on loopback."""
    write_files(tmp_path, pem_files(certificates))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=tmp_path / "cacert.pem")
    server_context.load_cert_chain(tmp_path / "contourcert.pem", tmp_path / "contourkey.pem")
    server_context.verify_mode = ssl.CERT_REQUIRED
    client_context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=tmp_path / "cacert.pem")
    client_context.load_cert_chain(tmp_path / "envoycert.pem", tmp_path / "envoykey.pem")
    peers: list[Any] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer.get_extra_info("peercert"))
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    async with server:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_context, server_hostname="contour"
        )
        writer.write(b"ping\n")
        assert await reader.readline() == b"ping\n"
        writer.close()
        await writer.wait_closed()
    assert dict(x[0] for x in peers[0]["subject"]) == {"commonName": "envoy"}


# -- the outputs ------------------------------------------------------------------------------------


def secret_by_name(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests}


def test_compact_secrets_carry_the_ca_in_each(certificates: Certificates) -> None:
    manifests = secret_by_name(secrets(certificates, "team-a", "compact"))
    assert sorted(manifests) == ["contourcert", "envoycert"]
    envoy = manifests["envoycert"]
    assert envoy["type"] == "kubernetes.io/tls"
    assert envoy["metadata"]["namespace"] == "team-a"
    assert sorted(envoy["data"]) == ["ca.crt", "tls.crt", "tls.key"]
    assert base64.b64decode(envoy["data"]["tls.crt"]) == certificates.envoy_certificate


def test_legacy_secrets_keep_the_ca_apart(certificates: Certificates) -> None:
    manifests = secret_by_name(secrets(certificates, "team-a", "legacy"))
    assert sorted(manifests) == ["cacert", "contourcert", "envoycert"]
    assert sorted(manifests["contourcert"]["data"]) == ["tls.crt", "tls.key"]
    assert manifests["cacert"]["type"] == "Opaque"
    assert base64.b64decode(manifests["cacert"]["data"]["cacert.pem"]) == certificates.ca_certificate


def test_name_prefix_applies_to_every_secret(certificates: Certificates) -> None:
    names = sorted(secret_by_name(secrets(certificates, "ns", "legacy", "blue")))
    assert names == ["blue-cacert", "blue-contourcert", "blue-envoycert"]


def test_cli_writes_pem_files(tmp_path: Path) -> None:
    result = runner.invoke(app, ["certgen", "--pem", "--namespace", "team-a", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == PEM_NAMES
    assert (tmp_path / "envoykey.pem").stat().st_mode & 0o777 == 0o600
    assert dns_names(load((tmp_path / "contourcert.pem").read_bytes()))[1] == "contour.team-a"


def test_cli_writes_secret_yaml(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "certgen",
            "--yaml",
            "--secrets-format",
            "compact",
            "--namespace",
            "team-a",
            "--output-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contourcert.yaml", "envoycert.yaml"]
    manifest = yaml.safe_load((tmp_path / "contourcert.yaml").read_text())
    assert (manifest["kind"], manifest["metadata"]["namespace"]) == ("Secret", "team-a")
    tls_crt = base64.b64decode(manifest["data"]["tls.crt"])
    assert dns_names(load(tls_crt))[0] == "contour"


def test_cli_lifetime_flag(tmp_path: Path) -> None:
    result = runner.invoke(app, ["certgen", "--pem", "--certificate-lifetime", "7", str(tmp_path)])
    assert result.exit_code == 0, result.output
    cert = load((tmp_path / "contourcert.pem").read_bytes())
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == datetime.timedelta(days=8)


def test_cli_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "envoykey.pem").write_text("keep me")
    result = runner.invoke(app, ["certgen", "--pem", str(tmp_path)])
    assert result.exit_code == 1
    assert "refusing to overwrite" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["envoykey.pem"]
    assert (tmp_path / "envoykey.pem").read_text() == "keep me"


def test_cli_overwrites_when_asked(tmp_path: Path) -> None:
    (tmp_path / "envoykey.pem").write_text("replace me")
    result = runner.invoke(app, ["certgen", "--pem", "--overwrite", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "envoykey.pem").read_bytes().startswith(b"-----BEGIN RSA PRIVATE KEY-----")


def test_write_files_refuses_existing_targets(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"old")
    with pytest.raises(OutputExistsError) as raised:
        write_files(tmp_path, {"b": b"new", "a": b"new"})
    assert raised.value.paths == [tmp_path / "a"]
    assert not (tmp_path / "b").exists()


def test_cli_kube_without_a_kubeconfig_fails_before_writing_files(tmp_path: Path) -> None:
    missing = tmp_path / "no-kubeconfig"
    out = tmp_path / "out"
    result = runner.invoke(app, ["certgen", "--kube", "--pem", "--kubeconfig", str(missing), str(out)])
    assert result.exit_code == 1, result.output
    assert f"no kubeconfig found at {missing}" in flat(result.output)
    assert not out.exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ([], "nothing to write"),
        (["--pem", "--secrets-format", "fancy"], "'fancy' is not one of legacy, compact"),
        (["--pem", "--certificate-lifetime", "0"], "--certificate-lifetime"),
    ],
    ids=["no-output-chosen", "unknown-secrets-format", "zero-lifetime"],
)
def test_cli_bad_flags_fail_clearly(tmp_path: Path, flags: list[str], message: str) -> None:
    result = runner.invoke(app, ["certgen", *flags, str(tmp_path / "out")])
    assert result.exit_code == 2
    assert message in flat(result.output), result.output
    assert not (tmp_path / "out").exists()
