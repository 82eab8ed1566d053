"""`contour certgen --kube` against a real `contour apiserver` process, driven through the CLI.

What Contour's `WriteSecretsKube` does, and these tests pin: Secrets are created in order (contourcert,
envoycert, cacert); without --overwrite the first existing one ends the run with status 0 and nothing
is changed; with --overwrite every Secret is replaced by the new one. The k8s layer's pieces that the
CLI cannot reach are tested directly: in-cluster configuration (a TLS server with a bearer token and
a service account directory) and create-or-replace retrying after a conflicting write.
"""

from __future__ import annotations

import base64
import datetime
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509.verification import PolicyBuilder, Store
from typer.testing import CliRunner, Result

from contour.cli.app import app
from contour.k8s import client
from contour.k8s.apply import WriteOutcome, create_if_absent, create_or_replace
from tests.k8s.cluster import write_kubeconfig
from tests.k8s.faulty_proxy import FaultyProxy
from tests.support.apiserver_process import APIServerProcess

runner = CliRunner()
TOKEN = "certgen-test-token"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[APIServerProcess]:
    process = APIServerProcess(tmp_path_factory.mktemp("certgen-kube") / "state").start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def http(server: APIServerProcess) -> Iterator[httpx.Client]:
    with server.client() as connection:
        yield connection


@pytest.fixture
def namespace(http: httpx.Client, request: pytest.FixtureRequest) -> str:
    """A fresh namespace per test, named after it (the server is shared by the module)."""
    name = "t-" + "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:50].strip("-")
    response = http.post("/api/v1/namespaces", json={"metadata": {"name": name}})
    assert response.status_code == 201, response.text
    return name


def certgen(server: APIServerProcess, *flags: str, env: dict[str, str | None] | None = None) -> Result:
    return runner.invoke(app, ["certgen", "--kube", "--kubeconfig", str(server.kubeconfig), *flags], env=env)


def flat(output: str) -> str:
    return " ".join(output.split())


def secrets_in(http: httpx.Client, namespace: str) -> dict[str, dict[str, Any]]:
    response = http.get(f"/api/v1/namespaces/{namespace}/secrets")
    response.raise_for_status()
    return {item["metadata"]["name"]: item for item in response.json()["items"]}


def versions(secrets: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {name: secret["metadata"]["resourceVersion"] for name, secret in secrets.items()}


def decoded(secret: dict[str, Any], key: str) -> bytes:
    return base64.b64decode(secret["data"][key])


def certificate(secret: dict[str, Any], key: str = "tls.crt") -> x509.Certificate:
    return x509.load_pem_x509_certificate(decoded(secret, key))


def ca_of(secrets: dict[str, dict[str, Any]], secrets_format: str) -> x509.Certificate:
    if secrets_format == "legacy":
        return certificate(secrets["cacert"], "cacert.pem")
    ca = certificate(secrets["contourcert"], "ca.crt")
    assert certificate(secrets["envoycert"], "ca.crt") == ca
    return ca


def assert_chain_verifies(secrets: dict[str, dict[str, Any]], secrets_format: str, namespace: str) -> None:
    """Contour's certificate serves `contour.NS.svc`, Envoy's is a client, both signed by the CA."""
    ca = ca_of(secrets, secrets_format)
    policy = PolicyBuilder().store(Store([ca])).time(datetime.datetime.now(datetime.UTC))
    server_chain = policy.build_server_verifier(x509.DNSName(f"contour.{namespace}.svc")).verify(
        certificate(secrets["contourcert"]), []
    )
    assert server_chain[-1] == ca
    client_chain = policy.build_client_verifier().verify(certificate(secrets["envoycert"]), [])
    assert client_chain.chain[-1] == ca
    for name in ("contourcert", "envoycert"):
        key = load_pem_private_key(decoded(secrets[name], "tls.key"), password=None)
        assert key.public_key() == certificate(secrets[name]).public_key(), name


# -- writing the Secrets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "secrets_format", "expected"),
    [
        (
            [],
            "legacy",
            {
                "cacert": ("Opaque", ["cacert.pem"]),
                "contourcert": ("kubernetes.io/tls", ["tls.crt", "tls.key"]),
                "envoycert": ("kubernetes.io/tls", ["tls.crt", "tls.key"]),
            },
        ),
        (
            ["--secrets-format", "compact"],
            "compact",
            {
                "contourcert": ("kubernetes.io/tls", ["ca.crt", "tls.crt", "tls.key"]),
                "envoycert": ("kubernetes.io/tls", ["ca.crt", "tls.crt", "tls.key"]),
            },
        ),
        (
            ["--overwrite"],
            "legacy",
            {
                "cacert": ("Opaque", ["cacert.pem"]),
                "contourcert": ("kubernetes.io/tls", ["tls.crt", "tls.key"]),
                "envoycert": ("kubernetes.io/tls", ["tls.crt", "tls.key"]),
            },
        ),
    ],
    ids=["legacy", "compact", "overwrite-with-nothing-there"],
)
def test_creates_the_secrets_in_the_namespace(
    *,
    server: APIServerProcess,
    http: httpx.Client,
    namespace: str,
    flags: list[str],
    secrets_format: str,
    expected: dict[str, tuple[str, list[str]]],
) -> None:
    result = certgen(server, "--namespace", namespace, *flags)
    assert result.exit_code == 0, result.output
    secrets = secrets_in(http, namespace)
    assert {name: (s["type"], sorted(s["data"])) for name, s in secrets.items()} == expected
    assert {name: s["metadata"]["labels"] for name, s in secrets.items()} == {
        name: {"app": "contour"} for name in expected
    }
    assert_chain_verifies(secrets, secrets_format, namespace)
    assert [line for line in result.output.splitlines() if line.startswith("secret/")] == [
        f"secret/{name} created" for name in ("contourcert", "envoycert", "cacert") if name in expected
    ]


