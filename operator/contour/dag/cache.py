"""KubernetesCache: the objects a build reads, and whether a change to one needs a rebuild.

The controller feeds every informer event here as the raw dict the API returned. Contour's CRD kinds
are parsed into the `contour.api` models once, at insert, so processors never re-parse; an object the
model rejects is kept in `unparsed` with the reason so the processor can report it in status instead
of crashing. Core kinds stay dicts. Secrets are trimmed to their TLS material on the way in (Contour
issues #5099/#6763: caching whole Secrets costs gigabytes), and `insert`/`remove` answer Contour's
question "does this change need a DAG rebuild?" with Contour's rules (internal/dag/cache.go): an
Ingress or HTTPProxy of another class, or a Secret or Service nothing references, does not.
EndpointSlices never come here: they go straight to EDS. Gateway API kinds (any served version) are
parsed into `contour.api.gateway` models and every change to them rebuilds; the raw `status.parents`
of routes and `status.listeners` of Gateways are kept beside them (other controllers' entries, and
the transition times of unchanged conditions), ConfigMaps only for their `ca.crt`.

Processors read HTTPProxies, Services, Secrets, ExtensionServices and TLSCertificateDelegations
through the accessors (`httpproxy`, `service`, `secret`, `extensionservice`, `delegations`). Between
`start_recording()` and `stop_recording()` those accessors log what they returned, so an incremental
build knows exactly which objects one root HTTPProxy's result depends on (`httpproxy_memo`): the
cache replaces an object by a new one on every change, so "unchanged" is object identity.

Pure: no I/O and no clock; a plain object owned by one task.
"""

from __future__ import annotations

import base64
import binascii
from collections import deque
from collections.abc import ItemsView, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from contour.api.gateway import v1 as gwapi
from contour.api.projectcontour.v1 import HTTPProxy, TLSCertificateDelegation
from contour.api.projectcontour.v1alpha1 import ExtensionService
from contour.dag.annotations import annotations_of, tls_cert_namespace
from contour.dag.ingressclass import matches_httpproxy, matches_ingress
from contour.dag.model import ObjectRef
from contour.dag.rawobjects import generation_of, json_list, json_object, json_string

# One read: the table, the key looked up, and the value found then (None when absent).
Read = tuple[Mapping[Any, Any], Any, Any]

CHANGE_LOG_SIZE = 65536
GATEWAY_API_GROUP = "gateway.networking.k8s.io"
ROUTE_KINDS = ("HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute")
SECRET_TYPE_TLS = "kubernetes.io/tls"
SECRET_TYPE_OPAQUE = "Opaque"
TLS_CERT_KEY = "tls.crt"
TLS_KEY_KEY = "tls.key"
CA_CERT_KEY = "ca.crt"
CRL_KEY = "crl.pem"
_SECRET_KEYS = (TLS_CERT_KEY, TLS_KEY_KEY, CA_CERT_KEY, CRL_KEY)
DEFAULT_JWKS_KEY = "jwks.json"


def _kept_key(key: str, value: bytes) -> bool:
    """TLS/CA/CRL keys, `jwks.json`, and any key holding what looks like a JSON Web Key Set (a Secret
    may arrive before the HTTPProxy whose localJWKS names the key, so the content decides)."""
    if key in _SECRET_KEYS or key == DEFAULT_JWKS_KEY:
        return True
    return value.lstrip()[:1] == b"{" and b'"keys"' in value


@dataclass(frozen=True)
class Unparsed:
    """An object of a Contour kind the API model rejected: processors report `reason` in its status."""

    kind: str
    ref: ObjectRef
    generation: int
    reason: str


@dataclass(frozen=True)
class CachedSecret:
    """The part of a Secret the DAG may use: its type and decoded TLS/CA/CRL/JWKS keys."""

    ref: ObjectRef
    type: str
    data: Mapping[str, bytes]


def object_ref(obj: Mapping[str, Any]) -> ObjectRef:
    meta = json_object(obj.get("metadata"))
    return ObjectRef(json_string(meta.get("namespace")), json_string(meta.get("name")))


def _group_kind(obj: Mapping[str, Any]) -> tuple[str, str]:
    api_version = json_string(obj.get("apiVersion"))
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    return group, json_string(obj.get("kind"))


