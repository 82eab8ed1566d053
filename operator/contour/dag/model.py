"""The DAG: what the processors build from Kubernetes objects and the Envoy translators read.

Its shape follows Contour's `internal/dag/dag.go` (names snake_cased) so that a reader who knows
Contour finds their way: listeners hold virtual hosts (plain and secure, keyed by host name), virtual
hosts hold routes, routes point at clusters, clusters at services; secrets are held once and shared.
Everything here is plain data with no behaviour beyond small derived properties: processors fill it in,
translators read it, and both stay pure. Collections the translators emit are sorted by them, so the
order objects are added in never changes the output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contour.dag.gatewayapi_model import GatewayDAG

# --- Kubernetes references -------------------------------------------------------------------------


@dataclass(frozen=True, order=True, slots=True)
class ObjectRef:
    """namespace/name of a Kubernetes object (namespace "" for cluster-scoped ones)."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


# --- Secrets ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Secret:
    """TLS material or a CA bundle taken from a Kubernetes Secret (or ConfigMap for CA bundles).

    Only the keys that matter are kept: `tls.crt`/`tls.key` for certificates, `ca.crt` for CAs,
    `crl.pem` for revocation lists. Values are the decoded PEM bytes.
    """

    ref: ObjectRef
    cert: bytes = b""
    key: bytes = b""
    ca: bytes = b""
    crl: bytes = b""

    @property
    def name(self) -> str:
        """The SDS resource name, Contour's `namespace/name/hash` form is applied by the translator."""
        return str(self.ref)


# --- Upstreams --------------------------------------------------------------------------------------


class Protocol(StrEnum):
    HTTP1 = ""
    H2 = "h2"  # HTTP/2 over TLS
    H2C = "h2c"  # HTTP/2 cleartext
    TLS = "tls"  # HTTP/1.1 over TLS


@dataclass(frozen=True, slots=True)
class ServicePort:
    name: str
    port: int
    target_port: int | str = 0
    protocol: str = "TCP"
    app_protocol: str = ""


@dataclass(frozen=True, slots=True)
class Service:
    """A Kubernetes Service port as an upstream: `NAMESPACE/NAME/PORT` identifies it."""

    ref: ObjectRef
    port: ServicePort
    health_port: ServicePort | None = None
    external_name: str = ""  # type ExternalName: a DNS cluster to this name
    protocol: Protocol = Protocol.HTTP1  # from the upstream-protocol annotations / appProtocol
    # circuit breakers from the Service annotations (projectcontour.io/max-connections, ...)
    max_connections: int = 0
    max_pending_requests: int = 0
    max_requests: int = 0
    max_retries: int = 0
    per_host_max_connections: int = 0

    @property
    def eds_name(self) -> str:
        """The EDS service name Contour uses (xds.ClusterLoadAssignmentName): `namespace/name/portname`,
        or `namespace/name` for an unnamed port (only a Service with a single port may leave it unnamed)."""
        base = f"{self.ref.namespace}/{self.ref.name}"
        return f"{base}/{self.port.name}" if self.port.name else base


@dataclass(frozen=True, slots=True)
class HeaderValue:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class HeadersPolicy:
    """Headers to set or remove; `host_rewrite` is a `Host` set in a request policy."""

    set: tuple[HeaderValue, ...] = ()
    add: tuple[HeaderValue, ...] = ()
    remove: tuple[str, ...] = ()
    host_rewrite: str = ""


@dataclass(frozen=True, slots=True)
class UpstreamValidation:
    ca_secret: Secret
    subject_names: tuple[str, ...]  # DNS SANs
    uri_subject_names: tuple[str, ...] = ()  # URI SANs (Gateway API BackendTLSPolicy)
    ca_file: str = ""  # a CA bundle file on Envoy's host instead of ca_secret (well-known CAs)


@dataclass(frozen=True, slots=True)
class HealthCheckPolicy:
    path: str = ""  # empty for TCP health checks
    host: str = "contour-envoy-healthcheck"
    interval_seconds: int = 10
    timeout_seconds: int = 2
    unhealthy_threshold: int = 3
    healthy_threshold: int = 2
    expected_statuses: tuple[tuple[int, int], ...] = ()  # [start, end) ranges


