"""HTTPProxyProcessor: HTTPProxies into virtual hosts, routes and clusters, with Contour's status.

Follows Contour 1.33's internal/dag/httpproxy_processor.go step by step, including the order of its
checks (the first failing check decides the reported reason) and its messages. Roots (proxies with
`spec.virtualhost`) own a host name; a name claimed by two roots, compared case-insensitively, makes
both invalid. Includes are followed depth first across namespaces, their conditions prepended to the
included routes; a proxy no root reaches is orphaned. Errors never raise: they become sub-conditions
of the proxy's `Valid` condition, and the rest of the configuration keeps working. A route whose
Service is missing is still programmed and answers 503.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from contour.api.projectcontour import v1 as api
from contour.dag.builder import BuildContext
from contour.dag.conditions import (
    header_conditions_error,
    include_conditions_error,
    include_conditions_key,
    merge_headers,
    merge_path,
    merge_query_params,
    path_conditions_error,
    query_conditions_error,
    wildcard_authority_match,
)
from contour.dag.global_headers import with_global_headers
from contour.dag.goformat import go_quote
from contour.dag.httpproxy_auth import check_global_authorization, route_authorization
from contour.dag.httpproxy_ipfilter import copy_vhost_ip_filters, set_route_ip_filters, set_vhost_ip_filters
from contour.dag.httpproxy_jwt import route_providers_defined, set_route_jwt_provider
from contour.dag.httpproxy_memo import RootFragment, empty_like, fragment_of
from contour.dag.httpproxy_tls import compute_tls
from contour.dag.httpproxy_upstreams import UpstreamResolution, proxy_generation, proxy_ref
from contour.dag.model import (
    Cluster,
    DirectResponse,
    HeadersPolicy,
    HealthCheckPolicy,
    LoadBalancerPolicy,
    MirrorPolicy,
    ObjectRef,
    PathMatch,
    PathMatchKind,
    Route,
    Service,
    VirtualHost,
)
from contour.dag.policy import (
    LB_ROUND_ROBIN,
    LB_WEIGHTED_LEAST_REQUEST,
    PolicyError,
    cors_policy,
    direct_response_policy,
    headers_policy_route,
    health_check_policy,
    load_balancer_policy,
    prefix_replacements_error,
    redirect_policy,
    retry_policy,
    slow_start_config,
    timeout_policy,
)
from contour.dag.ratelimit import route_rate_limits, virtual_host_rate_limit_policy
from contour.dag.response_policies import cookie_rewrite_policies, internal_redirect_policy
from contour.dag.status import ORPHANED, ORPHANED_MESSAGE, DetailedCondition, StatusCollector
from contour.dag.vhosts import ensure_virtual_host

KIND = "HTTPProxy"


class HTTPProxyProcessor:
    """Adds every valid HTTPProxy to the DAG and records the status of every HTTPProxy.

    Each root's contribution is kept (`httpproxy_memo`) and reused by the next run while nothing it
    read has changed, so a build after one change recomputes only the roots that change touches.
    """

    def __init__(self) -> None:
        self._fragments: dict[ObjectRef, RootFragment] = {}
        # The cache's change sequence number at the last run, and which roots read each cache entry:
        # a root none of whose reads changed since is reused without checking them one by one.
        self._seq = -1
        self._readers: dict[tuple[int, object], set[ObjectRef]] = {}

    def run(self, ctx: BuildContext) -> None:
        seq, changed = ctx.cache.changes_since(self._seq)
        dirty: set[ObjectRef] | None = None
        if changed is not None:
            dirty = set()
            for key in changed:
                dirty |= self._readers.get(key, set())
        run = _Run(ctx, self._fragments, dirty)
        run.run()
        self._fragments = run.fragments
        self._seq = seq
        if len(self._readers) > 8 * len(self._fragments) + 1024:
            self._readers = {}  # forget readers of dropped fragments: index every fragment again
            run.computed = list(self._fragments.items())
        for ref, fragment in run.computed:
            for table, key, _ in fragment.reads:
                self._readers.setdefault((id(table), key), set()).add(ref)


class _Run(UpstreamResolution):
    """One processor run: the state Contour keeps on the processor for the duration of Run()."""

    def __init__(
        self,
        ctx: BuildContext,
        previous: dict[ObjectRef, RootFragment] | None = None,
        dirty: set[ObjectRef] | None = None,
    ) -> None:
        self.ctx = ctx
        self.cache = ctx.cache
        self.config = ctx.config
        self.orphaned: set[ObjectRef] = set()  # every non-root proxy
        self.reached: set[ObjectRef] = set()  # the non-root proxies some root includes
        self.previous = previous  # None: compute everything in place, keep nothing
        self.fragments: dict[ObjectRef, RootFragment] = {}
        self.dirty = dirty  # roots whose reads may have changed; None: any root's may have
        self.computed: list[tuple[ObjectRef, RootFragment]] = []  # fragments made by this run

    # --- top level -----------------------------------------------------------------------------------

    def run(self) -> None:
        for (kind, ref), unparsed in sorted(self.cache.unparsed.items(), key=lambda kv: (kv[0][0], kv[0][1])):
            if kind == KIND:
                self.ctx.status.proxy(ref, unparsed.generation).valid.add_error(
                    "SpecError", "SpecInvalid", f"HTTPProxy could not be parsed: {unparsed.reason}"
                )
            elif kind == "TLSCertificateDelegation":
                self.ctx.status.delegation(ref, unparsed.generation).valid.add_error(
                    "SpecError",
                    "SpecInvalid",
                    f"TLSCertificateDelegation could not be parsed: {unparsed.reason}",
                )
        previous, fragments, config, dirty = self.previous, self.fragments, self.config, self.dirty
        dag, status = self.ctx.dag, self.ctx.status
        # Host names already in the DAG (from Ingresses): a root sharing one is built in place.
        taken = {h for lst in dag.listeners.values() for h in (*lst.virtual_hosts, *lst.secure_virtual_hosts)}
        for ref, proxy in self._valid_proxies():
            vh = proxy.spec.virtualhost
            if vh is None or previous is None or vh.fqdn in taken:
                self._compute(proxy)
                continue
            fragment = previous.get(ref)
            if (
                fragment is None
                or fragment.proxy is not proxy
                or fragment.config is not config
                or ((dirty is None or ref in dirty) and not fragment.still_valid(proxy, config))
            ):
                fragment = self._fragment(proxy)
                self.computed.append((ref, fragment))
            fragments[ref] = fragment
            fragment.merge_into(dag, status)
            if fragment.reached:
                self.reached |= fragment.reached
        for ref in sorted(self.orphaned - self.reached):
            orphan = self.cache.httpproxies.get(ref)
            if orphan is not None:
                self.ctx.status.proxy(ref, proxy_generation(orphan)).valid.add_error(
                    ORPHANED, ORPHANED, ORPHANED_MESSAGE
                )
        for ref in sorted(self.cache.tlscertificatedelegations):
            self.ctx.status.delegation(
                ref, self.cache.tlscertificatedelegations[ref].metadata.generation or 0
            )

    def _valid_proxies(self) -> list[tuple[ObjectRef, api.HTTPProxy]]:
        """Every proxy except roots whose host name another root also claims (all of those are invalid).

        Contour lists non-roots before roots: a non-root is first marked orphaned, and the roots that
        include it then clear the mark. Each group is in namespace/name order.
        """
        split = self.cache.proxy_split()
        table = self.cache.httpproxies
        duplicated: set[ObjectRef] = set()
        for fqdn, claims in split.duplicates.items():
            names = ", ".join(sorted(str(ref) for ref in claims))
            for ref in claims:
                duplicated.add(ref)
                ps = self.ctx.status.proxy(ref, proxy_generation(table[ref]))
                ps.vhost = fqdn
                ps.valid.add_error(
                    "VirtualHostError",
                    "DuplicateVhost",
                    f"fqdn {go_quote(fqdn)} is used in multiple HTTPProxies: {names}",
                )
        roots = [r for r in split.roots if r not in duplicated] if duplicated else split.roots
        return [(ref, table[ref]) for ref in split.non_roots] + [(ref, table[ref]) for ref in roots]

    # --- one root ------------------------------------------------------------------------------------

    def _fragment(self, proxy: api.HTTPProxy) -> RootFragment:
        """Compute one root on its own DAG and status, logging what it reads."""
        own = dataclasses.replace(self.ctx, dag=empty_like(self.ctx.dag), status=StatusCollector())
        run = _Run(own)
        self.cache.start_recording()
        try:
            run._compute(proxy)
        finally:
            reads = self.cache.stop_recording()
        return fragment_of(
            proxy,
            config=self.config,
            reads=reads,
            dag=own.dag,
            status=own.status,
            reached=frozenset(run.reached),
        )

    def _compute(self, proxy: api.HTTPProxy) -> None:
        ref = proxy_ref(proxy)
        ps = self.ctx.status.proxy(ref, proxy_generation(proxy))
        cond = ps.valid
        vh = proxy.spec.virtualhost
        if vh is None:
            self.orphaned.add(ref)
            return
        host = vh.fqdn
        if not host.strip():
            cond.add_error("VirtualHostError", "FQDNNotSpecified", "Spec.VirtualHost.Fqdn must be specified")
            return
        ps.vhost = host
        if self.config.root_namespaces and ref.namespace not in self.config.root_namespaces:
            cond.add_error(
                "RootNamespaceError",
                "RootProxyNotAllowedInNamespace",
                "root HTTPProxy cannot be defined in this namespace",
            )
            return
        spec = proxy.spec
        if not spec.routes and not spec.includes and spec.tcpproxy is None:
            cond.add_error(
                "SpecError",
                "NothingDefined",
                "HTTPProxy.Spec must have at least one Route, Include, or a TCPProxy",
            )
            return
        tls = vh.tls
        if vh.jwt_providers and (tls is None or not tls.secret_name):
            cond.add_error(
                "JWTVerificationError",
                "JWTVerificationNotPermitted",
                "Spec.VirtualHost.JWTProviders can only be defined for root HTTPProxies that terminate TLS",
            )
            return
        auth_ref = vh.authorization.extension_ref if vh.authorization is not None else None
        if tls is None and auth_ref is not None and auth_ref.name:
            cond.add_error(
                "AuthError",
                "AuthNotPermitted",
                "Spec.VirtualHost.Authorization.ExtensionServiceRef can only be defined for root HTTPProxies "
                "that terminate TLS",
            )
            return
        if vh.ip_allow_policy and vh.ip_deny_policy:
            cond.add_error(
                "IPFilterError",
                "IncompatibleIPAddressFilters",
                "Spec.VirtualHost.IPAllowFilterPolicy and Spec.VirtualHost.IPDepnyFilterPolicy "
                "cannot both be defined.",
            )
            return

        tls_enabled = False
        if tls is not None:
            if not compute_tls(self.ctx, proxy, tls, host, cond):
                return
            tls_enabled = True

        if spec.tcpproxy is not None:
            if not tls_enabled:
                cond.add_error(
                    "TCPProxyError",
                    "TLSMustBeConfigured",
                    "Spec.TCPProxy requires that either Spec.TLS.Passthrough or Spec.TLS.SecretName be set",
                )
                return
            if not self._tcpproxy(cond, proxy, [], host):
                return

        routes = self._routes(
            cond=cond, root=proxy, proxy=proxy, conditions=[], visited=[], enforce_tls=tls_enabled
        )
        insecure = self._ensure_vhost(host)
        try:
            cors = cors_policy(vh.cors_policy)
        except PolicyError as exc:
            cond.add_error("CORSError", "PolicyDidNotParse", f"Spec.VirtualHost.CORSPolicy: {exc}")
            return
        insecure.cors_policy = cors
        rate_limits_valid, insecure.rate_limit_policy = virtual_host_rate_limit_policy(vh, self.config, cond)
        if not rate_limits_valid:
            return
        check_global_authorization(self.ctx, proxy, cond)
        if not set_vhost_ip_filters(vh, insecure, cond):
            return
        if tls_enabled and spec.tcpproxy is None and not route_providers_defined(proxy, routes, cond):
            return
        for route in routes:
            insecure.add_route(route)
        if tls_enabled and spec.tcpproxy is None:
            secure = self._ensure_secure_vhost(host)
            secure.virtual_host.cors_policy = cors
            secure.virtual_host.rate_limit_policy = insecure.rate_limit_policy
            copy_vhost_ip_filters(insecure, secure.virtual_host)
            for route in routes:
                secure.virtual_host.add_route(route)

    # --- DAG helpers -----------------------------------------------------------------------------------

    def _ensure_vhost(self, host: str) -> VirtualHost:
        return ensure_virtual_host(self.ctx.dag, host)

    # --- routes ----------------------------------------------------------------------------------------

    def _routes(
        self,
        *,
        cond: DetailedCondition,
        root: api.HTTPProxy,
        proxy: api.HTTPProxy,
        conditions: list[api.HTTPProxyCondition],
        visited: list[api.HTTPProxy],
        enforce_tls: bool,
    ) -> list[Route]:
        ref = proxy_ref(proxy)
        if any(proxy_ref(v) == ref for v in visited):
            path = " -> ".join([str(proxy_ref(v)) for v in visited] + [str(ref)])
            cond.add_error("IncludeError", "IncludeCreatesCycle", f"include creates an include cycle: {path}")
            return []
        visited = [*visited, proxy]
        routes: list[Route] = []
        seen: set[tuple[object, ...]] = set()
        for include in proxy.spec.includes or []:
            inc_ns = include.namespace or ref.namespace
            inc_conds = list(include.conditions or [])
            if err := include_conditions_error(inc_conds) or path_conditions_error(inc_conds):
                cond.add_error("IncludeError", "PathMatchConditionsNotValid", f"include: {err}")
                continue
            if err := header_conditions_error(inc_conds):
                cond.add_error("RouteError", "HeaderMatchConditionsNotValid", err)
                continue
            if err := query_conditions_error(inc_conds):
                cond.add_error("RouteError", "QueryParameterMatchConditionsNotValid", err)
                continue
            key = include_conditions_key(inc_conds)
            if key is not None:
                if key in seen:
                    cond.add_error(
                        "IncludeError",
                        "DuplicateMatchConditions",
                        "duplicate conditions defined on an include",
                    )
                    continue
                seen.add(key)
            inc_ref = ObjectRef(inc_ns, include.name)
            included = self.cache.httpproxy(inc_ref)
            if included is None:
                cond.add_error(
                    "IncludeError", "IncludeNotFound", f"include {inc_ns}/{include.name} not found"
                )
                routes.extend(_bad_gateway(inc_conds, ref, root))
                continue
            if included.spec.virtualhost is not None:
                cond.add_error(
                    "IncludeError",
                    "RootIncludesRoot",
                    f"root httpproxy cannot include another root httpproxy ({inc_ns}/{include.name})",
                )
                routes.extend(_bad_gateway(inc_conds, ref, root))
                continue
            inc_cond = self.ctx.status.proxy(inc_ref, proxy_generation(included)).valid
            routes.extend(
                self._routes(
                    cond=inc_cond,
                    root=root,
                    proxy=included,
                    conditions=conditions + inc_conds,
                    visited=visited,
                    enforce_tls=enforce_tls,
                )
            )
            self.reached.add(inc_ref)

        dynamic = {"CONTOUR_NAMESPACE": ref.namespace}
        for route in proxy.spec.routes or []:
            built = self._route(
                cond=cond,
                root=root,
                proxy=proxy,
                route=route,
                conditions=conditions,
                enforce_tls=enforce_tls,
                dynamic=dynamic,
            )
            if built is None:
                return []
            routes.append(built)
        return _expand_prefix_matches(routes)

    def _route(
        self,
        *,
        cond: DetailedCondition,
        root: api.HTTPProxy,
        proxy: api.HTTPProxy,
        route: api.Route,
        conditions: list[api.HTTPProxyCondition],
        enforce_tls: bool,
        dynamic: dict[str, str],
    ) -> Route | None:
        """One route of `proxy`, or None after adding the error that invalidates the whole proxy."""
        actions = sum(
            1 for a in (route.services, route.request_redirect_policy, route.direct_response_policy) if a
        )
        if actions != 1:
            cond.add_error(
                "RouteError",
                "RouteActionCountNotValid",
                "must set exactly one of route.services or route.requestRedirectPolicy "
                "or route.directResponsePolicy",
            )
            return None
        own = list(route.conditions or [])
        if err := path_conditions_error(own):
            cond.add_error("RouteError", "PathMatchConditionsNotValid", f"route: {err}")
            return None
        merged = conditions + own
        if err := header_conditions_error(merged):
            cond.add_error("RouteError", "HeaderMatchConditionsNotValid", err)
            return None
        if err := query_conditions_error(merged):
            cond.add_error("RouteError", "QueryParameterMatchConditionsNotValid", err)
            return None
        try:
            request_headers = headers_policy_route(route.request_headers_policy, True, dynamic)
        except PolicyError as exc:
            cond.add_error("RouteError", "RequestHeadersPolicyInvalid", f"{exc} on request headers")
            return None
        try:
            response_headers = headers_policy_route(route.response_headers_policy, False, dynamic)
        except PolicyError as exc:
            cond.add_error("RouteError", "ResponseHeaderPolicyInvalid", f"{exc} on response headers")
            return None
        if err := _cookie_rewrite_error(route.cookie_rewrite_policies):
            cond.add_error(
                "RouteError", "CookieRewritePoliciesInvalid", f"{err} on route cookie rewrite rules"
            )
            return None
        try:
            timeouts, idle_connection = timeout_policy(route.timeout_policy)
        except PolicyError as exc:
            cond.add_error(
                "RouteError", "TimeoutPolicyNotValid", f"route.timeoutPolicy failed to parse: {exc}"
            )
            return None
        rate_limits = route_rate_limits(route, root, cond)
        if rate_limits is None:
            return None
        lb_policy, lb_strategy = load_balancer_policy(route.load_balancer_policy, cond)
        try:
            redirect = redirect_policy(route.request_redirect_policy)
        except PolicyError as exc:
            cond.add_error(
                "RouteError", "RequestRedirectPolicy", f"route.requestRedirectPolicy is invalid: {exc}"
            )
            return None
        permit_insecure = bool(route.permit_insecure) and not self.config.disable_permit_insecure
        r = Route(
            path_match=merge_path(merged),
            header_matches=merge_headers(merged),
            query_param_matches=merge_query_params(merged),
            redirect=redirect,
            direct_response=direct_response_policy(route.direct_response_policy),
            websocket=bool(route.enable_websockets),
            https_upgrade=enforce_tls and not permit_insecure,
            timeout_policy=timeouts,
            retry_policy=retry_policy(route.retry_policy),
            request_headers_policy=request_headers,
            response_headers_policy=response_headers,
            kind=KIND,
            owner=proxy_ref(proxy),
            cookie_rewrite_policies=cookie_rewrite_policies(route.cookie_rewrite_policies),
            internal_redirect_policy=internal_redirect_policy(route.internal_redirect_policy),
        )
        r.authorization = route_authorization(self.config, root, route)
        rate_limits.apply(r)

        replacements = (
            list(route.path_rewrite_policy.replace_prefix or []) if route.path_rewrite_policy else []
        )
        if replacements:
            if r.path_match.kind != PathMatchKind.PREFIX:
                cond.add_error(
                    "PrefixReplaceError",
                    "MustHavePrefix",
                    "cannot specify prefix replacements without a prefix condition",
                )
                return None
            if bad := prefix_replacements_error(replacements):
                cond.add_error("PrefixReplaceError", bad[0], bad[1])
                return None
            routing_prefix = r.path_match.value
            exact = next((p for p in replacements if p.prefix and p.prefix == routing_prefix), None)
            default = next((p for p in replacements if not p.prefix), None)
            chosen = exact or default
            if chosen is not None:
                r.prefix_rewrite = chosen.replacement

        try:
            health = health_check_policy(route.health_check_policy)
        except PolicyError as exc:
            cond.add_error("RouteError", "HealthCheckPolicyInvalid", str(exc))
            return None

        for svc in route.services or []:
            cluster = self._cluster(
                cond=cond,
                proxy=proxy,
                svc=svc,
                route=r,
                health=health,
                lb_policy=lb_policy,
                lb_strategy=lb_strategy,
                idle_connection=idle_connection,
                dynamic=dynamic,
            )
            if cluster is None:
                if cond.errors and cond.errors[-1].reason == "ServiceUnresolvedReference":
                    continue
                return None
            if svc.mirror:
                if r.mirror_policies:
                    cond.add_error(
                        "ServiceError",
                        "OnlyOneMirror",
                        "only one service per route may be nominated as mirror",
                    )
                    return None
                r.mirror_policies = [MirrorPolicy(cluster=cluster, weight=svc.weight or 100)]
            else:
                r.clusters.append(cluster)
        if not r.clusters and r.redirect is None and r.direct_response is None:
            r.direct_response = DirectResponse(503)
        root_vh = root.spec.virtualhost
        if root_vh is not None and root_vh.fqdn.startswith("*."):
            r.header_matches = (*r.header_matches, wildcard_authority_match(root_vh.fqdn))
        if not set_route_jwt_provider(route, root, r, cond):
            return None
        if not set_route_ip_filters(route, r, cond):
            return None
        return r

    def _cluster(
        self,
        *,
        cond: DetailedCondition,
        proxy: api.HTTPProxy,
        svc: api.Service,
        route: Route,
        health: HealthCheckPolicy | None,
        lb_policy: LoadBalancerPolicy,
        lb_strategy: str,
        idle_connection: float | None,
        dynamic: dict[str, str],
    ) -> Cluster | None:
        """The cluster for one route service; None after adding an error (ServiceUnresolvedReference
        lets the route go on without this service, any other error invalidates the proxy)."""
        ns = proxy_ref(proxy).namespace
        if not 1 <= svc.port <= 65535:
            cond.add_error(
                "ServiceError",
                "ServicePortInvalid",
                f"service {go_quote(svc.name)}: port must be in the range 1-65535",
            )
            return None
        resolved = self._service_upstream(
            cond, ns, svc, health, error_type="ServiceError", field="Spec.Routes"
        )
        if resolved is None:
            return None
        upstream, protocol, validation = resolved
        dynamic["CONTOUR_SERVICE_NAME"] = svc.name
        dynamic["CONTOUR_SERVICE_PORT"] = str(svc.port)
        try:
            request_headers = headers_policy_route(svc.request_headers_policy, True, dynamic)
            request_headers = with_global_headers(
                request_headers, self.config.global_request_headers, True, dynamic
            )
        except PolicyError as exc:
            cond.add_error("ServiceError", "RequestHeadersPolicyInvalid", f"{exc} on request headers")
            return None
        try:
            response_headers = headers_policy_route(svc.response_headers_policy, False, dynamic)
            response_headers = with_global_headers(
                response_headers, self.config.global_response_headers, False, dynamic
            )
        except PolicyError as exc:
            cond.add_error("ServiceError", "ResponseHeadersPolicyInvalid", f"{exc} on response headers")
            return None
        if err := _cookie_rewrite_error(svc.cookie_rewrite_policies):
            cond.add_error(
                "RouteError", "CookieRewritePoliciesInvalid", f"{err} on service cookie rewrite rules"
            )
            return None
        cert_ok, client_cert = self._client_certificate(cond)
        if not cert_ok:
            return None
        slow_start = None
        if svc.slow_start_policy is not None:
            if lb_strategy not in ("", LB_ROUND_ROBIN, LB_WEIGHTED_LEAST_REQUEST):
                cond.add_error(
                    "ServiceError",
                    "SlowStartInvalid",
                    "slow start is only supported with RoundRobin or WeightedLeastRequest "
                    "load balancer strategy",
                )
                return None
            try:
                slow_start = slow_start_config(svc.slow_start_policy)
            except PolicyError as exc:
                cond.add_error("ServiceError", "SlowStartInvalid", f"{exc} on slow start")
                return None
        return Cluster(
            upstream=upstream,
            weight=svc.weight or 0,
            protocol=protocol,
            load_balancer_policy=lb_policy,
            health_check_policy=health,
            upstream_validation=validation,
            request_headers_policy=request_headers,
            response_headers_policy=response_headers,
            sni=_sni(route.request_headers_policy, request_headers, upstream),
            slow_start=slow_start,
            idle_connection_timeout_seconds=idle_connection,
            client_certificate=client_cert,
            cookie_rewrite_policies=cookie_rewrite_policies(svc.cookie_rewrite_policies),
        )


# --- helpers ------------------------------------------------------------------------------------------


def _bad_gateway(
    conds: Sequence[api.HTTPProxyCondition], owner: ObjectRef, root: api.HTTPProxy
) -> list[Route]:
    """Contour answers 502 on the path of an include that cannot be followed (only when it has conditions);
    on a `*.` root, like every route of it, only for hosts one DNS label deep."""
    if not conds:
        return []
    headers = merge_headers(conds)
    root_vh = root.spec.virtualhost
    if root_vh is not None and root_vh.fqdn.startswith("*."):
        headers = (*headers, wildcard_authority_match(root_vh.fqdn))
    return [
        Route(
            path_match=merge_path(conds),
            header_matches=headers,
            query_param_matches=merge_query_params(conds),
            direct_response=DirectResponse(502),
            kind=KIND,
            owner=owner,
        )
    ]


def _cookie_rewrite_error(policies: list[api.CookieRewritePolicy] | None) -> str | None:
    names: set[str] = set()
    for p in policies or []:
        if p.name in names:
            return f"duplicate cookie rewrite rule for cookie {go_quote(p.name)}"
        names.add(p.name)
        if p.path_rewrite is None and p.domain_rewrite is None and p.secure is None and p.same_site is None:
            return f"no attributes rewritten for cookie {go_quote(p.name)}"
    return None


def _sni(
    route_headers: HeadersPolicy | None, service_headers: HeadersPolicy | None, upstream: Service
) -> str:
    """Contour's determineSNI: the service's Host rewrite, then the route's, then the ExternalName."""
    if service_headers is not None and service_headers.host_rewrite:
        return service_headers.host_rewrite
    if route_headers is not None and route_headers.host_rewrite:
        return route_headers.host_rewrite
    return upstream.external_name


def _expand_prefix_matches(routes: list[Route]) -> list[Route]:
    """Contour's expandPrefixMatches: a prefix rewrite on `/foo` also gets a `/foo/` twin, so that
    `/foo/bar` is rewritten cleanly whichever way the replacement ends (see Contour's table)."""
    expanded: list[Route] = []
    groups: dict[str, list[Route]] = {}
    for r in routes:
        if r.path_match.kind != PathMatchKind.PREFIX:
            expanded.append(r)
            continue
        prefix = r.path_match.value
        if prefix != "/":
            prefix = prefix.rstrip("/")
        groups.setdefault(prefix, []).append(r)
    for prefix in sorted(groups):
        group = groups[prefix]
        expanded.extend(group)
        if len(group) != 1:
            continue
        first = group[0]
        if first.prefix_rewrite is None or first.path_match.value == "/":
            continue
        trimmed = first.prefix_rewrite.rstrip("/")
        twin = dataclasses.replace(
            first, path_match=PathMatch(PathMatchKind.PREFIX, prefix + "/"), prefix_rewrite=trimmed + "/"
        )
        first.path_match = PathMatch(PathMatchKind.PREFIX, prefix)
        first.prefix_rewrite = trimmed or "/"
        expanded.append(twin)
    return expanded