def _decode_secret_data(obj: Mapping[str, Any]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for key, value in json_object(obj.get("stringData")).items():
        if isinstance(value, str) and _kept_key(key, value.encode()):
            out[key] = value.encode()
    for key, value in json_object(obj.get("data")).items():
        if not isinstance(value, str):
            continue
        try:
            decoded = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if _kept_key(key, decoded):
            out[key] = decoded
    return out


def _tls_material(obj: Mapping[str, Any]) -> CachedSecret | None:
    """A Secret worth keeping: kubernetes.io/tls, or Opaque holding a certificate, CA bundle or CRL."""
    raw_type = obj.get("type")
    if raw_type is not None and not isinstance(raw_type, str):
        return None
    secret_type = raw_type or SECRET_TYPE_OPAQUE
    if secret_type not in (SECRET_TYPE_TLS, SECRET_TYPE_OPAQUE):
        return None
    data = _decode_secret_data(obj)
    if secret_type == SECRET_TYPE_OPAQUE and not data:
        return None
    return CachedSecret(object_ref(obj), secret_type, data)


def _without_bookkeeping(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A shallow copy without `metadata.managedFields`, which no processor reads and which is often the
    largest part of an object the API server returns."""
    out = dict(obj)
    meta = out.get("metadata")
    if isinstance(meta, Mapping) and "managedFields" in meta:
        out["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return out


def split_ref(value: str, default_namespace: str) -> ObjectRef:
    """Contour's NamespacedNameFrom: "ns/name" or a bare name in the default namespace."""
    namespace, sep, name = value.partition("/")
    if sep:
        return ObjectRef(namespace, name)
    return ObjectRef(default_namespace, value)


@dataclass(frozen=True)
class ProxySplit:
    """HTTPProxy refs in namespace/name order: non-roots, roots, and the roots of each (lower-cased)
    host name that several roots claim."""

    non_roots: list[ObjectRef]
    roots: list[ObjectRef]
    duplicates: dict[str, list[ObjectRef]]


class KubernetesCache:
    """Everything a build reads, keyed by ObjectRef; `insert`/`remove` report whether to rebuild."""

    def __init__(
        self,
        *,
        root_namespaces: tuple[str, ...] = (),
        ingress_class_names: tuple[str, ...] = (),
        config_namespace: str = "projectcontour",
        configured_secret_refs: tuple[ObjectRef, ...] = (),
    ) -> None:
        self.root_namespaces = tuple(root_namespaces)
        self.ingress_class_names = tuple(ingress_class_names)
        self.config_namespace = config_namespace
        # Secrets named by the configuration (fallback certificate, Envoy client certificate).
        self.configured_secret_refs = tuple(configured_secret_refs)

        self.httpproxies: dict[ObjectRef, HTTPProxy] = {}
        # The refs in `httpproxies` by namespace: a proxy's services are always in its own namespace
        # (an included proxy's are in the child's), so a Service event looks only at its namespace.
        self._httpproxy_refs_by_namespace: dict[str, set[ObjectRef]] = {}
        # Each proxy's host name (lower-cased) or None for a non-root, and the split below, kept until
        # a proxy is added or removed or changes its host name.
        self._proxy_hosts: dict[ObjectRef, str | None] = {}
        self._proxy_split: ProxySplit | None = None
        self.tlscertificatedelegations: dict[ObjectRef, TLSCertificateDelegation] = {}
        self.extensionservices: dict[ObjectRef, ExtensionService] = {}
        self.services: dict[ObjectRef, dict[str, Any]] = {}
        self.secrets: dict[ObjectRef, CachedSecret] = {}
        self.ingresses: dict[ObjectRef, dict[str, Any]] = {}
        self.ingressclasses: dict[ObjectRef, dict[str, Any]] = {}
        self.namespaces: dict[ObjectRef, dict[str, Any]] = {}
        # Gateway API objects (gateway.networking.k8s.io, any served version), parsed; the routes'
        # `status.parents` as found (raw), to keep other controllers' entries when writing ours.
        self.gatewayclasses: dict[ObjectRef, gwapi.GatewayClass] = {}
        self.gateways: dict[ObjectRef, gwapi.Gateway] = {}
        self.listenersets: dict[ObjectRef, gwapi.ListenerSet] = {}
        self.httproutes: dict[ObjectRef, gwapi.HTTPRoute] = {}
        self.grpcroutes: dict[ObjectRef, gwapi.GRPCRoute] = {}
        self.tlsroutes: dict[ObjectRef, gwapi.TLSRoute] = {}
        self.tcproutes: dict[ObjectRef, gwapi.TCPRoute] = {}
        self.udproutes: dict[ObjectRef, gwapi.UDPRoute] = {}
        self.referencegrants: dict[ObjectRef, gwapi.ReferenceGrant] = {}
        self.backendtlspolicies: dict[ObjectRef, gwapi.BackendTLSPolicy] = {}
        self.route_parents: dict[tuple[str, ObjectRef], list[Any]] = {}
        self.gateway_listener_status: dict[ObjectRef, list[Any]] = {}  # Gateways' status.listeners
        # ConfigMaps holding a `ca.crt` (CA bundles for BackendTLSPolicy / frontend validation), trimmed
        # to that key.
        self.configmaps: dict[ObjectRef, CachedSecret] = {}
        # The address each Gateway's Envoy listens on (set by whoever runs the Envoys).
        self.gateway_addresses: dict[ObjectRef, str] = {}
        self._gateway_backend_refs: set[ObjectRef] | None = None
        self._gateway_secret_refs: set[ObjectRef] | None = None
        # CRD objects the API models rejected, by (kind, ref).
        self.unparsed: dict[tuple[str, ObjectRef], Unparsed] = {}
        # Secret validation results, reused across builds until the Secret changes (see secrets.py).
        self.secret_validation: dict[tuple[ObjectRef, str], str | None] = {}
        # A fresh token whenever any TLSCertificateDelegation changes: reading "every delegation"
        # depends on it.
        self._tokens: dict[str, object] = {"delegations": object()}
        self._reads: list[Read] | None = None
        # (sequence number, (id(table), key)) of the latest changes, for incremental builds.
        self._change_seq = 0
        self._change_log: deque[tuple[int, tuple[int, Any]]] = deque(maxlen=CHANGE_LOG_SIZE)

    # --- reads -------------------------------------------------------------------------------------

    def start_recording(self) -> None:
        """Log every accessor read from now on (one log at a time)."""
        self._reads = []

    def stop_recording(self) -> tuple[Read, ...]:
        """The reads logged since `start_recording`, each (table, key) once, and stop logging."""
        reads, self._reads = self._reads or [], None
        unique: dict[tuple[int, Any], Read] = {}
        for read in reads:
            unique.setdefault((id(read[0]), read[1]), read)
        return tuple(unique.values())

    def _changed(self, table: Mapping[Any, Any], key: Any) -> None:
        self._change_seq += 1
        self._change_log.append((self._change_seq, (id(table), key)))

    def _set_token(self, name: str) -> None:
        self._tokens[name] = object()
        self._changed(self._tokens, name)

    def changes_since(self, seq: int) -> tuple[int, set[tuple[int, Any]] | None]:
        """The current sequence number, and the (id(table), key) of every accessor-visible entry
        changed after `seq`; None when the log no longer reaches back that far."""
        log = self._change_log
        if seq < self._change_seq and (not log or log[0][0] > seq + 1):
            return self._change_seq, None
        changed: set[tuple[int, Any]] = set()
        for number, key in reversed(log):
            if number <= seq:
                break
            changed.add(key)
        return self._change_seq, changed

    def _logged(self, table: Mapping[Any, Any], key: Any) -> Any:
        found = table.get(key)
        if self._reads is not None:
            self._reads.append((table, key, found))
        return found

    def httpproxy(self, ref: ObjectRef) -> HTTPProxy | None:
        found: HTTPProxy | None = self._logged(self.httpproxies, ref)
        return found

    def service(self, ref: ObjectRef) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._logged(self.services, ref)
        return found

    def secret(self, ref: ObjectRef) -> CachedSecret | None:
        found: CachedSecret | None = self._logged(self.secrets, ref)
        return found

    def extensionservice(self, ref: ObjectRef) -> ExtensionService | None:
        found: ExtensionService | None = self._logged(self.extensionservices, ref)
        return found

    def proxy_split(self) -> ProxySplit:
        """The HTTPProxies as non-roots, roots and host names claimed by several roots (do not modify)."""
        if self._proxy_split is None:
            non_roots: list[ObjectRef] = []
            roots: list[ObjectRef] = []
            claims: dict[str, list[ObjectRef]] = {}
            for ref in sorted(self.httpproxies, key=lambda r: (r.namespace, r.name)):
                host = self._proxy_hosts.get(ref)
                if host is None:
                    non_roots.append(ref)
                else:
                    roots.append(ref)
                    claims.setdefault(host, []).append(ref)
            duplicates = {host: refs for host, refs in sorted(claims.items()) if len(refs) > 1}
            self._proxy_split = ProxySplit(non_roots, roots, duplicates)
        return self._proxy_split

    def delegations(self) -> ItemsView[ObjectRef, TLSCertificateDelegation]:
        """Every TLSCertificateDelegation (a read of all of them)."""
        self._logged(self._tokens, "delegations")
        return self.tlscertificatedelegations.items()

    # --- events ------------------------------------------------------------------------------------

    def insert(self, obj: Mapping[str, Any]) -> bool:
        """Add or replace an object; True when the DAG must be rebuilt."""
        if not isinstance(obj, Mapping):
            return False
        group, kind = _group_kind(obj)
        ref = object_ref(obj)
        if group == "projectcontour.io":
            if kind == "HTTPProxy":
                return self._insert_httpproxy(obj, ref)
            if kind == "TLSCertificateDelegation":
                self._set_token("delegations")
                return self._insert_model(
                    obj, ref, kind, TLSCertificateDelegation, self.tlscertificatedelegations
                )
            if kind == "ExtensionService":
                return self._insert_model(obj, ref, kind, ExtensionService, self.extensionservices)
            return False
        if group == GATEWAY_API_GROUP:
            return self._insert_gateway_api(obj, ref, kind)
        if group == "" and kind == "ConfigMap":
            return self._insert_configmap(obj, ref)
        if group == "" and kind == "Secret":
            return self._insert_secret(obj, ref)
        if group == "" and kind == "Service":
            self.services[ref] = _without_bookkeeping(obj)
            self._changed(self.services, ref)
            return self._service_referenced(ref)
        if group == "" and kind == "Namespace":
            self.namespaces[ObjectRef("", ref.name)] = dict(obj)
            return True
        if group == "networking.k8s.io" and kind == "Ingress":
            if not matches_ingress(obj, self.ingress_class_names):
                return self.ingresses.pop(ref, None) is not None
            self.ingresses[ref] = _without_bookkeeping(obj)
            return True
        if group == "networking.k8s.io" and kind == "IngressClass":
            # Contour does not watch IngressClasses; kept for processors that may want them.
            self.ingressclasses[ObjectRef("", ref.name)] = dict(obj)
            return False
        return False

    def remove(self, obj: Mapping[str, Any]) -> bool:
        """Forget an object (only apiVersion/kind/metadata are read); True when the DAG must be rebuilt."""
        if not isinstance(obj, Mapping):
            return False
        group, kind = _group_kind(obj)
        ref = object_ref(obj)
        if group == "projectcontour.io":
            tables: dict[str, dict[ObjectRef, Any]] = {
                "HTTPProxy": self.httpproxies,
                "TLSCertificateDelegation": self.tlscertificatedelegations,
                "ExtensionService": self.extensionservices,
            }
            table = tables.get(kind)
            if table is None:
                return False
            if kind == "TLSCertificateDelegation":
                self._set_token("delegations")
            was_unparsed = self.unparsed.pop((kind, ref), None) is not None
            removed = table.pop(ref, None) is not None
            self._changed(table, ref)
            if kind == "HTTPProxy":
                self._index_httpproxy(ref)
            return removed or was_unparsed
        if group == GATEWAY_API_GROUP:
            return self._remove_gateway_api(ref, kind)
        if group == "" and kind == "ConfigMap":
            return self.configmaps.pop(ref, None) is not None
        if group == "" and kind == "Secret":
            stored = self.secrets.pop(ref, None)
            self._changed(self.secrets, ref)
            self._forget_validation(ref)
            if stored is None:
                return False
            return self._secret_triggers_rebuild(stored)
        if group == "" and kind == "Service":
            self._changed(self.services, ref)
            if self.services.pop(ref, None) is None:
                return False
            return self._service_referenced(ref)
        if group == "" and kind == "Namespace":
            return self.namespaces.pop(ObjectRef("", ref.name), None) is not None
        if group == "networking.k8s.io" and kind == "Ingress":
            return self.ingresses.pop(ref, None) is not None
        if group == "networking.k8s.io" and kind == "IngressClass":
            self.ingressclasses.pop(ObjectRef("", ref.name), None)
            return False
        return False

    # --- kinds -------------------------------------------------------------------------------------

    def _insert_httpproxy(self, obj: Mapping[str, Any], ref: ObjectRef) -> bool:
        spec_class = json_object(obj.get("spec")).get("ingressClassName")
        spec_class_name = spec_class if isinstance(spec_class, str) else None
        if not matches_httpproxy(annotations_of(obj), spec_class_name, self.ingress_class_names):
            removed = self.httpproxies.pop(ref, None) is not None
            self._changed(self.httpproxies, ref)
            self._index_httpproxy(ref)
            return self.unparsed.pop(("HTTPProxy", ref), None) is not None or removed
        rebuild = self._insert_model(obj, ref, "HTTPProxy", HTTPProxy, self.httpproxies)
        self._index_httpproxy(ref)
        return rebuild

    def _index_httpproxy(self, ref: ObjectRef) -> None:
        """Bring `_httpproxy_refs_by_namespace` and `_proxy_hosts` in line with `httpproxies` for `ref`."""
        refs = self._httpproxy_refs_by_namespace.setdefault(ref.namespace, set())
        proxy = self.httpproxies.get(ref)
        if proxy is not None:
            vh = proxy.spec.virtualhost
            host = vh.fqdn.lower() if vh is not None else None
            if ref not in refs or self._proxy_hosts.get(ref, "") != host:
                self._proxy_split = None
            refs.add(ref)
            self._proxy_hosts[ref] = host
            return
        if ref in refs:
            refs.discard(ref)
            self._proxy_split = None
        self._proxy_hosts.pop(ref, None)
        if not refs:
            del self._httpproxy_refs_by_namespace[ref.namespace]

    def _insert_model(
        self,
        obj: Mapping[str, Any],
        ref: ObjectRef,
        kind: str,
        model: type[HTTPProxy] | type[TLSCertificateDelegation] | type[ExtensionService],
        table: dict[ObjectRef, Any],
    ) -> bool:
        # status is ours to write, not to read: parse only what the user wrote.
        body = _without_bookkeeping(obj)
        body.pop("status", None)
        try:
            parsed = model.model_validate(body)
        except ValidationError as exc:
            table.pop(ref, None)
            self._changed(table, ref)
            self.unparsed[(kind, ref)] = Unparsed(kind, ref, generation_of(obj), _validation_reason(exc))
            return True
        self.unparsed.pop((kind, ref), None)
        table[ref] = parsed
        self._changed(table, ref)
        return True

    def _insert_secret(self, obj: Mapping[str, Any], ref: ObjectRef) -> bool:
        self._forget_validation(ref)
        kept = _tls_material(obj)
        if kept is None:
            old = self.secrets.pop(ref, None)
            self._changed(self.secrets, ref)
            return old is not None and self._secret_triggers_rebuild(old)
        self.secrets[ref] = kept
        self._changed(self.secrets, ref)
        return self._secret_triggers_rebuild(kept)

    def _forget_validation(self, ref: ObjectRef) -> None:
        for key in [k for k in self.secret_validation if k[0] == ref]:
            del self.secret_validation[key]

    # --- Contour's rebuild rules -------------------------------------------------------------------

    def _service_referenced(self, ref: ObjectRef) -> bool:
        """Contour's serviceTriggersRebuild: an Ingress, HTTPProxy or ExtensionService in the namespace
        names the Service."""
        for ing_ref, ing in self.ingresses.items():
            if ing_ref.namespace == ref.namespace and ref.name in _ingress_service_names(ing):
                return True
        for proxy_ref in self._httpproxy_refs_by_namespace.get(ref.namespace, ()):
            proxy = self.httpproxies[proxy_ref]
            for route in proxy.spec.routes or []:
                if any(s.name == ref.name for s in route.services or []):
                    return True
            tcp = proxy.spec.tcpproxy
            if tcp is not None and any(s.name == ref.name for s in tcp.services or []):
                return True
        for ext_ref, extension in self.extensionservices.items():
            if ext_ref.namespace != ref.namespace:
                continue
            spec = extension.spec
            if spec is not None and any(s.name == ref.name for s in spec.services):
                return True
        return ref in self._gateway_backends()

    def _secret_triggers_rebuild(self, secret: CachedSecret) -> bool:
        """Contour's secretTriggersRebuild (delegation is checked later, at lookup)."""
        if CA_CERT_KEY in secret.data:
            return True
        ref = secret.ref
        for ing_ref, ing in self.ingresses.items():
            default_ns = tls_cert_namespace(annotations_of(ing)) or ing_ref.namespace
            for tls in json_list(json_object(ing.get("spec")).get("tls")):
                name = json_string(json_object(tls).get("secretName"))
                if name and split_ref(name, default_ns) == ref:
                    return True
        for proxy_ref, proxy in self.httpproxies.items():
            vhost = proxy.spec.virtualhost
            tls = vhost.tls if vhost is not None else None
            if tls is None:
                continue
            if tls.secret_name and split_ref(tls.secret_name, proxy_ref.namespace) == ref:
                return True
            cv = tls.client_validation
            if cv is not None and cv.crl_secret and split_ref(cv.crl_secret, proxy_ref.namespace) == ref:
                return True
            if vhost is not None and any(
                p.local_jwks is not None and ObjectRef(proxy_ref.namespace, p.local_jwks.secret_name) == ref
                for p in vhost.jwt_providers or []
            ):
                return True
        return ref in self.configured_secret_refs or ref in self._gateway_secrets()

    # --- Gateway API ---------------------------------------------------------------------------------

    def _gateway_table(self, kind: str) -> tuple[type[Any], dict[ObjectRef, Any]] | None:
        tables: dict[str, tuple[type[Any], dict[ObjectRef, Any]]] = {
            "GatewayClass": (gwapi.GatewayClass, self.gatewayclasses),
            "Gateway": (gwapi.Gateway, self.gateways),
            "ListenerSet": (gwapi.ListenerSet, self.listenersets),
            "HTTPRoute": (gwapi.HTTPRoute, self.httproutes),
            "GRPCRoute": (gwapi.GRPCRoute, self.grpcroutes),
            "TLSRoute": (gwapi.TLSRoute, self.tlsroutes),
            "TCPRoute": (gwapi.TCPRoute, self.tcproutes),
            "UDPRoute": (gwapi.UDPRoute, self.udproutes),
            "ReferenceGrant": (gwapi.ReferenceGrant, self.referencegrants),
            "BackendTLSPolicy": (gwapi.BackendTLSPolicy, self.backendtlspolicies),
        }
        return tables.get(kind)

    def _insert_gateway_api(self, obj: Mapping[str, Any], ref: ObjectRef, kind: str) -> bool:
        found = self._gateway_table(kind)
        if found is None:
            return False
        model, table = found
        if kind == "GatewayClass":
            ref = ObjectRef("", ref.name)
        self.record_gateway_api_status(obj)
        self._forget_gateway_indexes(kind)
        body = _without_bookkeeping(obj)
        body.pop("status", None)
        try:
            parsed = model.model_validate(body)
        except ValidationError as exc:
            table.pop(ref, None)
            self.unparsed[(kind, ref)] = Unparsed(kind, ref, generation_of(obj), _validation_reason(exc))
            return True
        self.unparsed.pop((kind, ref), None)
        table[ref] = parsed
        return True

    def _remove_gateway_api(self, ref: ObjectRef, kind: str) -> bool:
        found = self._gateway_table(kind)
        if found is None:
            return False
        if kind == "GatewayClass":
            ref = ObjectRef("", ref.name)
        self.route_parents.pop((kind, ref), None)
        if kind == "Gateway":
            self.gateway_listener_status.pop(ref, None)
        self._forget_gateway_indexes(kind)
        was_unparsed = self.unparsed.pop((kind, ref), None) is not None
        return found[1].pop(ref, None) is not None or was_unparsed

    def record_gateway_api_status(self, obj: Mapping[str, Any]) -> None:
        """Keep what a route's `status.parents` / a Gateway's `status.listeners` holds now (the processor
        keeps other controllers' entries and unchanged conditions' times); no rebuild needed."""
        group, kind = _group_kind(obj)
        status = json_object(obj.get("status"))
        if group != GATEWAY_API_GROUP:
            return
        if kind in ROUTE_KINDS:
            self.route_parents[(kind, object_ref(obj))] = list(json_list(status.get("parents")))
        elif kind == "Gateway":
            self.gateway_listener_status[object_ref(obj)] = list(json_list(status.get("listeners")))
        elif kind == "BackendTLSPolicy":  # its atomic `status.ancestors`, kept the same way
            self.route_parents[(kind, object_ref(obj))] = list(json_list(status.get("ancestors")))
        elif kind == "ListenerSet":  # its listeners' conditions keep their times the same way
            self.route_parents[(kind, object_ref(obj))] = list(json_list(status.get("listeners")))

    def _insert_configmap(self, obj: Mapping[str, Any], ref: ObjectRef) -> bool:
        value = json_object(obj.get("data")).get(CA_CERT_KEY)
        if not isinstance(value, str):
            return self.configmaps.pop(ref, None) is not None
        self.configmaps[ref] = CachedSecret(ref, "ConfigMap", {CA_CERT_KEY: value.encode()})
        return True

    def set_gateway_address(self, ref: ObjectRef, address: str | None) -> bool:
        """Record (None: forget) the address Gateway `ref` listens on; True when that changed."""
        if address is None:
            return self.gateway_addresses.pop(ref, None) is not None
        if self.gateway_addresses.get(ref) == address:
            return False
        self.gateway_addresses[ref] = address
        return True

    def _forget_gateway_indexes(self, kind: str) -> None:
        if kind in ROUTE_KINDS:
            self._gateway_backend_refs = None
        if kind in ("Gateway", "ListenerSet", "BackendTLSPolicy"):
            self._gateway_secret_refs = None

    def _gateway_backends(self) -> set[ObjectRef]:
        """Every Service a Gateway API route names as a backend (or mirror), in any namespace."""
        if self._gateway_backend_refs is None:
            refs: set[ObjectRef] = set()
            routes = (self.httproutes, self.grpcroutes, self.tlsroutes, self.tcproutes, self.udproutes)
            tables: list[Mapping[ObjectRef, Any]] = list(routes)
            for table in tables:
                for route_ref, route in table.items():
                    for rule in route.spec.rules or []:
                        for backend in rule.backend_refs or []:
                            refs.add(ObjectRef(backend.namespace or route_ref.namespace, backend.name))
                        for flt in getattr(rule, "filters", None) or []:
                            mirror = flt.request_mirror
                            if mirror is not None:
                                target = mirror.backend_ref
                                refs.add(ObjectRef(target.namespace or route_ref.namespace, target.name))
            self._gateway_backend_refs = refs
        return self._gateway_backend_refs

    def _gateway_secrets(self) -> set[ObjectRef]:
        """Every Secret a Gateway or ListenerSet listener names as a certificate, a BackendTLSPolicy as a
        CA, or a Gateway as its backend client certificate."""
        if self._gateway_secret_refs is None:
            refs: set[ObjectRef] = set()
            owners: list[tuple[ObjectRef, list[gwapi.Listener]]] = [
                (r, g.spec.listeners) for r, g in self.gateways.items()
            ]
            owners += [(r, s.spec.listeners) for r, s in self.listenersets.items()]
            for owner, listeners in owners:
                for listener in listeners:
                    tls = listener.tls
                    for cert in (tls.certificate_refs or []) if tls is not None else []:
                        refs.add(ObjectRef(cert.namespace or owner.namespace, cert.name))
            for policy_ref, policy in self.backendtlspolicies.items():
                for ca in policy.spec.validation.ca_certificate_refs or []:
                    refs.add(ObjectRef(policy_ref.namespace, ca.name))
            for gateway_ref, gateway in self.gateways.items():
                backend = gateway.spec.tls.backend if gateway.spec.tls is not None else None
                client = backend.client_certificate_ref if backend is not None else None
                if client is not None:
                    refs.add(ObjectRef(client.namespace or gateway_ref.namespace, client.name))
            self._gateway_secret_refs = refs
        return self._gateway_secret_refs


def _ingress_service_names(ingress: Mapping[str, Any]) -> set[str]:
    """The Service names an Ingress routes to: its default backend and every rule's paths."""
    spec = json_object(ingress.get("spec"))
    backends = [json_object(spec.get("defaultBackend"))]
    for rule in json_list(spec.get("rules")):
        for path in json_list(json_object(json_object(rule).get("http")).get("paths")):
            backends.append(json_object(json_object(path).get("backend")))
    return {json_string(json_object(b.get("service")).get("name")) for b in backends} - {""}


def _validation_reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{loc}: {err.get('msg', '')}")
    return "; ".join(parts)