@dataclass(frozen=True, slots=True)
class RequestHashPolicy:
    header_name: str = ""
    query_parameter: str = ""
    hash_source_ip: bool = False
    terminal: bool = False


@dataclass(frozen=True, slots=True)
class LoadBalancerPolicy:
    """RoundRobin (default), Random, WeightedLeastRequest, Cookie, RequestHash."""

    strategy: str = "RoundRobin"
    request_hash_policies: tuple[RequestHashPolicy, ...] = ()


@dataclass(frozen=True, slots=True)
class SlowStartConfig:
    window_seconds: float
    aggression: float = 1.0
    min_weight_percent: int = 10


@dataclass(frozen=True, slots=True)
class CookieRewritePolicy:
    """How one cookie's Set-Cookie attributes are rewritten; None leaves an attribute as it is
    (`secure` False removes the attribute, True adds it)."""

    name: str
    path: str | None = None
    domain: str | None = None
    secure: bool | None = None
    same_site: str | None = None


@dataclass(frozen=True, slots=True)
class Cluster:
    """One weighted upstream of a route: a Service port plus how Envoy talks to it."""

    upstream: Service
    weight: int = 0
    protocol: Protocol = Protocol.HTTP1
    load_balancer_policy: LoadBalancerPolicy = field(default_factory=LoadBalancerPolicy)
    health_check_policy: HealthCheckPolicy | None = None
    upstream_validation: UpstreamValidation | None = None
    request_headers_policy: HeadersPolicy | None = None
    response_headers_policy: HeadersPolicy | None = None
    sni: str = ""
    slow_start: SlowStartConfig | None = None
    idle_connection_timeout_seconds: float | None = None
    client_certificate: Secret | None = None  # Envoy's client certificate for upstream TLS
    dns_lookup_family: str = ""
    timeout_policy_connect_seconds: float | None = None
    cookie_rewrite_policies: tuple[CookieRewritePolicy, ...] = ()  # the service's Set-Cookie rewrites


@dataclass(frozen=True, slots=True)
class CircuitBreakers:
    """Envoy circuit-breaker thresholds; 0 leaves Envoy's default."""

    max_connections: int = 0
    max_pending_requests: int = 0
    max_requests: int = 0
    max_retries: int = 0
    per_host_max_connections: int = 0


@dataclass(frozen=True, slots=True)
class ExtensionCluster:
    """An ExtensionService as an upstream (`extension/NAMESPACE/NAME`) for ext_authz, rate limiting,
    tracing. `protocol` is "h2", "h2c" or "http/1.1"; `services` are (Service, weight) pairs."""

    name: str
    ref: ObjectRef
    services: tuple[tuple[Service, int], ...] = ()
    protocol: str = "h2"
    upstream_validation: UpstreamValidation | None = None
    sni: str = ""
    load_balancer_strategy: str = ""  # "" is round robin
    response_timeout_seconds: float | None = None  # None: Envoy's default, 0: infinity
    idle_connection_timeout_seconds: float | None = None
    circuit_breakers: CircuitBreakers | None = None
    client_certificate: Secret | None = None


@dataclass(frozen=True, slots=True)
class AuthorizationRequestBody:
    """withRequestBody: buffer up to `max_request_bytes` of the body and send it to the server."""

    max_request_bytes: int = 1024
    allow_partial_message: bool = False
    pack_as_bytes: bool = False


@dataclass(frozen=True, slots=True)
class ExternalAuthorization:
    """The ext_authz server of a virtual host (its own, or the global one): gRPC or HTTP."""

    cluster: ExtensionCluster
    service_type: str = "grpc"  # "grpc" or "http"
    fail_open: bool = False
    response_timeout_seconds: float | None = None  # None: Envoy's default, 0: infinity
    request_body: AuthorizationRequestBody | None = None
    http_path_prefix: str = ""
    allowed_authorization_headers: tuple[str, ...] = ()
    allowed_upstream_headers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RouteAuthorization:
    """A route's ext_authz settings: disabled, or the context extensions sent with each check."""

    disabled: bool = False
    context: tuple[tuple[str, str], ...] = ()  # sorted by key