def test_names_take_the_prefix(server: APIServerProcess, http: httpx.Client, namespace: str) -> None:
    result = certgen(server, "--namespace", namespace, "--secrets-name-prefix", "edge")
    assert result.exit_code == 0, result.output
    assert sorted(secrets_in(http, namespace)) == ["edge-cacert", "edge-contourcert", "edge-envoycert"]


def test_second_run_without_overwrite_changes_nothing(
    server: APIServerProcess, http: httpx.Client, namespace: str
) -> None:
    assert certgen(server, "--namespace", namespace).exit_code == 0
    before = secrets_in(http, namespace)

    result = certgen(server, "--namespace", namespace)

    assert result.exit_code == 0, result.output
    assert "secret/contourcert already exists" in result.output
    after = secrets_in(http, namespace)
    assert versions(after) == versions(before)
    assert {n: s["data"] for n, s in after.items()} == {n: s["data"] for n, s in before.items()}


def test_without_overwrite_the_first_existing_secret_ends_the_run(
    server: APIServerProcess, http: httpx.Client, namespace: str
) -> None:
    # Contour returns at the first AlreadyExists: the Secrets after it are not written, even if absent.
    existing = {"metadata": {"name": "contourcert"}, "type": "Opaque", "data": {"x": "eA=="}}
    assert http.post(f"/api/v1/namespaces/{namespace}/secrets", json=existing).status_code == 201
    before = secrets_in(http, namespace)

    result = certgen(server, "--namespace", namespace)

    assert result.exit_code == 0, result.output
    assert "not writing the Secrets after it: envoycert, cacert" in flat(result.output)
    assert versions(secrets_in(http, namespace)) == versions(before)


def test_overwrite_replaces_them_with_new_certificates(
    server: APIServerProcess, http: httpx.Client, namespace: str
) -> None:
    assert certgen(server, "--namespace", namespace).exit_code == 0
    before = secrets_in(http, namespace)

    result = certgen(server, "--namespace", namespace, "--overwrite")

    assert result.exit_code == 0, result.output
    assert [line for line in result.output.splitlines() if line.startswith("secret/")] == [
        "secret/contourcert replaced",
        "secret/envoycert replaced",
        "secret/cacert replaced",
    ]
    after = secrets_in(http, namespace)
    for name in ("contourcert", "envoycert", "cacert"):
        assert after[name]["metadata"]["uid"] == before[name]["metadata"]["uid"], name  # replaced in place
        assert after[name]["metadata"]["resourceVersion"] != before[name]["metadata"]["resourceVersion"]
    assert ca_of(after, "legacy") != ca_of(before, "legacy")
    assert certificate(after["contourcert"]) != certificate(before["contourcert"])
    assert_chain_verifies(after, "legacy", namespace)


def test_overwrite_replaces_the_whole_secret(
    server: APIServerProcess, http: httpx.Client, namespace: str
) -> None:
    # A replace, not a merge: keys and labels the new Secret lacks do not survive (as Contour's Update).
    stale = {
        "metadata": {"name": "envoycert", "labels": {"app": "contour", "stale": "yes"}},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": "eA==", "tls.key": "eA==", "ca.crt": "eA=="},
    }
    assert http.post(f"/api/v1/namespaces/{namespace}/secrets", json=stale).status_code == 201

    result = certgen(server, "--namespace", namespace, "--overwrite")

    assert result.exit_code == 0, result.output
    envoy = secrets_in(http, namespace)["envoycert"]
    assert sorted(envoy["data"]) == ["tls.crt", "tls.key"]
    assert envoy["metadata"]["labels"] == {"app": "contour"}
    managers = {entry["manager"] for entry in envoy["metadata"].get("managedFields", [])}
    assert "contour-certgen" in managers


def test_kubeconfig_defaults_to_the_kubeconfig_variable(
    server: APIServerProcess, http: httpx.Client, namespace: str
) -> None:
    result = runner.invoke(
        app, ["certgen", "--kube", "--namespace", namespace], env={"KUBECONFIG": str(server.kubeconfig)}
    )
    assert result.exit_code == 0, result.output
    assert sorted(secrets_in(http, namespace)) == ["cacert", "contourcert", "envoycert"]


