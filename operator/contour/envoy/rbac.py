"""IP allow/deny policies as per-host and per-route configuration of Envoy's RBAC filter.

The RBAC filter sits in every HTTP chain with an empty configuration (`default_http_filters()`),
which allows everything. A virtual host or route with an IP policy overrides it through
`typed_per_filter_config["envoy.filters.http.rbac"]` with an `RBACPerRoute`, as Contour does: one
policy, `ip-rules`, whose principals are the CIDRs; the action is ALLOW for an allow list (anything
else gets 403) or DENY for a deny list. `Peer` rules match `direct_remote_ip` (the connection's
source), `Remote` rules `remote_ip` (the client address Envoy derived from X-Forwarded-For with
`xff_num_trusted_hops`, or from PROXY protocol). A route's policy replaces its host's, since Envoy
uses the most specific per-filter config.
https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/rbac/v3/rbac.proto#config-rbac-v3-principal
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from envoy.config.core.v3 import address_pb2
from envoy.config.rbac.v3 import rbac_pb2 as rbac_config
from envoy.extensions.filters.http.rbac.v3 import rbac_pb2

from contour.dag.model import IPFilterRule, Route, VirtualHost

RBAC_FILTER: Final = "envoy.filters.http.rbac"
IP_RULES_POLICY: Final = "ip-rules"


def _principal(rule: IPFilterRule) -> Any:
    address, _, bits = rule.cidr.partition("/")
    cidr = address_pb2.CidrRange(address_prefix=address)
    cidr.prefix_len.value = int(bits)
    if rule.remote:
        return rbac_config.Principal(remote_ip=cidr)
    return rbac_config.Principal(direct_remote_ip=cidr)


def ip_filter_config(allow: bool, rules: Sequence[IPFilterRule]) -> Any:
    """The `RBACPerRoute` enforcing one allow or deny list."""
    policy = rbac_config.Policy(
        permissions=[rbac_config.Permission(any=True)],
        principals=[_principal(rule) for rule in rules],
    )
    action = rbac_config.RBAC.ALLOW if allow else rbac_config.RBAC.DENY
    rules_message = rbac_config.RBAC(action=action)
    rules_message.policies[IP_RULES_POLICY].CopyFrom(policy)
    return rbac_pb2.RBACPerRoute(rbac=rbac_pb2.RBAC(rules=rules_message))


def virtual_host_ip_filter(vhost: VirtualHost) -> Any | None:
    """The host's RBAC override, or None when it has no IP policy."""
    if not vhost.ip_filter_rules:
        return None
    return ip_filter_config(vhost.ip_filter_allow, vhost.ip_filter_rules)


def route_ip_filter(route: Route) -> Any | None:
    """The route's own RBAC override, or None when it has no IP policy (its host's applies)."""
    if not route.ip_filter_rules:
        return None
    return ip_filter_config(route.ip_filter_allow, route.ip_filter_rules)
