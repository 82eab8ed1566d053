"""HTTPProxy route and service policies, converted and validated as Contour's policy.go does.

Each function turns one API policy into the DAG's form or raises `PolicyError` with Contour's message
(the processor wraps it into the status condition Contour uses). Header values may use Envoy's `%VAR%`
formatters; everything else with a `%` is escaped, except Contour's own `%CONTOUR_NAMESPACE%`,
`%CONTOUR_SERVICE_NAME%` and `%CONTOUR_SERVICE_PORT%`, which are substituted here.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping

from contour.api.projectcontour import v1 as api
from contour.dag.conditions import regex_error
from contour.dag.goformat import go_quote
from contour.dag.model import (
    CORSPolicy,
    DirectResponse,
    HeadersPolicy,
    HeaderValue,
    HealthCheckPolicy,
    LoadBalancerPolicy,
    Redirect,
    RequestHashPolicy,
    RetryPolicy,
    SlowStartConfig,
    TimeoutPolicy,
)
from contour.dag.status import DetailedCondition
from contour.dag.timeouts import DurationError, parse_go_duration, parse_timeout

LB_ROUND_ROBIN = "RoundRobin"
LB_WEIGHTED_LEAST_REQUEST = "WeightedLeastRequest"
LB_RANDOM = "Random"
LB_COOKIE = "Cookie"
LB_REQUEST_HASH = "RequestHash"
_LB_STRATEGIES = (LB_WEIGHTED_LEAST_REQUEST, LB_RANDOM, LB_COOKIE, LB_REQUEST_HASH)

_HEADER_NAME = re.compile(r"^[-A-Za-z0-9]+$")
_HEADER_NAME_MSG = (
    "[a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', "
    "regex used for validation is '[-A-Za-z0-9]+')]"
)
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_ENVOY_VARS = (
    "DOWNSTREAM_REMOTE_ADDRESS",
    "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT",
    "DOWNSTREAM_LOCAL_ADDRESS",
    "DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT",
    "DOWNSTREAM_LOCAL_PORT",
    "DOWNSTREAM_LOCAL_URI_SAN",
    "DOWNSTREAM_PEER_URI_SAN",
    "DOWNSTREAM_LOCAL_SUBJECT",
    "DOWNSTREAM_PEER_SUBJECT",
    "DOWNSTREAM_PEER_ISSUER",
    "DOWNSTREAM_TLS_SESSION_ID",
    "DOWNSTREAM_TLS_CIPHER",
    "DOWNSTREAM_TLS_VERSION",
    "DOWNSTREAM_PEER_FINGERPRINT_256",
    "DOWNSTREAM_PEER_FINGERPRINT_1",
    "DOWNSTREAM_PEER_SERIAL",
    "DOWNSTREAM_PEER_CERT",
    "DOWNSTREAM_PEER_CERT_V_START",
    "DOWNSTREAM_PEER_CERT_V_END",
    "HOSTNAME",
    "PROTOCOL",
    "UPSTREAM_REMOTE_ADDRESS",
    "RESPONSE_FLAGS",
    "RESPONSE_CODE_DETAILS",
)
_REQ_VAR = re.compile(r"%(%REQ\(:?[\w-]+(\?:?[\w-]+)?\)(:\d+)?%)%")


class PolicyError(ValueError):
    """A policy Contour rejects; str() is Contour's message."""


