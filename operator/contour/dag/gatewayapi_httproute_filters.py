"""HTTPRoute filters -> DAG policies (pure): header modifiers, redirects, URL rewrites, mirrors, CORS.

`RuleFilters.of` sorts a rule's (or a backendRef's) filter list by type and refuses combinations the
spec forbids (URLRewrite with RequestRedirect: IncompatibleFilters; a filter type listed twice that
may not repeat, a type without its configuration, a filter a backendRef cannot carry: UnsupportedValue).
The other functions turn one filter into the DAG's terms, respecting what Envoy accepts: the Host
header is rewritten (never set as a header), `%` in header values is escaped (Envoy reads `%...%` as a
substitution), and a prefix replacement Envoy's `prefix_rewrite` would get wrong (a "/" prefix or a
replacement ending in "/") becomes a regex rewrite.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from contour.api.gateway.v1 import (
    CORS,
    ExtensionRef,
    Filter,
    HTTPRouteExtensionRef,
    HTTPRouteFilter,
    Path,
    RequestHeaderModifier,
    RequestMirror,
    RequestRedirect,
    ResponseHeaderModifier,
    URLRewrite,
)
from contour.dag.goformat import go_quote_meta
from contour.dag.model import CORSPolicy, HeadersPolicy, HeaderValue, PathMatch, PathMatchKind, Redirect

REASON_INCOMPATIBLE_FILTERS: Final = "IncompatibleFilters"
REASON_UNSUPPORTED_VALUE: Final = "UnsupportedValue"

_REPEATABLE: Final = frozenset({"RequestMirror", "ExtensionRef"})
_BACKEND_FILTERS: Final = frozenset({"RequestHeaderModifier", "ResponseHeaderModifier"})
_FIELD_OF_TYPE: Final = {
    "RequestHeaderModifier": "request_header_modifier",
    "ResponseHeaderModifier": "response_header_modifier",
    "RequestMirror": "request_mirror",
    "RequestRedirect": "request_redirect",
    "URLRewrite": "url_rewrite",
    "ExtensionRef": "extension_ref",
    "CORS": "cors",
}
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


class RouteRejectedError(Exception):
    """A filter list the route cannot be accepted with; `reason` is the Accepted=False reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(slots=True)
class RuleFilters:
    """One rule's (or backendRef's) filters, by type."""

    request_headers: RequestHeaderModifier | None = None
    response_headers: ResponseHeaderModifier | None = None
    redirect: RequestRedirect | None = None
    url_rewrite: URLRewrite | None = None
    cors: CORS | None = None
    mirrors: list[RequestMirror] = field(default_factory=list)
    extension_refs: list[HTTPRouteExtensionRef | ExtensionRef] = field(default_factory=list)

    @classmethod
    def of(cls, filters: Sequence[HTTPRouteFilter | Filter], *, backend: bool) -> RuleFilters:
        result = cls()
        seen: set[str] = set()
        where = "a backendRef" if backend else "a rule"
        for entry in filters:
            kind = entry.type
            if backend and kind not in _BACKEND_FILTERS:
                raise RouteRejectedError(
                    REASON_UNSUPPORTED_VALUE, f"filter {kind} is not supported on {where}"
                )
            if kind in seen and kind not in _REPEATABLE:
                raise RouteRejectedError(
                    REASON_UNSUPPORTED_VALUE, f"filter {kind} may appear only once in {where}"
                )
            seen.add(kind)
            config = getattr(entry, _FIELD_OF_TYPE[kind])
            if config is None:
                raise RouteRejectedError(
                    REASON_UNSUPPORTED_VALUE, f"filter {kind} has no {kind} configuration"
                )
            result._add(kind, config)
        if result.redirect is not None and result.url_rewrite is not None:
            raise RouteRejectedError(
                REASON_INCOMPATIBLE_FILTERS, "RequestRedirect and URLRewrite filters cannot be used together"
            )
        return result

    def _add(self, kind: str, config: object) -> None:
        if isinstance(config, RequestHeaderModifier):
            self.request_headers = config
        elif isinstance(config, ResponseHeaderModifier):
            self.response_headers = config
        elif isinstance(config, RequestRedirect):
            self.redirect = config
        elif isinstance(config, URLRewrite):
            self.url_rewrite = config
        elif isinstance(config, CORS):
            self.cors = config
        elif isinstance(config, RequestMirror):
            self._add_mirror(config)
        elif isinstance(config, HTTPRouteExtensionRef | ExtensionRef):
            self.extension_refs.append(config)
        else:  # pragma: no cover - the model's types are exhaustive
            raise RouteRejectedError(REASON_UNSUPPORTED_VALUE, f"filter {kind} is not supported")

    def _add_mirror(self, mirror: RequestMirror) -> None:
        if mirror.percent is not None and mirror.fraction is not None:
            raise RouteRejectedError(REASON_UNSUPPORTED_VALUE, "RequestMirror sets both percent and fraction")
        fraction = mirror.fraction
        if fraction is not None and fraction.numerator > (fraction.denominator or 100):
            raise RouteRejectedError(REASON_UNSUPPORTED_VALUE, "RequestMirror fraction is greater than 1")
        self.mirrors.append(mirror)


def mirror_fraction(mirror: RequestMirror) -> tuple[int, int]:
    """(numerator, denominator) of the share of requests mirrored; every request when neither is set."""
    if mirror.percent is not None:
        return mirror.percent, 100
    if mirror.fraction is not None:
        return mirror.fraction.numerator, mirror.fraction.denominator or 100
    return 100, 100


def _escaped(value: str) -> str:
    """A literal header value for Envoy, which reads `%VAR%` in header values as a substitution."""
    return value.replace("%", "%%")


