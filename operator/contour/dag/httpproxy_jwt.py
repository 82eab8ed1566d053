"""JWT verification of an HTTPProxy: the root's `jwtProviders` and each route's `jwtVerificationPolicy`.

Follows the JWT part of Contour's computeHTTPProxy and computeRoutes, check for check, with its
JWTVerificationError reasons and messages. Providers need a TLS-terminating root (checked earlier by
the processor). A provider's keys come from a remote JWKS URI, fetched by Envoy through a
`dnsname/<scheme>/<host>` cluster (TLS with optional CA/SAN validation for https), or from a key set
in a Secret of the proxy's namespace (`localJWKS`, an extension of Contour's API; its reasons
JWKSSourceConflict, JWKSSourceMissing and LocalJWKSInvalid are ours). A route requires the default
provider unless it names another one (`require`) or opts out (`disabled`).

Differences from Contour, each refusing input Envoy would NACK or a route that would go unverified:
a URI without a host, a port outside 1-65535, and a timeout or cache duration outside the ranges
Envoy accepts are errors; a route requiring an undefined provider stops the root before its routes are
added to any host (Contour adds them to the plain host first, and reports the error afterwards); and
providers on a host with `enableFallbackCertificate` are refused (TLSIncompatibleFeatures), since the
fallback filter chain would serve the host's routes without verification.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from contour.api.projectcontour import v1 as api
from contour.dag.builder import BuildContext
from contour.dag.cache import DEFAULT_JWKS_KEY
from contour.dag.goformat import go_quote
from contour.dag.model import (
    DNSNameCluster,
    JWTProvider,
    ObjectRef,
    Route,
    SecureVirtualHost,
    UpstreamValidation,
)
from contour.dag.secrets import DelegationNotPermittedError, SecretError, lookup_ca_secret, split_ref
from contour.dag.status import DetailedCondition
from contour.dag.timeouts import DurationError, parse_go_duration_nanos

JWT_ERROR = "JWTVerificationError"
_PROVIDERS = "Spec.VirtualHost.JWTProviders"
_REMOTE = "Spec.VirtualHost.JWTProviders.RemoteJWKS"
_LOCAL = "Spec.VirtualHost.JWTProviders.LocalJWKS"
_MAX_TIMEOUT_NANOS = 2**32 * 10**9  # Envoy's HttpUri.timeout: < 2^32 s
_CACHE_DURATION_NANOS = (10**6, 9 * 10**9 * 10**9)  # Envoy's RemoteJwks.cache_duration: [1ms, 9e9 s)
_CONTROL = {chr(c) for c in range(0x20)} | {"\x7f"}
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")
_EC_CURVES: dict[str, ec.EllipticCurve] = {
    "P-256": ec.SECP256R1(),
    "P-384": ec.SECP384R1(),
    "P-521": ec.SECP521R1(),
}
_EC_ALGS = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_RSA_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
_HMAC_ALGS = ("HS256", "HS384", "HS512")


def _namespace(proxy: api.HTTPProxy) -> str:
    return proxy.metadata.namespace or ""


def compute_jwt_providers(
    ctx: BuildContext, proxy: api.HTTPProxy, svhost: SecureVirtualHost, cond: DetailedCondition
) -> bool:
    """Checks the root's providers and puts them on `svhost`; False (after adding the error) stops the
    root."""
    vh = proxy.spec.virtualhost
    assert vh is not None
    if vh.jwt_providers and vh.tls is not None and vh.tls.enable_fallback_certificate:
        # The fallback chain serves the host's routes without the host's jwt_authn filter.
        cond.add_error(
            "TLSError",
            "TLSIncompatibleFeatures",
            "Spec.Virtualhost.TLS fallback & JWT verification are incompatible",
        )
        return False
    names: set[str] = set()
    default = ""
    providers: list[JWTProvider] = []
    for provider in vh.jwt_providers or []:
        if provider.name in names:
            cond.add_error(
                JWT_ERROR, "DuplicateProviderName", f"{_PROVIDERS} is invalid: duplicate name {provider.name}"
            )
            return False
        names.add(provider.name)
        if provider.default:
            if default:
                cond.add_error(
                    JWT_ERROR,
                    "MultipleDefaultProvidersSpecified",
                    f"{_PROVIDERS} is invalid: at most one provider can be set as the default",
                )
                return False
            default = provider.name
        built = _provider(ctx, proxy, provider, cond)
        if built is None:
            return False
        providers.append(built)
    svhost.jwt_providers = tuple(providers)
    return True


def _url_error(uri: str) -> str | None:
    """Go's url.Parse error for `uri` (the cases that matter here), else None."""
    if any(c in _CONTROL for c in uri):
        return f"parse {go_quote(uri)}: net/url: invalid control character in URL"
    if uri.startswith(":"):
        return f"parse {go_quote(uri)}: missing protocol scheme"
    return None


