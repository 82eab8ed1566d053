"""A DAG as Graphviz dot text: what /debug/dag serves, so an operator can see what Contour built.

Like Contour's `/debug/dag`, a `digraph DAG` laid out left to right with record-shaped nodes:
listeners -> virtual hosts (plain and secure) -> routes -> clusters -> services, plus the secrets
that hosts and clusters use, each Gateway's own listeners, TCP/UDP listeners and ExtensionService
clusters. Node ids are readable paths (`listener/ingress_http/vhost/a.example.com`), and the same
DAG always gives the same bytes: every collection is walked in sorted order and each node and edge
is written once, in the order first met.
"""

from __future__ import annotations

from collections.abc import Iterable

from contour.dag.gatewayapi_model import GatewayDAG, L4Listener
from contour.dag.model import (
    DAG,
    Cluster,
    ExtensionCluster,
    Listener,
    Route,
    Secret,
    SecureVirtualHost,
    Service,
    VirtualHost,
)

_RECORD_SPECIALS = str.maketrans({c: "\\" + c for c in '{}|<>"\\'})


def _field(text: str) -> str:
    """One field of a record label, with dot's record syntax characters escaped."""
    return text.translate(_RECORD_SPECIALS)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Graph:
    def __init__(self) -> None:
        self.nodes: dict[str, tuple[str, ...]] = {}
        self.edges: dict[tuple[str, str], str] = {}
        # Distinct clusters to the same upstream get distinct nodes: `cluster/<eds name>`, then `#2`...
        self._clusters: dict[Cluster, str] = {}
        self._cluster_ids: set[str] = set()

    def node(self, node_id: str, *fields: str) -> str:
        self.nodes.setdefault(node_id, fields)
        return node_id

    def edge(self, source: str, target: str, label: str = "") -> None:
        self.edges.setdefault((source, target), label)

    # -- walkers ---------------------------------------------------------------------------------

    def listener(self, prefix: str, listener: Listener) -> str:
        lid = self.node(
            f"{prefix}listener/{listener.name}",
            "listener",
            listener.name,
            f"{listener.address}:{listener.port}",
        )
        for name in sorted(listener.virtual_hosts):
            vid = self.virtual_host(f"{lid}/vhost/{name}", "virtualhost", listener.virtual_hosts[name])
            self.edge(lid, vid)
        for name in sorted(listener.secure_virtual_hosts):
            self.edge(
                lid,
                self.secure_virtual_host(f"{lid}/securevhost/{name}", listener.secure_virtual_hosts[name]),
            )
        return lid

    def virtual_host(self, vid: str, title: str, vhost: VirtualHost, *extra: str) -> str:
        self.node(vid, title, vhost.name, *extra)
        for key in sorted(vhost.routes):
            rid = self.route(f"{vid}/route/{key}", vhost.routes[key])
            self.edge(vid, rid)
        return vid

    def secure_virtual_host(self, sid: str, svh: SecureVirtualHost) -> str:
        tls = f"TLS {svh.min_tls_version}-{svh.max_tls_version}"
        self.virtual_host(sid, "securevirtualhost", svh.virtual_host, tls)
        dv = svh.downstream_validation
        for secret, label in (
            (svh.secret, "certificate"),
            (svh.fallback_certificate, "fallback certificate"),
            (dv.ca if dv else None, "client CA"),
            (dv.crl if dv else None, "CRL"),
        ):
            if secret is not None:
                self.edge(sid, self.secret(secret), label)
        for cluster in svh.tcp_proxy or ():
            self.edge(sid, self.cluster(cluster), _weight("tcpproxy", cluster.weight))
        return sid

    def route(self, rid: str, route: Route) -> str:
        self.node(rid, "route", *_match(route), _action(route))
        for cluster in route.clusters:
            self.edge(rid, self.cluster(cluster), _weight("", cluster.weight))
        for mirror in route.mirror_policies:
            self.edge(rid, self.cluster(mirror.cluster), f"mirror {mirror.weight}/{mirror.denominator}")
        return rid

    def cluster(self, cluster: Cluster) -> str:
        cid = self._clusters.get(cluster)
        if cid is not None:
            return cid
        base = f"cluster/{cluster.upstream.eds_name}"
        cid, n = base, 1
        while cid in self._cluster_ids:
            n += 1
            cid = f"{base}#{n}"
        self._clusters[cluster] = cid
        self._cluster_ids.add(cid)
        fields = ["cluster", cluster.upstream.eds_name]
        if cluster.protocol:
            fields.append(f"protocol {cluster.protocol.value}")
        if cluster.sni:
            fields.append(f"sni {cluster.sni}")
        self.node(cid, *fields)
        self.edge(cid, self.service(cluster.upstream))
        if cluster.upstream_validation is not None:
            self.edge(cid, self.secret(cluster.upstream_validation.ca_secret), "upstream CA")
        if cluster.client_certificate is not None:
            self.edge(cid, self.secret(cluster.client_certificate), "client certificate")
        return cid

    def service(self, service: Service) -> str:
        port = service.port
        where = f"ExternalName {service.external_name}" if service.external_name else f"port {port.port}"
        return self.node(f"service/{service.eds_name}", "service", str(service.ref), port.name or "-", where)

    def secret(self, secret: Secret) -> str:
        return self.node(f"secret/{secret.ref}", "secret", str(secret.ref))

    def gateway(self, gateway: GatewayDAG) -> None:
        gid = self.node(f"gateway/{gateway.ref}", "gateway", str(gateway.ref), gateway.address)
        for name in sorted(gateway.listeners):
            self.edge(gid, self.listener(f"{gid}/", gateway.listeners[name]))
        for protocol, l4 in (("tcp", gateway.tcp_listeners), ("udp", gateway.udp_listeners)):
            for name in sorted(l4):
                self.edge(gid, self.l4_listener(f"{gid}/", protocol, l4[name]))

    def l4_listener(self, prefix: str, protocol: str, listener: L4Listener) -> str:
        lid = self.node(
            f"{prefix}listener/{listener.name}",
            f"{protocol} listener",
            listener.name,
            f"{listener.address}:{listener.port}",
        )
        for cluster in listener.clusters:
            self.edge(lid, self.cluster(cluster), _weight("", cluster.weight))
        return lid

    def extension(self, extension: ExtensionCluster) -> None:
        eid = self.node(f"extension/{extension.name}", "extension", extension.name, str(extension.ref))
        for service, weight in extension.services:
            self.edge(eid, self.service(service), _weight("", weight))

    # -- output ----------------------------------------------------------------------------------

    def render(self) -> str:
        lines = ["digraph DAG {", 'rankdir="LR";', "node [shape=record];"]
        for node_id, fields in self.nodes.items():
            label = "{" + "|".join(_field(f) for f in fields) + "}"
            lines.append(f"{_quote(node_id)} [label={_quote(label)}];")
        for (source, target), label in self.edges.items():
            attributes = f" [label={_quote(label)}]" if label else ""
            lines.append(f"{_quote(source)} -> {_quote(target)}{attributes};")
        lines.append("}")
        return "\n".join(lines) + "\n"


