"""`contour serve` refuses bad flags and bad configuration before it starts anything: exit code 2 and
a message naming the flag and the value. Most cases run the typer app in-process (no API server is
needed: nothing gets that far); one runs the real `contour serve` binary."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contour.cli.app import app
from tests.support.serve_process import run_serve

_BOX = re.compile(r"[│╭╮╰╯─]+")


def flat(text: str) -> str:
    """The output with typer's box drawing removed and whitespace runs made single spaces."""
    return " ".join(_BOX.sub(" ", text).split())


@pytest.fixture
def pems(tmp_path: Path) -> Path:
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("not checked before start\n")
    return tmp_path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["serve", *args], env={"COLUMNS": "250", "NO_COLOR": "1"})
    return result.exit_code, flat(result.output)


BAD_FLAGS = [
    pytest.param(
        ["--insecure", "--leader-election-lease-duration", "15"],
        "Invalid value for '--leader-election-lease-duration': '15': time: missing unit in duration \"15\"",
        id="duration-without-unit",
    ),
    pytest.param(
        ["--insecure", "--leader-election-renew-deadline", "1x"],
        "Invalid value for '--leader-election-renew-deadline': '1x': time: unknown unit \"x\"",
        id="duration-unknown-unit",
    ),
    pytest.param(
        ["--insecure", "--leader-election-retry-period", "-2s"],
        "Invalid value for '--leader-election-retry-period': '-2s': must be greater than zero",
        id="duration-negative",
    ),
    pytest.param(
        ["--insecure", "--leader-election-lease-duration", "5s"],
        "lease duration (5s) must be greater than the renew deadline (10s)",
        id="lease-not-longer-than-renew-deadline",
    ),
    pytest.param(
        ["--insecure", "--xds-port", "70000"],
        "Invalid value for '--xds-port': '70000': a port is 0 to 65535",
        id="port-out-of-range",
    ),
    pytest.param(
        ["--insecure", "--http-port", "eighty"],
        "Invalid value for '--http-port': 'eighty': not a port number",
        id="port-not-a-number",
    ),
    pytest.param(
        ["--insecure", "--log-format", "xml"],
        "Invalid value for '--log-format'",
        id="log-format-unknown",
    ),
    pytest.param(["--insecure", "--no-such-flag"], "No such option: --no-such-flag", id="unknown-flag"),
    pytest.param(
        [],
        "no TLS parameters and --insecure not supplied",
        id="neither-tls-nor-insecure",
    ),
    pytest.param(
        ["--contour-cafile", "{pems}/ca.pem"],
        "or none of them: --contour-cert-file, --contour-key-file missing",
        id="tls-files-incomplete",
    ),
    pytest.param(
        ["--insecure", "--contour-cafile", "{pems}/ca.pem"],
        "--insecure cannot be used together with --contour-cafile",
        id="insecure-with-tls-files",
    ),
    pytest.param(
        [
            "--contour-cafile",
            "{pems}/ca.pem",
            "--contour-cert-file",
            "{pems}/cert.pem",
            "--contour-key-file",
            "{pems}/missing.pem",
        ],
        "--contour-key-file '{pems}/missing.pem': no such file",
        id="tls-file-missing",
    ),
    pytest.param(
        ["--insecure", "--config-path", "{pems}/ca.pem", "--contour-config-name", "contour"],
        "Invalid value for --config-path: '{pems}/ca.pem': cannot be used together with "
        "--contour-config-name 'contour'",
        id="config-path-and-contour-config-name",
    ),
    pytest.param(
        ["--insecure", "--config-path", "{pems}/absent.yaml"],
        "invalid value for --config-path '{pems}/absent.yaml': cannot read configuration file",
        id="config-file-missing",
    ),
]


@pytest.mark.parametrize(("args", "message"), BAD_FLAGS)
def test_bad_flag_fails_at_start_naming_flag_and_value(args: list[str], message: str, pems: Path) -> None:
    code, output = invoke(*(a.format(pems=pems) for a in args))
    assert (code, message.format(pems=pems) in output) == (2, True), output


BAD_CONFIG_FILES = [
    pytest.param("unknown-key: 1\n", "unknown field unknown-key", id="unknown-key"),
    pytest.param("timeouts:\n  request-timeout: soon\n", "timeouts.request-timeout", id="bad-duration"),
    pytest.param("server: [1, 2\n", "failed to parse configuration", id="not-yaml"),
]


@pytest.mark.parametrize(("text", "message"), BAD_CONFIG_FILES)
def test_bad_config_file_fails_at_start_naming_the_key(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "contour.yaml"
    path.write_text(text)
    code, output = invoke("--insecure", "--config-path", str(path))
    assert code == 2, output
    assert f"invalid value for --config-path '{path}':" in output and message in output, output


def test_the_real_binary_exits_2_with_the_message_on_stderr() -> None:
    result = run_serve("--insecure", "--leader-election-retry-period", "2 s", timeout=60)
    assert result.returncode == 2, result.stderr
    assert "Invalid value for '--leader-election-retry-period': '2 s'" in flat(result.stderr)


def test_an_unreachable_api_server_fails_with_code_1_and_the_reason(tmp_path: Path) -> None:
    result = run_serve("--insecure", "--kubeconfig", str(tmp_path / "absent"), timeout=60)
    assert result.returncode == 1, result.stderr
    assert f'msg="no kubeconfig found at {tmp_path / "absent"}"' in result.stderr
