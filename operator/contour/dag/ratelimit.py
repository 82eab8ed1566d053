"""HTTPProxy rate limit policies (local and global) and the global rate limit service, as Contour does.

Follows Contour's policy.go (rateLimitPolicy, localRateLimitPolicy, globalRateLimitPolicy,
rateLimitPerRoute) and httpproxy_processor.go (computeVirtualHostRateLimitPolicy):

* local: a token bucket of `requests + burst` tokens refilled with `requests` per unit; the response
  headers are canonicalised, checked and escaped like a header policy's.
* global: descriptors whose entries set exactly one of genericKey, requestHeader,
  requestHeaderValueMatch, remoteAddress. `disabled` on a route makes it ignore the host's descriptors;
  on a virtual host it opts out of the configuration's default global policy, which otherwise applies
  to every HTTPProxy host without a global policy of its own.
* The rate limit service (`BuilderConfig.rate_limit_service`, ContourConfiguration rateLimitService)
  is put on the plain listener and on every secure host after the processors have run
  (`apply_rate_limit_service`); the translators add Envoy's ratelimit filter where it is set. Its
  ExtensionService's SNI and response timeout are used when the ExtensionService is valid; when it is
  missing the filter still names its cluster, so requests meet the configured failure mode.

An invalid policy never raises out of here: the processor gets a PolicyError message and writes
Contour's RateLimitPolicyNotValid condition (VirtualHostError for a host, RouteError for a route).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from contour.api.projectcontour import v1 as api
from contour.dag.conditions import header_conditions_error, merge_headers
from contour.dag.goformat import go_quote
from contour.dag.model import (
    GlobalRateLimitPolicy,
    HeaderValue,
    LocalRateLimitPolicy,
    ObjectRef,
    RateLimitDescriptorEntry,
    RateLimitPolicy,
    RateLimitService,
    Route,
)
from contour.dag.policy import PolicyError, canonical_header_key, escape_header_value
from contour.dag.status import DetailedCondition
from contour.dag.vhosts import HTTP_LISTENER_NAME

if TYPE_CHECKING:  # the builder imports this module for its configuration and hook
    from contour.dag.builder import BuildContext, BuilderConfig

REASON: Final = "RateLimitPolicyNotValid"
_UNITS: Final = {"second": 1, "minute": 60, "hour": 3600}
# The 4xx/5xx codes of Envoy's StatusCode enum: Envoy rejects a configuration with any other (the CRD
# allows 400-599, Contour passes the code on and Envoy would NACK it).
_ENVOY_STATUS_CODES: Final = frozenset(
    [*range(400, 418), 421, 422, 423, 424, 426, 428, 429, 431, *range(500, 509), 510, 511]
)
# Kubernetes' IsHTTPHeaderName, as Contour checks added header names.
_HEADER_NAME: Final = re.compile(r"^[-A-Za-z0-9]+$")
_HEADER_NAME_MSG: Final = (
    "[a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', "
    "regex used for validation is '[-A-Za-z0-9]+')]"
)


@dataclass(frozen=True)
class RateLimitServiceConfig:
    """ContourConfiguration `rateLimitService` (config file `rateLimitService`), as the builder takes it.

    `default_global_rate_limit_policy` is HTTPProxy-shaped ({disabled, descriptors}); it is checked per
    proxy, as Contour does, so a bad one shows on every proxy it would apply to.
    """

    extension_service: ObjectRef
    domain: str = ""
    fail_open: bool = False
    enable_x_rate_limit_headers: bool = False
    enable_resource_exhausted_code: bool = False
    default_global_rate_limit_policy: api.Global | None = None


# --- policies -----------------------------------------------------------------------------------------


def local_rate_limit_policy(local: api.Local | None, host: str = "") -> LocalRateLimitPolicy | None:
    """Contour's localRateLimitPolicy; raises PolicyError with its message."""
    if local is None:
        return None
    if local.requests <= 0:
        raise PolicyError(f"invalid requests value {local.requests} in local rate limit policy")
    interval = _UNITS.get(str(local.unit))
    if interval is None:
        raise PolicyError(f"invalid unit {go_quote(local.unit)} in local rate limit policy")
    code = local.response_status_code or 0
    if code and code not in _ENVOY_STATUS_CODES:
        raise PolicyError(f"invalid response status code {code} in local rate limit policy")
    headers: dict[str, str] = {}
    for header in local.response_headers_to_add or []:
        key = canonical_header_key(header.name)
        if key in headers:
            raise PolicyError(f"duplicate header addition: {go_quote(key)}")
        if not _HEADER_NAME.match(key):
            raise PolicyError(f"invalid header name {go_quote(key)}: {_HEADER_NAME_MSG}")
        headers[key] = escape_header_value(header.value, {})
    return LocalRateLimitPolicy(
        max_tokens=local.requests + (local.burst or 0),
        tokens_per_fill=local.requests,
        fill_interval_seconds=interval,
        response_status_code=code,
        response_headers_to_add=tuple(HeaderValue(k, v) for k, v in sorted(headers.items())),
        host=host,
    )


