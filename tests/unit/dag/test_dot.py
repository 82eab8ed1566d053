"""The DAG as Graphviz dot (/debug/dag): which nodes and edges a DAG gives, escaping, determinism.

The output is parsed back line by line with a strict grammar of what `dag_to_dot` may emit (a quoted
node with a record label, or a quoted edge with an optional label), so a syntax slip fails here even
without Graphviz installed; when `dot` is on PATH the text is also fed to it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

import pytest

from contour.dag.dot import dag_to_dot
from contour.dag.gatewayapi_model import GatewayDAG, L4Listener
from contour.dag.model import (
    DAG,
    Cluster,
    HeaderMatch,
    Listener,
    ObjectRef,
    PathMatch,
    PathMatchKind,
    Route,
    Service,
    ServicePort,
    VirtualHost,
)

from .fixtures import build, k8s_service, proxy, service, tls_secret

QUOTED = r'"((?:[^"\\]|\\.)*)"'
NODE = re.compile(rf"^{QUOTED} \[label={QUOTED}\];$")
EDGE = re.compile(rf"^{QUOTED} -> {QUOTED}(?: \[label={QUOTED}\])?;$")
HTTP = "listener/ingress_http"
HTTPS = "listener/ingress_https"


def unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def record_fields(label: str) -> list[str]:
    """The fields of a `{a|b|c}` record label, unescaped (escaped `|` stays inside its field)."""
    assert label.startswith("{") and label.endswith("}"), label
    fields, current, chars = [], "", iter(label[1:-1])
    for char in chars:
        if char == "\\":
            current += next(chars)
        elif char == "|":
            fields.append(current)
            current = ""
        else:
            assert char not in "{}<>", f"unescaped {char!r} in {label!r}"
            current += char
    return [*fields, current]


@dataclass
class Graph:
    nodes: dict[str, list[str]]
    edges: dict[tuple[str, str], str]

    def targets(self, source: str) -> list[str]:
        return [t for s, t in self.edges if s == source]


def parse(text: str) -> Graph:
    lines = text.splitlines()
    assert lines[:3] == ["digraph DAG {", 'rankdir="LR";', "node [shape=record];"]
    assert lines[-1] == "}"
    nodes: dict[str, list[str]] = {}
    edges: dict[tuple[str, str], str] = {}
    for line in lines[3:-1]:
        if (node := NODE.match(line)) is not None:
            node_id = unquote(node.group(1))
            assert node_id not in nodes, f"node {node_id} twice"
            nodes[node_id] = record_fields(unquote(node.group(2)))
        elif (edge := EDGE.match(line)) is not None:
            key = (unquote(edge.group(1)), unquote(edge.group(2)))
            assert key not in edges, f"edge {key} twice"
            edges[key] = unquote(edge.group(3) or "")
        else:
            raise AssertionError(f"not a node or an edge: {line!r}")
    for source, target in edges:
        assert source in nodes and target in nodes, (source, target)
    return Graph(nodes, edges)


def dot_of(*objects: dict[str, object]) -> Graph:
    return parse(dag_to_dot(build(*objects).dag))


def test_an_http_host_is_a_chain_from_listener_to_service() -> None:
    graph = dot_of(
        proxy("app").fqdn("a.example.com").route("/", service("kuard")).build(), k8s_service("kuard")
    )
    vhost = f"{HTTP}/vhost/a.example.com"
    [route] = graph.targets(vhost)
    assert graph.targets(HTTP) == [vhost]
    assert graph.targets(route) == ["cluster/default/kuard/http"]
    assert graph.targets("cluster/default/kuard/http") == ["service/default/kuard/http"]
    assert graph.nodes[route][:2] == ["route", "prefix /"]
    assert graph.nodes["service/default/kuard/http"] == ["service", "default/kuard", "http", "port 80"]


def test_a_tls_host_points_at_its_certificate_and_upgrades_plain_http() -> None:
    graph = dot_of(
        proxy("app").fqdn("a.example.com").tls("cert").route("/", service("kuard")).build(),
        k8s_service("kuard"),
        tls_secret("cert"),
    )
    secure = f"{HTTPS}/securevhost/a.example.com"
    assert graph.edges[(secure, "secret/default/cert")] == "certificate"
    assert graph.nodes[secure] == ["securevirtualhost", "a.example.com", "TLS 1.2-1.3"]
    [plain_route] = graph.targets(f"{HTTP}/vhost/a.example.com")
    assert graph.nodes[plain_route][-1] == "redirect to https"


def test_weighted_services_are_labelled_with_their_weights() -> None:
    graph = dot_of(
        proxy("app")
        .fqdn("a.example.com")
        .route("/", service("blue", weight=90), service("green", weight=10))
        .build(),
        k8s_service("blue"),
        k8s_service("green"),
    )
    [route] = graph.targets(f"{HTTP}/vhost/a.example.com")
    assert {t: graph.edges[(route, t)] for t in graph.targets(route)} == {
        "cluster/default/blue/http": "weight 90",
        "cluster/default/green/http": "weight 10",
    }


def test_a_mirror_is_an_edge_labelled_mirror() -> None:
    graph = dot_of(
        proxy("app")
        .fqdn("a.example.com")
        .route("/", service("kuard"), service("shadow", mirror=True))
        .build(),
        k8s_service("kuard"),
        k8s_service("shadow"),
    )
    [route] = graph.targets(f"{HTTP}/vhost/a.example.com")
    assert graph.edges[(route, "cluster/default/shadow/http")] == "mirror 100/100"


def test_one_cluster_used_by_two_hosts_is_one_node() -> None:
    graph = dot_of(
        proxy("a").fqdn("a.example.com").route("/", service("kuard")).build(),
        proxy("b").fqdn("b.example.com").route("/", service("kuard")).build(),
        k8s_service("kuard"),
    )
    into = [s for s, t in graph.edges if t == "cluster/default/kuard/http"]
    assert len(into) == 2
    assert [n for n in graph.nodes if n.startswith("cluster/")] == ["cluster/default/kuard/http"]


def test_the_same_objects_in_another_order_give_the_same_text() -> None:
    objects = [
        proxy("a").fqdn("a.example.com").route("/", service("kuard")).route("/b", service("other")).build(),
        proxy("b").fqdn("b.example.com").tls("cert").route("/", service("other")).build(),
        k8s_service("kuard"),
        k8s_service("other"),
        tls_secret("cert"),
    ]
    assert dag_to_dot(build(*objects).dag) == dag_to_dot(build(*reversed(objects)).dag)


def test_an_empty_dag_is_an_empty_graph() -> None:
    assert parse(dag_to_dot(DAG())) == Graph({}, {})


def _cluster(name: str, weight: int = 0, sni: str = "") -> Cluster:
    return Cluster(Service(ObjectRef("default", name), ServicePort("http", 80)), weight=weight, sni=sni)


def test_two_different_clusters_of_one_service_get_distinct_nodes() -> None:
    vhost = VirtualHost("a.example.com")
    vhost.add_route(Route(PathMatch(PathMatchKind.PREFIX, "/a"), clusters=[_cluster("s")]))
    vhost.add_route(Route(PathMatch(PathMatchKind.PREFIX, "/b"), clusters=[_cluster("s", sni="x")]))
    dag = DAG(
        listeners={"ingress_http": Listener("ingress_http", "http", "0.0.0.0", 8080, {vhost.name: vhost})}
    )
    graph = parse(dag_to_dot(dag))
    assert sorted(n for n in graph.nodes if n.startswith("cluster/")) == [
        "cluster/default/s/http",
        "cluster/default/s/http#2",
    ]


def test_record_syntax_characters_are_escaped() -> None:
    vhost = VirtualHost("a.example.com")
    tricky = 'x{y}|<z> "q" \\'
    route = Route(
        PathMatch(PathMatchKind.REGEX, "/(a|b)"),
        header_matches=(HeaderMatch("x-test", "exact", tricky),),
        clusters=[_cluster("s")],
    )
    vhost.add_route(route)
    dag = DAG(
        listeners={"ingress_http": Listener("ingress_http", "http", "0.0.0.0", 8080, {vhost.name: vhost})}
    )
    graph = parse(dag_to_dot(dag))
    [route_id] = graph.targets(f"{HTTP}/vhost/a.example.com")
    assert graph.nodes[route_id][:3] == ["route", "regex /(a|b)", f"header x-test exact {tricky}"]


def test_gateway_listeners_hang_off_their_gateway() -> None:
    ref = ObjectRef("projectcontour", "contour")
    vhost = VirtualHost("*")
    vhost.add_route(Route(PathMatch(PathMatchKind.PREFIX, "/"), clusters=[_cluster("web")]))
    gateway = GatewayDAG(
        ref,
        "127.0.0.2",
        listeners={"http-80": Listener("http-80", "http", "127.0.0.2", 80, {"*": vhost})},
        tcp_listeners={"tcp-5432": L4Listener("tcp-5432", "127.0.0.2", 5432, [_cluster("db", weight=1)])},
    )
    graph = parse(dag_to_dot(DAG(gateways={ref: gateway})))
    gid = "gateway/projectcontour/contour"
    assert graph.nodes[gid] == ["gateway", "projectcontour/contour", "127.0.0.2"]
    assert graph.targets(gid) == [f"{gid}/listener/http-80", f"{gid}/listener/tcp-5432"]
    assert graph.targets(f"{gid}/listener/http-80") == [f"{gid}/listener/http-80/vhost/*"]
    assert graph.edges[(f"{gid}/listener/tcp-5432", "cluster/default/db/http")] == "weight 1"
    assert graph.nodes[f"{gid}/listener/tcp-5432"][0] == "tcp listener"


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graphviz_accepts_the_text() -> None:
    text = dag_to_dot(
        build(
            proxy("app").fqdn("a.example.com").tls("cert").route("/", service("kuard")).build(),
            k8s_service("kuard"),
            tls_secret("cert"),
        ).dag
    )
    subprocess.run(["dot", "-Tsvg"], input=text, text=True, capture_output=True, check=True, timeout=30)
