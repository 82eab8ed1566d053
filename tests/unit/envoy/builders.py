"""Small fluent builders for hand-made DAGs, so a test reads like the configuration it checks."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from contour.dag.model import (
    DAG,
    Cluster,
    CORSPolicy,
    DirectResponse,
    DownstreamValidation,
    HeaderMatch,
    HeadersPolicy,
    HeaderValue,
    HealthCheckPolicy,
    Listener,
    LoadBalancerPolicy,
    MirrorPolicy,
    ObjectRef,
    PathMatch,
    PathMatchKind,
    Protocol,
    QueryParamMatch,
    Redirect,
    RequestHashPolicy,
    RetryPolicy,
    Route,
    Secret,
    SecureVirtualHost,
    Service,
    ServicePort,
    SlowStartConfig,
    TimeoutPolicy,
    UpstreamValidation,
    VirtualHost,
)

NOW = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)


def service(name: str, port: int = 80, *, namespace: str = "default", port_name: str = "http") -> Service:
    return Service(ref=ObjectRef(namespace, name), port=ServicePort(name=port_name, port=port))


def upstream(name: str, port: int = 80, **options: object) -> Cluster:
    return Cluster(upstream=service(name, port), **options)  # type: ignore[arg-type]


def prefix(value: str) -> PathMatch:
    return PathMatch(PathMatchKind.PREFIX, value)


def route(path: str | PathMatch = "/", *clusters: Cluster, **options: object) -> Route:
    match = prefix(path) if isinstance(path, str) else path
    return Route(path_match=match, clusters=list(clusters), **options)  # type: ignore[arg-type]


def vhost(name: str, *routes: Route) -> VirtualHost:
    host = VirtualHost(name=name)
    for r in routes:
        host.add_route(r)
    return host


def http_dag(*hosts: VirtualHost) -> DAG:
    listener = Listener(name="ingress_http", protocol="http", address="0.0.0.0", port=8080)
    for host in hosts:
        listener.virtual_hosts[host.name] = host
    return DAG(listeners={listener.name: listener})


def add_secure(dag: DAG, *hosts: SecureVirtualHost) -> DAG:
    listener = dag.listeners.setdefault(
        "ingress_https", Listener(name="ingress_https", protocol="https", address="0.0.0.0", port=8443)
    )
    for host in hosts:
        listener.secure_virtual_hosts[host.name] = host
    return dag


@dataclass(frozen=True)
class Pki:
    """A CA, a server certificate for some names (signed by it) and an empty CRL, all PEM."""

    ca: bytes
    cert: bytes
    key: bytes
    crl: bytes


def make_pki(*names: str) -> Pki:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    start, end = NOW - datetime.timedelta(days=3650), NOW + datetime.timedelta(days=3650)
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_name)
        .last_update(start)
        .next_update(end)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return Pki(
        ca=ca.public_bytes(pem),
        cert=cert.public_bytes(pem),
        key=key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        crl=crl.public_bytes(pem),
    )


def tls_secret(pki: Pki, name: str = "tls", namespace: str = "default") -> Secret:
    return Secret(ref=ObjectRef(namespace, name), cert=pki.cert, key=pki.key)


def ca_secret(pki: Pki, name: str = "ca", namespace: str = "default") -> Secret:
    return Secret(ref=ObjectRef(namespace, name), ca=pki.ca)


def crl_secret(pki: Pki, name: str = "crl", namespace: str = "default") -> Secret:
    return Secret(ref=ObjectRef(namespace, name), crl=pki.crl)


def rich_dag(pki: Pki, client_pki: Pki) -> DAG:
    """A DAG using most features at once: plain and TLS hosts, a wildcard, client validation with a
    CRL, redirects, direct responses, weighted clusters, mirrors, health checks, websockets, h2/tls
    upstreams, hashing, slow start, CORS, an ExternalName Service and a TCP passthrough."""

    kuard = upstream("kuard")
    weighted = [upstream("blue", weight=80), upstream("green", 8080, weight=20)]
    checked = upstream(
        "checked", health_check_policy=HealthCheckPolicy(path="/healthz", expected_statuses=((200, 300),))
    )
    tcp_checked = upstream("tcp-checked", 9000, health_check_policy=HealthCheckPolicy())
    h2 = upstream(
        "grpc",
        8443,
        protocol=Protocol.H2,
        sni="grpc.internal",
        upstream_validation=UpstreamValidation(ca_secret(pki, "upstream-ca"), ("grpc.internal",)),
        client_certificate=tls_secret(client_pki, "envoy-client"),
    )
    h2c = upstream("h2c", 8081, protocol=Protocol.H2C, idle_connection_timeout_seconds=90)
    hashed = upstream(
        "hashed",
        load_balancer_policy=LoadBalancerPolicy(
            "RequestHash",
            (RequestHashPolicy(header_name="x-user", terminal=True), RequestHashPolicy(hash_source_ip=True)),
        ),
    )
    sticky = upstream("sticky", load_balancer_policy=LoadBalancerPolicy("Cookie"))
    slow = upstream(
        "slow", slow_start=SlowStartConfig(window_seconds=5, aggression=1.5, min_weight_percent=20)
    )
    least = upstream(
        "least",
        load_balancer_policy=LoadBalancerPolicy("WeightedLeastRequest"),
        slow_start=SlowStartConfig(window_seconds=5),
    )
    external = Cluster(
        upstream=Service(
            ref=ObjectRef("default", "external"),
            port=ServicePort(name="", port=443),
            external_name="example.org",
        ),
        protocol=Protocol.TLS,
        sni="example.org",
    )
    limited = Cluster(
        upstream=Service(
            ref=ObjectRef("default", "limited"),
            port=ServicePort(name="http", port=80),
            max_connections=10,
            max_pending_requests=5,
            max_requests=100,
            max_retries=3,
            per_host_max_connections=2,
        )
    )
    plain_routes = [
        route("/", kuard),
        route(
            "/weighted",
            *weighted,
            request_headers_policy=HeadersPolicy(
                set=(HeaderValue("x-ns", "default"),), remove=("x-drop",), host_rewrite="internal.example.com"
            ),
            response_headers_policy=HeadersPolicy(add=(HeaderValue("x-served-by", "%HOSTNAME%"),)),
        ),
        route(PathMatch(PathMatchKind.EXACT, "/exact"), checked, websocket=True),
        route(PathMatch(PathMatchKind.REGEX, "/api/v[0-9]+/.*"), tcp_checked),
        route(PathMatch(PathMatchKind.SEGMENT_PREFIX, "/segment/"), h2c, prefix_rewrite="/"),
        route(
            "/headers",
            hashed,
            header_matches=(
                HeaderMatch("x-exact", "exact", "yes", ignore_case=True),
                HeaderMatch("x-contains", "contains", "a.b"),
                HeaderMatch("x-missing", "present", invert=True),
                HeaderMatch("x-regex", "regex", "^v[12]$", treat_missing_as_empty=True),
            ),
            query_param_matches=(
                QueryParamMatch("q", "prefix", "abc", ignore_case=True),
                QueryParamMatch("r", "regex", "^[0-9]+$"),
                QueryParamMatch("s", "present"),
            ),
        ),
        route(
            "/retry",
            sticky,
            retry_policy=RetryPolicy(("5xx", "gateway-error"), 3, 0.5, (503,)),
            timeout_policy=TimeoutPolicy(response_seconds=0, idle_stream_seconds=30),
            mirror_policies=[MirrorPolicy(slow, 10)],
        ),
        route("/least", least),
        route("/external", external),
        route("/limited", limited),
        route("/missing"),
        route(
            "/redirect", redirect=Redirect(scheme="https", hostname="example.com", port=8443, status_code=301)
        ),
        route("/moved", redirect=Redirect(prefix="/new")),
        route("/teapot", direct_response=DirectResponse(418, "short and stout")),
        route(prefix("/grpc"), h2),
    ]
    plain = vhost("www.example.com", *plain_routes)
    plain.cors_policy = CORSPolicy(
        allow_origin=("*", "https://app.example.com", r"https://.*\.example\.org"),
        allow_credentials=True,
        allow_methods=("GET", "POST"),
        allow_headers=("authorization",),
        expose_headers=("x-served-by",),
        max_age="10m",
    )
    wildcard = vhost("*.wild.example.com", route("/", kuard))
    catch_all = vhost("*", route("/", kuard))
    secure_routes = vhost("secure.example.com", route("/", kuard), route("/ws", checked, websocket=True))
    upgrade = vhost(
        "secure.example.com", route("/", kuard, https_upgrade=True), route("/ws", checked, https_upgrade=True)
    )
    dag = http_dag(plain, wildcard, catch_all, upgrade)
    add_secure(
        dag,
        SecureVirtualHost(
            virtual_host=secure_routes,
            secret=tls_secret(pki),
            min_tls_version="1.3",
            downstream_validation=DownstreamValidation(
                ca=ca_secret(client_pki, "client-ca"),
                crl=crl_secret(client_pki),
                only_verify_leaf_cert_crl=True,
                forward_client_certificate=("subject", "cert", "dns"),
            ),
            fallback_certificate=tls_secret(pki, "fallback", "projectcontour"),
        ),
        SecureVirtualHost(
            virtual_host=vhost("*.wild.example.com", route("/", kuard)), secret=tls_secret(pki)
        ),
        SecureVirtualHost(
            virtual_host=vhost("optional.example.com", route("/", kuard)),
            secret=tls_secret(pki),
            max_tls_version="1.2",
            downstream_validation=DownstreamValidation(
                ca=ca_secret(client_pki, "client-ca"), optional_client_certificate=True
            ),
        ),
        SecureVirtualHost(
            virtual_host=vhost("skip.example.com", route("/", kuard)),
            secret=tls_secret(pki),
            downstream_validation=DownstreamValidation(skip_client_cert_validation=True),
        ),
        SecureVirtualHost(
            virtual_host=vhost("passthrough.example.com"),
            tcp_proxy=[upstream("tls-backend", 443, weight=1), upstream("tls-backend-2", 443, weight=3)],
        ),
    )
    return dag
