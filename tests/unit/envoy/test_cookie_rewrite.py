"""Set-Cookie rewriting in the route configuration: a `LuaPerRoute` under the Lua filter's name.

The route carries its own policies (and those of its only service); a weighted cluster whose service
has policies carries them merged over the route's, the service winning attribute by attribute, as in
Contour's cookieRewriteConfig. The script itself is checked end to end through Envoy
(tests/e2e/test_run_cookies_redirects.py); here, its rule table and where it is attached.
"""

from __future__ import annotations

from typing import Any

import pytest
from envoy.extensions.filters.http.lua.v3 import lua_pb2

from contour.dag.model import CookieRewritePolicy, HeadersPolicy, HeaderValue, Route
from contour.envoy.cookie_rewrite import cookie_rewrite_script, lua_string, merge_policies
from contour.envoy.routes import envoy_route
from tests.unit.envoy.builders import route, upstream

LUA = "envoy.filters.http.lua"
SESSION = CookieRewritePolicy("session", path="/app", secure=True)


def lua_of(config: Any) -> str:
    per_route = lua_pb2.LuaPerRoute()
    assert config.Unpack(per_route)
    return str(per_route.source_code.inline_string)


def built(r: Route) -> Any:
    return envoy_route(r, secure=False)


def test_route_policies_become_the_routes_lua() -> None:
    result = built(route("/", upstream("kuard"), cookie_rewrite_policies=(SESSION,)))
    assert result.route.cluster  # still a single cluster
    script = lua_of(result.typed_per_filter_config[LUA])
    assert '["session"] = {path = "/app", secure = true},' in script
    assert "function envoy_on_response(response_handle)" in script


def test_a_single_services_policies_go_on_the_route() -> None:
    cluster = upstream("kuard", cookie_rewrite_policies=(CookieRewritePolicy("a", domain="x.example"),))
    script = lua_of(built(route("/", cluster)).typed_per_filter_config[LUA])
    assert '["a"] = {domain = "x.example"},' in script


def test_a_route_without_policies_has_no_lua_config() -> None:
    assert LUA not in built(route("/", upstream("kuard"))).typed_per_filter_config


def test_a_redirecting_route_gets_no_lua_config() -> None:
    r = route("/", upstream("kuard"), cookie_rewrite_policies=(SESSION,), https_upgrade=True)
    assert LUA not in built(r).typed_per_filter_config


def test_weighted_clusters_with_their_own_policies_get_the_merged_script() -> None:
    own = CookieRewritePolicy("session", path="/b", same_site="Lax")
    a = upstream("a", weight=50)
    b = upstream("b", weight=50, cookie_rewrite_policies=(own,))
    result = built(route("/", a, b, cookie_rewrite_policies=(SESSION,)))
    entries = {c.name.split("/")[1]: c for c in result.route.weighted_clusters.clusters}
    assert LUA not in entries["a"].typed_per_filter_config  # the route's script applies
    merged = lua_of(entries["b"].typed_per_filter_config[LUA])
    assert '["session"] = {path = "/b", samesite = "Lax", secure = true},' in merged
    assert '["session"] = {path = "/app", secure = true},' in lua_of(result.typed_per_filter_config[LUA])


def test_a_cluster_with_headers_and_policies_is_weighted_with_its_script() -> None:
    cluster = upstream(
        "kuard",
        request_headers_policy=HeadersPolicy(set=(HeaderValue("x", "y"),)),
        cookie_rewrite_policies=(SESSION,),
    )
    [entry] = built(route("/", cluster)).route.weighted_clusters.clusters
    assert LUA in entry.typed_per_filter_config


def test_merge_keeps_unset_attributes_of_earlier_layers() -> None:
    route_layer = [CookieRewritePolicy("a", path="/p", domain="d"), CookieRewritePolicy("z", secure=False)]
    service_layer = [CookieRewritePolicy("a", domain="e", secure=True)]
    assert merge_policies(route_layer, service_layer) == [
        CookieRewritePolicy("a", path="/p", domain="e", secure=True),
        CookieRewritePolicy("z", secure=False),
    ]


@pytest.mark.parametrize(
    ("text", "literal"),
    [("plain", '"plain"'), ('a"b', '"a\\034b"'), ("a\\b", '"a\\092b"'), ("a\nb", '"a\\010b"')],
    ids=["plain", "quote", "backslash", "newline"],
)
def test_lua_string_escapes(text: str, literal: str) -> None:
    assert lua_string(text) == literal


def test_script_lists_rules_sorted_by_cookie_name() -> None:
    script = cookie_rewrite_script(
        [CookieRewritePolicy("b", secure=True), CookieRewritePolicy("a", secure=False)]
    )
    assert script.index('["a"]') < script.index('["b"]')
