"""ExtensionServiceProcessor: ExtensionServices as upstream clusters, with their status.

An ExtensionService (projectcontour.io/v1alpha1) names Services in its own namespace that serve an
Envoy extension (ext_authz, rate limiting, tracing). It becomes one Envoy cluster named
`extension/NAMESPACE/NAME`, checked the way Contour's internal/dag/extension_processor.go checks it,
with its condition types, reasons and messages. Only an ExtensionService without errors is added to
`DAG.extension_clusters`; HTTPProxies that reference another one get ExtensionServiceNotFound.

`extension_cluster` is also what the HTTPProxy processor calls for a proxy's authorization server: it
reads through the cache accessors, so an incremental build sees the ExtensionService, its Services and
its CA Secret as dependencies of the proxy.
"""

from __future__ import annotations

from dataclasses import dataclass

from contour.api.projectcontour import v1alpha1 as api
from contour.dag.builder import BuildContext
from contour.dag.goformat import go_quote
from contour.dag.model import (
    CircuitBreakers,
    ExtensionCluster,
    ObjectRef,
    Secret,
    Service,
    UpstreamValidation,
)
from contour.dag.secrets import (
    DelegationNotPermittedError,
    SecretError,
    delegation_permitted,
    lookup_ca_secret,
    lookup_tls_secret_insecure,
    split_ref,
)
from contour.dag.services import ServiceLookupError, ensure_service
from contour.dag.status import GROUP_CONTOUR, VALID, DetailedCondition, StatusUpdate
from contour.dag.timeouts import DurationError, parse_timeout
from contour.dag.vhosts import HTTP_LISTENER_NAME

KIND = "ExtensionService"
VERSION = "v1alpha1"
PLURAL = "extensionservices"
DEFAULT_PROTOCOL = "h2"
_LB_STRATEGIES = ("RoundRobin", "WeightedLeastRequest", "Random")
_IGNORED_LB_STRATEGIES = ("Cookie", "RequestHash")


def extension_cluster_name(ref: ObjectRef) -> str:
    """Contour's ExtensionClusterName: one cluster per ExtensionService, whatever its contents."""
    return f"extension/{ref.namespace}/{ref.name}"


@dataclass
class ExtensionResult:
    """What checking one ExtensionService gave: its cluster (None when it cannot be built at all) and
    its Valid condition; the cluster is usable only when the condition has no errors."""

    cluster: ExtensionCluster | None
    condition: DetailedCondition

    @property
    def usable(self) -> ExtensionCluster | None:
        return self.cluster if not self.condition.errors else None


def _new_condition() -> DetailedCondition:
    return DetailedCondition(VALID, "Valid", "Valid ExtensionService")


def _timeouts(policy: api.TimeoutPolicy | None, cond: DetailedCondition) -> tuple[float | None, float | None]:
    """(response, idle connection) seconds; an unparsable value adds TimeoutPolicyNotValid."""
    if policy is None:
        return None, None
    parsed: list[float | None] = []
    for label, value in (
        ("response", policy.response),
        ("idle", policy.idle),
        ("idle connection", policy.idle_connection),
    ):
        try:
            parsed.append(parse_timeout(value))
        except DurationError as exc:
            cond.add_error(
                "SpecError",
                "TimeoutPolicyNotValid",
                f"spec.timeoutPolicy failed to parse: error parsing {label} timeout: {exc}",
            )
            return None, None
    return parsed[0], parsed[2]


def _load_balancer_strategy(policy: api.LoadBalancerPolicy | None, cond: DetailedCondition) -> str:
    strategy = (policy.strategy or "") if policy is not None else ""
    if strategy in _IGNORED_LB_STRATEGIES:
        cond.add_warning(
            "SpecError",
            "IgnoredField",
            f'ignoring field ".Spec.LoadBalancerPolicy"; {strategy} load balancer policy is not '
            "supported for ExtensionClusters",
        )
        return ""
    return strategy if strategy in _LB_STRATEGIES else ""


def _circuit_breakers(policy: api.CircuitBreakerPolicy | None) -> CircuitBreakers | None:
    if policy is None:
        return None
    return CircuitBreakers(
        max_connections=policy.max_connections or 0,
        max_pending_requests=policy.max_pending_requests or 0,
        max_requests=policy.max_requests or 0,
        max_retries=policy.max_retries or 0,
        per_host_max_connections=policy.per_host_max_connections or 0,
    )


def _client_certificate(ctx: BuildContext, cond: DetailedCondition) -> Secret | None:
    ref = ctx.config.client_certificate
    if ref is None:
        return None
    try:
        return lookup_tls_secret_insecure(ctx.cache, ref)
    except SecretError as exc:
        cond.add_error(
            "TLSError",
            "SecretNotValid",
            f"tls.envoy-client-certificate Secret {go_quote(ref)} is invalid: {exc}",
        )
        return None


def _upstream_validation(
    ctx: BuildContext, validation: api.Validation, ns: str, cond: DetailedCondition
) -> tuple[bool, UpstreamValidation | None]:
    """(go on, validation): not going on means the ExtensionService gets no cluster at all."""
    ca_ref = split_ref(validation.ca_secret, ns)
    if not delegation_permitted(ctx.cache, ca_ref, ns):
        cond.add_error(
            "TLSError",
            "CACertificateNotDelegated",
            f"service.UpstreamValidation.CACertificate Secret {go_quote(ca_ref)} "
            "is not configured for certificate delegation",
        )
        return False, None
    error = ""
    ca: Secret | None = None
    try:
        ca = lookup_ca_secret(ctx.cache, ca_ref, ns)
    except (DelegationNotPermittedError, SecretError) as exc:
        error = f"invalid CA Secret {go_quote(ca_ref)}: {exc}"
    if not error and not validation.subject_name:
        error = "missing subject alternative name"
    if not error and validation.subject_names and validation.subject_names[0] != validation.subject_name:
        error = (
            f"first entry of SubjectNames ({validation.subject_names[0]}) "
            f"does not match SubjectName ({validation.subject_name})"
        )
    if error or ca is None:
        cond.add_error("SpecError", "TLSUpstreamValidation", f"TLS upstream validation policy error: {error}")
        return True, None
    names = tuple(validation.subject_names) if validation.subject_names else (validation.subject_name,)
    return True, UpstreamValidation(ca_secret=ca, subject_names=names)


