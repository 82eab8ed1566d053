"""IP allow/deny policies of an HTTPProxy's virtual host and routes (Contour's toIPFilterRules).

A policy is a list of CIDRs, each matched against the connecting peer's address (`source: Peer`) or
the client address Envoy derives from X-Forwarded-For and PROXY protocol (`source: Remote`). A host
or route has an allow list or a deny list, never both; a route's own policy replaces its host's.
CIDRs are parsed as Go's net.ParseCIDR parses them (a bare address means a single host) and the
error messages are Contour's. One deliberate difference: Contour keeps the rules that parsed when an
earlier one did not (its error variable is overwritten by the next rule), which silently shortens a
deny list; here any unparsable CIDR invalidates the whole policy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Protocol

from contour.api.projectcontour import v1 as api
from contour.dag.model import IPFilterRule, Route, VirtualHost
from contour.dag.status import DetailedCondition

IP_FILTER_ERROR = "IPFilterError"


class _Policy(Protocol):
    @property
    def cidr(self) -> str: ...

    @property
    def source(self) -> str: ...


class _Filtered(Protocol):
    """A virtual host or route spec: both carry the two policy lists."""

    @property
    def ip_allow_policy(self) -> Sequence[api.IPAllowPolicy] | None: ...

    @property
    def ip_deny_policy(self) -> Sequence[api.IPDenyPolicy] | None: ...


class CIDRError(ValueError):
    """A CIDR net.ParseCIDR rejects; str() is Go's message."""


def parse_cidr(text: str) -> str:
    """The masked network of `text` ("10.1.2.3/8" -> "10.0.0.0/8"); a bare address gets /32 or /128.

    Follows Go's net.ParseCIDR: an IPv4 or IPv6 address without a zone, "/", and a decimal prefix
    length no longer than the address.
    """
    cidr = text
    if "/" not in cidr:
        cidr += "/128" if ":" in cidr else "/32"
    error = CIDRError(f"invalid CIDR address: {cidr}")
    address, _, bits = cidr.partition("/")
    if "%" in address or not bits or not (bits.isascii() and bits.isdigit()):
        raise error
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        raise error from None
    if int(bits) > parsed.max_prefixlen:
        raise error
    network = ipaddress.ip_network(f"{address}/{int(bits)}", strict=False)
    return f"{network.network_address}/{network.prefixlen}"


def ip_filter_rules(
    allow: Sequence[_Policy] | None, deny: Sequence[_Policy] | None, cond: DetailedCondition
) -> tuple[bool, tuple[IPFilterRule, ...]] | None:
    """(allow?, rules) of a policy pair; None after adding the error(s) (one InvalidCIDR per bad CIDR)."""
    if allow and deny:
        cond.add_error(
            IP_FILTER_ERROR,
            "IncompatibleIPAddressFilters",
            "cannot specify both `ipAllowPolicy` and `ipDenyPolicy`",
        )
        return None
    policies = allow or deny or ()
    rules: list[IPFilterRule] = []
    valid = True
    for policy in policies:
        try:
            cidr = parse_cidr(policy.cidr)
        except CIDRError as exc:
            cond.add_error(IP_FILTER_ERROR, "InvalidCIDR", f"{policy.cidr} failed to parse: {exc}")
            valid = False
            continue
        rules.append(IPFilterRule(cidr=cidr, remote=policy.source == "Remote"))
    if not valid:
        return None
    return bool(allow), tuple(rules)


def last_cidr_error(policies: Sequence[_Policy]) -> str:
    """The parse error Contour reports for a host's policy: that of the last bad CIDR."""
    message = ""
    for policy in policies:
        try:
            parse_cidr(policy.cidr)
        except CIDRError as exc:
            message = str(exc)
    return message


def set_vhost_ip_filters(spec: _Filtered, vhost: VirtualHost, cond: DetailedCondition) -> bool:
    """Puts the host's policy on `vhost`; False after adding the errors (then the root stops)."""
    computed = ip_filter_rules(spec.ip_allow_policy, spec.ip_deny_policy, cond)
    if computed is None:
        bad = last_cidr_error([*(spec.ip_allow_policy or ()), *(spec.ip_deny_policy or ())])
        cond.add_error(
            IP_FILTER_ERROR,
            "IPFilterPolicyNotValid",
            "Spec.VirtualHost.IPAllowFilterPolicy or Spec.VirtualHost.IPDenyFilterPolicy is invalid: "
            f"{bad or 'invalid ip filter'}",
        )
        return False
    vhost.ip_filter_allow, vhost.ip_filter_rules = computed
    return True


def copy_vhost_ip_filters(source: VirtualHost, target: VirtualHost) -> None:
    """The secure copy of a host gets the policy computed for the plain one."""
    target.ip_filter_allow, target.ip_filter_rules = source.ip_filter_allow, source.ip_filter_rules


def set_route_ip_filters(spec: _Filtered, route: Route, cond: DetailedCondition) -> bool:
    """Puts a route's own policy on `route`; False after adding the errors (the proxy's routes are
    then dropped, as Contour drops them)."""
    computed = ip_filter_rules(spec.ip_allow_policy, spec.ip_deny_policy, cond)
    if computed is None:
        return False
    route.ip_filter_allow, route.ip_filter_rules = computed
    return True
