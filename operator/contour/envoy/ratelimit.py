"""Envoy rate limiting: local token buckets, global descriptors and the ratelimit filter, as Contour's
internal/envoy/v3/ratelimit.go builds them.

Local: `envoy.filters.http.local_ratelimit` is in every chain without a bucket (it passes everything);
a virtual host or route with a local policy gets a `LocalRateLimit` in its `typed_per_filter_config`,
enabled and enforced for 100% of requests, counted under `vhost.<fqdn>`. Envoy uses the most specific
one, so a route's policy overrides its host's.

Global: a host's and a route's descriptors become `rate_limits` actions (one `RateLimit` per
descriptor, one action per entry) on the Envoy virtual host and on the route's action. By Envoy's
default a route with its own descriptors does not also send its host's; a route whose policy says
`global.disabled` sends none of its host's (`RateLimitPerRoute` IGNORE). The descriptors go to the
rate limit service through `envoy.filters.http.ratelimit`, added after ext_authz on every secure
host's chain and on the plain listener when a service is configured: Contour's domain and failure
mode, the ExtensionService's SNI as gRPC authority (else the cluster name with `/` as `.`) and its
response timeout, the draft-03 X-RateLimit headers and RESOURCE_EXHAUSTED on request.
https://www.envoyproxy.io/docs/envoy/latest/api-v3/extensions/filters/http/ratelimit/v3/rate_limit.proto
"""

from __future__ import annotations

from typing import Any, Final

from envoy.config.core.v3 import base_pb2, config_source_pb2, grpc_service_pb2
from envoy.config.ratelimit.v3 import rls_pb2
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.extensions.filters.http.local_ratelimit.v3 import local_rate_limit_pb2
from envoy.extensions.filters.http.ratelimit.v3 import rate_limit_pb2
from envoy.type.v3 import http_status_pb2, percent_pb2, token_bucket_pb2
from google.protobuf import wrappers_pb2

from contour.dag.model import (
    GlobalRateLimitPolicy,
    Listener,
    LocalRateLimitPolicy,
    RateLimitDescriptorEntry,
    RateLimitService,
    Route,
    SecureVirtualHost,
    VirtualHost,
)
from contour.envoy.core import header_value_options
from contour.envoy.durations import duration
from contour.envoy.http_connection_manager import LOCAL_RATELIMIT_FILTER, http_filter

RATELIMIT_FILTER: Final = "envoy.filters.http.ratelimit"
__all__ = ["LOCAL_RATELIMIT_FILTER", "RATELIMIT_FILTER"]


def _all_requests() -> Any:
    return base_pb2.RuntimeFractionalPercent(
        default_value=percent_pb2.FractionalPercent(
            numerator=100, denominator=percent_pb2.FractionalPercent.HUNDRED
        )
    )


def local_rate_limit_config(policy: LocalRateLimitPolicy, stat_prefix: str) -> Any:
    """Contour's LocalRateLimitConfig: the bucket, always enabled and enforced."""
    config = local_rate_limit_pb2.LocalRateLimit(
        stat_prefix=stat_prefix,
        token_bucket=token_bucket_pb2.TokenBucket(
            max_tokens=policy.max_tokens,
            tokens_per_fill=wrappers_pb2.UInt32Value(value=policy.tokens_per_fill),
            fill_interval=duration(policy.fill_interval_seconds),
        ),
        response_headers_to_add=header_value_options(policy.response_headers_to_add, append=False),
        filter_enabled=_all_requests(),
        filter_enforced=_all_requests(),
    )
    if policy.response_status_code > 0:  # else Envoy's 429
        config.status.CopyFrom(http_status_pb2.HttpStatus(code=policy.response_status_code))
    return config


def _stat_prefix(host: str) -> str:
    return f"vhost.{host}"


def virtual_host_local_rate_limit(vhost: VirtualHost) -> Any | None:
    """The host's LocalRateLimit, None when it has no local policy."""
    policy = vhost.rate_limit_policy
    if policy is None or policy.local is None:
        return None
    return local_rate_limit_config(policy.local, _stat_prefix(vhost.name))


