"""`/redirect?to=URL[&status=NNN]`: a 3xx with a Location header, for tests of clients and proxies that
follow redirects (Envoy's internal redirects); a missing or unsafe target or a non-3xx code is a 400."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.echo.process import EchoProcess


@pytest.fixture
def client(echo: EchoProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=echo.url("http"), timeout=10, follow_redirects=False) as http:
        yield http


@pytest.mark.parametrize(
    ("query", "status"),
    [("to=http://a.example/next", 302), ("to=http://a.example/next&status=307", 307)],
    ids=["default-302", "chosen-307"],
)
def test_redirect_answers_the_status_with_the_location(client: httpx.Client, query: str, status: int) -> None:
    response = client.get(f"/redirect?{query}")
    assert (response.status_code, response.headers.get("location")) == (status, "http://a.example/next")


@pytest.mark.parametrize(
    "query",
    ["", "to=", "to=http://a.example/&status=200", "to=http://a.example/&status=abc", "to=%0d%0aX:%20y"],
    ids=["no-target", "empty-target", "not-3xx", "not-a-number", "header-injection"],
)
def test_redirect_refuses_bad_input(client: httpx.Client, query: str) -> None:
    response = client.get(f"/redirect?{query}")
    assert response.status_code == 400
    assert "location" not in response.headers