def _weight(prefix: str, weight: int) -> str:
    text = f"weight {weight}" if weight else ""
    return " ".join(part for part in (prefix, text) if part)


def _match(route: Route) -> Iterable[str]:
    yield f"{route.path_match.kind.value} {route.path_match.value}"
    for header in route.header_matches:
        negation = "not " if header.invert else ""
        yield f"header {header.name} {negation}{header.kind} {header.value}".rstrip()
    for query in route.query_param_matches:
        yield f"query {query.name} {query.kind} {query.value}".rstrip()


def _action(route: Route) -> str:
    if route.https_upgrade:
        return "redirect to https"
    if route.redirect is not None:
        return f"redirect {route.redirect.status_code}"
    if route.direct_response is not None:
        return f"direct response {route.direct_response.status_code}"
    return f"{len(route.clusters)} cluster(s)"


def dag_to_dot(dag: DAG) -> str:
    """The whole DAG as one `digraph DAG { ... }` document."""
    graph = _Graph()
    for name in sorted(dag.listeners):
        graph.listener("", dag.listeners[name])
    for ref in sorted(dag.gateways):
        graph.gateway(dag.gateways[ref])
    for name in sorted(dag.extension_clusters):
        graph.extension(dag.extension_clusters[name])
    return graph.render()
