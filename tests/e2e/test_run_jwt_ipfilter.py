"""JWT verification and IP allow/deny policies through `contour run`, proven with real requests.

JWT: keys are generated here (RS256 and ES256) and tokens signed here by a small JWS signer; the key
sets are served over HTTPS by a JWKS server on 127.0.0.1 (`localhost`, certificate from a test CA that
Envoy validates), which Envoy reaches through the `dnsname/https/localhost` cluster, or kept in a
Secret (localJWKS) whose key set Envoy gets inline. IP filters: the
client is 127.0.0.1, so Peer rules match it directly; Remote rules match the address Envoy takes from
X-Forwarded-For, trusted for one hop (`network.num-trusted-hops: 1` in the config file).

A refusal (401/403) is only asserted after a success on the same host has shown the configuration is
live. After every test Envoy's update_rejected counters must still be zero (conftest).
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tests.e2e.echo_config import Backends
from tests.e2e.run_tls_support import (
    Authority,
    Outcome,
    backend_service,
    client_context,
    error_reasons,
    https_get,
    namespace,
    opaque_secret,
    route,
    tls_secret,
    upstream,
    wait_for_proxy_status,
)
from tests.support.contour_run import Answer, ContourRun, running, wait_until

NS = "jwtip"
ISSUER = "https://issuer.test"
AUDIENCE = "api"
JWT_HOST = "jwt.test"
LOCAL_HOST = "jwt-local.test"

# -- a tiny JWS signer and JWKS -----------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int, size: int = 0) -> str:
    return _b64url(value.to_bytes(size or (value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class Signer:
    """One signing key (RS256 or ES256) with its kid, able to sign tokens and to publish its JWK."""

    kid: str
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    @property
    def alg(self) -> str:
        return "RS256" if isinstance(self.key, rsa.RSAPrivateKey) else "ES256"

    def jwk(self) -> dict[str, str]:
        if isinstance(self.key, rsa.RSAPrivateKey):
            numbers = self.key.public_key().public_numbers()
            return {
                "kty": "RSA",
                "alg": "RS256",
                "kid": self.kid,
                "n": _uint(numbers.n),
                "e": _uint(numbers.e),
            }
        point = self.key.public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "alg": "ES256",
            "kid": self.kid,
            "x": _uint(point.x, 32),
            "y": _uint(point.y, 32),
        }

    def token(self, **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "tester", "iat": now, "exp": now + 600, **claims}
        header = {"alg": self.alg, "typ": "JWT", "kid": self.kid}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(payload).encode())}"
        data = signing_input.encode("ascii")
        if isinstance(self.key, rsa.RSAPrivateKey):
            signature = self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        else:  # JWS wants the raw r || s, not DER (RFC 7518 section 3.4)
            r, s = decode_dss_signature(self.key.sign(data, ec.ECDSA(hashes.SHA256())))
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{signing_input}.{_b64url(signature)}"


@dataclass
class JWKSServer:
    """Key sets over HTTPS on 127.0.0.1: GET /<name> returns the JWKS of that signer."""

    sets: Mapping[str, Signer]
    certificate: Path
    key: Path
    fetches: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        sets, fetches = self.sets, self.fetches

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                signer = sets.get(self.path.strip("/"))
                fetches.append(self.path)
                body = json.dumps({"keys": [signer.jwk()]}).encode() if signer else b"{}"
                self.send_response(200 if signer else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certificate, self.key)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


# -- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContourRun]:
    directory = tmp_path_factory.mktemp("contour-run-jwt-ip")
    config = directory / "contour.yaml"
    config.write_text("network:\n  num-trusted-hops: 1\n")
    with running(directory / "state", ("--config", str(config))) as contour:
        yield contour


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return Authority(tmp_path_factory.mktemp("pki"), "jwt-ip-ca")


@pytest.fixture(scope="module")
def signers() -> dict[str, Signer]:
    return {
        "rs": Signer("rs-1", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "es": Signer("es-1", ec.generate_private_key(ec.SECP256R1())),
        "local": Signer("local-1", ec.generate_private_key(ec.SECP256R1())),
        "rotated": Signer("local-2", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    }


@pytest.fixture(scope="module")
def jwks(ca: Authority, signers: dict[str, Signer]) -> Iterator[JWKSServer]:
    issued = ca.server("jwks", "localhost")
    server = JWKSServer(signers, issued.cert_path, issued.key_path)
    try:
        yield server
    finally:
        server.stop()


def _provider(name: str, jwks: JWKSServer, path: str, **fields: Any) -> dict[str, Any]:
    remote = {
        "uri": f"https://localhost:{jwks.port}/{path}",
        "timeout": "5s",
        "dnsLookupFamily": "v4",
        "validation": {"caSecret": "jwks-ca", "subjectName": "localhost"},
    }
    return {"name": name, "issuer": ISSUER, "audiences": [AUDIENCE], "remoteJWKS": remote, **fields}


def _local_provider(secret: str, key: str) -> dict[str, Any]:
    source = {"secretName": secret, "key": key}
    return {"name": "local", "issuer": ISSUER, "audiences": [AUDIENCE], "default": True, "localJWKS": source}


def _key_set(signer: Signer) -> str:
    return json.dumps({"keys": [signer.jwk()]})


def _proxy(name: str, fqdn: str, routes: list[dict[str, Any]], **virtualhost: Any) -> dict[str, Any]:
    return {
        "apiVersion": "projectcontour.io/v1",
        "kind": "HTTPProxy",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"virtualhost": {"fqdn": fqdn, **virtualhost}, "routes": routes},
    }


ECHO = upstream("echo", 80)
pytestmark = pytest.mark.usefixtures("applied")


@pytest.fixture(scope="module")
def applied(
    run: ContourRun, backends: Backends, ca: Authority, jwks: JWKSServer, signers: dict[str, Signer]
) -> None:
    cert = ca.server("jwt-host", JWT_HOST, "jwt-bad.test", LOCAL_HOST, "jwt-local-bad.test")
    run.apply(
        [
            namespace(NS),
            *backend_service(NS, "echo", {"http": (80, backends.a.port)}),
            tls_secret(NS, "cert", cert.cert_pem, cert.key_pem),
            opaque_secret(NS, "jwks-ca", {"ca.crt": ca.pem}),
            opaque_secret(NS, "local-keys", {"signing.json": _key_set(signers["local"])}),
            _proxy(
                "jwt-local",
                LOCAL_HOST,
                [route("/", ECHO)],
                tls={"secretName": "cert"},
                jwtProviders=[_local_provider("local-keys", "signing.json")],
            ),
            _proxy(
                "jwt-local-bad",
                "jwt-local-bad.test",
                [route("/", ECHO)],
                tls={"secretName": "cert"},
                jwtProviders=[_local_provider("local-keys", "absent.json")],
            ),
            _proxy(
                "jwt",
                JWT_HOST,
                [
                    route("/", ECHO),
                    route("/open", ECHO, jwtVerificationPolicy={"disabled": True}),
                    route("/es", ECHO, jwtVerificationPolicy={"require": "es"}),
                ],
                tls={"secretName": "cert"},
                jwtProviders=[
                    _provider("rs", jwks, "rs", default=True),
                    _provider("es", jwks, "es", forwardJWT=True),
                ],
            ),
            _proxy(
                "jwt-bad",
                "jwt-bad.test",
                [route("/", ECHO)],
                tls={"secretName": "cert"},
                jwtProviders=[{"name": "x", "remoteJWKS": {"uri": "ftp://localhost/keys"}}],
            ),
            _proxy(
                "ip",
                "ip.test",
                [
                    route("/", ECHO),
                    route("/denied", ECHO, ipDenyPolicy=[{"source": "Peer", "cidr": "127.0.0.0/8"}]),
                    route("/remote", ECHO, ipAllowPolicy=[{"source": "Remote", "cidr": "10.9.9.0/24"}]),
                ],
                ipAllowPolicy=[{"source": "Peer", "cidr": "127.0.0.1"}],
            ),
            _proxy(
                "ip-deny",
                "ip-deny.test",
                [route("/", ECHO)],
                ipDenyPolicy=[{"source": "Peer", "cidr": "127.0.0.1/32"}],
            ),
            _proxy(
                "ip-bad",
                "ip-bad.test",
                [route("/", ECHO)],
                ipAllowPolicy=[{"source": "Peer", "cidr": "127.0.0.1/40"}],
            ),
        ]
    )


# -- JWT ----------------------------------------------------------------------------------------------


def jwt_get(run: ContourRun, ca: Authority, path: str, token: str = "", host: str = JWT_HOST) -> Outcome:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return https_get(run.https_port, host, client_context(ca), path=path, extra_headers=headers)


def wait_verified(run: ContourRun, ca: Authority, path: str, token: str, host: str = JWT_HOST) -> Outcome:
    return wait_until(
        lambda: jwt_get(run, ca, path, token, host),
        lambda o: o.status == 200,
        what=f"{host}{path} served to a valid token",
    )


def test_valid_token_of_the_default_provider_is_served(
    run: ContourRun, ca: Authority, signers: dict[str, Signer], jwks: JWKSServer
) -> None:
    outcome = wait_verified(run, ca, "/", signers["rs"].token())
    assert outcome.body.get("pod") == "echo-a"
    assert "/rs" in jwks.fetches  # the key set came from the JWKS server, through Envoy's cluster


@pytest.mark.parametrize(
    ("make_token", "status"),
    [
        pytest.param(lambda s: "", 401, id="missing"),
        pytest.param(lambda s: s["rs"].token(exp=int(time.time()) - 3600), 401, id="expired"),
        pytest.param(lambda s: s["rs"].token(iss="https://someone.else"), 401, id="wrong-issuer"),
        pytest.param(lambda s: s["es"].token(), 401, id="signed-by-another-providers-key"),
        pytest.param(lambda s: s["rs"].token()[:-4] + "AAAA", 401, id="bad-signature"),
        # Envoy answers 403, not 401, when only the audience is wrong ("Audiences in Jwt are not allowed").
        pytest.param(lambda s: s["rs"].token(aud="other"), 403, id="wrong-audience"),
    ],
)
def test_bad_or_missing_token_is_refused(
    run: ContourRun, ca: Authority, signers: dict[str, Signer], make_token: Any, status: int
) -> None:
    wait_verified(run, ca, "/", signers["rs"].token())
    assert jwt_get(run, ca, "/", make_token(signers)).status == status


def test_route_with_verification_disabled_needs_no_token(
    run: ContourRun, ca: Authority, signers: dict[str, Signer]
) -> None:
    wait_verified(run, ca, "/", signers["rs"].token())
    assert jwt_get(run, ca, "/open").status == 200


def test_route_requiring_another_provider_accepts_only_its_tokens(
    run: ContourRun, ca: Authority, signers: dict[str, Signer]
) -> None:
    wait_verified(run, ca, "/es", signers["es"].token())
    assert jwt_get(run, ca, "/es", signers["rs"].token()).status == 401


def test_forward_jwt_decides_whether_the_backend_sees_the_token(
    run: ContourRun, ca: Authority, signers: dict[str, Signer]
) -> None:
    es_token = signers["es"].token()
    forwarded = wait_verified(run, ca, "/es", es_token).body.get("headers", {})
    assert forwarded.get("Authorization") == [f"Bearer {es_token}"]
    kept = wait_verified(run, ca, "/", signers["rs"].token()).body.get("headers", {})
    assert "Authorization" not in kept


def test_invalid_provider_is_reported_while_other_hosts_serve(
    run: ContourRun, ca: Authority, signers: dict[str, Signer]
) -> None:
    status = wait_for_proxy_status(run, NS, "jwt-bad", "invalid")
    assert error_reasons(status) == [("JWTVerificationError", "RemoteJWKSSchemeInvalid")]
    wait_verified(run, ca, "/", signers["rs"].token())
    assert https_get(run.https_port, "jwt-bad.test", client_context(ca)).refused


def test_local_key_set_from_a_secret_verifies_tokens(
    run: ContourRun, ca: Authority, signers: dict[str, Signer]
) -> None:
    outcome = wait_verified(run, ca, "/", signers["local"].token(), LOCAL_HOST)
    assert outcome.body.get("pod") == "echo-a"
    assert jwt_get(run, ca, "/", signers["rs"].token(), LOCAL_HOST).status == 401
    assert jwt_get(run, ca, "/", "", LOCAL_HOST).status == 401


def test_local_key_set_missing_from_the_secret_is_reported(
    run: ContourRun, ca: Authority, signers: dict[str, Signer]
) -> None:
    status = wait_for_proxy_status(run, NS, "jwt-local-bad", "invalid")
    assert error_reasons(status) == [("JWTVerificationError", "LocalJWKSInvalid")]
    wait_verified(run, ca, "/", signers["local"].token(), LOCAL_HOST)
    assert https_get(run.https_port, "jwt-local-bad.test", client_context(ca)).refused


def test_a_changed_key_set_secret_is_used(run: ContourRun, ca: Authority, signers: dict[str, Signer]) -> None:
    """Runs last among the local key set tests: it rotates the Secret's key."""
    wait_verified(run, ca, "/", signers["local"].token(), LOCAL_HOST)
    run.apply([opaque_secret(NS, "local-keys", {"signing.json": _key_set(signers["rotated"])})])
    wait_verified(run, ca, "/", signers["rotated"].token(), LOCAL_HOST)
    assert jwt_get(run, ca, "/", signers["local"].token(), LOCAL_HOST).status == 401