def _first_per_name(values: Sequence[HeaderValue]) -> list[HeaderValue]:
    seen: set[str] = set()
    result = []
    for value in values:
        if value.name.lower() not in seen:
            seen.add(value.name.lower())
            result.append(value)
    return result


def headers_policy(
    modifier: RequestHeaderModifier | ResponseHeaderModifier | None,
    *,
    host_rewrite: bool = False,
    hostname: str | None = None,
) -> HeadersPolicy | None:
    """A HeadersPolicy for `modifier`; with `host_rewrite` (requests) a `Host` set/add becomes the
    host rewrite, as does `hostname` (URLRewrite), which wins. Envoy refuses `host` in header lists, so
    it never appears there. None when there is nothing to do."""
    set_: list[HeaderValue] = []
    add: list[HeaderValue] = []
    remove: list[str] = []
    if modifier is not None:
        set_ = _first_per_name([HeaderValue(h.name, h.value) for h in modifier.set or ()])
        add = _first_per_name([HeaderValue(h.name, h.value) for h in modifier.add or ()])
        remove = list(dict.fromkeys(name for name in modifier.remove or () if name.lower() != "host"))
    rewrite = ""
    if host_rewrite:
        for value in set_ + add:
            if value.name.lower() == "host":
                rewrite = value.value
                break
    if hostname:
        rewrite = hostname
    set_ = [HeaderValue(v.name, _escaped(v.value)) for v in set_ if v.name.lower() != "host"]
    add = [HeaderValue(v.name, _escaped(v.value)) for v in add if v.name.lower() != "host"]
    if not (set_ or add or remove or rewrite):
        return None
    return HeadersPolicy(set=tuple(set_), add=tuple(add), remove=tuple(remove), host_rewrite=rewrite)


def _substitution(text: str) -> str:
    """`text` as an RE2 rewrite string (a backslash introduces a group reference)."""
    return text.replace("\\", "\\\\")


def _prefix_replacement(replacement: str, match: PathMatch) -> tuple[str | None, tuple[str, str] | None]:
    """(prefix_rewrite, regex_rewrite) replacing the matched prefix element by element."""
    if match.kind == PathMatchKind.EXACT:
        return None, ("^/.*$", _substitution(replacement))
    if match.kind != PathMatchKind.SEGMENT_PREFIX:
        raise RouteRejectedError(REASON_UNSUPPORTED_VALUE, "ReplacePrefixMatch needs a PathPrefix match")
    prefix = match.value
    if prefix != "/" and not replacement.endswith("/"):
        return replacement, None
    # Envoy's prefix_rewrite would leave "//" or glue segments together here: drop the prefix and the
    # slashes after it, then join with exactly one "/".
    pattern = "^" + go_quote_meta(prefix.rstrip("/")) + "/*"
    return None, (pattern, _substitution(replacement.rstrip("/") + "/"))


def path_rewrite(path: Path, match: PathMatch) -> tuple[str | None, tuple[str, str] | None]:
    """(prefix_rewrite, regex_rewrite) for a URLRewrite or RequestRedirect path modifier."""
    if path.type == "ReplaceFullPath":
        return None, ("^/.*$", _substitution(path.replace_full_path or "/"))
    return _prefix_replacement(path.replace_prefix_match or "/", match)


def redirect(rr: RequestRedirect, match: PathMatch, listener_port: int | None) -> Redirect:
    """The redirect answered for a match. Without a port, the Location keeps the scheme's well-known
    port when the scheme is set, else the listener's port (RequestRedirect.port godoc)."""
    scheme = rr.scheme or ""
    port = rr.port or 0
    if not port:
        port = _DEFAULT_PORTS[scheme] if scheme else (listener_port or 0)
    effective_scheme = scheme or ("https" if listener_port == _DEFAULT_PORTS["https"] else "http")
    if port == _DEFAULT_PORTS[effective_scheme] and (rr.hostname or listener_port in (None, 80, 443)):
        # The Location must not show a scheme's default port, and Envoy writes any port_redirect it is
        # given. Without one, a host_redirect drops the request's port and a request to a listener on a
        # default port carries none, so leaving it out is exact there; on other listeners the request's
        # Host holds the listener port, which only an explicit (default) port replaces.
        port = 0
    path = prefix = ""
    regex: tuple[str, str] | None = None
    if rr.path is not None:
        if rr.path.type == "ReplaceFullPath":
            path = rr.path.replace_full_path or "/"
        else:
            prefix_rewrite, regex = _prefix_replacement(rr.path.replace_prefix_match or "/", match)
            prefix = prefix_rewrite or ""
    return Redirect(
        scheme=scheme,
        hostname=rr.hostname or "",
        port=port,
        status_code=rr.status_code or 302,
        path=path,
        prefix=prefix,
        regex_rewrite=regex,
    )


def _origin(origin: str) -> str:
    """An allowed origin: literal, or an RE2 pattern when its host has `*` labels."""
    if origin == "*" or "*" not in origin:
        return origin
    return go_quote_meta(origin).replace("\\*", "[^/]*")


def cors_policy(cors: CORS) -> CORSPolicy:
    return CORSPolicy(
        allow_origin=tuple(_origin(o.root) for o in cors.allow_origins or ()),
        allow_credentials=bool(cors.allow_credentials),
        allow_methods=tuple(cors.allow_methods or ()),
        allow_headers=tuple(h.root for h in cors.allow_headers or ()),
        expose_headers=tuple(h.root for h in cors.expose_headers or ()),
        max_age=f"{cors.max_age}s" if cors.max_age is not None else "",
    )
