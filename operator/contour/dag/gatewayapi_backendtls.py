"""BackendTLSPolicy (Gateway API v1.6.1): Gateways originate TLS to the Services a policy targets.

A policy targets Services (optionally one port, by `sectionName`, which is the Service port's name)
and says how the Gateway verifies the backend: a CA bundle (`caCertificateRefs`, a ConfigMap or
Secret in the policy's namespace with key `ca.crt`) or the system's trusted roots
(`wellKnownCACertificates: System`), the SNI (`hostname`) and the names the certificate must carry
(`subjectAltNames`, else `hostname`). Once routes have attached, every cluster of a Gateway whose
Service port has a policy becomes a TLS cluster with that SNI and validation context.

Rules (apis/v1/backendtlspolicy_types.go at v1.6.1):
* a policy naming a port (sectionName) takes precedence over one naming the whole Service; among
  policies for the same Service and port, the oldest (then namespace/name first) applies and the
  others are Accepted=False/Conflicted;
* an invalid CA reference makes ResolvedRefs False (InvalidKind for a kind other than ConfigMap or
  Secret, InvalidCACertificateRef for a missing object or one without a PEM `ca.crt`); when no
  reference is valid the policy is Accepted=False/NoValidCACertificate and requests to its backends
  fail with 500 (the spec requires a 5xx); an unknown `wellKnownCACertificates` is Accepted=False/Invalid;
* status is reported per ancestor: each of our Gateways with a route to a targeted Service.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from contour.api.gateway import v1 as gwapi
from contour.dag.cache import KubernetesCache
from contour.dag.gatewayapi_ca import ca_bundle
from contour.dag.gatewayapi_listeners import Verdict, condition
from contour.dag.gatewayapi_model import GatewayDAG
from contour.dag.gatewayapi_names import GROUP
from contour.dag.model import (
    Cluster,
    DirectResponse,
    ObjectRef,
    Protocol,
    Route,
    Secret,
    Service,
    UpstreamValidation,
)

# The system's trusted roots, as Envoy reads them on this host (Debian's ca-certificates bundle).
SYSTEM_CA_BUNDLE: Final = "/etc/ssl/certs/ca-certificates.crt"
WELL_KNOWN_SYSTEM: Final = "System"

REASON_ACCEPTED: Final = "Accepted"
REASON_CONFLICTED: Final = "Conflicted"
REASON_INVALID: Final = "Invalid"
REASON_NO_VALID_CA_CERTIFICATE: Final = "NoValidCACertificate"
REASON_RESOLVED_REFS: Final = "ResolvedRefs"
REASON_INVALID_CA_CERTIFICATE_REF: Final = "InvalidCACertificateRef"
REASON_INVALID_KIND: Final = "InvalidKind"

# (Service, Service port name or None for the whole Service)
TargetKey = tuple[ObjectRef, str | None]


@dataclass(slots=True)
class BackendTLS:
    """One policy after validation; `validation` None: connections to its backends must fail."""

    ref: ObjectRef
    generation: int
    sni: str
    validation: UpstreamValidation | None
    accepted: Verdict
    resolved_refs: Verdict
    conflicted: bool = False
    ancestors: set[ObjectRef] = field(default_factory=set)

    @property
    def usable(self) -> bool:
        return self.validation is not None and self.accepted.ok

    def conditions(self, generation: int) -> list[dict[str, object]]:
        accepted = self.accepted
        if self.conflicted and accepted.ok:
            accepted = Verdict(False, REASON_CONFLICTED, "Another policy targets the same Service port")
        return [
            condition("Accepted", accepted, generation),
            condition("ResolvedRefs", self.resolved_refs, generation),
        ]


def _precedence(item: tuple[ObjectRef, gwapi.BackendTLSPolicy]) -> tuple[str, str, str]:
    ref, policy = item
    created = (policy.metadata.creation_timestamp if policy.metadata is not None else None) or ""
    return created, ref.namespace, ref.name


def _ca_bundle(
    cache: KubernetesCache, namespace: str, ref: gwapi.CACertificateRef
) -> tuple[bytes, Verdict | None]:
    """The PEM bundle one caCertificateRef names, or the ResolvedRefs problem with it."""
    group, kind = ref.group or "", ref.kind
    target = ObjectRef(namespace, ref.name)
    if group != "" or kind not in ("ConfigMap", "Secret"):
        message = f"caCertificateRef {ref.name}: kind {group or 'core'}/{kind} is not supported"
        return b"", Verdict(False, REASON_INVALID_KIND, message)
    data, problem = ca_bundle(cache, kind, target)
    if problem is not None:
        return b"", Verdict(False, REASON_INVALID_CA_CERTIFICATE_REF, problem)
    return data, None


def resolve_policy(cache: KubernetesCache, ref: ObjectRef, policy: gwapi.BackendTLSPolicy) -> BackendTLS:
    """A policy's validation context and its Accepted/ResolvedRefs verdicts (conflicts come later)."""
    spec = policy.spec.validation
    generation = policy.metadata.generation if policy.metadata is not None else None
    result = BackendTLS(
        ref=ref,
        generation=generation if isinstance(generation, int) else 0,
        sni=spec.hostname,
        validation=None,
        accepted=Verdict(True, REASON_ACCEPTED, "Policy is accepted"),
        resolved_refs=Verdict(True, REASON_RESOLVED_REFS, "References resolved"),
    )
    dns = tuple(s.hostname for s in spec.subject_alt_names or () if s.type == "Hostname" and s.hostname)
    uris = tuple(s.uri for s in spec.subject_alt_names or () if s.type == "URI" and s.uri)
    if not spec.subject_alt_names:
        dns = (spec.hostname,)
    refs = spec.ca_certificate_refs or []
    well_known = spec.well_known_ca_certificates
    if refs and well_known:
        result.accepted = Verdict(
            False, REASON_INVALID, "caCertificateRefs and wellKnownCACertificates are mutually exclusive"
        )
        return result
    if well_known:
        if well_known != WELL_KNOWN_SYSTEM:
            message = f"wellKnownCACertificates {well_known!r} is not supported (only {WELL_KNOWN_SYSTEM})"
            result.accepted = Verdict(False, REASON_INVALID, message)
            return result
        result.validation = UpstreamValidation(
            ca_secret=Secret(ref=ref), subject_names=dns, uri_subject_names=uris, ca_file=SYSTEM_CA_BUNDLE
        )
        return result
    if not refs:
        result.accepted = Verdict(
            False, REASON_INVALID, "One of caCertificateRefs and wellKnownCACertificates is required"
        )
        return result
    bundle = b""
    for ca_ref in refs:
        data, problem = _ca_bundle(cache, ref.namespace, ca_ref)
        if problem is not None:
            if result.resolved_refs.ok:
                result.resolved_refs = problem
            continue
        bundle += data
    if not bundle:
        result.accepted = Verdict(False, REASON_NO_VALID_CA_CERTIFICATE, "No caCertificateRef is valid")
        return result
    secret = Secret(ref=ObjectRef(ref.namespace, refs[0].name), ca=bundle)
    result.validation = UpstreamValidation(ca_secret=secret, subject_names=dns, uri_subject_names=uris)
    return result


