"""TLS through `contour run`, downstream and upstream, proven with real handshakes through Envoy.

Downstream: one filter chain per SNI with its own certificate, 421 for a Host that is not the SNI,
certificates delegated across namespaces by TLSCertificateDelegation, protocol version bounds, client
certificate validation (CA, optional, skip, CRL) and forwarding (X-Forwarded-Client-Cert), and the
plain-HTTP side of a TLS host (permitInsecure, else a 301). Upstream: `protocol: tls` with CA and
subject-name validation, `h2` (ALPN) and `h2c` to a `contour echo` that serves TLS and h2c.

One `contour run` serves the module; each feature has its own namespaces and host names. A negative
check (a refused handshake, a 503) is only made after a positive one on the same listener or route
has shown the configuration is live, so "not configured yet" can never pass for "refused". After
every test Envoy's `update_rejected` counters must still be zero.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.echo_config import Backends
from tests.e2e.run_tls_support import (
    Authority,
    Issued,
    Outcome,
    backend_service,
    client_context,
    delegation,
    error_reasons,
    httpproxy,
    https_get,
    namespace,
    opaque_secret,
    route,
    status_of,
    tls_secret,
    trusting_anything,
    upstream,
    wait_for_proxy_status,
)
from tests.echo.process import EchoProcess
from tests.support.contour_run import Answer, ContourRun, running, wait_until

# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContourRun]:
    with running(tmp_path_factory.mktemp("contour-run-tls") / "state") as contour:
        yield contour


@dataclass(frozen=True)
class PKI:
    server: Authority  # signs every certificate Envoy serves
    clients: Authority  # the CA the client-validation hosts trust
    stranger: Authority  # a CA nobody trusts
    upstream: Authority  # signs the echo backend's serving certificate


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    directory = tmp_path_factory.mktemp("pki")
    return PKI(
        Authority(directory, "server-ca"),
        Authority(directory, "client-ca"),
        Authority(directory, "stranger-ca"),
        Authority(directory, "upstream-ca"),
    )


def served(run: ContourRun, sni: str, context: ssl.SSLContext, **kw: Any) -> Outcome:
    return https_get(run.https_port, sni, context, **kw)


def wait_served(
    run: ContourRun,
    sni: str,
    context: ssl.SSLContext,
    accept: Callable[[Outcome], bool] = lambda o: o.status == 200,
    **kw: Any,
) -> Outcome:
    return wait_until(lambda: served(run, sni, context, **kw), accept, what=f"https://{sni} served")


def echo_route(backend_name: str = "echo", **extra: Any) -> list[dict[str, Any]]:
    return [route("/", upstream(backend_name, 80), **extra)]


def from_pod(pod: str) -> Callable[[Answer], bool]:
    return lambda answer: answer.status == 200 and answer.pod == pod


# -- one filter chain per SNI -----------------------------------------------------------------------

SNI_HOSTS = {"one.sni.example": "echo-a", "two.sni.example": "echo-b"}


@pytest.fixture(scope="module")
def sni_hosts(run: ContourRun, backends: Backends, pki: PKI) -> dict[str, str]:
    ns = "sni"
    objects = [
        namespace(ns),
        *backend_service(ns, "echo-a", {"http": (80, backends.a.port)}),
        *backend_service(ns, "echo-b", {"http": (80, backends.b.port)}),
    ]
    for index, (host, pod) in enumerate(SNI_HOSTS.items()):
        cert = pki.server.server(f"sni-{index}", host)
        objects.append(tls_secret(ns, f"cert-{index}", cert.cert_pem, cert.key_pem))
        objects.append(
            httpproxy(ns, f"app-{index}", host, echo_route(pod), tls={"secretName": f"cert-{index}"})
        )
    run.apply(objects)
    return SNI_HOSTS


@pytest.mark.parametrize("host", sorted(SNI_HOSTS), ids=["first-host", "second-host"])
def test_each_sni_is_served_its_own_certificate_and_routes(
    run: ContourRun, sni_hosts: dict[str, str], pki: PKI, host: str
) -> None:
    context = client_context(pki.server)
    context.check_hostname = False  # so that a wrong certificate shows up in the assertion below
    outcome = wait_served(run, host, context)
    assert outcome.served_cn == host
    assert (outcome.body.get("pod"), outcome.body.get("host")) == (sni_hosts[host], host)


def test_an_unknown_sni_gets_no_handshake(run: ContourRun, sni_hosts: dict[str, str], pki: PKI) -> None:
    wait_served(run, "one.sni.example", client_context(pki.server))
    outcome = served(run, "three.sni.example", trusting_anything())
    assert outcome.refused, outcome


def test_a_host_header_other_than_the_sni_gets_421(
    run: ContourRun, sni_hosts: dict[str, str], pki: PKI
) -> None:
    context = client_context(pki.server)
    wait_served(run, "one.sni.example", context)
    outcome = served(run, "one.sni.example", context, host="two.sni.example")
    assert outcome.status == 421, outcome


def test_a_host_header_with_a_port_matching_the_sni_is_not_misdirected(
    run: ContourRun, sni_hosts: dict[str, str], pki: PKI
) -> None:
    outcome = wait_served(run, "one.sni.example", client_context(pki.server), host="ONE.sni.example:443")
    assert outcome.body.get("pod") == "echo-a"


def test_a_renewed_secret_is_served_without_touching_the_proxy(
    run: ContourRun, backends: Backends, pki: PKI, tmp_path: Path
) -> None:
    ns, host = "renewal", "renewal.example"
    first = pki.server.server("renewal", host)
    run.apply(
        [
            namespace(ns),
            *backend_service(ns, "echo", {"http": (80, backends.a.port)}),
            tls_secret(ns, "cert", first.cert_pem, first.key_pem),
            httpproxy(ns, "app", host, echo_route(), tls={"secretName": "cert"}),
        ]
    )
    wait_served(run, host, client_context(pki.server))
    renewing = Authority(tmp_path, "renewing-ca")
    second = renewing.server("renewal", host)
    run.apply([tls_secret(ns, "cert", second.cert_pem, second.key_pem)])
    wait_served(run, host, client_context(renewing))
    assert served(run, host, client_context(pki.server)).refused  # the old certificate is gone


# -- delegation ------------------------------------------------------------------------------------

DELEGATED_HOSTS = {
    "named-namespace": ("delegated", "named.delegation.example"),
    "all-namespaces": ("anyone", "all.delegation.example"),
}
UNDELEGATED = ("undelegated", "undelegated.delegation.example")


@pytest.fixture(scope="module")
def delegated(run: ContourRun, backends: Backends, pki: PKI) -> None:
    hosts = [h for _, h in DELEGATED_HOSTS.values()] + [UNDELEGATED[1]]
    cert = pki.server.server("delegation", *hosts)
    objects = [
        namespace("certs"),
        tls_secret("certs", "shared", cert.cert_pem, cert.key_pem),
        tls_secret("certs", "public", cert.cert_pem, cert.key_pem),
        delegation("certs", "shared", "shared", ["delegated"]),
        delegation("certs", "public", "public", ["*"]),
    ]
    secrets = {"delegated": "certs/shared", "anyone": "certs/public", UNDELEGATED[0]: "certs/shared"}
    for ns, host in [*DELEGATED_HOSTS.values(), UNDELEGATED]:
        objects += [namespace(ns), *backend_service(ns, "echo", {"http": (80, backends.a.port)})]
        objects.append(httpproxy(ns, "app", host, echo_route(), tls={"secretName": secrets[ns]}))
    run.apply(objects)


@pytest.mark.parametrize("case", sorted(DELEGATED_HOSTS), ids=sorted(DELEGATED_HOSTS))
def test_a_delegated_secret_in_another_namespace_serves_https(
    run: ContourRun, delegated: None, pki: PKI, case: str
) -> None:
    ns, host = DELEGATED_HOSTS[case]
    outcome = wait_served(run, host, client_context(pki.server))
    assert outcome.body.get("pod") == "echo-a"
    assert wait_for_proxy_status(run, ns, "app", "valid")["description"] == "Valid HTTPProxy"


def test_a_secret_in_another_namespace_without_delegation_is_not_permitted(
    run: ContourRun, delegated: None, pki: PKI
) -> None:
    ns, host = UNDELEGATED
    status = wait_for_proxy_status(run, ns, "app", "invalid")
    assert error_reasons(status) == [("TLSError", "DelegationNotPermitted")]
    wait_served(run, DELEGATED_HOSTS["named-namespace"][1], client_context(pki.server))
    assert served(run, host, client_context(pki.server)).refused


def test_a_tls_certificate_delegation_reports_valid(run: ContourRun, delegated: None) -> None:
    status = wait_until(
        lambda: status_of(run, "tlscertificatedelegation", "certs", "shared"),
        lambda s: bool(s.get("conditions")),
        what="the TLSCertificateDelegation status",
    )
    (condition,) = status["conditions"]
    assert (condition["type"], condition["status"], condition["reason"]) == ("Valid", "True", "Valid")


def test_deleting_the_delegation_withdraws_the_certificate(
    run: ContourRun, backends: Backends, pki: PKI
) -> None:
    host = "revoked.delegation.example"
    cert = pki.server.server("revoked-delegation", host)
    run.apply(
        [
            namespace("revoke-certs"),
            namespace("revoke-app"),
            tls_secret("revoke-certs", "cert", cert.cert_pem, cert.key_pem),
            delegation("revoke-certs", "cert", "cert", ["revoke-app"]),
            *backend_service("revoke-app", "echo", {"http": (80, backends.a.port)}),
            httpproxy("revoke-app", "app", host, echo_route(), tls={"secretName": "revoke-certs/cert"}),
        ]
    )
    context = client_context(pki.server)
    wait_served(run, host, context)
    run.kubectl("delete", "tlscertificatedelegation", "cert", "-n", "revoke-certs")
    status = wait_for_proxy_status(run, "revoke-app", "app", "invalid")
    assert error_reasons(status) == [("TLSError", "DelegationNotPermitted")]
    wait_served(run, host, context, lambda o: o.refused)


# -- protocol versions ------------------------------------------------------------------------------

VERSION_HOSTS = {
    "min13.versions.example": {"minimumProtocolVersion": "1.3"},
    "max12.versions.example": {"maximumProtocolVersion": "1.2"},
    "inverted.versions.example": {"minimumProtocolVersion": "1.3", "maximumProtocolVersion": "1.2"},
}


@pytest.fixture(scope="module")
def version_hosts(run: ContourRun, backends: Backends, pki: PKI) -> None:
    ns = "versions"
    cert = pki.server.server("versions", *VERSION_HOSTS)
    objects = [
        namespace(ns),
        *backend_service(ns, "echo", {"http": (80, backends.a.port)}),
        tls_secret(ns, "cert", cert.cert_pem, cert.key_pem),
    ]
    for host, versions in VERSION_HOSTS.items():
        name = host.split(".")[0]
        objects.append(httpproxy(ns, name, host, echo_route(), tls={"secretName": "cert", **versions}))
    run.apply(objects)


@pytest.mark.parametrize(
    ("host", "client_version", "accepted", "working_version"),
    [
        ("min13.versions.example", "1.3", True, "1.3"),
        ("min13.versions.example", "1.2", False, "1.3"),
        ("max12.versions.example", "1.2", True, "1.2"),
        ("max12.versions.example", "1.3", False, "1.2"),
    ],
    ids=["min-1.3/tls1.3-client-served", "min-1.3/tls1.2-client-refused", "max-1.2/tls1.2-client-served",
         "max-1.2/tls1.3-client-refused"],
)  # fmt: skip
def test_protocol_version_bounds(
    run: ContourRun,
    version_hosts: None,
    pki: PKI,
    *,
    host: str,
    client_version: str,
    accepted: bool,
    working_version: str,
) -> None:
    wait_served(run, host, client_context(pki.server, only_version=working_version))
    outcome = served(run, host, client_context(pki.server, only_version=client_version))
    if accepted:
        assert (outcome.status, outcome.tls_version) == (200, f"TLSv{client_version}"), outcome
    else:
        assert outcome.refused, outcome


def test_a_minimum_above_the_maximum_is_tls_config_not_valid(
    run: ContourRun, version_hosts: None, pki: PKI
) -> None:
    status = wait_for_proxy_status(run, "versions", "inverted", "invalid")
    assert error_reasons(status) == [("TLSError", "TLSConfigNotValid")]
    wait_served(run, "min13.versions.example", client_context(pki.server))
    assert served(run, "inverted.versions.example", client_context(pki.server)).refused


# -- invalid certificates ---------------------------------------------------------------------------


def _bad_secrets(pki: PKI) -> dict[str, dict[str, Any] | None]:
    """A secret per case (None: no Secret at all), each meant for host `<case>.badsecret.example`."""
    cert = pki.server.server("bad-secret", "not-a-certificate.badsecret.example")
    other = pki.server.server("other-key", "key-mismatch.badsecret.example")
    garbage = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    return {
        "missing": None,
        "not-a-certificate": tls_secret("badsecret", "not-a-certificate", garbage, cert.key_pem),
        "key-mismatch": tls_secret("badsecret", "key-mismatch", other.cert_pem, cert.key_pem),
    }


BAD_SECRET_CASES = ["missing", "not-a-certificate", "key-mismatch"]


@pytest.fixture(scope="module")
def bad_secrets(run: ContourRun, backends: Backends, pki: PKI) -> str:
    ns, good_host = "badsecret", "good.badsecret.example"
    good = pki.server.server("good-secret", good_host)
    objects = [
        namespace(ns),
        *backend_service(ns, "echo", {"http": (80, backends.a.port)}),
        tls_secret(ns, "good", good.cert_pem, good.key_pem),
        httpproxy(ns, "good", good_host, echo_route(), tls={"secretName": "good"}),
    ]
    for case, secret in _bad_secrets(pki).items():
        if secret is not None:
            objects.append(secret)
        objects.append(
            httpproxy(ns, case, f"{case}.badsecret.example", echo_route(), tls={"secretName": case})
        )
    run.apply(objects)
    return good_host


@pytest.mark.parametrize("case", BAD_SECRET_CASES, ids=BAD_SECRET_CASES)
def test_an_unusable_secret_is_secret_not_valid_and_other_hosts_keep_serving(
    run: ContourRun, bad_secrets: str, pki: PKI, case: str
) -> None:
    status = wait_for_proxy_status(run, "badsecret", case, "invalid")
    assert error_reasons(status) == [("TLSError", "SecretNotValid")]
    wait_served(run, bad_secrets, client_context(pki.server))
    assert served(run, f"{case}.badsecret.example", trusting_anything()).refused


# -- client certificates ----------------------------------------------------------------------------

MTLS_HOSTS = {
    "required.mtls.example": {"caSecret": "client-ca"},
    "optional.mtls.example": {"caSecret": "client-ca", "optionalClientCertificate": True},
    "skip.mtls.example": {"skipClientCertValidation": True},
    "skip-with-ca.mtls.example": {"caSecret": "client-ca", "skipClientCertValidation": True},
    "optional-no-ca.mtls.example": {"optionalClientCertificate": True, "skipClientCertValidation": True},
    "crl.mtls.example": {"caSecret": "client-ca", "crlSecret": "client-crl"},
    "xfcc.mtls.example": {
        "caSecret": "client-ca",
        "forwardClientCertificate": {"subject": True, "dns": True, "uri": True},
    },
}


@dataclass(frozen=True)
class Clients:
    good: Issued  # from the trusted CA
    revoked: Issued  # from the trusted CA, listed in its CRL
    stranger: Issued  # from a CA nobody trusts

    def pick(self, name: str) -> Issued | None:
        return None if name == "none" else getattr(self, name)


@pytest.fixture(scope="module")
def clients(run: ContourRun, backends: Backends, pki: PKI) -> Clients:
    ns = "mtls"
    chosen = Clients(
        good=pki.clients.client(
            "good", "good-client", dns="good.client.example", uri="spiffe://example/good"
        ),
        revoked=pki.clients.client("revoked", "revoked-client"),
        stranger=pki.stranger.client("stranger", "stranger-client"),
    )
    cert = pki.server.server("mtls", *MTLS_HOSTS)
    objects = [
        namespace(ns),
        *backend_service(ns, "echo", {"http": (80, backends.a.port)}),
        tls_secret(ns, "cert", cert.cert_pem, cert.key_pem),
        opaque_secret(ns, "client-ca", {"ca.crt": pki.clients.pem}),
        opaque_secret(ns, "client-crl", {"crl.pem": pki.clients.crl([chosen.revoked])}),
    ]
    for host, validation in MTLS_HOSTS.items():
        tls = {"secretName": "cert", "clientValidation": validation}
        objects.append(httpproxy(ns, host.split(".")[0], host, echo_route(), tls=tls))
    run.apply(objects)
    return chosen


@pytest.mark.parametrize(
    ("host", "client", "accepted"),
    [
        ("required.mtls.example", "good", True),
        ("required.mtls.example", "none", False),
        ("required.mtls.example", "stranger", False),
        ("optional.mtls.example", "none", True),
        ("optional.mtls.example", "good", True),
        ("optional.mtls.example", "stranger", False),
        # Without a CA, Envoy asks for a certificate but does not insist (as Contour documents).
        ("skip.mtls.example", "stranger", True),
        ("skip.mtls.example", "none", True),
        # With a CA, a certificate is required but not verified (left to an external authorizer).
        ("skip-with-ca.mtls.example", "stranger", True),
        ("skip-with-ca.mtls.example", "none", False),
        ("optional-no-ca.mtls.example", "none", True),
        ("optional-no-ca.mtls.example", "stranger", True),
        ("crl.mtls.example", "good", True),
        ("crl.mtls.example", "revoked", False),
    ],
    ids=lambda v: v.split(".")[0] if isinstance(v, str) else ("served" if v else "refused"),
)
def test_client_certificate_validation(
    run: ContourRun, clients: Clients, pki: PKI, *, host: str, client: str, accepted: bool
) -> None:
    wait_served(run, host, client_context(pki.server, client=clients.good))
    outcome = served(run, host, client_context(pki.server, client=clients.pick(client)))
    if accepted:
        assert outcome.status == 200, outcome
    else:
        assert outcome.refused, outcome


def test_client_validation_hosts_are_valid(run: ContourRun, clients: Clients) -> None:
    for host in MTLS_HOSTS:
        status = wait_for_proxy_status(run, "mtls", host.split(".")[0], "valid")
        assert error_reasons(status) == [], host


def test_the_chosen_client_certificate_details_reach_the_backend(
    run: ContourRun, clients: Clients, pki: PKI
) -> None:
    outcome = wait_served(run, "xfcc.mtls.example", client_context(pki.server, client=clients.good))
    (xfcc,) = outcome.body["headers"]["X-Forwarded-Client-Cert"]
    parts = dict(part.split("=", 1) for part in xfcc.split(";"))
    assert parts.keys() == {"Hash", "Subject", "URI", "DNS"}, xfcc
    assert parts["Subject"] == '"CN=good-client"'
    assert parts["URI"] == "spiffe://example/good"
    assert parts["DNS"] == "good.client.example"


def test_a_forged_client_certificate_header_is_replaced(run: ContourRun, clients: Clients, pki: PKI) -> None:
    forged = 'Hash=00;Subject="CN=admin"'
    outcome = wait_served(
        run,
        "xfcc.mtls.example",
        client_context(pki.server, client=clients.good),
        extra_headers={"X-Forwarded-Client-Cert": forged},
    )
    (xfcc,) = outcome.body["headers"]["X-Forwarded-Client-Cert"]
    assert 'Subject="CN=good-client"' in xfcc and "admin" not in xfcc


# -- the plain-HTTP side of a TLS host --------------------------------------------------------------

INSECURE_HOST = "insecure.example"


@pytest.fixture(scope="module")
def insecure_host(run: ContourRun, backends: Backends, pki: PKI) -> str:
    ns = "insecure"
    cert = pki.server.server("insecure", INSECURE_HOST)
    routes = [
        route("/open", upstream("echo-b", 80), permitInsecure=True),
        route("/", upstream("echo-a", 80)),
    ]
    run.apply(
        [
            namespace(ns),
            *backend_service(ns, "echo-a", {"http": (80, backends.a.port)}),
            *backend_service(ns, "echo-b", {"http": (80, backends.b.port)}),
            tls_secret(ns, "cert", cert.cert_pem, cert.key_pem),
            httpproxy(ns, "app", INSECURE_HOST, routes, tls={"secretName": "cert"}),
        ]
    )
    return INSECURE_HOST


def test_a_permit_insecure_route_is_served_on_plain_http(run: ContourRun, insecure_host: str) -> None:
    answer = run.wait_for(insecure_host, from_pod("echo-b"), path="/open/door")
    assert answer.body is not None and answer.body["path"] == "/open/door"


def test_the_other_routes_redirect_plain_http_to_https(run: ContourRun, insecure_host: str, pki: PKI) -> None:
    run.wait_for(insecure_host, from_pod("echo-b"), path="/open")
    answer = run.request(insecure_host, "/closed?x=1")
    assert answer.status == 301
    assert answer.headers["location"] == f"https://{insecure_host}/closed?x=1"
    outcome = wait_served(run, insecure_host, client_context(pki.server), path="/closed")
    assert outcome.body.get("pod") == "echo-a"


# -- upstream TLS, h2 and h2c ------------------------------------------------------------------------

UPSTREAM_HOST = "upstream.example"
UPSTREAM_NAME = "echo.upstream.example"


@pytest.fixture(scope="module")
def tls_echo(pki: PKI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EchoProcess]:
    cert = pki.upstream.server("echo", UPSTREAM_NAME)
    args = ["--port", "0", "--h2c-port", "0", "--tls-port", "0", "--pod", "echo-tls"]
    args += ["--tls-cert", str(cert.cert_path), "--tls-key", str(cert.key_path)]
    with EchoProcess(*args, stderr_path=tmp_path_factory.mktemp("tls-echo") / "stderr") as echo:
        yield echo


def _validated(subject_name: str, ca_secret: str = "upstream-ca") -> dict[str, Any]:
    return {"caSecret": ca_secret, "subjectName": subject_name}


UPSTREAM_ROUTES = {
    "/tls-right": upstream("echo-tls", 443, protocol="tls", validation=_validated(UPSTREAM_NAME)),
    "/tls-wrong": upstream("echo-tls", 443, protocol="tls", validation=_validated("other.upstream.example")),
    "/tls-unvalidated": upstream("echo-tls", 443, protocol="tls"),
    "/h2": upstream("echo-tls", 443, protocol="h2", validation=_validated(UPSTREAM_NAME)),
    "/h2c": upstream("echo-tls", 81, protocol="h2c"),
    "/http1-to-h2c": upstream("echo-tls", 81),
}


@pytest.fixture(scope="module")
def upstream_host(run: ContourRun, tls_echo: EchoProcess, pki: PKI) -> str:
    ns = "upstream"
    ports = {"http": (80, tls_echo.ports["http"]), "h2c": (81, tls_echo.ports["h2c"])}
    ports["https"] = (443, tls_echo.ports["https"])
    routes = [route(prefix, service) for prefix, service in UPSTREAM_ROUTES.items()]
    run.apply(
        [
            namespace(ns),
            *backend_service(ns, "echo-tls", ports),
            opaque_secret(ns, "upstream-ca", {"ca.crt": pki.upstream.pem}),
            httpproxy(ns, "app", UPSTREAM_HOST, routes),
        ]
    )
    return UPSTREAM_HOST


def _upstream_answer(run: ContourRun, path: str) -> Answer:
    """The echo backend's answer on `path` of the upstream host, once that route serves."""
    return run.wait_for(UPSTREAM_HOST, from_pod("echo-tls"), path=path)