def _host_port(parts: urllib.parse.SplitResult) -> tuple[str, int | None, str]:
    """(host, port, error) as Go's URL.Hostname() and Port() give them; the port defaults to the
    scheme's (80 / 443)."""
    netloc = parts.netloc.rpartition("@")[2]
    if netloc.startswith("["):
        end = netloc.find("]")
        host, rest = netloc[1:end], netloc[end + 1 :]
    else:
        host, colon, port_text = netloc.partition(":")
        rest = colon + port_text
    text = rest[1:] if rest.startswith(":") else rest
    if rest and not (rest.startswith(":") and (text == "" or (text.isascii() and text.isdigit()))):
        return host, None, f"invalid port {go_quote(rest)} after host"
    if text:
        port = int(text)
        if not 1 <= port <= 65535:
            return host, None, f"port {port} is out of range 1-65535"
        return host, port, ""
    return host, (80 if parts.scheme == "http" else 443), ""


def _provider(
    ctx: BuildContext, proxy: api.HTTPProxy, provider: api.JWTProvider, cond: DetailedCondition
) -> JWTProvider | None:
    """The provider with its keys from exactly one of remoteJWKS and localJWKS; None after adding the
    error."""
    remote, local = provider.remote_jwks, provider.local_jwks
    if remote is not None and local is not None:
        cond.add_error(
            JWT_ERROR,
            "JWKSSourceConflict",
            f"{_PROVIDERS} is invalid: provider {provider.name} sets both remoteJWKS and localJWKS",
        )
        return None
    if remote is not None:
        return _remote_provider(ctx, proxy, provider, remote, cond)
    if local is not None:
        return _local_provider(ctx, proxy, provider, local, cond)
    cond.add_error(
        JWT_ERROR,
        "JWKSSourceMissing",
        f"{_PROVIDERS} is invalid: provider {provider.name} sets neither remoteJWKS nor localJWKS",
    )
    return None


def _local_provider(
    ctx: BuildContext,
    proxy: api.HTTPProxy,
    provider: api.JWTProvider,
    local: api.LocalJWKS,
    cond: DetailedCondition,
) -> JWTProvider | None:
    """A provider whose key set is inlined from a Secret of the proxy's namespace."""
    ref = ObjectRef(_namespace(proxy), local.secret_name)
    key = local.key or DEFAULT_JWKS_KEY
    secret = ctx.cache.secret(ref)
    error = ""
    document = ""
    if secret is None:
        error = f"Secret {go_quote(str(ref))} not found"
    elif key not in secret.data:
        error = f"Secret {go_quote(str(ref))} has no JSON Web Key Set under key {go_quote(key)}"
    else:
        document, problem = usable_jwks(secret.data[key])
        if problem:
            error = f"key {go_quote(key)} of Secret {go_quote(str(ref))} {problem}"
    if error:
        cond.add_error(JWT_ERROR, "LocalJWKSInvalid", f"{_LOCAL} is invalid: {error}")
        return None
    return JWTProvider(
        name=provider.name,
        issuer=provider.issuer or "",
        audiences=tuple(provider.audiences or ()),
        forward_jwt=bool(provider.forward_jwt),
        local_jwks=document,
    )