class BackendTLSPolicies:
    """Every BackendTLSPolicy, indexed by the Service port it applies to; applied Gateway by Gateway."""

    def __init__(self, cache: KubernetesCache) -> None:
        self.policies: dict[ObjectRef, BackendTLS] = {}
        # every policy for a target, in precedence order: the first applies, the others are Conflicted
        self.by_target: dict[TargetKey, list[BackendTLS]] = {}
        for ref, policy in sorted(cache.backendtlspolicies.items(), key=_precedence):
            resolved = resolve_policy(cache, ref, policy)
            self.policies[ref] = resolved
            seen: set[TargetKey] = set()
            for target in policy.spec.target_refs:
                if (target.group or "") != "" or target.kind != "Service":
                    continue
                key = (ObjectRef(ref.namespace, target.name), target.section_name)
                if key in seen:
                    continue
                seen.add(key)
                holders = self.by_target.setdefault(key, [])
                if holders:
                    resolved.conflicted = True
                holders.append(resolved)

    def __bool__(self) -> bool:
        return bool(self.by_target)

    def _for(self, service: Service) -> list[BackendTLS]:
        named = self.by_target.get((service.ref, service.port.name)) if service.port.name else None
        return named or self.by_target.get((service.ref, None)) or []

    def _cluster(self, gateway: ObjectRef, cluster: Cluster) -> Cluster | None:
        """`cluster` with its policy applied; None when its policy is unusable (requests must fail)."""
        holders = self._for(cluster.upstream)
        if not holders:
            return cluster
        for holder in holders:
            holder.ancestors.add(gateway)
        policy = holders[0]
        if cluster.upstream_validation is not None:
            return cluster  # already applied (a Route shared by several hosts)
        if not policy.usable:
            return None
        protocol = cluster.protocol or cluster.upstream.protocol
        tls = Protocol.H2 if protocol in (Protocol.H2, Protocol.H2C) else Protocol.TLS
        return replace(cluster, protocol=tls, sni=policy.sni, upstream_validation=policy.validation)

    def _route(self, gateway: ObjectRef, route: Route) -> None:
        if route.clusters:
            kept: list[Cluster] = []
            for cluster in route.clusters:
                applied = self._cluster(gateway, cluster)
                if applied is None:
                    route.invalid_backend_weight += cluster.weight or 1
                else:
                    kept.append(applied)
            route.clusters = kept
            if not kept:
                route.direct_response = DirectResponse(500)
                route.invalid_backend_weight = 0
                route.mirror_policies = []
                route.websocket = False
        mirrors = []
        for mirror in route.mirror_policies:
            applied = self._cluster(gateway, mirror.cluster)
            if applied is not None:
                mirrors.append(replace(mirror, cluster=applied))
        route.mirror_policies = mirrors

    def apply(self, gateway: ObjectRef, dag: GatewayDAG) -> None:
        """Turn the clusters of `dag`'s HTTP routes whose Service port has a policy into TLS clusters."""
        if not self.by_target:
            return
        for listener in dag.listeners.values():
            hosts = [
                *listener.virtual_hosts.values(),
                *(s.virtual_host for s in listener.secure_virtual_hosts.values()),
            ]
            for vhost in hosts:
                for route in vhost.routes.values():
                    self._route(gateway, route)

    def statuses(
        self, controller: str, previous: Mapping[ObjectRef, list[Any]]
    ) -> Iterable[tuple[ObjectRef, int, dict[str, Any]]]:
        """(policy, generation, status) for each policy with one of our Gateways as an ancestor, or that
        had one before; other controllers' `ancestors` entries are kept (the list is atomic)."""
        for ref in sorted(set(self.policies) | {r for r, found in previous.items() if found}):
            policy = self.policies.get(ref)
            if policy is None:
                continue
            cached = previous.get(ref, [])
            ours_before = [
                e for e in cached if isinstance(e, Mapping) and e.get("controllerName") == controller
            ]
            if not policy.ancestors and not ours_before:
                continue
            ancestors = [
                e for e in cached if not (isinstance(e, Mapping) and e.get("controllerName") == controller)
            ]
            for gateway in sorted(policy.ancestors):
                ancestor_ref = {
                    "group": GROUP,
                    "kind": "Gateway",
                    "namespace": gateway.namespace,
                    "name": gateway.name,
                }
                before = next((e for e in ours_before if e.get("ancestorRef") == ancestor_ref), None)
                ancestors.append(
                    {
                        "ancestorRef": ancestor_ref,
                        "controllerName": controller,
                        "conditions": _keep_times(policy.conditions(policy.generation), before),
                    }
                )
            yield ref, policy.generation, {"ancestors": ancestors}


def _keep_times(
    conditions: list[dict[str, object]], before: Mapping[str, Any] | None
) -> list[dict[str, object]]:
    """Each condition with the lastTransitionTime it had in `before`, when it did not change (a new one
    is stamped by the controller)."""
    previous = before.get("conditions") if before is not None else None
    by_type = (
        {c.get("type"): c for c in previous if isinstance(c, Mapping)} if isinstance(previous, list) else {}
    )
    out = []
    for cond in conditions:
        old = by_type.get(cond["type"])
        if (
            old is not None
            and isinstance(old.get("lastTransitionTime"), str)
            and all(old.get(k) == cond[k] for k in ("status", "reason", "message"))
        ):
            out.append({**cond, "lastTransitionTime": old["lastTransitionTime"]})
        else:
            out.append(cond)
    return out