def test_upstream_tls_with_the_right_subject_name_is_served(run: ContourRun, upstream_host: str) -> None:
    body = _upstream_answer(run, "/tls-right").body
    assert body is not None
    assert (body["proto"], body["tls"]["version"]) == ("HTTP/1.1", "TLSv1.3")


def test_upstream_tls_with_a_wrong_subject_name_gets_503(run: ContourRun, upstream_host: str) -> None:
    _upstream_answer(run, "/tls-right")
    response = httpx.get(
        f"http://127.0.0.1:{run.http_port}/tls-wrong", headers={"host": upstream_host}, trust_env=False
    )
    assert response.status_code == 503
    assert response.text.startswith("upstream connect error"), response.text  # not "no healthy upstream"
    stats = run.admin("/stats", format="json", filter=r"ssl\.fail_verify_san$").json()["stats"]
    # Contour's alt_stat_name: namespace_service_port.
    assert [stat["name"] for stat in stats if stat["value"]] == [
        "cluster.upstream_echo-tls_443.ssl.fail_verify_san"
    ]


@pytest.mark.parametrize(
    ("path", "proto", "alpn"),
    [("/tls-unvalidated", "HTTP/1.1", "http/1.1"), ("/h2", "HTTP/2.0", "h2"), ("/h2c", "HTTP/2.0", None)],
    ids=["tls", "h2", "h2c"],
)
def test_the_upstream_protocol_reaches_the_backend(
    run: ContourRun, upstream_host: str, path: str, proto: str, alpn: str | None
) -> None:
    body = _upstream_answer(run, path).body
    assert body is not None
    assert body["proto"] == proto
    assert (body.get("tls") or {}).get("negotiatedProtocol") == alpn