@dataclass(frozen=True, slots=True)
class GlobalExternalAuthorization:
    """ContourConfiguration `globalExtAuth` (config file `global-ext-auth`), as the builder takes it:
    an AuthorizationServer applied to every host that has none of its own. `response_timeout` is the
    user's duration string (validated per proxy, as Contour does)."""

    extension_ref: ObjectRef
    api_version: str = "projectcontour.io/v1alpha1"
    service_type: str = "grpc"
    fail_open: bool = False
    response_timeout: str = ""
    auth_policy_disabled: bool = False
    auth_policy_context: tuple[tuple[str, str], ...] = ()
    request_body: AuthorizationRequestBody | None = None
    http_path_prefix: str = ""
    allowed_authorization_headers: tuple[str, ...] = ()
    allowed_upstream_headers: tuple[str, ...] = ()


# --- Routes ----------------------------------------------------------------------------------------


class PathMatchKind(StrEnum):
    PREFIX = "prefix"  # string prefix
    SEGMENT_PREFIX = "segment_prefix"  # path-segment prefix (Ingress Prefix, Gateway PathPrefix)
    EXACT = "exact"
    REGEX = "regex"


@dataclass(frozen=True, slots=True)
class PathMatch:
    kind: PathMatchKind
    value: str


@dataclass(frozen=True, slots=True)
class HeaderMatch:
    """One header condition. `kind`: exact, contains, present, regex; `invert` for notX forms."""

    name: str
    kind: str
    value: str = ""
    invert: bool = False
    ignore_case: bool = False
    treat_missing_as_empty: bool = False


@dataclass(frozen=True, slots=True)
class QueryParamMatch:
    """`kind`: exact, prefix, suffix, regex, contains, present."""

    name: str
    kind: str
    value: str = ""
    ignore_case: bool = False


@dataclass(frozen=True, slots=True)
class TimeoutPolicy:
    """Seconds; None means "not set" (Envoy's default), 0 means disabled/infinity where allowed."""

    response_seconds: float | None = None
    idle_stream_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retry_on: tuple[str, ...] = ("5xx",)
    num_retries: int = 1
    per_try_timeout_seconds: float | None = None
    retriable_status_codes: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class MirrorPolicy:
    cluster: Cluster
    weight: int = 100  # percent of requests mirrored
    denominator: int = 100  # weight/denominator of requests are mirrored (Gateway API fractions)


@dataclass(frozen=True, slots=True)
class Redirect:
    scheme: str = ""
    hostname: str = ""
    port: int = 0
    status_code: int = 302
    path: str = ""
    prefix: str = ""
    regex_rewrite: tuple[str, str] | None = None  # (RE2 pattern, substitution) applied to the path


@dataclass(frozen=True, slots=True)
class DirectResponse:
    status_code: int
    body: str = ""


@dataclass(frozen=True, slots=True)
class InternalRedirectPolicy:
    """Upstream redirects Envoy follows itself. `max_internal_redirects` 0: Envoy's default (1);
    no response codes: 302 only; `allow_cross_scheme_redirect` Always, Never or SafeOnly."""

    max_internal_redirects: int = 0
    redirect_response_codes: tuple[int, ...] = ()
    allow_cross_scheme_redirect: str = "Never"
    deny_repeated_route_redirect: bool = False


@dataclass(frozen=True, slots=True)
class PrefixRewrite:
    prefix: str  # the matched prefix, as rendered after include merging
    replacement: str


@dataclass(frozen=True, slots=True)
class CORSPolicy:
    allow_origin: tuple[str, ...] = ()
    allow_credentials: bool = False
    allow_private_network: bool = False
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: str = ""


@dataclass(frozen=True, slots=True)
class IPFilterRule:
    """One CIDR of an IP allow/deny policy; `remote` matches the client address after X-Forwarded-For
    and PROXY protocol, otherwise the connecting peer's address. `cidr` is masked ("10.0.0.0/8")."""

    cidr: str
    remote: bool = False


@dataclass(frozen=True, slots=True)
class DNSNameCluster:
    """An upstream reached by host name (STRICT_DNS), such as a remote JWKS server."""

    address: str
    scheme: str  # "http" or "https"
    port: int
    dns_lookup_family: str = ""
    upstream_validation: UpstreamValidation | None = None


