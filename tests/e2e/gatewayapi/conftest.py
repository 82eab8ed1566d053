"""One `contour run` for the whole conformance-style package, set up like the upstream suite's Setup.

Session: the echo pods, a CA and the `tls-validity-checks-certificate` (SANs *, *.org,
*.wildcard.org), `contour run`, the base manifests, then `NamespacesMustBeReady` (each base Gateway
Accepted and Programmed at its latest generation, with an address). Per test: a `Suite` whose
applied objects are deleted afterwards, and the check that no Gateway's Envoy rejected configuration
(tests/e2e/conftest.py checks the default Envoy through the fixture named `run`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.gatewayapi import base_manifests as m
from tests.e2e.gatewayapi.echo_pods import EchoPod, launch_all
from tests.e2e.gatewayapi.suite import Suite
from tests.e2e.run_tls_support import Authority, client_context
from tests.support.contour_run import ContourRun, running


@pytest.fixture(scope="session")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return Authority(tmp_path_factory.mktemp("conformance-ca"), "conformance-ca")


@pytest.fixture(scope="session")
def pods(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[EchoPod]]:
    started = launch_all(m.POD_SPECS, tmp_path_factory.mktemp("conformance-pods"))
    try:
        yield started
    finally:
        for pod in started:
            pod.stop()


@pytest.fixture(scope="session")
def ports() -> m.Ports:
    return m.Ports()


@pytest.fixture(scope="session")
def run(
    tmp_path_factory: pytest.TempPathFactory, pods: list[EchoPod], authority: Authority, ports: m.Ports
) -> Iterator[ContourRun]:
    issued = authority.server("validity", "*", "*.org", "*.wildcard.org")
    with running(tmp_path_factory.mktemp("conformance") / "state") as contour:
        contour.apply(m.base(ports, pods, issued.cert_pem, issued.key_pem))
        base = Suite(contour, ports, client_context(authority))
        for name in m.BASE_GATEWAYS:
            base.gateway_condition(name, "Accepted", "True")
            base.gateway_condition(name, "Programmed", "True")
            base.gateway_address(name)
        yield contour


@pytest.fixture
def suite(run: ContourRun, ports: m.Ports, authority: Authority) -> Iterator[Suite]:
    context = client_context(authority)
    # The upstream certificate's SANs (*, *.org) are wildcards OpenSSL's host check refuses; the
    # chain is still verified against the CA.
    context.check_hostname = False
    current = Suite(run, ports, context)
    try:
        yield current
    finally:
        current.cleanup()