# -- IP filters ---------------------------------------------------------------------------------------


def plain_get(run: ContourRun, host: str, path: str = "/", headers: Mapping[str, str] | None = None) -> int:
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        response = client.get(
            f"http://127.0.0.1:{run.http_port}{path}", headers={"host": host, **(headers or {})}
        )
    return response.status_code


def served(run: ContourRun, host: str, path: str = "/") -> Answer:
    return run.wait_for(host, lambda a: a.status == 200, path=path)


def test_peer_allowed_by_the_host_is_served(run: ContourRun) -> None:
    assert served(run, "ip.test").pod == "echo-a"


def test_route_deny_overrides_the_host_allow(run: ContourRun) -> None:
    served(run, "ip.test")
    assert plain_get(run, "ip.test", "/denied") == 403


def test_host_deny_refuses_the_peer(run: ContourRun) -> None:
    served(run, "ip.test")
    run.wait_for("ip-deny.test", lambda a: a.status == 403, what="ip-deny.test refusing 127.0.0.1")


@pytest.mark.parametrize(
    ("forwarded_for", "status"),
    [
        pytest.param("10.9.9.7", 200, id="client-in-the-allowed-range"),
        pytest.param("10.8.0.1", 403, id="client-outside-the-range"),
        pytest.param("", 403, id="no-forwarded-for-means-the-peer"),
    ],
)
def test_remote_rule_matches_the_forwarded_client(run: ContourRun, forwarded_for: str, status: int) -> None:
    served(run, "ip.test")
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    wait_until(
        lambda: plain_get(run, "ip.test", "/remote", headers),
        lambda code: code in (200, 403),
        what="ip.test/remote configured",
    )
    assert plain_get(run, "ip.test", "/remote", headers) == status


def test_invalid_cidr_is_reported_while_other_hosts_serve(run: ContourRun) -> None:
    status = wait_for_proxy_status(run, NS, "ip-bad", "invalid")
    assert error_reasons(status) == [
        ("IPFilterError", "InvalidCIDR"),
        ("IPFilterError", "IPFilterPolicyNotValid"),
    ]
    served(run, "ip.test")
    assert plain_get(run, "ip-bad.test") == 404
