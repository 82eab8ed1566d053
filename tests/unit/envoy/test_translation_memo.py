"""Translating with a TranslationMemo gives the bytes a plain translation serialises to.

Route configurations come out as `Serialized` bytes joined from per-host pieces; every other resource
as messages, some reused from the previous translation. Whatever the memo reuses, each resource must
serialise to exactly what `translate` without a memo gives for the same DAG, on a rich DAG and on
every step of a random sequence of changes through an incremental Builder.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm

from contour.dag.builder import Builder, BuilderConfig
from contour.dag.cache import KubernetesCache
from contour.dag.model import DAG, RateLimitService, SecureVirtualHost
from contour.envoy.ratelimit import RATELIMIT_FILTER
from contour.envoy.translate import CLUSTER, LISTENER, ROUTE, TranslatorConfig, translate
from contour.envoy.translation_memo import Serialized, TranslationMemo
from tests.unit.dag.test_incremental import VARIANTS
from tests.unit.envoy.builders import (
    add_secure,
    http_dag,
    make_pki,
    rich_dag,
    route,
    tls_secret,
    upstream,
    vhost,
)


def _bytes(resources: dict[str, list[Any]]) -> dict[str, list[tuple[str, bytes]]]:
    out: dict[str, list[tuple[str, bytes]]] = {}
    for type_url, items in resources.items():
        out[type_url] = [
            (m.name, m.data)
            if isinstance(m, Serialized)
            else (getattr(m, "name", ""), m.SerializeToString(deterministic=True))
            for m in items
        ]
    return out


def _assert_same_bytes(dag: DAG, memo: TranslationMemo, config: TranslatorConfig) -> None:
    assert _bytes(translate(dag, config, memo)) == _bytes(translate(dag, config))


def test_a_rich_dag_translates_to_the_same_bytes_with_a_memo_first_and_second_time() -> None:
    dag = rich_dag(make_pki("www.example.com"), make_pki("client.example.com"))
    memo = TranslationMemo()
    config = TranslatorConfig()
    _assert_same_bytes(dag, memo, config)
    _assert_same_bytes(dag, memo, config)  # now from the memo


def test_route_configurations_are_serialized_and_clusters_reused_by_identity() -> None:
    dag = http_dag(vhost("a.example.com", route("/", upstream("a"))), vhost("b.example.com", route("/")))
    memo = TranslationMemo()
    config = TranslatorConfig()
    first = translate(dag, config, memo)
    second = translate(dag, config, memo)
    assert all(isinstance(r, Serialized) for r in first[ROUTE])
    assert [c.name for c in first[CLUSTER]] == ["default/a/80/da39a3ee5e"]
    assert second[CLUSTER][0] is first[CLUSTER][0]


def test_new_settings_are_not_served_from_the_memo() -> None:
    dag = http_dag(vhost("a.example.com", route("/", upstream("a"))))
    memo = TranslationMemo()
    first = translate(dag, TranslatorConfig(), memo)
    changed = TranslatorConfig(connect_timeout_seconds=7.0)
    second = translate(dag, changed, memo)
    assert second[CLUSTER][0] is not first[CLUSTER][0]
    assert second[CLUSTER][0].connect_timeout.seconds == 7
    _assert_same_bytes(dag, memo, changed)


@pytest.mark.parametrize("seed", range(6))
def test_incremental_builds_translate_to_the_bytes_of_a_plain_translation(seed: int) -> None:
    rng = random.Random(seed)
    cache = KubernetesCache()
    builder = Builder(BuilderConfig())
    memo = TranslationMemo()
    config = TranslatorConfig()
    for step in range(60):
        key = rng.choice(sorted(VARIANTS))
        if rng.random() < 0.25:
            cache.remove(VARIANTS[key][0])
        else:
            cache.insert(rng.choice(VARIANTS[key]))
        dag = builder.build(cache).dag
        assert _bytes(translate(dag, config, memo)) == _bytes(translate(dag, config)), f"step {step}"


def test_a_secure_hosts_filter_chain_is_reused_until_its_rate_limit_service_changes() -> None:
    pki = make_pki("secure.example.com")
    host = SecureVirtualHost(
        virtual_host=vhost("secure.example.com", route("/", upstream("a"))), secret=tls_secret(pki)
    )
    memo, config = TranslationMemo(), TranslatorConfig()
    built: list[object] = []

    def chain() -> object:
        built.append(object())
        return built[-1]

    def translated() -> object:
        memo.begin(config)
        found = memo.chain("ingress_https", host, chain)
        memo.end()
        return found

    first = translated()
    assert translated() is first
    host.rate_limit_service = RateLimitService(cluster_name="extension/ns/rls", domain="contour")
    assert translated() is not first
    assert len(built) == 2


def test_a_new_rate_limit_service_reaches_the_translated_chain() -> None:
    pki = make_pki("secure.example.com")
    host = SecureVirtualHost(
        virtual_host=vhost("secure.example.com", route("/", upstream("a"))), secret=tls_secret(pki)
    )
    dag = add_secure(http_dag(), host)
    memo, config = TranslationMemo(), TranslatorConfig()
    translate(dag, config, memo)
    host.rate_limit_service = RateLimitService(cluster_name="extension/ns/rls", domain="contour")
    [https] = [m for m in translate(dag, config, memo)[LISTENER] if m.name == "ingress_https"]
    manager = hcm.HttpConnectionManager()
    https.filter_chains[0].filters[0].typed_config.Unpack(manager)
    assert RATELIMIT_FILTER in [f.name for f in manager.http_filters]
    _assert_same_bytes(dag, memo, config)