@dataclass(frozen=True, slots=True)
class JWTProvider:
    """A JWT issuer of a secure virtual host; keys come from `remote_jwks_uri` (fetched through
    `remote_jwks_cluster`) or from the JWKS document `local_jwks`."""

    name: str
    issuer: str = ""
    audiences: tuple[str, ...] = ()
    forward_jwt: bool = False
    remote_jwks_uri: str = ""
    remote_jwks_timeout_seconds: float = 1.0
    remote_jwks_cache_duration_seconds: float | None = None
    remote_jwks_cluster: DNSNameCluster | None = None
    local_jwks: str = ""


@dataclass(frozen=True, slots=True)
class LocalRateLimitPolicy:
    """A token bucket enforced by each Envoy on its own; `response_status_code` 0 is Envoy's 429."""

    max_tokens: int
    tokens_per_fill: int
    fill_interval_seconds: int
    response_status_code: int = 0
    response_headers_to_add: tuple[HeaderValue, ...] = ()  # sorted by name
    host: str = ""  # the virtual host (fqdn) whose statistics count it


@dataclass(frozen=True, slots=True)
class RateLimitDescriptorEntry:
    """One entry of a global rate limit descriptor. `kind`: generic_key {key, value}, request_header
    {header_name -> key}, header_value_match {headers, expect_match -> value}, remote_address."""

    kind: str
    key: str = ""
    value: str = ""
    header_name: str = ""
    headers: tuple[HeaderMatch, ...] = ()
    expect_match: bool = True