def _remote_provider(
    ctx: BuildContext,
    proxy: api.HTTPProxy,
    provider: api.JWTProvider,
    remote: api.RemoteJWKS,
    cond: DetailedCondition,
) -> JWTProvider | None:
    uri = remote.uri
    if err := _url_error(uri):
        cond.add_error(JWT_ERROR, "RemoteJWKSURIInvalid", f"{_REMOTE}.URI is invalid: {err}")
        return None
    try:
        parts = urllib.parse.urlsplit(uri)
    except ValueError as exc:
        cond.add_error(
            JWT_ERROR, "RemoteJWKSURIInvalid", f"{_REMOTE}.URI is invalid: parse {go_quote(uri)}: {exc}"
        )
        return None
    if parts.scheme not in ("http", "https"):
        cond.add_error(
            JWT_ERROR,
            "RemoteJWKSSchemeInvalid",
            f"{_REMOTE}.URI has invalid scheme {go_quote(parts.scheme)}, must be http or https",
        )
        return None
    host, port, port_error = _host_port(parts)
    if port_error.startswith("invalid port"):
        cond.add_error(
            JWT_ERROR,
            "RemoteJWKSURIInvalid",
            f"{_REMOTE}.URI is invalid: parse {go_quote(uri)}: {port_error}",
        )
        return None
    if not host:
        cond.add_error(JWT_ERROR, "RemoteJWKSURIInvalid", f"{_REMOTE}.URI is invalid: missing host")
        return None

    validation = None
    if remote.validation is not None:
        if parts.scheme == "http":
            cond.add_error(
                JWT_ERROR,
                "RemoteJWKSUpstreamValidationInvalid",
                f"{_REMOTE}.UpstreamValidation must not be specified when URI scheme is http.",
            )
            return None
        validation = _upstream_validation(ctx, proxy, remote.validation, cond)
        if validation is None:
            return None

    timeout_nanos = 10**9
    if remote.timeout:
        try:
            timeout_nanos = parse_go_duration_nanos(remote.timeout)
        except DurationError as exc:
            cond.add_error(JWT_ERROR, "RemoteJWKSTimeoutInvalid", f"{_REMOTE}.Timeout is invalid: {exc}")
            return None
        if not 0 <= timeout_nanos < _MAX_TIMEOUT_NANOS:
            cond.add_error(
                JWT_ERROR,
                "RemoteJWKSTimeoutInvalid",
                f"{_REMOTE}.Timeout is invalid: must be between 0s and 4294967295s",
            )
            return None

    cache_seconds = None
    if remote.cache_duration:
        try:
            cache_nanos = parse_go_duration_nanos(remote.cache_duration)
        except DurationError as exc:
            cond.add_error(
                JWT_ERROR, "RemoteJWKSCacheDurationInvalid", f"{_REMOTE}.CacheDuration is invalid: {exc}"
            )
            return None
        low, high = _CACHE_DURATION_NANOS
        if not low <= cache_nanos < high:
            cond.add_error(
                JWT_ERROR,
                "RemoteJWKSCacheDurationInvalid",
                f"{_REMOTE}.CacheDuration is invalid: must be at least 1ms and less than 9000000000s",
            )
            return None
        cache_seconds = cache_nanos / 1e9

    if port is None:
        cond.add_error(JWT_ERROR, "RemoteJWKSPortInvalid", f"{_REMOTE}.URI has an invalid port: {port_error}")
        return None

    # Contour's RemoteJWKSDNSLookupFamilyInvalid cannot happen: the API model only admits auto, v4, v6
    # and all (an HTTPProxy with another value is refused when it is parsed).
    family = remote.dns_lookup_family or ""
    return JWTProvider(
        name=provider.name,
        issuer=provider.issuer or "",
        audiences=tuple(provider.audiences or ()),
        forward_jwt=bool(provider.forward_jwt),
        remote_jwks_uri=uri,
        remote_jwks_timeout_seconds=timeout_nanos / 1e9,
        remote_jwks_cache_duration_seconds=cache_seconds,
        remote_jwks_cluster=DNSNameCluster(
            address=host,
            scheme=parts.scheme,
            port=port,
            dns_lookup_family=family,
            upstream_validation=validation,
        ),
    )