def test_http1_to_the_h2c_port_gets_400(run: ContourRun, upstream_host: str) -> None:
    _upstream_answer(run, "/h2c")
    answer = run.request(upstream_host, "/http1-to-h2c")
    assert answer.status == 400


INVALID_UPSTREAM = {
    "missing-ca-secret": (_validated(UPSTREAM_NAME, "no-such-ca"), ("ServiceError", "TLSUpstreamValidation")),
    "ca-not-delegated": (
        _validated(UPSTREAM_NAME, "upstream/upstream-ca"),
        ("TLSError", "CACertificateNotDelegated"),
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID_UPSTREAM), ids=sorted(INVALID_UPSTREAM))
def test_invalid_upstream_validation_is_reported_and_valid_routes_keep_serving(
    run: ContourRun, upstream_host: str, tls_echo: EchoProcess, case: str
) -> None:
    ns = f"upstream-{case}"
    validation, reason = INVALID_UPSTREAM[case]
    ports = {"https": (443, tls_echo.ports["https"])}
    service = upstream("echo-tls", 443, protocol="tls", validation=validation)
    run.apply(
        [
            namespace(ns),
            *backend_service(ns, "echo-tls", ports),
            httpproxy(ns, "app", f"{case}.upstream.example", [route("/", service)]),
        ]
    )
    status = wait_for_proxy_status(run, ns, "app", "invalid")
    assert error_reasons(status) == [reason]
    _upstream_answer(run, "/tls-right")
