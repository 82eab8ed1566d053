"""Set-Cookie rewriting (HTTPProxy `cookieRewritePolicies`) as a per-route Lua script.

Contour rewrites cookies with the Lua filter that every HTTP chain already carries (a placeholder in
`default_http_filters()`): a route, or one weighted cluster of a route, gets a `LuaPerRoute` whose
source code replaces the placeholder for its requests. The script rewrites the Path, Domain and
SameSite attributes and adds or removes Secure on the Set-Cookie headers of the named cookies, and
leaves every other cookie and attribute as the upstream sent it.

A service's policies are merged over its route's, attribute by attribute, as Contour's
`cookieRewriteConfig` does. The misdirected-request filter of an HTTPS chain has the same filter name
as the placeholder, so on a rewriting route the per-route script stands in for it too, exactly as in
Contour.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from envoy.config.core.v3 import base_pb2
from envoy.extensions.filters.http.lua.v3 import lua_pb2

from contour.dag.model import Cluster, CookieRewritePolicy, Route

_SCRIPT: Final = """
local rules = {
%(rules)s
}

local function trim(text)
  return (string.gsub(text, "^%%s*(.-)%%s*$", "%%1"))
end

local function rewrite(cookie)
  local equals = string.find(cookie, "=", 1, true)
  if equals == nil then
    return cookie
  end
  local rule = rules[trim(string.sub(cookie, 1, equals - 1))]
  if rule == nil then
    return cookie
  end
  local parts = {}
  for part in string.gmatch(cookie, "[^;]+") do
    table.insert(parts, trim(part))
  end
  local out = {parts[1]}
  local seen = {}
  for i = 2, #parts do
    local attribute = parts[i]
    local key = string.lower(trim(string.match(attribute, "^[^=]*")))
    if key == "path" and rule.path ~= nil then
      attribute = "Path=" .. rule.path
    elseif key == "domain" and rule.domain ~= nil then
      attribute = "Domain=" .. rule.domain
    elseif key == "samesite" and rule.samesite ~= nil then
      attribute = "SameSite=" .. rule.samesite
    elseif key == "secure" and rule.secure ~= nil then
      attribute = rule.secure and "Secure" or nil
    end
    seen[key] = true
    if attribute ~= nil and attribute ~= "" then
      table.insert(out, attribute)
    end
  end
  if rule.path ~= nil and not seen.path then
    table.insert(out, "Path=" .. rule.path)
  end
  if rule.domain ~= nil and not seen.domain then
    table.insert(out, "Domain=" .. rule.domain)
  end
  if rule.samesite ~= nil and not seen.samesite then
    table.insert(out, "SameSite=" .. rule.samesite)
  end
  if rule.secure == true and not seen.secure then
    table.insert(out, "Secure")
  end
  return table.concat(out, "; ")
end

function envoy_on_response(response_handle)
  local headers = response_handle:headers()
  if headers:get("set-cookie") == nil then
    return
  end
  local cookies = {}
  for name, value in pairs(headers) do
    if name == "set-cookie" then
      table.insert(cookies, rewrite(value))
    end
  end
  headers:remove("set-cookie")
  for _, value in ipairs(cookies) do
    headers:add("set-cookie", value)
  end
end
"""


def lua_string(text: str) -> str:
    """`text` as a Lua string literal: quotes, backslashes and control bytes escaped as decimals."""
    escaped = "".join(f"\\{ord(c):03d}" if c in '"\\' or ord(c) < 0x20 or ord(c) == 0x7F else c for c in text)
    return f'"{escaped}"'


def merge_policies(*layers: Iterable[CookieRewritePolicy]) -> list[CookieRewritePolicy]:
    """Policies by cookie name, later layers overriding the attributes they set; sorted by name."""
    merged: dict[str, CookieRewritePolicy] = {}
    for layer in layers:
        for policy in layer:
            old = merged.get(policy.name)
            if old is None:
                merged[policy.name] = policy
                continue
            merged[policy.name] = CookieRewritePolicy(
                name=policy.name,
                path=policy.path if policy.path is not None else old.path,
                domain=policy.domain if policy.domain is not None else old.domain,
                secure=policy.secure if policy.secure is not None else old.secure,
                same_site=policy.same_site if policy.same_site is not None else old.same_site,
            )
    return [merged[name] for name in sorted(merged)]


def _rule(policy: CookieRewritePolicy) -> str:
    fields = []
    if policy.path is not None:
        fields.append(f"path = {lua_string(policy.path)}")
    if policy.domain is not None:
        fields.append(f"domain = {lua_string(policy.domain)}")
    if policy.same_site is not None:
        fields.append(f"samesite = {lua_string(policy.same_site)}")
    if policy.secure is not None:
        fields.append(f"secure = {'true' if policy.secure else 'false'}")
    return f"  [{lua_string(policy.name)}] = {{{', '.join(fields)}}},"


def cookie_rewrite_script(policies: Iterable[CookieRewritePolicy]) -> str:
    """The Lua source rewriting the Set-Cookie headers of the cookies `policies` name."""
    return _SCRIPT % {"rules": "\n".join(_rule(p) for p in merge_policies(policies))}


def cookie_rewrite_config(*layers: Iterable[CookieRewritePolicy]) -> Any | None:
    """The `LuaPerRoute` for the merged policies, or None when there is none."""
    policies = merge_policies(*layers)
    if not policies:
        return None
    source = base_pb2.DataSource(inline_string=cookie_rewrite_script(policies))
    return lua_pb2.LuaPerRoute(source_code=source)


def route_cookie_rewrite(route: Route) -> Any | None:
    """The route-level script: the route's policies, and its only service's when it has one."""
    service_layer = route.clusters[0].cookie_rewrite_policies if len(route.clusters) == 1 else ()
    return cookie_rewrite_config(route.cookie_rewrite_policies, service_layer)


def weighted_cluster_cookie_rewrite(route: Route, cluster: Cluster) -> Any | None:
    """A weighted cluster's own script when its service has policies (else the route's applies)."""
    if not cluster.cookie_rewrite_policies:
        return None
    return cookie_rewrite_config(route.cookie_rewrite_policies, cluster.cookie_rewrite_policies)