def _upstream_validation(
    ctx: BuildContext, proxy: api.HTTPProxy, v: api.Validation, cond: DetailedCondition
) -> UpstreamValidation | None:
    """Contour's LookupUpstreamValidation for the JWKS server's certificate, with the JWT reasons."""
    ns = _namespace(proxy)
    ca_ref: ObjectRef = split_ref(v.ca_secret, ns)
    try:
        ca = lookup_ca_secret(ctx.cache, ca_ref, ns)
    except DelegationNotPermittedError:
        cond.add_error(
            JWT_ERROR,
            "RemoteJWKSCACertificateNotDelegated",
            f"{_REMOTE}.UpstreamValidation.CACertificate Secret {go_quote(ca_ref)} "
            "is not configured for certificate delegation",
        )
        return None
    except SecretError as exc:
        error = f"invalid CA Secret {go_quote(ca_ref)}: {exc}"
        cond.add_error(
            JWT_ERROR,
            "RemoteJWKSUpstreamValidationInvalid",
            f"{_REMOTE}.UpstreamValidation is invalid: {error}",
        )
        return None
    error = ""
    if not v.subject_name:
        error = "missing subject alternative name"
    elif v.subject_names and v.subject_names[0] != v.subject_name:
        first = v.subject_names[0]
        error = f"first entry of SubjectNames ({first}) does not match SubjectName ({v.subject_name})"
    if error:
        cond.add_error(
            JWT_ERROR,
            "RemoteJWKSUpstreamValidationInvalid",
            f"{_REMOTE}.UpstreamValidation is invalid: {error}",
        )
        return None
    names = tuple(v.subject_names) if v.subject_names else (v.subject_name,)
    return UpstreamValidation(ca_secret=ca, subject_names=names)


def default_provider(root: api.HTTPProxy) -> str:
    """The name of the root's default provider ("" when none is the default)."""
    vh = root.spec.virtualhost
    if vh is None:
        return ""
    return next((p.name for p in vh.jwt_providers or [] if p.default), "")


def set_route_jwt_provider(
    route: api.Route, root: api.HTTPProxy, built: Route, cond: DetailedCondition
) -> bool:
    """Which provider `built` requires: its own `require`, none if `disabled`, else the root's default.
    False after adding InvalidJWTVerificationPolicy (the proxy's routes are then dropped)."""
    policy = route.jwt_verification_policy
    if policy is not None and policy.require and policy.disabled:
        cond.add_error(
            JWT_ERROR,
            "InvalidJWTVerificationPolicy",
            "route's JWT verification policy cannot specify both require and disabled",
        )
        return False
    if policy is not None and policy.require:
        built.jwt_provider = policy.require
    elif policy is not None and policy.disabled:
        built.jwt_provider = ""
    else:
        built.jwt_provider = default_provider(root)
    return True


def route_providers_defined(root: api.HTTPProxy, routes: Sequence[Route], cond: DetailedCondition) -> bool:
    """Every provider the routes require is one of the root's; False after adding JWTProviderNotDefined
    for the first that is not."""
    vh = root.spec.virtualhost
    defined = {p.name for p in vh.jwt_providers or []} if vh is not None else set()
    for route in routes:
        if route.jwt_provider and route.jwt_provider not in defined:
            cond.add_error(
                JWT_ERROR,
                "JWTProviderNotDefined",
                f"Route references an undefined JWT provider {go_quote(route.jwt_provider)}",
            )
            return False
    return True


# --- local key sets ------------------------------------------------------------------------------
# Envoy (jwt_verify_lib) refuses an inline key set unless it is a JSON object whose `keys` array holds at
# least one key it can load; other entries are skipped. These checks are the loading rules, verified
# against Envoy 1.40 (`envoy --mode validate`), a little stricter where that costs nothing (a known
# `alg` only): https://github.com/google/jwt_verify_lib/blob/master/src/jwks.cc


