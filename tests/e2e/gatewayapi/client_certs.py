"""Frontend TLS for the conformance-style tests: client certificates, CA ConfigMaps, TLS clients.

Upstream's Setup creates two CAs in the infra namespace, each a ConfigMap with `ca.crt`
(`tls-validity-checks-ca-certificate` and `tls-validity-checks-per-port-ca-certificate`), and one
client certificate signed by each (`tls-validity-checks-client-certificate`,
`tls-validity-checks-per-port-client-certificate`). `FrontendPKI` is that, with the files `ssl`
needs. The request helpers mirror conformance/utils/tls: `expect_consistent_tls` is
`MakeTLSRequestAndExpectEventuallyConsistentResponse` (3 matching answers in a row within 30 s, over
HTTP/1.1 or HTTP/2, with the SNI given apart from the Host), and `expect_tls_failure` is
`MakeTLSRequestAndExpectFailureResponse` (one request that must end without an HTTP response).
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.e2e.gatewayapi.base_manifests import INFRA, Manifest
from tests.e2e.gatewayapi.roundtrip import (
    MAX_TIME_TO_CONSISTENCY,
    POLL_INTERVAL,
    REQUIRED_CONSECUTIVE,
    Case,
    Reply,
    mismatch,
    send,
)
from tests.e2e.run_tls_support import Authority, Issued, client_context

DEFAULT_CA = "tls-validity-checks-ca-certificate"
PER_PORT_CA = "tls-validity-checks-per-port-ca-certificate"


@dataclass(frozen=True)
class FrontendPKI:
    """The two client CAs of upstream's Setup and one client certificate issued by each."""

    default_ca: Authority
    per_port_ca: Authority
    default_client: Issued
    per_port_client: Issued

    @classmethod
    def create(cls, directory: Path) -> FrontendPKI:
        default_ca = Authority(directory / "default", "tls-validity-checks-ca")
        per_port_ca = Authority(directory / "per-port", "tls-validity-checks-per-port-ca")
        return cls(
            default_ca,
            per_port_ca,
            default_ca.client("client", "tls-validity-checks-client"),
            per_port_ca.client("client", "tls-validity-checks-per-port-client"),
        )

    def configmaps(self) -> list[Manifest]:
        return [
            ca_configmap(INFRA, DEFAULT_CA, self.default_ca.pem),
            ca_configmap(INFRA, PER_PORT_CA, self.per_port_ca.pem),
        ]


def ca_configmap(ns: str, name: str, pem: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        "data": {"ca.crt": pem},
    }


def tls_client(server_ca: Authority, client: Issued | None = None) -> ssl.SSLContext:
    """Trusts the Gateway's serving CA and presents `client` when the server asks for a certificate."""
    context = client_context(server_ca, client=client)
    # The upstream serving certificate's SANs (*, *.org) are wildcards OpenSSL's host check refuses;
    # the chain is still verified against the CA.
    context.check_hostname = False
    return context


def send_h2(address: str, port: int, case: Case, context: ssl.SSLContext) -> Reply:
    """One HTTP/2 request on a new TLS connection: SNI `case.sni`, :authority `case.host`."""
    with httpx.Client(http1=False, http2=True, verify=context, timeout=10) as client:
        response = client.request(
            case.method,
            f"https://{address}:{port}{case.path}",
            headers={"Host": case.host, **case.headers},
            extensions={"sni_hostname": case.sni or case.host},
        )
        if response.http_version != "HTTP/2":
            raise http.client.HTTPException(f"answered over {response.http_version}, expected HTTP/2")
        headers: dict[str, list[str]] = {}
        for name, value in response.headers.multi_items():
            headers.setdefault(name.lower(), []).append(value)
        body = json.loads(response.content) if headers.get("content-type") == ["application/json"] else None
        return Reply(response.status_code, headers, body, response.text[:200])


def send_h1(address: str, port: int, case: Case, context: ssl.SSLContext) -> Reply:
    return send(address, port, case, context)


Sender = Callable[[str, int, Case, ssl.SSLContext], Reply]


def expect_consistent_tls(
    address: str, port: int, case: Case, context: ssl.SSLContext, sender: Sender = send_h1
) -> None:
    """Pass once `case` matched REQUIRED_CONSECUTIVE times in a row; fail at the deadline."""
    deadline = time.monotonic() + MAX_TIME_TO_CONSISTENCY
    streak, last = 0, "no request made"
    while True:
        try:
            problem = mismatch(case, sender(address, port, case, context))
        except (OSError, http.client.HTTPException, httpx.HTTPError, json.JSONDecodeError) as error:
            problem = f"{type(error).__name__}: {error}"
        if problem is None:
            streak += 1
            if streak >= REQUIRED_CONSECUTIVE:
                return
        else:
            streak, last = 0, problem
        if time.monotonic() > deadline:
            raise AssertionError(
                f"SNI {case.sni or case.host} {case.name}: not consistent within "
                f"{MAX_TIME_TO_CONSISTENCY}s; last: {last}"
            )
        if problem is not None:
            time.sleep(POLL_INTERVAL)  # the suite's poll interval between attempts


def expect_tls_failure(address: str, port: int, case: Case, context: ssl.SSLContext) -> None:
    """One request that must fail before any HTTP response (handshake refused or connection closed)."""
    try:
        reply = send(address, port, case, context)
    except (OSError, http.client.HTTPException):
        return
    raise AssertionError(
        f"SNI {case.sni or case.host} {case.name}: answered {reply.status}, expected a failure"
    )
