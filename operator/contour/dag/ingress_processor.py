"""IngressProcessor: networking.k8s.io/v1 Ingresses into virtual hosts and routes, as Contour 1.33 does.

Follows `internal/dag/ingress_processor.go`. Two passes over the Ingresses the cache holds (the cache
already dropped those of other classes): first every `spec.tls[]` entry whose Secret resolves (through
`projectcontour.io/tls-cert-namespace` and TLSCertificateDelegation) makes a secure virtual host per
listed host, so the set of TLS hosts is fixed before any route is placed; then every rule's paths
become routes. A rule without a host goes to the catch-all host `*`; `spec.defaultBackend` is a rule
for `*` with path `/` placed before the others so that they can override it. A route goes to the
plain-HTTP host unless `kubernetes.io/ingress.allow-http: "false"` (and force-ssl-redirect does not
override that); with `ingress.kubernetes.io/force-ssl-redirect: "true"` the plain-HTTP copy redirects
to https. It also goes to the secure host of the same name, if one exists and the host is not `*`.

Path types: Exact is an exact match; Prefix a path-segment prefix (trailing `/` trimmed, `/` itself a
plain prefix); ImplementationSpecific (and a missing pathType) a regex when the path contains any of
`^+*[]%`, else a plain string prefix. A backend whose Service or port is missing is skipped (no route,
no 503: unlike HTTPProxy); an invalid regex drops the rest of its rule, as in Contour. One deviation:
a Prefix path Envoy cannot take as a path-segment prefix (only slashes, or a `?` / `#`, which
Kubernetes' own validation mostly refuses) is skipped, where Contour would emit it and Envoy NACK the
whole route table. Ingress has no conditions to report, so these are only logged, as in Contour; every
Ingress this Contour serves gets the "accepted" status update (status `{}`) that the status writer
fills with the load balancer address.

Iteration is in (namespace, name) order, so when several Ingresses define the same host the result
is deterministic (Contour's map order is not).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from contour.dag import annotations as ann
from contour.dag.builder import BuildContext
from contour.dag.conditions import regex_error, wildcard_authority_match
from contour.dag.global_headers import ingress_route_headers
from contour.dag.model import (
    DAG,
    Cluster,
    Listener,
    ObjectRef,
    PathMatch,
    PathMatchKind,
    RetryPolicy,
    Route,
    Secret,
    SecureVirtualHost,
    Service,
    TimeoutPolicy,
    VirtualHost,
)
from contour.dag.rawobjects import generation_of, json_list, json_object
from contour.dag.secrets import (
    DelegationNotPermittedError,
    SecretError,
    lookup_tls_secret,
    lookup_tls_secret_insecure,
)
from contour.dag.services import ServiceLookupError, ensure_service, lookup_service
from contour.dag.status import StatusUpdate
from contour.dag.timeouts import DurationError

log = logging.getLogger(__name__)

GROUP_NETWORKING = "networking.k8s.io"
VERSION_V1 = "v1"
PLURAL_INGRESSES = "ingresses"

PATH_TYPE_EXACT = "Exact"
PATH_TYPE_PREFIX = "Prefix"
PATH_TYPE_IMPLEMENTATION_SPECIFIC = "ImplementationSpecific"
# An ImplementationSpecific path containing any of these is a regular expression (Contour's rule).
_REGEX_CHARACTERS = frozenset("^+*[]%")
# Envoy refuses these in a path-segment prefix (RouteMatch.path_separated_prefix validation).
_FORBIDDEN_IN_SEGMENT_PREFIX = frozenset("?#")

Obj = Mapping[str, Any]


class IngressProcessor:
    """Adds the routes of every served Ingress to the `http` and `https` listeners."""

    def run(self, ctx: BuildContext) -> None:
        ingresses = sorted(ctx.cache.ingresses.items())
        http = _single_listener(ctx.dag, "http")
        https = _single_listener(ctx.dag, "https")
        if https is not None:
            for ref, ingress in ingresses:
                _secure_virtual_hosts(ctx, ref, ingress, https)
        for ref, ingress in ingresses:
            if http is not None and https is not None:
                _IngressRoutes(ctx, ref, ingress, http, https).add()
            ctx.status.set_update(
                StatusUpdate(GROUP_NETWORKING, VERSION_V1, PLURAL_INGRESSES, ref, generation_of(ingress), {})
            )


# --- listeners and hosts ----------------------------------------------------------------------------


def _single_listener(dag: DAG, protocol: str) -> Listener | None:
    """The one listener with `protocol` (Contour's GetSingleListener); None, logged, when not exactly one."""
    found = [listener for listener in dag.listeners.values() if listener.protocol == protocol]
    if len(found) != 1:
        log.error("ingress: %s %s listener configured", "no" if not found else "more than one", protocol)
        return None
    return found[0]


def _secure_virtual_hosts(ctx: BuildContext, ref: ObjectRef, ingress: Obj, https: Listener) -> None:
    annotations = ann.annotations_of(ingress)
    for item in json_list(json_object(ingress.get("spec")).get("tls")):
        tls = json_object(item)
        secret_name = tls.get("secretName")
        if not isinstance(secret_name, str) or not secret_name:
            continue
        secret_ref = _secret_ref(secret_name, ann.tls_cert_namespace(annotations), ref.namespace)
        try:
            secret = lookup_tls_secret(ctx.cache, secret_ref, ref.namespace)
        except DelegationNotPermittedError:
            log.warning("ingress %s: certificate delegation not permitted for secret %s", ref, secret_ref)
            continue
        except SecretError as exc:
            log.warning("ingress %s: unresolved secret reference %s: %s", ref, secret_ref, exc)
            continue
        for host in json_list(tls.get("hosts")):
            if isinstance(host, str) and host:
                _set_tls(https, host, secret, annotations)


def _set_tls(https: Listener, host: str, secret: Secret, annotations: Mapping[str, str]) -> None:
    svh = https.secure_virtual_hosts.get(host)
    if svh is None:
        svh = SecureVirtualHost(virtual_host=VirtualHost(name=host))
        https.secure_virtual_hosts[host] = svh
    svh.secret = secret
    svh.min_tls_version = ann.min_tls_version(annotations)
    svh.max_tls_version = ann.max_tls_version(annotations)


def _secret_ref(secret_name: str, annotation_namespace: str, ingress_namespace: str) -> ObjectRef:
    """Contour's NamespacedNameFrom for `secretName`: "ns/name", else the tls-cert-namespace
    annotation's namespace, else the Ingress's own."""
    namespace, sep, name = secret_name.partition("/")
    if not sep:
        namespace, name = "", secret_name
    return ObjectRef(namespace or annotation_namespace or ingress_namespace or "default", name)


# --- rules and routes -------------------------------------------------------------------------------


def _rules(ingress: Obj) -> Iterator[Obj]:
    """`spec.rules`, preceded by a rule for `spec.defaultBackend` (host `*`, path `/`) if there is one."""
    spec = json_object(ingress.get("spec"))
    default_backend = spec.get("defaultBackend")
    if isinstance(default_backend, Mapping):
        yield {"http": {"paths": [{"backend": default_backend}]}}
    for rule in json_list(spec.get("rules")):
        if isinstance(rule, Mapping):
            yield rule


class _IngressRoutes:
    """The routes of one Ingress: its rules' paths placed on the plain and secure virtual hosts."""

    def __init__(
        self, ctx: BuildContext, ref: ObjectRef, ingress: Obj, http: Listener, https: Listener
    ) -> None:
        self.ctx = ctx
        self.ref = ref
        self.ingress = ingress
        self.http = http
        self.https = https
        self.annotations = ann.annotations_of(ingress)

    def add(self) -> None:
        for rule in _rules(self.ingress):
            self._rule(rule)

    def _rule(self, rule: Obj) -> None:
        host = rule.get("host")
        host = host if isinstance(host, str) and host else "*"

        client_certificate: Secret | None = None
        configured = self.ctx.config.client_certificate
        if configured is not None:
            try:
                client_certificate = lookup_tls_secret_insecure(self.ctx.cache, configured)
            except SecretError as exc:
                log.warning(
                    "ingress %s: tls.envoy-client-certificate %s is unresolved: %s", self.ref, configured, exc
                )
                return

        for item in json_list(json_object(rule.get("http")).get("paths")):
            http_path = json_object(item)
            path = http_path.get("path") or "/"
            path_type = http_path.get("pathType") or PATH_TYPE_IMPLEMENTATION_SPECIFIC
            if not isinstance(path, str) or not isinstance(path_type, str):
                log.warning("ingress %s: host %s: path or pathType is not a string", self.ref, host)
                continue
            service = self._backend_service(json_object(http_path.get("backend")))
            if service is None:
                continue
            try:
                path_match = _path_match(path, path_type)
            except InvalidRegexError as exc:
                # Contour stops at the first invalid regex: the rule's remaining paths are dropped too.
                log.warning("ingress %s: host %s: path regex %r is not valid: %s", self.ref, host, path, exc)
                return
            except ValueError as exc:
                log.warning("ingress %s: host %s: path %r skipped: %s", self.ref, host, path, exc)
                continue
            route = self._route(host, path, path_match, service, client_certificate)
            if (with_headers := ingress_route_headers(route, self.ctx.config, self.ref)) is None:
                continue
            self._place(host, with_headers)

    def _place(self, host: str, route: Route) -> None:
        if ann.tls_required(self.annotations) or ann.http_allowed(self.annotations):
            vhost = self.http.virtual_hosts.get(host)
            if vhost is None:
                vhost = self.http.virtual_hosts[host] = VirtualHost(name=host)
            vhost.add_route(route)
        svh = self.https.secure_virtual_hosts.get(host)
        if svh is not None and host != "*":
            # The secure host serves the route itself; only the plain-HTTP copy redirects.
            svh.virtual_host.add_route(
                dataclasses.replace(route, https_upgrade=False, clusters=list(route.clusters))
            )

    def _backend_service(self, backend: Obj) -> Service | None:
        """The DAG Service for `backend.service` (port by number, or by name looked up first)."""
        svc = json_object(backend.get("service"))
        name = svc.get("name")
        if not isinstance(name, str) or not name:
            log.warning("ingress %s: backend without a service name skipped", self.ref)
            return None
        service_ref = ObjectRef(self.ref.namespace, name)
        port_spec = json_object(svc.get("port"))
        number = port_spec.get("number")
        port = number if isinstance(number, int) and not isinstance(number, bool) else 0
        port_name = port_spec.get("name")
        try:
            if isinstance(port_name, str) and port_name:
                port = lookup_service(self.ctx.cache, service_ref, port_name)[1].port
            return ensure_service(
                self.ctx.cache,
                service_ref,
                port,
                port,
                enable_external_name=self.ctx.config.enable_external_name_service,
                memo=self.ctx.service_memo,
            )
        except ServiceLookupError as exc:
            log.warning("ingress %s: unresolved service reference %s: %s", self.ref, service_ref, exc)
            return None

    def _route(
        self, host: str, path: str, path_match: PathMatch, service: Service, client_certificate: Secret | None
    ) -> Route:
        return Route(
            path_match=path_match,
            header_matches=(wildcard_authority_match(host),) if host.startswith("*.") else (),
            clusters=[
                Cluster(upstream=service, protocol=service.protocol, client_certificate=client_certificate)
            ],
            https_upgrade=ann.tls_required(self.annotations),
            websocket=path in ann.websocket_routes(self.annotations),
            timeout_policy=self._timeout_policy(),
            retry_policy=self._retry_policy(),
            kind="Ingress",
            owner=self.ref,
        )

    def _timeout_policy(self) -> TimeoutPolicy:
        """Contour's ingressTimeoutPolicy: response-timeout, or Envoy's default when it does not parse."""
        try:
            return TimeoutPolicy(response_seconds=ann.response_timeout(self.annotations))
        except DurationError as exc:
            log.warning("ingress %s: response-timeout annotation ignored: %s", self.ref, exc)
            return TimeoutPolicy()

    def _retry_policy(self) -> RetryPolicy | None:
        """Contour's ingressRetryPolicy: only with retry-on; num-retries and per-try-timeout refine it."""
        retry_on = ann.retry_on(self.annotations)
        if not retry_on:
            return None
        try:
            per_try = ann.per_try_timeout(self.annotations)
        except DurationError as exc:
            log.warning("ingress %s: per-try-timeout annotation ignored: %s", self.ref, exc)
            per_try = None
        return RetryPolicy(
            retry_on=retry_on, num_retries=ann.num_retries(self.annotations), per_try_timeout_seconds=per_try
        )


class InvalidRegexError(ValueError):
    """An ImplementationSpecific path that looks like a regex but RE2 rejects."""


def _path_match(path: str, path_type: str) -> PathMatch:
    if path_type == PATH_TYPE_PREFIX:
        if path == "/":
            return PathMatch(PathMatchKind.PREFIX, "/")
        trimmed = path.rstrip("/")
        # Envoy's path_separated_prefix must match ^[^?#]+[^?#/]$: anything else would be a NACK.
        if not trimmed or _FORBIDDEN_IN_SEGMENT_PREFIX.intersection(trimmed):
            raise ValueError("not a usable Prefix path (empty, or containing '?' or '#')")
        return PathMatch(PathMatchKind.SEGMENT_PREFIX, trimmed)
    if path_type == PATH_TYPE_EXACT:
        return PathMatch(PathMatchKind.EXACT, path)
    if path_type == PATH_TYPE_IMPLEMENTATION_SPECIFIC:
        if _REGEX_CHARACTERS.intersection(path):
            error = regex_error(path)
            if error is not None:
                raise InvalidRegexError(error)
            return PathMatch(PathMatchKind.REGEX, path)
        return PathMatch(PathMatchKind.PREFIX, path)
    raise ValueError(f"unknown pathType {path_type!r}")