def route_local_rate_limit(route: Route) -> Any | None:
    """The route's LocalRateLimit, None when it has no local policy of its own."""
    policy = route.rate_limit_policy
    if policy is None or policy.local is None:
        return None
    return local_rate_limit_config(policy.local, _stat_prefix(policy.local.host))


def _action(entry: RateLimitDescriptorEntry) -> Any:
    action = rc.RateLimit.Action
    if entry.kind == "generic_key":
        return action(generic_key=action.GenericKey(descriptor_key=entry.key, descriptor_value=entry.value))
    if entry.kind == "request_header":
        return action(
            request_headers=action.RequestHeaders(header_name=entry.header_name, descriptor_key=entry.key)
        )
    if entry.kind == "header_value_match":
        # routes imports this module (for its hooks): import its header matcher when first used.
        from contour.envoy.routes import header_matcher  # noqa: PLC0415

        return action(
            header_value_match=action.HeaderValueMatch(
                descriptor_value=entry.value,
                expect_match=wrappers_pb2.BoolValue(value=entry.expect_match),
                headers=[header_matcher(h) for h in entry.headers],
            )
        )
    return action(remote_address=action.RemoteAddress())


def global_rate_limits(policy: GlobalRateLimitPolicy | None) -> list[Any]:
    """Contour's GlobalRateLimits: one RateLimit per descriptor, one action per entry."""
    if policy is None:
        return []
    return [rc.RateLimit(actions=[_action(e) for e in entries]) for entries in policy.descriptors]


def virtual_host_rate_limits(vhost: VirtualHost) -> list[Any]:
    """The Envoy virtual host's `rate_limits`."""
    policy = vhost.rate_limit_policy
    return global_rate_limits(policy.global_policy if policy is not None else None)


def route_rate_limits(route: Route) -> list[Any]:
    """The route action's `rate_limits`."""
    policy = route.rate_limit_policy
    return global_rate_limits(policy.global_policy if policy is not None else None)


def route_rate_limit_per_route(route: Route) -> Any | None:
    """RateLimitPerRoute ignoring the host's descriptors, for a route with `global.disabled`."""
    if not route.ignore_vhost_rate_limits:
        return None
    return rate_limit_pb2.RateLimitPerRoute(vh_rate_limits=rate_limit_pb2.RateLimitPerRoute.IGNORE)


def rate_limit_config(service: RateLimitService) -> Any:
    """Contour's GlobalRateLimitFilter configuration."""
    grpc = grpc_service_pb2.GrpcService(
        envoy_grpc=grpc_service_pb2.GrpcService.EnvoyGrpc(
            cluster_name=service.cluster_name,
            authority=service.sni or service.cluster_name.replace("/", "."),
        )
    )
    config = rate_limit_pb2.RateLimit(
        domain=service.domain,
        failure_mode_deny=not service.fail_open,
        rate_limit_service=rls_pb2.RateLimitServiceConfig(
            grpc_service=grpc, transport_api_version=config_source_pb2.V3
        ),
        enable_x_ratelimit_headers=(
            rate_limit_pb2.RateLimit.DRAFT_VERSION_03
            if service.enable_x_rate_limit_headers
            else rate_limit_pb2.RateLimit.OFF
        ),
        rate_limited_as_resource_exhausted=service.enable_resource_exhausted_code,
    )
    if service.timeout_seconds is not None:
        config.timeout.CopyFrom(duration(service.timeout_seconds))
    return config


def rate_limit_filter(service: RateLimitService | None) -> list[Any]:
    """The ratelimit HttpFilter for a configured service (an empty list for none)."""
    if service is None:
        return []
    return [http_filter(RATELIMIT_FILTER, rate_limit_config(service))]


def secure_host_rate_limit(host: SecureVirtualHost) -> list[Any]:
    return rate_limit_filter(host.rate_limit_service)


def plain_listener_rate_limit(listener: Listener | None) -> list[Any]:
    return rate_limit_filter(listener.rate_limit_service if listener is not None else None)
