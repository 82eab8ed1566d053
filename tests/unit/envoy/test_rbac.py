"""IP allow/deny policies as Envoy RBAC per-filter configuration on virtual hosts and routes."""

from __future__ import annotations

from typing import Any

import pytest
from envoy.config.rbac.v3 import rbac_pb2 as rbac_config
from envoy.extensions.filters.http.rbac.v3 import rbac_pb2
from google.protobuf import json_format

from contour.dag.model import DirectResponse, IPFilterRule
from contour.envoy.rbac import RBAC_FILTER, ip_filter_config
from contour.envoy.routes import virtual_host
from tests.unit.envoy.builders import route, upstream, vhost


def as_dict(message: Any) -> dict[str, Any]:
    result: dict[str, Any] = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return result


def unpacked(any_message: Any) -> Any:
    config = rbac_pb2.RBACPerRoute()
    assert any_message.Unpack(config)
    return config


@pytest.mark.parametrize(
    ("allow", "rules", "expected"),
    [
        pytest.param(
            True,
            [IPFilterRule("10.0.0.0/8"), IPFilterRule("192.168.1.1/32", remote=True)],
            {
                "rbac": {
                    "rules": {
                        "policies": {
                            "ip-rules": {
                                "permissions": [{"any": True}],
                                "principals": [
                                    {"direct_remote_ip": {"address_prefix": "10.0.0.0", "prefix_len": 8}},
                                    {"remote_ip": {"address_prefix": "192.168.1.1", "prefix_len": 32}},
                                ],
                            }
                        }
                    }
                }
            },
            id="allow-peer-and-remote",
        ),
        pytest.param(
            False,
            [IPFilterRule("2001:db8::/32")],
            {
                "rbac": {
                    "rules": {
                        "action": "DENY",
                        "policies": {
                            "ip-rules": {
                                "permissions": [{"any": True}],
                                "principals": [
                                    {"direct_remote_ip": {"address_prefix": "2001:db8::", "prefix_len": 32}}
                                ],
                            }
                        },
                    }
                }
            },
            id="deny-ipv6",
        ),
        pytest.param(
            True,
            [IPFilterRule("0.0.0.0/0")],
            {
                "rbac": {
                    "rules": {
                        "policies": {
                            "ip-rules": {
                                "permissions": [{"any": True}],
                                "principals": [
                                    {"direct_remote_ip": {"address_prefix": "0.0.0.0", "prefix_len": 0}}
                                ],
                            }
                        }
                    }
                }
            },
            id="zero-length-prefix-is-kept",
        ),
    ],
)
def test_ip_filter_config(allow: bool, rules: list[IPFilterRule], expected: dict[str, Any]) -> None:
    assert as_dict(ip_filter_config(allow, rules)) == expected


def test_zero_prefix_length_is_set_explicitly() -> None:
    config = ip_filter_config(True, [IPFilterRule("0.0.0.0/0")])
    principal = config.rbac.rules.policies["ip-rules"].principals[0]
    assert principal.direct_remote_ip.HasField("prefix_len")


@pytest.mark.parametrize("secure", [False, True], ids=["plain", "secure"])
def test_vhost_policy_is_per_filter_config_of_the_virtual_host(secure: bool) -> None:
    host = vhost("example.com", route("/", upstream("kuard")))
    host.ip_filter_allow, host.ip_filter_rules = False, (IPFilterRule("10.0.0.0/8"),)
    built = virtual_host(host, secure=secure)
    assert built is not None
    config = unpacked(built.typed_per_filter_config[RBAC_FILTER])
    assert config.rbac.rules.action == rbac_config.RBAC.DENY
    assert RBAC_FILTER not in built.routes[0].typed_per_filter_config


def test_host_without_policy_has_no_rbac_config() -> None:
    built = virtual_host(vhost("example.com", route("/", upstream("kuard"))), secure=False)
    assert built is not None
    assert RBAC_FILTER not in built.typed_per_filter_config
    assert RBAC_FILTER not in built.routes[0].typed_per_filter_config


def test_route_policy_overrides_on_the_route() -> None:
    own = route("/", upstream("kuard"), ip_filter_allow=True, ip_filter_rules=(IPFilterRule("127.0.0.1/32"),))
    host = vhost("example.com", own)
    host.ip_filter_allow, host.ip_filter_rules = False, (IPFilterRule("127.0.0.1/32"),)
    built = virtual_host(host, secure=True)
    assert built is not None
    assert unpacked(built.typed_per_filter_config[RBAC_FILTER]).rbac.rules.action == rbac_config.RBAC.DENY
    assert unpacked(built.routes[0].typed_per_filter_config[RBAC_FILTER]).rbac.rules.action == (
        rbac_config.RBAC.ALLOW
    )


def test_direct_response_route_follows_the_host_policy() -> None:
    fixed = route("/", direct_response=DirectResponse(503), ip_filter_rules=(IPFilterRule("10.0.0.0/8"),))
    built = virtual_host(vhost("example.com", fixed), secure=False)
    assert built is not None
    assert RBAC_FILTER not in built.routes[0].typed_per_filter_config
