"""Upstreams of HTTPProxy routes and TCP proxies: Services, upstream TLS validation, Envoy's client
certificate, and `spec.tcpproxy` with its includes.

A mixin of the HTTPProxy processor's run (`httpproxy_processor._Run`), split out so each module
stays one concept: it reads the same run state (the build context, the cache through its recorded
accessors, the configuration, and the set of proxies a root reaches) and reports errors the same way,
as sub-conditions of the proxy's `Valid` condition.
"""

from __future__ import annotations

from contour.api.projectcontour import v1 as api
from contour.dag.builder import BuildContext, BuilderConfig
from contour.dag.cache import KubernetesCache
from contour.dag.goformat import go_quote
from contour.dag.model import (
    Cluster,
    HealthCheckPolicy,
    LoadBalancerPolicy,
    ObjectRef,
    Protocol,
    Secret,
    SecureVirtualHost,
    Service,
    UpstreamValidation,
)
from contour.dag.policy import LB_COOKIE, LB_REQUEST_HASH, LB_ROUND_ROBIN, load_balancer_strategy
from contour.dag.secrets import (
    DelegationNotPermittedError,
    SecretError,
    lookup_ca_secret,
    lookup_tls_secret_insecure,
    split_ref,
)
from contour.dag.services import ServiceLookupError, ensure_service
from contour.dag.status import DetailedCondition
from contour.dag.vhosts import ensure_secure_virtual_host


def proxy_ref(proxy: api.HTTPProxy) -> ObjectRef:
    return ObjectRef(proxy.metadata.namespace or "", proxy.metadata.name or "")


def proxy_generation(proxy: api.HTTPProxy) -> int:
    return proxy.metadata.generation or 0


def tcp_health_check(hc: api.HTTPProxyHealthCheckPolicy | None) -> HealthCheckPolicy | None:
    if hc is None:
        return None
    return HealthCheckPolicy(
        path="",
        interval_seconds=hc.interval_seconds or 10,
        timeout_seconds=hc.timeout_seconds or 2,
        unhealthy_threshold=hc.unhealthy_threshold_count or 3,
        healthy_threshold=hc.healthy_threshold_count or 2,
    )


