"""A Gateway's requested addresses against the one it is bound on (GatewayStaticAddresses, reference
gateway-api.md 6.3): a requested IPAddress the Gateway does not serve makes it Programmed=False with
reason AddressNotUsable; an address without a value, or the one assigned, does not.
"""

from __future__ import annotations

from typing import Any

import pytest

from contour.dag.model import ObjectRef
from tests.unit.dag.gatewayapi.gateway_fixtures import NS, build, gateway, gatewayclass, listener

GW = ObjectRef(NS, "gw")


def _programmed(addresses: list[dict[str, Any]], assigned: str | None = "127.0.77.1") -> tuple[str, str]:
    built = build(
        gatewayclass(), gateway("gw", listener("http", 8080, "HTTP"), addresses=addresses), address=assigned
    )
    condition = built.gateway_condition("Programmed")
    return condition["status"], condition["reason"]


def test_a_requested_address_the_gateway_is_not_bound_on_is_not_usable() -> None:
    requested = [{"type": "IPAddress", "value": "192.0.2.1"}, {"type": "IPAddress", "value": "127.0.77.1"}]
    assert _programmed(requested) == ("False", "AddressNotUsable")


def test_the_unusable_address_is_named_in_the_message() -> None:
    built = build(
        gatewayclass(),
        gateway("gw", listener("http", 8080, "HTTP"), addresses=[{"value": "192.0.2.1"}]),
        address="127.0.1.1",
    )
    assert "192.0.2.1" in built.gateway_condition("Programmed")["message"]


def test_an_address_without_type_counts_as_an_ip_address() -> None:
    assert _programmed([{"value": "192.0.2.1"}, {"value": "127.0.77.1"}]) == ("False", "AddressNotUsable")


@pytest.mark.parametrize(
    "addresses",
    [
        pytest.param([{"type": "IPAddress", "value": "127.0.77.1"}], id="GatewayStaticAddresses-usable-only"),
        pytest.param([{"type": "IPAddress"}], id="GatewayOptionalAddressValue"),
        pytest.param([], id="no-addresses"),
    ],
)
def test_served_or_open_requests_keep_the_gateway_programmed(addresses: list[dict[str, Any]]) -> None:
    assert _programmed(addresses) == ("True", "Programmed")


def test_no_assigned_address_is_reported_before_unusable_ones() -> None:
    assert _programmed([{"value": "192.0.2.1"}], assigned=None) == ("False", "AddressNotAssigned")


def test_an_unsupported_address_type_is_refused_before_usability_is_judged() -> None:
    built = build(
        gatewayclass(),
        gateway(
            "gw",
            listener("http", 8080, "HTTP"),
            addresses=[{"type": "test/fake-invalid-type", "value": "x"}, {"value": "192.0.2.1"}],
        ),
    )
    accepted, programmed = built.gateway_condition("Accepted"), built.gateway_condition("Programmed")
    assert (accepted["status"], accepted["reason"]) == ("False", "UnsupportedAddress")
    assert (programmed["status"], programmed["reason"]) == ("False", "Invalid")


def test_an_unusable_address_still_binds_the_listeners_on_the_assigned_one() -> None:
    built = build(
        gatewayclass(), gateway("gw", listener("http", 8080, "HTTP"), addresses=[{"value": "192.0.2.1"}])
    )
    assert built.dag.gateways[GW].listeners["http-8080"].address == "127.0.1.1"
    assert built.gateway_status()["addresses"] == [{"type": "IPAddress", "value": "127.0.1.1"}]