@dataclass(frozen=True, slots=True)
class GlobalRateLimitPolicy:
    """Descriptors sent to the rate limit service, each a tuple of entries."""

    descriptors: tuple[tuple[RateLimitDescriptorEntry, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class RateLimitPolicy:
    local: LocalRateLimitPolicy | None = None
    global_policy: GlobalRateLimitPolicy | None = None


@dataclass(frozen=True, slots=True)
class RateLimitService:
    """The global rate limit service every HTTP filter chain calls (ContourConfiguration
    rateLimitService), with the ExtensionService's SNI and response timeout when it is valid."""

    cluster_name: str
    domain: str = ""
    fail_open: bool = False
    enable_x_rate_limit_headers: bool = False
    enable_resource_exhausted_code: bool = False
    sni: str = ""
    timeout_seconds: float | None = None  # None: Envoy's default, 0: infinity


@dataclass(slots=True)
class Route:
    """One Envoy route: its match, and exactly one action (clusters, redirect or direct response)."""

    path_match: PathMatch
    header_matches: tuple[HeaderMatch, ...] = ()
    query_param_matches: tuple[QueryParamMatch, ...] = ()
    clusters: list[Cluster] = field(default_factory=list)
    https_upgrade: bool = False  # the plain-HTTP copy of a TLS vhost's route: 301 to https
    redirect: Redirect | None = None
    direct_response: DirectResponse | None = None
    websocket: bool = False
    timeout_policy: TimeoutPolicy = field(default_factory=TimeoutPolicy)
    retry_policy: RetryPolicy | None = None
    mirror_policies: list[MirrorPolicy] = field(default_factory=list)
    request_headers_policy: HeadersPolicy | None = None
    response_headers_policy: HeadersPolicy | None = None
    prefix_rewrite: str | None = None
    priority: int = 0  # Gateway API rule order; lower sorts first at equal specificity
    kind: str = ""  # the object that produced it ("HTTPProxy", "Ingress"), for debugging
    owner: ObjectRef | None = None
    cookie_rewrite_policies: tuple[CookieRewritePolicy, ...] = ()  # the route's Set-Cookie rewrites
    internal_redirect_policy: InternalRedirectPolicy | None = None
    jwt_provider: str = ""  # the secure host's JWT provider this route requires ("" none)
    ip_filter_allow: bool = False  # ip_filter_rules are an allow list (else a deny list)
    ip_filter_rules: tuple[IPFilterRule, ...] = ()  # the route's own policy, overriding the host's
    authorization: RouteAuthorization | None = None  # ext_authz per route; None: no server applies
    rate_limit_policy: RateLimitPolicy | None = None  # the route's own, overriding the host's
    ignore_vhost_rate_limits: bool = False  # rateLimitPolicy.global.disabled on the route
    # Gateway API: the weight of invalid backendRefs, answered with 500 in proportion to `clusters`
    invalid_backend_weight: int = 0
    regex_rewrite: tuple[str, str] | None = None  # (RE2 pattern, substitution) applied to the path
    cors_policy: CORSPolicy | None = None  # the route's own CORS policy (Gateway API CORS filter)


# --- Virtual hosts and listeners ------------------------------------------------------------------


@dataclass(slots=True)
class VirtualHost:
    """Routes served for one host name (`*` for the Ingress catch-all, `*.example.com` wildcards)."""

    name: str
    routes: dict[str, Route] = field(default_factory=dict)  # keyed by a stable route identity
    cors_policy: CORSPolicy | None = None
    ip_filter_allow: bool = False  # ip_filter_rules are an allow list (else a deny list)
    ip_filter_rules: tuple[IPFilterRule, ...] = ()
    rate_limit_policy: RateLimitPolicy | None = None

    def add_route(self, route: Route) -> None:
        self.routes[route_key(route)] = route


@dataclass(frozen=True, slots=True)
class DownstreamValidation:
    ca: Secret | None = None
    crl: Secret | None = None
    skip_client_cert_validation: bool = False
    only_verify_leaf_cert_crl: bool = False
    optional_client_certificate: bool = False
    forward_client_certificate: tuple[str, ...] = ()  # subject, cert, chain, dns, uri


@dataclass(slots=True)
class SecureVirtualHost:
    """A TLS-terminating (or passthrough) host: one filter chain matched by SNI on the HTTPS listener."""

    virtual_host: VirtualHost
    secret: Secret | None = None
    min_tls_version: str = "1.2"
    max_tls_version: str = "1.3"
    downstream_validation: DownstreamValidation | None = None
    fallback_certificate: Secret | None = None
    tcp_proxy: list[Cluster] | None = None  # passthrough or TLS-terminated TCP proxying
    jwt_providers: tuple[JWTProvider, ...] = ()
    external_authorization: ExternalAuthorization | None = None
    rate_limit_service: RateLimitService | None = None  # set on every host after the processors

    @property
    def name(self) -> str:
        return self.virtual_host.name


@dataclass(slots=True)
class Listener:
    """`ingress_http` (port 8080 in the pod) or `ingress_https` (8443), with its hosts."""

    name: str
    protocol: str  # "http" or "https"
    address: str
    port: int
    virtual_hosts: dict[str, VirtualHost] = field(default_factory=dict)
    secure_virtual_hosts: dict[str, SecureVirtualHost] = field(default_factory=dict)
    # the global ext_authz server on the plain listener (ContourConfiguration globalExtAuth)
    external_authorization: ExternalAuthorization | None = None
    rate_limit_service: RateLimitService | None = None  # ContourConfiguration rateLimitService


@dataclass(slots=True)
class DAG:
    """The result of one build: listeners by name, plus the Services and Secrets they reference."""

    listeners: dict[str, Listener] = field(default_factory=dict)
    # Services whose endpoints Envoy needs (EDS), by eds_name; filled as routes reference them.
    services: dict[str, Service] = field(default_factory=dict)
    # Every Secret a host or cluster uses, by ObjectRef.
    secrets: dict[ObjectRef, Secret] = field(default_factory=dict)
    # Valid ExtensionServices by cluster name (extension/NAMESPACE/NAME).
    extension_clusters: dict[str, ExtensionCluster] = field(default_factory=dict)
    # Each accepted Gateway's own listeners (served to its own Envoy), by Gateway.
    gateways: dict[ObjectRef, GatewayDAG] = field(default_factory=dict)


# --- Helpers used by several processors ------------------------------------------------------------


def route_key(route: Route) -> str:
    """A stable identity for a route's match, so a later route with the same match replaces it."""
    headers = ",".join(
        f"{h.name}:{h.kind}:{h.value}:{h.invert}:{h.ignore_case}:{h.treat_missing_as_empty}"
        for h in sorted(route.header_matches, key=lambda h: (h.name, h.kind, h.value))
    )
    queries = ",".join(
        f"{q.name}:{q.kind}:{q.value}:{q.ignore_case}"
        for q in sorted(route.query_param_matches, key=lambda q: (q.name, q.kind, q.value))
    )
    return f"{route.path_match.kind.value}:{route.path_match.value}|{headers}|{queries}"