def canonical_header_key(name: str) -> str:
    """Go's http.CanonicalHeaderKey: "x-foo" -> "X-Foo"; names with invalid characters are unchanged."""
    if not _TOKEN.match(name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def _header_name_error(key: str) -> str | None:
    return None if _HEADER_NAME.match(key) else _HEADER_NAME_MSG


def escape_header_value(value: str, dynamic: Mapping[str, str]) -> str:
    """Escape `%` for Envoy except in known Envoy variables; substitute Contour's own variables."""
    if "%" not in value:
        return value
    escaped = value.replace("%", "%%")
    for var, val in dynamic.items():
        escaped = escaped.replace(f"%%{var}%%", val)
    for var in _ENVOY_VARS:
        escaped = escaped.replace(f"%%{var}%%", f"%{var}%")
    return _REQ_VAR.sub(r"\1", escaped)


def headers_policy_route(
    policy: api.RequestHeadersPolicy | api.ResponseHeadersPolicy | None,
    allow_host_rewrite: bool,
    dynamic: Mapping[str, str],
) -> HeadersPolicy | None:
    """Contour's headersPolicyRoute; Host in a request policy becomes a host rewrite."""
    if policy is None:
        return None
    sets: dict[str, str] = {}
    host_rewrite = ""
    for entry in policy.set or []:
        key = canonical_header_key(entry.name)
        if key in sets:
            raise PolicyError(f"duplicate header addition: {go_quote(key)}")
        if key == "Host":
            if not allow_host_rewrite:
                raise PolicyError(f"rewriting {go_quote(key)} header is not supported")
            host_rewrite = entry.value
            continue
        if msg := _header_name_error(key):
            raise PolicyError(f"invalid set header {go_quote(key)}: {msg}")
        sets[key] = escape_header_value(entry.value, dynamic)
    removes: set[str] = set()
    for name in policy.remove or []:
        key = canonical_header_key(name)
        if key in removes:
            raise PolicyError(f"duplicate header removal: {go_quote(key)}")
        if msg := _header_name_error(key):
            raise PolicyError(f"invalid remove header {go_quote(key)}: {msg}")
        removes.add(key)
    return HeadersPolicy(
        set=tuple(HeaderValue(k, v) for k, v in sorted(sets.items())),
        remove=tuple(sorted(removes)),
        host_rewrite=host_rewrite,
    )


def retry_policy(rp: api.RetryPolicy | None) -> RetryPolicy | None:
    """Contour's retryPolicy: count -1 means no retries, 0/1/unset one; a bad perTryTimeout is ignored."""
    if rp is None:
        return None
    # A plain Go duration (not timeout.Parse: "infinity" is ignored too); zero means Envoy's default,
    # and a negative one, which Envoy would reject, is ignored.
    per_try: float | None = None
    if rp.per_try_timeout:
        try:
            per_try = parse_go_duration(rp.per_try_timeout)
        except DurationError:
            per_try = None
        if per_try is not None and per_try <= 0:
            per_try = None
    count = rp.count if rp.count is not None else 1
    num_retries = 0 if count == -1 else (1 if count in (0, 1) else count)
    return RetryPolicy(
        retry_on=tuple(rp.retry_on) if rp.retry_on else ("5xx",),
        num_retries=num_retries,
        per_try_timeout_seconds=per_try,
        retriable_status_codes=tuple(rp.retriable_status_codes or ()),
    )


def timeout_policy(tp: api.TimeoutPolicy | None) -> tuple[TimeoutPolicy, float | None]:
    """The route timeouts and the cluster idle-connection timeout (None: Envoy default, 0: none)."""
    if tp is None:
        return TimeoutPolicy(), None
    parsed: list[float | None] = []
    for label, value in (
        ("response", tp.response),
        ("idle", tp.idle),
        ("idle connection", tp.idle_connection),
    ):
        try:
            parsed.append(parse_timeout(value))
        except DurationError as exc:
            raise PolicyError(f"error parsing {label} timeout: {exc}") from exc
    response, idle, idle_connection = parsed
    return TimeoutPolicy(response_seconds=response, idle_stream_seconds=idle), idle_connection


def health_check_policy(hc: api.HealthCheckPolicy | None) -> HealthCheckPolicy | None:
    """Active HTTP health checking, with Contour's defaults for unset values."""
    if hc is None:
        return None
    ranges: list[tuple[int, int]] = []
    for status in hc.expected_statuses or []:
        if not 100 <= status.start <= 599:
            raise PolicyError("invalid expected status range: start must be in the range [100, 599]")
        if not 101 <= status.end <= 600:
            raise PolicyError("invalid expected status range: end must be in the range [101, 600]")
        if status.start >= status.end:
            raise PolicyError("invalid expected status range: start must be less than end")
        ranges.append((status.start, status.end))
    return HealthCheckPolicy(
        path=hc.path,
        host=hc.host or "contour-envoy-healthcheck",
        interval_seconds=hc.interval_seconds or 10,
        timeout_seconds=hc.timeout_seconds or 2,
        unhealthy_threshold=hc.unhealthy_threshold_count or 3,
        healthy_threshold=hc.healthy_threshold_count or 2,
        expected_statuses=tuple(ranges),
    )


def load_balancer_strategy(lbp: api.LoadBalancerPolicy | None) -> str:
    """The strategy name, or "" (Envoy's round robin) for unset and unknown strategies."""
    if lbp is None or lbp.strategy not in _LB_STRATEGIES:
        return ""
    return lbp.strategy or ""


def load_balancer_policy(
    lbp: api.LoadBalancerPolicy | None, cond: DetailedCondition
) -> tuple[LoadBalancerPolicy, str]:
    """Contour's loadBalancerRequestHashPolicies: the policy and the strategy actually used.

    Invalid request hash policies are dropped with a SpecError/IgnoredField warning; with none left
    the strategy falls back to RoundRobin.
    """
    strategy = load_balancer_strategy(lbp)
    if lbp is None or strategy != LB_REQUEST_HASH:
        return LoadBalancerPolicy(strategy=strategy or LB_ROUND_ROBIN), strategy
    hashes: list[RequestHashPolicy] = []
    source_ip_set = False
    headers: set[str] = set()
    params: set[str] = set()
    for hp in lbp.request_hash_policies or []:
        attrs = sum(
            1 for x in (hp.hash_source_ip, hp.header_hash_options, hp.query_parameter_hash_options) if x
        )
        if attrs != 1:
            cond.add_warning(
                "SpecError",
                "IgnoredField",
                "ignoring invalid request hash policy, must set exactly one of hashSourceIP or "
                "headerHashOptions or queryParameterHashOptions",
            )
            continue
        if hp.hash_source_ip:
            if source_ip_set:
                cond.add_warning(
                    "SpecError",
                    "IgnoredField",
                    "ignoring invalid request hash policy, hashSourceIP specified multiple times",
                )
                continue
            source_ip_set = True
            hashes.append(RequestHashPolicy(hash_source_ip=True, terminal=bool(hp.terminal)))
        elif hp.header_hash_options is not None:
            header = canonical_header_key(hp.header_hash_options.header_name)
            if msg := _header_name_error(header):
                cond.add_warning(
                    "SpecError",
                    "IgnoredField",
                    f"ignoring invalid header hash policy options with invalid header name "
                    f"{go_quote(header)}: {msg}",
                )
                continue
            if header in headers:
                cond.add_warning(
                    "SpecError",
                    "IgnoredField",
                    f"ignoring invalid header hash policy options with duplicated header name {header}",
                )
                continue
            headers.add(header)
            hashes.append(RequestHashPolicy(header_name=header, terminal=bool(hp.terminal)))
        elif hp.query_parameter_hash_options is not None:
            param = hp.query_parameter_hash_options.parameter_name.lower()
            if param in params:
                cond.add_warning(
                    "SpecError",
                    "IgnoredField",
                    "ignoring invalid query parameter hash policy options with duplicated query "
                    f"parameter name {param}",
                )
                continue
            params.add(param)
            hashes.append(RequestHashPolicy(query_parameter=param, terminal=bool(hp.terminal)))
    if not hashes:
        cond.add_warning(
            "SpecError",
            "IgnoredField",
            f"ignoring invalid request hash policy options, setting load balancer strategy to default "
            f"{LB_ROUND_ROBIN}",
        )
        return LoadBalancerPolicy(strategy=LB_ROUND_ROBIN), LB_ROUND_ROBIN
    return LoadBalancerPolicy(strategy=LB_REQUEST_HASH, request_hash_policies=tuple(hashes)), strategy


def redirect_policy(rp: api.RequestRedirectPolicy | None) -> Redirect | None:
    if rp is None:
        return None
    if rp.path is not None and rp.prefix is not None:
        raise PolicyError("cannot specify both redirect path and redirect prefix")
    return Redirect(
        scheme=rp.scheme or "",
        hostname=rp.hostname or "",
        port=rp.port or 0,
        status_code=rp.status_code or 302,
        path=rp.path or "",
        prefix=rp.prefix or "",
    )


def direct_response_policy(dp: api.DirectResponsePolicy | None) -> DirectResponse | None:
    if dp is None:
        return None
    return DirectResponse(status_code=dp.status_code, body=dp.body or "")


def _allowed_origin_error(origin: str) -> str | None:
    if origin == "*":
        return None
    parsed = urllib.parse.urlsplit(origin)
    if parsed.scheme and parsed.netloc and f"{parsed.scheme}://{parsed.netloc}" == origin:
        return None
    if regex_error(origin) is None:
        return None
    return "allowed origin is invalid exact match and invalid regex match"


def cors_policy(cp: api.CORSPolicy | None) -> CORSPolicy | None:
    """Contour's toCORSPolicy; origins are exact `scheme://host[:port]`, `*`, or RE2 patterns."""
    if cp is None:
        return None
    if not cp.allow_origin:
        raise PolicyError("invalid allowed origin configuration with length 0")
    for origin in cp.allow_origin:
        if err := _allowed_origin_error(origin):
            raise PolicyError(f"invalid allowed origin {go_quote(origin)}: {err}")
    if not cp.allow_methods:
        raise PolicyError("invalid allowed methods configuration with length 0")
    max_age = cp.max_age or ""
    if max_age:
        try:
            seconds = parse_go_duration(max_age)
        except DurationError as exc:
            raise PolicyError(str(exc)) from exc
        if seconds < 0:
            raise PolicyError(f"invalid max age value {go_quote(max_age)}")
    return CORSPolicy(
        allow_origin=tuple(cp.allow_origin),
        allow_credentials=bool(cp.allow_credentials),
        allow_private_network=bool(cp.allow_private_network),
        allow_methods=tuple(m.root for m in cp.allow_methods),
        allow_headers=tuple(h.root for h in cp.allow_headers or ()),
        expose_headers=tuple(h.root for h in cp.expose_headers or ()),
        max_age=max_age,
    )


def slow_start_config(ss: api.SlowStartPolicy) -> SlowStartConfig:
    try:
        window = parse_go_duration(ss.window)
    except DurationError as exc:
        raise PolicyError(f"error parsing window: {exc}") from exc
    aggression = 1.0
    if ss.aggression:
        try:
            aggression = float(ss.aggression)
        except ValueError as exc:
            raise PolicyError(f'error parsing aggression: "{ss.aggression}" is not a decimal number') from exc
    min_weight = ss.min_weight_percent if ss.min_weight_percent is not None else 10
    return SlowStartConfig(window_seconds=window, aggression=aggression, min_weight_percent=min_weight)


def prefix_replacements_error(replacements: list[api.ReplacePrefix]) -> tuple[str, str] | None:
    """(reason, message) when replacements repeat a prefix (Contour's prefixReplacementsAreValid)."""
    seen: set[str] = set()
    for r in replacements:
        prefix = r.prefix or ""
        if prefix in seen:
            if prefix:
                return "DuplicateReplacement", f"duplicate replacement prefix '{prefix}'"
            return "AmbiguousReplacement", "ambiguous prefix replacement"
        seen.add(prefix)
    return None
