"""Every ConfigSource the translators emit names the transport the bootstrap uses.

With `TranslatorConfig(ads=True)` the EDS source of each cluster, the RDS source of each HTTP connection
manager and the SDS sources of downstream and upstream certificates are the aggregated stream
(`ads: {}`); by default they are a per-type gRPC stream on the `contour` cluster, as in Contour. Either
way a translated source is the very source `contour bootstrap` writes for LDS and CDS in that mode,
so Envoy never opens a subscription nobody answers. Sources are found by walking every message,
unpacking each `Any`, so a source in a filter or a transport socket is not missed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from envoy.config.core.v3 import config_source_pb2
from google.protobuf import any_pb2, descriptor_pool, json_format, message_factory

from contour.dag.model import DAG
from contour.envoy.bootstrap import BootstrapConfig, bootstrap
from contour.envoy.core import config_source
from contour.envoy.translate import CLUSTER, LISTENER, TranslatorConfig, translate
from tests.unit.envoy.builders import make_pki, rich_dag
from tests.unit.envoy.envoy_validate import assert_envoy_accepts

CONFIG_SOURCE = config_source_pb2.ConfigSource.DESCRIPTOR.full_name
MODES = pytest.mark.parametrize("ads", [True, False], ids=["ads", "per-type"])

# Where each kind of source sits: (resource type, the field holding the ConfigSource).
KINDS = {
    "eds-of-clusters": (CLUSTER, "eds_config"),
    "sds-of-upstream-client-certificates": (CLUSTER, "sds_config"),
    "rds-of-connection-managers": (LISTENER, "config_source"),
    "sds-of-listener-certificates": (LISTENER, "sds_config"),
}


def _unpacked(packed: Any) -> Any:
    name = packed.type_url.rpartition("/")[2]
    message = message_factory.GetMessageClass(descriptor_pool.Default().FindMessageTypeByName(name))()
    packed.Unpack(message)
    return message


def _sources(message: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """(path, field name, ConfigSource) for every ConfigSource under `message`, Any payloads included."""
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            if field.message_type.fields_by_name["value"].message_type is None:
                continue
            items = {f"[{key}]": item for key, item in value.items()}
        elif field.is_repeated:
            items = {f"[{index}]": item for index, item in enumerate(value)}
        else:
            items = {"": value}
        for suffix, item in items.items():
            here = f"{path}.{field.name}{suffix}"
            if field.message_type.full_name == CONFIG_SOURCE:
                yield here, field.name, item
            elif isinstance(item, any_pb2.Any):
                yield from _sources(_unpacked(item), f"{here}<{item.type_url.rpartition('.')[2]}>")
            else:
                yield from _sources(item, here)


def all_sources(resources: dict[str, list[Any]]) -> list[tuple[str, str, str, Any]]:
    """(resource type, path, field name, ConfigSource) across every translated resource."""
    return [
        (type_url, path, field, source)
        for type_url, messages in resources.items()
        for message in messages
        for path, field, source in _sources(message, message.name)
    ]


def expected(ads: bool) -> Any:
    if ads:
        return config_source_pb2.ConfigSource(
            ads=config_source_pb2.AggregatedConfigSource(), resource_api_version=config_source_pb2.V3
        )
    source = config_source_pb2.ConfigSource(resource_api_version=config_source_pb2.V3)
    api = source.api_config_source
    api.api_type = config_source_pb2.ApiConfigSource.GRPC
    api.transport_api_version = config_source_pb2.V3
    api.grpc_services.add().envoy_grpc.cluster_name = "contour"
    return source


@pytest.fixture(scope="module")
def dag() -> DAG:
    """Plain and TLS hosts (SNI and wildcard), EDS and DNS clusters, an upstream client certificate."""
    return rich_dag(make_pki("secure.example.com", "*.wild.example.com"), make_pki("client"))


@MODES
def test_every_translated_config_source_follows_the_option(dag: DAG, ads: bool) -> None:
    found = all_sources(translate(dag, TranslatorConfig(ads=ads)))
    wrong = [path for _, path, _, source in found if source != expected(ads)]
    assert len(found) > 0
    assert wrong == []


@MODES
@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_of_config_source_is_emitted_and_follows_the_option(dag: DAG, ads: bool, kind: str) -> None:
    type_url, field = KINDS[kind]
    translated = all_sources(translate(dag, TranslatorConfig(ads=ads)))
    found = [source for t, _, f, source in translated if (t, f) == (type_url, field)]
    assert found, f"no {kind} in the translation"
    assert all(source == expected(ads) for source in found)


def test_the_default_is_contours_per_type_grpc_source(dag: DAG) -> None:
    found = all_sources(translate(dag, TranslatorConfig()))
    assert {source.WhichOneof("config_source_specifier") for *_, source in found} == {"api_config_source"}


@MODES
def test_a_translated_source_is_the_one_the_bootstrap_writes(ads: bool) -> None:
    written = bootstrap(BootstrapConfig(ads=ads))["dynamic_resources"]
    translated = json_format.MessageToDict(config_source(ads=ads), preserving_proto_field_name=True)
    assert translated == written["cds_config"] == written["lds_config"]


def test_envoy_validates_an_ads_bootstrap_with_the_ads_translation(dag: DAG, tmp_path: Path) -> None:
    """`--mode validate` checks the resources' shape only: it also passes a mismatched pair, so the
    transport match itself is proven by the bootstrap comparison above and by tests/e2e/test_run_ads.py."""
    resources = translate(dag, TranslatorConfig(ads=True, stats_port=0))
    document = bootstrap(BootstrapConfig(ads=True, admin_address="127.0.0.1", admin_port=0))
    listeners = [json_format.MessageToDict(m, preserving_proto_field_name=True) for m in resources[LISTENER]]
    for listener in listeners:
        listener["address"]["socket_address"] = {"address": "127.0.0.1", "port_value": 0}
    document["static_resources"]["listeners"] = listeners
    document["static_resources"]["clusters"] += [
        json_format.MessageToDict(m, preserving_proto_field_name=True) for m in resources[CLUSTER]
    ]
    assert_envoy_accepts(document, tmp_path)