def _services(
    ctx: BuildContext, ext: api.ExtensionService, ns: str, cond: DetailedCondition
) -> tuple[tuple[Service, int], ...]:
    assert ext.spec is not None
    found: list[tuple[Service, int]] = []
    for target in ext.spec.services:
        # Only Services in the ExtensionService's own namespace: a cross-namespace reference could
        # reach into the Contour installation.
        ref = ObjectRef(ns, target.name)
        try:
            service = ensure_service(
                ctx.cache, ref, target.port, None, enable_external_name=True, memo=ctx.service_memo
            )
        except ServiceLookupError as exc:
            cond.add_error(
                "ServiceError", "ServiceUnresolvedReference", f"unresolved service {go_quote(ref)}: {exc}"
            )
            continue
        if service.external_name:
            cond.add_error(
                "ServiceError",
                "UnsupportedServiceType",
                f'Service {go_quote(ref)} is of unsupported type "ExternalName".',
            )
            continue
        found.append((service, target.weight or 0))
    return tuple(found)


def extension_result(ctx: BuildContext, ref: ObjectRef, ext: api.ExtensionService) -> ExtensionResult:
    """Check one ExtensionService and build its cluster (Contour's buildExtensionService)."""
    cond = _new_condition()
    spec = ext.spec
    if spec is None:
        cond.add_error("SpecError", "SpecInvalid", "ExtensionService has no spec")
        return ExtensionResult(None, cond)
    response, idle_connection = _timeouts(spec.timeout_policy, cond)
    client_certificate = _client_certificate(ctx, cond)
    strategy = _load_balancer_strategy(spec.load_balancer_policy, cond)
    if spec.timeout_policy is not None and spec.timeout_policy.idle:
        # The ext_authz filter has a request timeout only: an idle timeout has nowhere to go.
        cond.add_warning(
            "SpecError",
            "IgnoredField",
            'ignoring field ".Spec.TimeoutPolicy.Idle"; '
            "idle timeouts are not supported for ExtensionClusters",
        )
    protocol = spec.protocol or DEFAULT_PROTOCOL
    validation: UpstreamValidation | None = None
    if spec.validation is not None:
        go_on, validation = _upstream_validation(ctx, spec.validation, ref.namespace, cond)
        if not go_on:
            return ExtensionResult(None, cond)
        if protocol != "h2":
            cond.add_error(
                "SpecError",
                "InconsistentProtocol",
                f"upstream TLS validation not supported for {go_quote(protocol)} protocol",
            )
    services = _services(ctx, ext, ref.namespace, cond)
    cluster = ExtensionCluster(
        name=extension_cluster_name(ref),
        ref=ref,
        services=services,
        protocol=protocol,
        upstream_validation=validation,
        # SNI defaults to the name being validated (Contour does not expose SNI in this API).
        sni=validation.subject_names[0] if validation is not None else "",
        load_balancer_strategy=strategy,
        response_timeout_seconds=response,
        idle_connection_timeout_seconds=idle_connection,
        circuit_breakers=_circuit_breakers(spec.circuit_breaker_policy),
        client_certificate=client_certificate,
    )
    return ExtensionResult(cluster, cond)


def extension_cluster(ctx: BuildContext, ref: ObjectRef) -> ExtensionCluster | None:
    """The cluster of a valid ExtensionService, None when it is missing or has errors (read through
    the cache accessor, so callers inside a root's computation record the dependency)."""
    ext = ctx.cache.extensionservice(ref)
    if ext is None:
        return None
    return extension_result(ctx, ref, ext).usable


def _generation(ext: api.ExtensionService) -> int:
    return (ext.metadata.generation if ext.metadata is not None else None) or 0


def _status_update(ref: ObjectRef, generation: int, cond: DetailedCondition) -> StatusUpdate:
    return StatusUpdate(
        GROUP_CONTOUR, VERSION, PLURAL, ref, generation, {"conditions": [cond.to_json(generation)]}
    )


class ExtensionServiceProcessor:
    """Adds every valid ExtensionService's cluster to the DAG and a status to every ExtensionService."""

    def run(self, ctx: BuildContext) -> None:
        cache = ctx.cache
        for (kind, ref), unparsed in sorted(cache.unparsed.items(), key=lambda kv: (kv[0][0], kv[0][1])):
            if kind != KIND:
                continue
            cond = _new_condition()
            cond.add_error(
                "SpecError", "SpecInvalid", f"ExtensionService could not be parsed: {unparsed.reason}"
            )
            ctx.status.set_update(_status_update(ref, unparsed.generation, cond))
        for ref in sorted(cache.extensionservices):
            ext = cache.extensionservices[ref]
            result = extension_result(ctx, ref, ext)
            if result.usable is not None:
                ctx.dag.extension_clusters[result.usable.name] = result.usable
            ctx.status.set_update(_status_update(ref, _generation(ext), result.condition))
        # The global authorization server guards the plain listener too (it imports this module).
        from contour.dag.httpproxy_auth import global_listener_authorization  # noqa: PLC0415

        listener = ctx.dag.listeners.get(HTTP_LISTENER_NAME)
        if listener is not None:
            listener.external_authorization = global_listener_authorization(ctx)