class UpstreamResolution:
    """The processor run's upstream and TCP proxy steps (see the module docstring)."""

    ctx: BuildContext
    cache: KubernetesCache
    config: BuilderConfig
    reached: set[ObjectRef]

    def _ensure_secure_vhost(self, host: str) -> SecureVirtualHost:
        return ensure_secure_virtual_host(self.ctx.dag, host)

    def _service_upstream(
        self,
        cond: DetailedCondition,
        ns: str,
        svc: api.Service,
        health: HealthCheckPolicy | None,
        *,
        error_type: str,
        field: str,
    ) -> tuple[Service, Protocol, UpstreamValidation | None] | None:
        """The Service behind a route or TCP proxy service, the protocol Envoy speaks to it (the
        service's `protocol` over the Service's own) and its upstream validation; None after adding
        the error."""
        health_port = svc.health_port if health is not None and svc.health_port else svc.port
        try:
            upstream = ensure_service(
                self.cache,
                ObjectRef(ns, svc.name),
                svc.port,
                health_port,
                enable_external_name=self.config.enable_external_name_service,
                memo=self.ctx.service_memo,
            )
        except ServiceLookupError as exc:
            cond.add_error(
                error_type, "ServiceUnresolvedReference", f"{field} unresolved service reference: {exc}"
            )
            return None
        protocol = Protocol(svc.protocol) if svc.protocol else upstream.protocol
        validation = None
        if protocol in (Protocol.TLS, Protocol.H2) and svc.validation is not None:
            validation = self._upstream_validation(cond, svc, ns)
            if validation is None:
                return None
        return upstream, protocol, validation

    def _upstream_validation(
        self, cond: DetailedCondition, svc: api.Service, ns: str
    ) -> UpstreamValidation | None:
        v = svc.validation
        assert v is not None
        ca_ref = split_ref(v.ca_secret, ns)
        try:
            ca = lookup_ca_secret(self.cache, ca_ref, ns)
        except DelegationNotPermittedError:
            cond.add_error(
                "TLSError",
                "CACertificateNotDelegated",
                f"service.UpstreamValidation.CACertificate Secret {go_quote(ca_ref)} "
                "is not configured for certificate delegation",
            )
            return None
        except SecretError as exc:
            err = f"invalid CA Secret {go_quote(ca_ref)}: {exc}"
            cond.add_error(
                "ServiceError",
                "TLSUpstreamValidation",
                f"Service [{svc.name}:{svc.port}] TLS upstream validation policy error: {err}",
            )
            return None
        error = None
        if not v.subject_name:
            error = "missing subject alternative name"
        elif v.subject_names and v.subject_names[0] != v.subject_name:
            error = (
                f"first entry of SubjectNames ({v.subject_names[0]}) "
                f"does not match SubjectName ({v.subject_name})"
            )
        if error is not None:
            cond.add_error(
                "ServiceError",
                "TLSUpstreamValidation",
                f"Service [{svc.name}:{svc.port}] TLS upstream validation policy error: {error}",
            )
            return None
        names = tuple(v.subject_names) if v.subject_names else (v.subject_name,)
        return UpstreamValidation(ca_secret=ca, subject_names=names)

    def _client_certificate(self, cond: DetailedCondition) -> tuple[bool, Secret | None]:
        """(ok, Envoy's configured client certificate); not ok after adding the error."""
        ref = self.config.client_certificate
        if ref is None:
            return True, None
        try:
            return True, lookup_tls_secret_insecure(self.cache, ref)
        except SecretError as exc:
            cond.add_error(
                "TLSError",
                "SecretNotValid",
                f"tls.envoy-client-certificate Secret {go_quote(ref)} is invalid: {exc}",
            )
            return False, None

    # --- tcpproxy ---------------------------------------------------------------------------------

    def _tcpproxy(
        self, cond: DetailedCondition, proxy: api.HTTPProxy, visited: list[api.HTTPProxy], host: str
    ) -> bool:
        tcp = proxy.spec.tcpproxy
        if tcp is None:
            return True
        visited = [*visited, proxy]
        include = tcp.include or tcp.includes
        if tcp.services and include is not None:
            cond.add_error(
                "TCPProxyError",
                "NoServicesAndInclude",
                "cannot specify services and include in the same httpproxy",
            )
            return False
        strategy = load_balancer_strategy(tcp.load_balancer_policy)
        if strategy in (LB_COOKIE, LB_REQUEST_HASH):
            cond.add_warning(
                "TCPProxyError",
                "IgnoredField",
                f'ignoring field "Spec.TCPProxy.LoadBalancerPolicy"; {strategy} load balancer policy is not '
                "supported for TCPProxies",
            )
            strategy = ""
        ns = proxy_ref(proxy).namespace
        if tcp.services:
            health = tcp_health_check(tcp.health_check_policy)
            clusters: list[Cluster] = []
            for svc in tcp.services:
                resolved = self._service_upstream(
                    cond, ns, svc, health, error_type="TCPProxyError", field="Spec.TCPProxy"
                )
                if resolved is None:
                    return False
                upstream, protocol, validation = resolved
                cert_ok, client_cert = self._client_certificate(cond)
                if not cert_ok:
                    return False
                clusters.append(
                    Cluster(
                        upstream=upstream,
                        weight=svc.weight or 0,
                        protocol=protocol,
                        load_balancer_policy=LoadBalancerPolicy(strategy=strategy or LB_ROUND_ROBIN),
                        health_check_policy=health,
                        sni=upstream.external_name,
                        upstream_validation=validation,
                        client_certificate=client_cert,
                    )
                )
            self._ensure_secure_vhost(host).tcp_proxy = clusters
            return True
        if include is None:
            cond.add_error(
                "TCPProxyError", "NothingDefined", "either services or inclusion must be specified"
            )
            return False
        dest_ref = ObjectRef(include.namespace or ns, include.name)
        dest = self.cache.httpproxy(dest_ref)
        if dest is None:
            cond.add_error("TCPProxyIncludeError", "IncludeNotFound", f"include {dest_ref} not found")
            return False
        if dest.spec.virtualhost is not None:
            cond.add_error(
                "TCPProxyIncludeError",
                "RootIncludesRoot",
                f"root httpproxy cannot include another root httpproxy ({dest_ref})",
            )
            return False
        self.reached.add(dest_ref)
        if any(proxy_ref(v) == dest_ref for v in visited):
            path = " -> ".join([str(proxy_ref(v)) for v in visited] + [str(dest_ref)])
            cond.add_error("TCPProxyIncludeError", "IncludeCreatesCycle", f"include creates a cycle: {path}")
            return False
        inc_cond = self.ctx.status.proxy(dest_ref, proxy_generation(dest)).valid
        return self._tcpproxy(inc_cond, dest, visited, host)
