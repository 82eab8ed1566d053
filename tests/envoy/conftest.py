"""Shared fixtures: the real Envoy binary, one set of generated certificates, a static bootstrap."""

from __future__ import annotations

import datetime
import subprocess
from pathlib import Path
from typing import Any

import pytest

from contour.certgen.certs import Certificates, generate_certs
from contour.certgen.output import pem_files, write_files
from contour.envoyproc.binary import resolve_envoy_binary

NOW = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)


@pytest.fixture(scope="session")
def envoy_bin() -> str:
    return resolve_envoy_binary()


@pytest.fixture(scope="session")
def certificates() -> Certificates:
    return generate_certs(now=datetime.datetime.now(datetime.UTC), namespace="projectcontour")


@pytest.fixture
def pem_dir(tmp_path: Path, certificates: Certificates) -> Path:
    directory = tmp_path / "certs"
    write_files(directory, pem_files(certificates))
    return directory


def envoy_validate(envoy_bin: str, config_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """Run `envoy --mode validate` on a bootstrap; returncode 0 means Envoy accepts it."""
    return subprocess.run(
        [envoy_bin, "--mode", "validate", "--disable-hot-restart", "--config-path", str(config_path), *flags],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def static_bootstrap(admin_access_log: Path, body: str = "hello from envoy") -> dict[str, Any]:
    """Admin and one listener on loopback port 0; every request gets `body` from a direct_response."""
    router = {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}
    manager = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
        ".HttpConnectionManager",
        "stat_prefix": "static",
        "route_config": {
            "name": "static",
            "virtual_hosts": [
                {
                    "name": "all",
                    "domains": ["*"],
                    "routes": [
                        {
                            "match": {"prefix": "/"},
                            "direct_response": {"status": 200, "body": {"inline_string": body}},
                        }
                    ],
                }
            ],
        },
        "http_filters": [{"name": "envoy.filters.http.router", "typed_config": router}],
    }
    return {
        "node": {"id": "test", "cluster": "test"},
        "admin": {
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
            "access_log": [
                {
                    "name": "envoy.access_loggers.file",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                        "path": str(admin_access_log),
                    },
                }
            ],
        },
        "static_resources": {
            "listeners": [
                {
                    "name": "static",
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
                    "filter_chains": [
                        {
                            "filters": [
                                {
                                    "name": "envoy.filters.network.http_connection_manager",
                                    "typed_config": manager,
                                }
                            ]
                        }
                    ],
                }
            ]
        },
    }


def flat(output: str) -> str:
    """CLI output with rich's box drawing and line wrapping removed, for substring checks."""
    return " ".join(output.replace("\u2502", " ").split())


def pid_alive(pid: int) -> bool:
    """True while `pid` is a running (not zombie) process; a container's PID 1 may never reap zombies."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
