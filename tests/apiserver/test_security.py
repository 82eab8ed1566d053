"""Bind address, bearer tokens, TLS, and bad input: clear errors, no crash, nothing changed."""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.apiserver_process import APIServerProcess

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def test_binds_loopback_by_default(fresh_server: APIServerProcess) -> None:
    fresh_server.start()
    assert fresh_server.url.startswith("http://127.0.0.1:")
    with socket.create_connection(("127.0.0.1", fresh_server.port), timeout=2) as connection:
        assert connection.getpeername()[0] == "127.0.0.1"
    listening = Path("/proc/net/tcp").read_text().splitlines()[1:]
    port_hex = f"{fresh_server.port:04X}"
    local = [
        line.split()[1]
        for line in listening
        if line.split()[1].endswith(":" + port_hex) and line.split()[3] == "0A"
    ]
    assert local == ["0100007F:" + port_hex]  # 127.0.0.1 in /proc's little-endian hex


def test_token_is_required_when_set(tmp_path: Path) -> None:
    # kubectl sends bearer tokens over HTTPS only, so a token comes with --tls.
    proc = APIServerProcess(tmp_path / "state", extra_args=["--token", "s3cret", "--tls"]).start()
    try:
        ca = yaml.safe_load(proc.kubeconfig.read_text())["clusters"][0]["cluster"]["certificate-authority"]
        context = ssl.create_default_context(cafile=ca)

        def client(token: str | None) -> httpx.Client:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return httpx.Client(base_url=proc.url, headers=headers, verify=context)

        with client(None) as anonymous:
            denied = anonymous.get(CONFIGMAPS)
            assert denied.status_code == 401 and denied.json()["reason"] == "Unauthorized"
            assert anonymous.get("/healthz").status_code == 200
        with client("wrong") as wrong:
            assert wrong.get(CONFIGMAPS).status_code == 401
        with client("s3cret") as allowed:
            assert allowed.get(CONFIGMAPS).status_code == 200
        assert proc.kubectl("get", "configmaps").returncode == 0  # the kubeconfig carries the token
    finally:
        proc.stop()


def test_tls_serves_https_with_a_kubeconfig_kubectl_trusts(tmp_path: Path) -> None:
    proc = APIServerProcess(tmp_path / "state", extra_args=["--tls"]).start()
    try:
        assert proc.url.startswith("https://")
        config = yaml.safe_load(proc.kubeconfig.read_text())
        ca = config["clusters"][0]["cluster"]["certificate-authority"]
        with httpx.Client(base_url=proc.url, verify=ssl.create_default_context(cafile=ca)) as client:
            assert client.get("/version").json()["gitVersion"].startswith("v1.")
        assert proc.kubectl("get", "namespaces").returncode == 0
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def client(server: APIServerProcess) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


@pytest.mark.parametrize(
    ("content", "content_type", "code"),
    [
        (b"{not json", "application/json", 400),
        (b"metadata: [unclosed", "application/yaml", 400),
        (b"", "application/json", 400),
        (b'"a string"', "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400),
    ],
    ids=["malformed-json", "malformed-yaml", "empty", "not-an-object", "not-utf8", "deeply-nested"],
)
def test_malformed_bodies_are_400_and_change_nothing(
    client: httpx.Client, content: bytes, content_type: str, code: int
) -> None:
    before = client.get(CONFIGMAPS).json()["metadata"]["resourceVersion"]
    response = client.post(CONFIGMAPS, content=content, headers={"Content-Type": content_type})
    assert response.status_code == code, response.text
    assert response.json()["kind"] == "Status"
    assert client.get(CONFIGMAPS).json()["metadata"]["resourceVersion"] == before


def test_body_over_3_mib_is_413(client: httpx.Client) -> None:
    big = json.dumps({"metadata": {"name": "big"}, "data": {"x": "a" * (3 * 1024 * 1024 + 10)}})
    response = client.post(CONFIGMAPS, content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert client.get(CONFIGMAPS + "/big").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/apis/nothing.example.com/v1/things",
        "/api/v1/namespaces/default/nothings",
        "/apis/projectcontour.io/v9/httpproxies",
    ],
    ids=["unknown-group", "unknown-resource", "unknown-version"],
)
def test_unknown_resources_are_404(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404 and response.json()["reason"] == "NotFound"


def test_server_survives_garbage_on_the_socket(server: APIServerProcess, client: httpx.Client) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=2) as raw:
        raw.sendall(b"\x00\x01garbage\r\n\r\n")
        raw.recv(1024)
    assert client.get("/healthz").status_code == 200