def test_pem_files_are_written_beside_the_secrets(
    server: APIServerProcess, http: httpx.Client, namespace: str, tmp_path: Path
) -> None:
    result = certgen(server, "--namespace", namespace, "--pem", str(tmp_path))
    assert result.exit_code == 0, result.output
    written = (tmp_path / "cacert.pem").read_bytes()
    assert decoded(secrets_in(http, namespace)["cacert"], "cacert.pem") == written


# -- failures -----------------------------------------------------------------------------------------


def test_missing_namespace_fails_clearly(server: APIServerProcess, http: httpx.Client) -> None:
    result = certgen(server, "--namespace", "no-such-namespace")
    assert result.exit_code == 1, result.output
    assert 'namespaces "no-such-namespace" not found' in flat(result.output)
    assert "kubectl create namespace no-such-namespace" in flat(result.output)
    assert "no-such-namespace" not in {
        item["metadata"]["name"] for item in http.get("/api/v1/namespaces").json()["items"]
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_unreachable_server_fails_clearly_before_writing_files(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", url)
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["certgen", "--kube", "--pem", "--kubeconfig", str(kubeconfig), "--namespace", "x", str(out)]
    )
    assert result.exit_code == 1, result.output
    assert f"cannot reach the Kubernetes API server at {url}" in flat(result.output)
    assert not out.exists()


def test_incluster_outside_a_pod_fails_clearly(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["certgen", "--kube", "--incluster", str(tmp_path / "out")],
        env={"KUBERNETES_SERVICE_HOST": None, "KUBERNETES_SERVICE_PORT": None},
    )
    assert result.exit_code == 1, result.output
    assert "not running in a Kubernetes pod" in flat(result.output)


# -- the k8s layer underneath -------------------------------------------------------------------------


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[APIServerProcess]:
    process = APIServerProcess(tmp_path / "tls-state", extra_args=["--tls", "--token", TOKEN]).start()
    try:
        yield process
    finally:
        process.stop()


def secret(name: str, namespace: str, value: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {"value": base64.b64encode(value.encode()).decode()},
    }


async def test_in_cluster_uses_the_service_account_and_ignores_kubeconfig(
    tls_server: APIServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text(TOKEN)
    (account / "ca.crt").write_bytes((tls_server.state_dir / "serving-ca.crt").read_bytes())
    (account / "namespace").write_text("default")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(tls_server.port))
    unreachable = write_kubeconfig(tmp_path / "elsewhere", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("KUBECONFIG", str(unreachable))

    async with client.connected(incluster=True, serviceaccount_dir=account) as api:
        outcome = await create_if_absent(
            api, secret("from-pod", "default", "1"), plural="secrets", field_manager="test"
        )

    assert outcome is WriteOutcome.CREATED
    with tls_server.client(TOKEN) as http:
        assert http.get("/api/v1/namespaces/default/secrets/from-pod").status_code == 200


async def test_create_or_replace_retries_after_a_conflicting_write(
    server: APIServerProcess, namespace: str, tmp_path: Path
) -> None:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    proxy = await FaultyProxy(host, int(port)).start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            path = f"/api/v1/namespaces/{namespace}/secrets"
            assert (await http.post(path, json=secret("s", namespace, "old"))).status_code == 201

            async def write_in_between() -> None:
                changed = secret("s", namespace, "theirs")
                assert (await http.put(f"{path}/s", json=changed)).status_code == 200

            # The first PUT reaches the server only after another writer changed the Secret: 409.
            proxy.hold_next_request(f"PUT {path}/s".encode(), write_in_between)
            kubeconfig = write_kubeconfig(tmp_path / "via-proxy", proxy.url)
            async with client.connected(kubeconfig=str(kubeconfig)) as api:
                outcome = await create_or_replace(
                    api, secret("s", namespace, "ours"), plural="secrets", field_manager="test"
                )
            stored = (await http.get(f"{path}/s")).json()
    finally:
        await proxy.stop()

    assert outcome is WriteOutcome.REPLACED
    assert proxy.held == 1
    assert base64.b64decode(stored["data"]["value"]) == b"ours"


async def test_api_errors_carry_the_server_status(server: APIServerProcess) -> None:
    async with client.connected(kubeconfig=str(server.kubeconfig)) as api:
        with pytest.raises(client.KubeAPIError) as raised:
            await create_if_absent(api, secret("s", "absent", "x"), plural="secrets", field_manager="test")
    assert (raised.value.code, raised.value.reason, raised.value.kind) == (404, "NotFound", "namespaces")


async def test_missing_kubeconfig_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(client.KubeConfigError, match=f"no kubeconfig found at {missing}"):
        await client.connect(kubeconfig=str(missing))


async def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (kernel backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", url)
        with pytest.raises(client.KubeUnreachableError, match=r"did not answer within 0\.3s"):
            await client.connect(kubeconfig=str(kubeconfig), timeout=0.3)
