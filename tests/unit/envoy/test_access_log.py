"""Access logs: the Envoy and JSON formats, the JSON field table, the level filters, and one logger on
every connection manager and TCP proxy the translator emits."""

from __future__ import annotations

from typing import Any

import pytest
from envoy.extensions.access_loggers.file.v3 import file_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2
from google.protobuf import json_format

from contour.envoy.access_log import (
    DEFAULT_JSON_FIELDS,
    STATUS_CODE_RUNTIME_KEY,
    AccessLogSettings,
    file_access_logs,
    json_field_map,
)
from contour.envoy.translate import LISTENER, TranslatorConfig, translate
from tests.unit.envoy.builders import make_pki, rich_dag


def logger(entry: Any) -> dict[str, Any]:
    message = file_pb2.FileAccessLog()
    entry.typed_config.Unpack(message)
    result: dict[str, Any] = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return result


def only(settings: AccessLogSettings, path: str = "/dev/stdout") -> Any:
    (entry,) = file_access_logs(path, settings)
    return entry


def test_default_is_envoys_own_format_to_the_path_without_filter() -> None:
    entry = only(AccessLogSettings())
    assert entry.name == "envoy.access_loggers.file"
    assert logger(entry) == {"path": "/dev/stdout"}
    assert not entry.HasField("filter")


def test_format_string_is_an_inline_text_format_omitting_empty_values() -> None:
    fmt = "%REQ(:METHOD)% %RESPONSE_CODE%\n"
    assert logger(only(AccessLogSettings(format_string=fmt)))["log_format"] == {
        "text_format_source": {"inline_string": fmt},
        "omit_empty_values": True,
    }


@pytest.mark.parametrize(
    ("fmt", "extensions"),
    [
        pytest.param(
            "%REQ_WITHOUT_QUERY(:PATH)%\n", ["envoy.formatter.req_without_query"], id="req-without-query"
        ),
        pytest.param("%METADATA(ROUTE:a:b)%\n", ["envoy.formatter.metadata"], id="metadata"),
        pytest.param(
            "%METADATA(ROUTE:a:b)% %REQ_WITHOUT_QUERY(:PATH)%\n",
            ["envoy.formatter.req_without_query", "envoy.formatter.metadata"],
            id="both-in-contours-order",
        ),
        pytest.param("%START_TIME%\n", [], id="none"),
    ],
)
def test_format_string_enables_the_formatter_extensions_it_uses(fmt: str, extensions: list[str]) -> None:
    found = logger(only(AccessLogSettings(format_string=fmt)))["log_format"].get("formatters", [])
    assert [f["name"] for f in found] == extensions


def test_json_format_has_contours_default_fields() -> None:
    log_format = logger(only(AccessLogSettings(format="json")))["log_format"]
    assert log_format["omit_empty_values"] is True
    assert sorted(log_format["json_format"]) == sorted(DEFAULT_JSON_FIELDS)
    assert log_format["json_format"]["@timestamp"] == "%START_TIME%"
    assert log_format["json_format"]["path"] == "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%"
    assert log_format["json_format"]["bytes_sent"] == "%BYTES_SENT%"


@pytest.mark.parametrize(
    ("field", "key", "operator"),
    [
        pytest.param("authority", "authority", "%REQ(:AUTHORITY)%", id="named-field"),
        pytest.param("ts", "ts", "%START_TIME%", id="ts-alias"),
        pytest.param("upstream_host", "upstream_host", "%UPSTREAM_HOST%", id="simple-operator-lower-case"),
        pytest.param("x-user=%REQ(X-USER)%", "x-user", "%REQ(X-USER)%", id="name-equals-operator"),
        pytest.param(
            "contour_config_name",
            "contour_config_name",
            "%METADATA(ROUTE:envoy.access_loggers.file:io.projectcontour.name)%",
            id="route-metadata",
        ),
        pytest.param("no_such_field", "no_such_field", "", id="unknown-name-is-empty"),
    ],
)
def test_json_field_map(field: str, key: str, operator: str) -> None:
    assert json_field_map([field]) == {key: operator}


def test_json_fields_using_metadata_enable_its_formatter() -> None:
    settings = AccessLogSettings(format="json", json_fields=("method", "contour_config_kind"))
    log_format = logger(only(settings))["log_format"]
    assert log_format["json_format"] == {
        "method": "%REQ(:METHOD)%",
        "contour_config_kind": "%METADATA(ROUTE:envoy.access_loggers.file:io.projectcontour.kind)%",
    }
    assert [f["name"] for f in log_format["formatters"]] == ["envoy.formatter.metadata"]


@pytest.mark.parametrize(("level", "minimum"), [("error", 300), ("critical", 500)])
def test_level_filters_on_status_or_any_response_flag(level: str, minimum: int) -> None:
    entry = only(AccessLogSettings(level=level))
    assert json_format.MessageToDict(entry.filter, preserving_proto_field_name=True) == {
        "or_filter": {
            "filters": [
                {
                    "status_code_filter": {
                        "comparison": {
                            "op": "GE",
                            "value": {"default_value": minimum, "runtime_key": STATUS_CODE_RUNTIME_KEY},
                        }
                    }
                },
                {"response_flag_filter": {}},
            ]
        }
    }


@pytest.mark.parametrize(
    ("path", "level"),
    [pytest.param("", "info", id="no-path"), pytest.param("/dev/stdout", "disabled", id="disabled")],
)
def test_no_logger(path: str, level: str) -> None:
    assert file_access_logs(path, AccessLogSettings(level=level)) == []


# -- on every connection manager and TCP proxy ---------------------------------------------------------


def network_filters() -> list[tuple[str, Any]]:
    """(listener name, unpacked HCM or TCP proxy) of every ingress listener of the rich DAG, JSON logs."""
    config = TranslatorConfig(
        access_log=AccessLogSettings(format="json", json_fields=("method",), level="critical"),
        http_access_log="/tmp/http.log",
        https_access_log="/tmp/https.log",
    )
    resources = translate(
        rich_dag(make_pki("secure.example.com", "*.wild.example.com"), make_pki("c")), config
    )
    found = []
    for listener in resources[LISTENER]:
        if not listener.name.startswith("ingress_"):
            continue
        for chain in listener.filter_chains:
            for item in chain.filters:
                message = (
                    hcm.HttpConnectionManager()
                    if "http_connection" in item.name
                    else tcp_proxy_pb2.TcpProxy()
                )
                item.typed_config.Unpack(message)
                found.append((listener.name, message))
    return found


def test_every_connection_manager_and_tcp_proxy_logs_json_with_the_level_filter() -> None:
    found = network_filters()
    kinds = {type(message).__name__ for _, message in found}
    assert kinds == {"HttpConnectionManager", "TcpProxy"}
    for listener_name, message in found:
        (entry,) = message.access_log
        expected_path = "/tmp/http.log" if listener_name == "ingress_http" else "/tmp/https.log"
        assert logger(entry)["path"] == expected_path
        assert logger(entry)["log_format"]["json_format"] == {"method": "%REQ(:METHOD)%"}
        assert entry.filter.or_filter.filters[0].status_code_filter.comparison.value.default_value == 500
