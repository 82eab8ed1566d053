"""Every `typed_per_filter_config` key names an HTTP filter of the chain it is meant for.

Envoy 1.40 looks a route's or virtual host's per-filter configuration up by the filter's *name* in the
HTTP connection manager; a key that matches no filter is silently ignored (this is how a CORS policy
once reached no request: the filter was called "cors", the key "envoy.filters.http.cors").
"""

from __future__ import annotations

from typing import Any

from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm

from contour.envoy.http_connection_manager import CORS_FILTER
from contour.envoy.translate import TranslatorConfig, listeners, route_configurations
from tests.unit.envoy.builders import make_pki, rich_dag


def _filter_names(listener: Any) -> set[str]:
    names: set[str] = set()
    for chain in listener.filter_chains:
        for network_filter in chain.filters:
            if network_filter.typed_config.type_url.endswith("HttpConnectionManager"):
                manager = hcm.HttpConnectionManager()
                network_filter.typed_config.Unpack(manager)
                names |= {f.name for f in manager.http_filters}
    return names


def _per_filter_keys(route_config: Any) -> set[str]:
    keys: set[str] = set()
    for vhost in route_config.virtual_hosts:
        keys |= set(vhost.typed_per_filter_config)
        for route in vhost.routes:
            keys |= set(route.typed_per_filter_config)
    return keys


def test_per_filter_config_keys_name_filters_of_the_listeners() -> None:
    dag = rich_dag(make_pki("secure.example.com"), make_pki("client"))
    by_name = {item.name: item for item in listeners(dag, TranslatorConfig())}
    filters = _filter_names(by_name["ingress_http"]) & _filter_names(by_name["ingress_https"])
    keys = set().union(*(_per_filter_keys(config) for config in route_configurations(dag)))
    assert CORS_FILTER in keys  # the rich DAG has a CORS policy: the check below is not vacuous
    assert keys - filters == set()