def _entry(entry: api.Entry) -> RateLimitDescriptorEntry:
    built: list[RateLimitDescriptorEntry] = []
    if entry.generic_key is not None:
        built.append(
            RateLimitDescriptorEntry(
                "generic_key", key=entry.generic_key.key or "", value=entry.generic_key.value
            )
        )
    if entry.request_header is not None:
        built.append(
            RateLimitDescriptorEntry(
                "request_header",
                key=entry.request_header.descriptor_key,
                header_name=entry.request_header.header_name,
            )
        )
    if entry.request_header_value_match is not None:
        match = entry.request_header_value_match
        conditions = [api.HTTPProxyCondition(header=h) for h in match.headers or []]
        # Not checked by Contour; Envoy would reject a bad regex, so it is an invalid policy here.
        if err := header_conditions_error(conditions):
            raise PolicyError(err)
        built.append(
            RateLimitDescriptorEntry(
                "header_value_match",
                value=match.value,
                headers=merge_headers(conditions),
                expect_match=match.expect_match is not False,
            )
        )
    if entry.remote_address is not None:
        built.append(RateLimitDescriptorEntry("remote_address"))
    if len(built) != 1:
        raise PolicyError("rate limit descriptor entry must have exactly one field set")
    return built[0]


def global_rate_limit_policy(policy: api.Global | None) -> GlobalRateLimitPolicy | None:
    """Contour's globalRateLimitPolicy (None when absent or disabled); raises PolicyError."""
    if policy is None or policy.disabled:
        return None
    return GlobalRateLimitPolicy(
        descriptors=tuple(tuple(_entry(e) for e in d.entries) for d in policy.descriptors or [])
    )


def rate_limit_policy(policy: api.RateLimitPolicy | None, host: str = "") -> RateLimitPolicy | None:
    """Contour's rateLimitPolicy: None when neither local nor global is set (or global is disabled)."""
    if policy is None or (policy.local is None and policy.global_ is None):
        return None
    local = local_rate_limit_policy(policy.local, host)
    global_policy = global_rate_limit_policy(policy.global_)
    if local is None and global_policy is None:
        return None
    return RateLimitPolicy(local=local, global_policy=global_policy)


# --- HTTPProxy hosts and routes ------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteRateLimits:
    """A route's own policy, and whether it ignores its host's global descriptors (Contour's
    RateLimitPerRoute with VhRateLimits IGNORE, from `global.disabled`)."""

    policy: RateLimitPolicy | None
    ignore_vhost_rate_limits: bool

    def apply(self, route: Route) -> None:
        route.rate_limit_policy = self.policy
        route.ignore_vhost_rate_limits = self.ignore_vhost_rate_limits


def route_rate_limits(
    route: api.Route, root: api.HTTPProxy, cond: DetailedCondition
) -> RouteRateLimits | None:
    """The rate limits of a route under `root`; None after adding RateLimitPolicyNotValid."""
    host = root.spec.virtualhost.fqdn if root.spec.virtualhost is not None else ""
    try:
        policy = rate_limit_policy(route.rate_limit_policy, host)
    except PolicyError as exc:
        cond.add_error("RouteError", REASON, f"route.rateLimitPolicy is invalid: {exc}")
        return None
    own_global = route.rate_limit_policy.global_ if route.rate_limit_policy is not None else None
    return RouteRateLimits(policy, bool(own_global is not None and own_global.disabled))


def virtual_host_rate_limit_policy(
    vh: api.VirtualHost, config: BuilderConfig, cond: DetailedCondition
) -> tuple[bool, RateLimitPolicy | None]:
    """Contour's computeVirtualHostRateLimitPolicy: (valid, policy), the configuration's default global
    policy applied unless the host has its own or opts out; not valid after adding the error."""
    try:
        policy = rate_limit_policy(vh.rate_limit_policy, vh.fqdn)
    except PolicyError as exc:
        cond.add_error("VirtualHostError", REASON, f"Spec.VirtualHost.RateLimitPolicy is invalid: {exc}")
        return False, None
    if policy is not None and policy.global_policy is not None:
        return True, policy
    own_global = vh.rate_limit_policy.global_ if vh.rate_limit_policy is not None else None
    opted_out = own_global is not None and bool(own_global.disabled)
    service = config.rate_limit_service
    default = service.default_global_rate_limit_policy if service is not None else None
    if default is None or opted_out:
        return True, policy
    try:
        default_policy = global_rate_limit_policy(default)
    except PolicyError as exc:
        cond.add_error("VirtualHostError", REASON, f"Default Global RateLimit Policy is invalid: {exc}")
        return False, None
    local = policy.local if policy is not None else None
    if local is None and default_policy is None:
        return True, None
    return True, RateLimitPolicy(local=local, global_policy=default_policy)


# --- the rate limit service -----------------------------------------------------------------------------


def rate_limit_service(ctx: BuildContext) -> RateLimitService | None:
    """The configured service with its ExtensionService's SNI and timeout (when it is valid)."""
    config = ctx.config.rate_limit_service
    if config is None:
        return None
    ref = config.extension_service
    cluster_name = f"extension/{ref.namespace}/{ref.name}"
    cluster = ctx.dag.extension_clusters.get(cluster_name)
    return RateLimitService(
        cluster_name=cluster_name,
        domain=config.domain,
        fail_open=config.fail_open,
        enable_x_rate_limit_headers=config.enable_x_rate_limit_headers,
        enable_resource_exhausted_code=config.enable_resource_exhausted_code,
        sni=cluster.sni if cluster is not None else "",
        timeout_seconds=cluster.response_timeout_seconds if cluster is not None else None,
    )


def apply_rate_limit_service(ctx: BuildContext) -> None:
    """Put the rate limit service on the plain listener and every secure host (None clears it: hosts
    may be objects an earlier build made)."""
    service = rate_limit_service(ctx)
    for listener in ctx.dag.listeners.values():
        if listener.name == HTTP_LISTENER_NAME:
            listener.rate_limit_service = service
        for host in listener.secure_virtual_hosts.values():
            if host.rate_limit_service != service:
                host.rate_limit_service = service