def usable_jwks(raw: bytes) -> tuple[str, str]:
    """(document, "") for a key set Envoy accepts, the document re-serialised as strict JSON; else
    ("", why not), phrased to follow "key K of Secret S"."""
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
        document = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        document.encode("utf-8")
    except (UnicodeError, ValueError, RecursionError):
        return "", "is not valid JSON"
    keys = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(keys, list):
        return "", "is not a JSON Web Key Set (a JSON object with a keys array)"
    first_problem = "the keys array is empty"
    for index, key in enumerate(keys):
        problem = _key_problem(key)
        if not problem:
            return document, ""
        if index == 0:
            first_problem = f"keys[0]: {problem}"
    return "", f"has no usable key ({first_problem})"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _b64url(value: object) -> bytes | None:
    """The bytes of a base64url field (unpadded, or padded correctly, as Envoy's decoder), None if not
    one."""
    if not isinstance(value, str) or not _BASE64URL.fullmatch(value):
        return None
    text = value.rstrip("=")
    if len(text) % 4 == 1 or (text != value and len(value) % 4 != 0):
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return None


def _key_problem(key: object) -> str:
    """Why Envoy cannot load one entry of `keys` ("" when it can)."""
    if not isinstance(key, Mapping):
        return "not a JSON object"
    kty = key.get("kty")
    alg = key.get("alg") if isinstance(key.get("alg"), str) else None
    if kty == "RSA":
        return _rsa_problem(key, alg)
    if kty == "EC":
        return _ec_problem(key, alg)
    if kty == "OKP":
        if alg is not None and alg != "EdDSA":
            return f"alg {go_quote(alg)} is not EdDSA for an OKP key"
        if key.get("crv") != "Ed25519":
            return "an OKP key needs crv Ed25519"
        x = _b64url(key.get("x"))
        if x is None or len(x) != 32:
            return "x of an Ed25519 key is not 32 base64url-encoded bytes"
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(x)
        except ValueError:
            return "x is not an Ed25519 public key"
        return ""
    if kty == "oct":
        if alg is not None and alg not in _HMAC_ALGS:
            return f"alg {go_quote(alg)} is not an HMAC algorithm for an oct key"
        if not _b64url(key.get("k")):
            return "k of an oct key is missing or not base64url"
        return ""
    return f"kty {go_quote(kty)} is not one of RSA, EC, OKP, oct" if isinstance(kty, str) else "no kty"


def _rsa_problem(key: Mapping[str, Any], alg: str | None) -> str:
    if alg is not None and alg not in _RSA_ALGS:
        return f"alg {go_quote(alg)} is not an RSA algorithm"
    n, e = _b64url(key.get("n")), _b64url(key.get("e"))
    if not n or not e:
        return "n or e of an RSA key is missing or not base64url"
    try:
        rsa.RSAPublicNumbers(int.from_bytes(e, "big"), int.from_bytes(n, "big")).public_key()
    except ValueError:
        return "n and e do not form an RSA public key"
    return ""


def _ec_problem(key: Mapping[str, Any], alg: str | None) -> str:
    if alg is not None and alg not in _EC_ALGS:
        return f"alg {go_quote(alg)} is not an EC algorithm"
    crv = key.get("crv", _EC_ALGS.get(alg or "", "P-256"))
    curve = _EC_CURVES.get(crv) if isinstance(crv, str) else None
    if curve is None or not isinstance(crv, str):
        return f"crv {go_quote(crv)} is not one of P-256, P-384, P-521"
    if alg is not None and _EC_ALGS[alg] != crv:
        return f"crv {crv} does not match alg {alg}"
    x, y = _b64url(key.get("x")), _b64url(key.get("y"))
    if not x or not y:
        return "x or y of an EC key is missing or not base64url"
    try:
        ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve).public_key()
    except ValueError:
        return f"x and y are not a point of {crv}"
    return ""
