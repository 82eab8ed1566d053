"""JWT verification in the DAG: providers on the secure host (remote and local key sets), the requirement
of each route, every JWTVerificationError reason with Contour's message, and the key sets Envoy can load."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from contour.dag.builder import BuilderConfig, BuildResult
from contour.dag.httpproxy_jwt import usable_jwks
from contour.dag.model import DNSNameCluster, JWTProvider, ObjectRef, Route, SecureVirtualHost

from .fixtures import Obj, build, ca_secret, cache_of, delegation, k8s_service, proxy, service, tls_secret

ROOT = ObjectRef("default", "root")
KUARD = k8s_service("kuard")
CERT = tls_secret("cert")
JWKS = "https://jwks.example.com/keys"


def provider(name: str = "main", uri: str = JWKS, **fields: Any) -> dict[str, Any]:
    remote = {"uri": uri, **fields.pop("remote", {})}
    return {"name": name, "remoteJWKS": remote, **fields}


def root(*providers: dict[str, Any]) -> Any:
    return proxy("root").fqdn("example.com").tls("cert").vhost(jwtProviders=list(providers))


def errors(result: BuildResult, ref: ObjectRef = ROOT) -> list[tuple[str, str, str]]:
    [update] = [u for u in result.statuses if u.ref == ref and u.plural == "httpproxies"]
    cond = update.status["conditions"][0]
    return [(e["type"], e["reason"], e["message"]) for e in cond.get("errors", [])]


def secure(result: BuildResult, name: str = "example.com") -> SecureVirtualHost | None:
    return result.dag.listeners["ingress_https"].secure_virtual_hosts.get(name)


def routes_by_prefix(result: BuildResult) -> dict[str, Route]:
    host = secure(result)
    assert host is not None
    return {r.path_match.value: r for r in host.virtual_host.routes.values()}


def test_remote_provider_is_on_the_secure_host() -> None:
    result = build(
        KUARD,
        CERT,
        root(
            provider(
                "main",
                issuer="https://issuer.example.com",
                audiences=["a", "b"],
                forwardJWT=True,
                remote={"timeout": "7s", "cacheDuration": "1h", "dnsLookupFamily": "v4"},
            )
        )
        .route("/", service("kuard"))
        .build(),
    )
    assert errors(result) == []
    host = secure(result)
    assert host is not None
    assert host.jwt_providers == (
        JWTProvider(
            name="main",
            issuer="https://issuer.example.com",
            audiences=("a", "b"),
            forward_jwt=True,
            remote_jwks_uri=JWKS,
            remote_jwks_timeout_seconds=7.0,
            remote_jwks_cache_duration_seconds=3600.0,
            remote_jwks_cluster=DNSNameCluster("jwks.example.com", "https", 443, "v4"),
        ),
    )


@pytest.mark.parametrize(
    ("uri", "cluster"),
    [
        pytest.param(
            "http://keys.local/jwks", DNSNameCluster("keys.local", "http", 80), id="http-default-port"
        ),
        pytest.param(
            "https://keys.local/jwks", DNSNameCluster("keys.local", "https", 443), id="https-default-port"
        ),
        pytest.param(
            "https://keys.local:8443/k", DNSNameCluster("keys.local", "https", 8443), id="explicit-port"
        ),
        pytest.param(
            "HTTPS://keys.local/k", DNSNameCluster("keys.local", "https", 443), id="scheme-lower-cased"
        ),
        pytest.param("https://[::1]:9000/k", DNSNameCluster("::1", "https", 9000), id="ipv6-literal"),
    ],
)
def test_jwks_cluster_from_the_uri(uri: str, cluster: DNSNameCluster) -> None:
    result = build(KUARD, CERT, root(provider(uri=uri)).route("/", service("kuard")).build())
    host = secure(result)
    assert host is not None
    [built] = host.jwt_providers
    assert built.remote_jwks_cluster == cluster
    assert built.remote_jwks_timeout_seconds == 1.0  # Contour's default
    assert built.remote_jwks_cache_duration_seconds is None


def test_upstream_validation_of_the_jwks_server() -> None:
    result = build(
        KUARD,
        CERT,
        ca_secret("jwks-ca"),
        root(provider(remote={"validation": {"caSecret": "jwks-ca", "subjectName": "jwks.example.com"}}))
        .route("/", service("kuard"))
        .build(),
    )
    assert errors(result) == []
    host = secure(result)
    assert host is not None
    cluster = host.jwt_providers[0].remote_jwks_cluster
    assert cluster is not None and cluster.upstream_validation is not None
    assert cluster.upstream_validation.subject_names == ("jwks.example.com",)
    assert cluster.upstream_validation.ca_secret.ref == ObjectRef("default", "jwks-ca")


def test_delegated_ca_of_the_jwks_server() -> None:
    result = build(
        KUARD,
        CERT,
        ca_secret("jwks-ca", "certs"),
        delegation("d", "certs", {"jwks-ca": ["default"]}),
        root(
            provider(remote={"validation": {"caSecret": "certs/jwks-ca", "subjectName": "jwks.example.com"}})
        )
        .route("/", service("kuard"))
        .build(),
    )
    assert errors(result) == []


def test_routes_require_the_default_unless_they_choose() -> None:
    result = build(
        KUARD,
        CERT,
        root(provider("main", default=True), provider("other"))
        .route("/default", service("kuard"))
        .route("/other", service("kuard"), jwtVerificationPolicy={"require": "other"})
        .route("/open", service("kuard"), jwtVerificationPolicy={"disabled": True})
        .build(),
    )
    assert errors(result) == []
    requirements = {prefix: r.jwt_provider for prefix, r in routes_by_prefix(result).items()}
    assert requirements == {"/default": "main", "/other": "other", "/open": ""}


def test_without_a_default_routes_require_nothing() -> None:
    result = build(KUARD, CERT, root(provider("main")).route("/", service("kuard")).build())
    assert [r.jwt_provider for r in routes_by_prefix(result).values()] == [""]


def test_included_routes_take_the_roots_default() -> None:
    result = build(
        KUARD,
        CERT,
        root(provider("main", default=True)).include("child", prefix="/child").build(),
        proxy("child").route("/", service("kuard")).build(),
    )
    assert errors(result) == []
    assert [r.jwt_provider for r in routes_by_prefix(result).values()] == ["main"]


REMOTE = "Spec.VirtualHost.JWTProviders.RemoteJWKS"

INVALID = [
    pytest.param(
        proxy("root").fqdn("example.com").vhost(jwtProviders=[provider()]),
        (
            "JWTVerificationNotPermitted",
            "Spec.VirtualHost.JWTProviders can only be defined for root HTTPProxies that terminate TLS",
        ),
        id="needs-tls",
    ),
    pytest.param(
        root(provider("a"), provider("a")),
        ("DuplicateProviderName", "Spec.VirtualHost.JWTProviders is invalid: duplicate name a"),
        id="duplicate-name",
    ),
    pytest.param(
        root(provider("a", default=True), provider("b", default=True)),
        (
            "MultipleDefaultProvidersSpecified",
            "Spec.VirtualHost.JWTProviders is invalid: at most one provider can be set as the default",
        ),
        id="two-defaults",
    ),
    pytest.param(
        root(provider(uri="https://keys\x7f.example.com/")),
        (
            "RemoteJWKSURIInvalid",
            f'{REMOTE}.URI is invalid: parse "https://keys\\x7f.example.com/": '
            "net/url: invalid control character in URL",
        ),
        id="uri-control-character",
    ),
    pytest.param(
        root(provider(uri="://keys")),
        ("RemoteJWKSURIInvalid", f'{REMOTE}.URI is invalid: parse "://keys": missing protocol scheme'),
        id="uri-without-scheme",
    ),
    pytest.param(
        root(provider(uri="https://keys:abc/")),
        (
            "RemoteJWKSURIInvalid",
            f'{REMOTE}.URI is invalid: parse "https://keys:abc/": invalid port ":abc" after host',
        ),
        id="uri-port-not-a-number",
    ),
    pytest.param(
        root(provider(uri="https:///keys")),
        ("RemoteJWKSURIInvalid", f"{REMOTE}.URI is invalid: missing host"),
        id="uri-without-host",
    ),
    pytest.param(
        root(provider(uri="ftp://keys/jwks")),
        ("RemoteJWKSSchemeInvalid", f'{REMOTE}.URI has invalid scheme "ftp", must be http or https'),
        id="scheme-ftp",
    ),
    pytest.param(
        root(provider(uri="keys.example.com/jwks")),
        ("RemoteJWKSSchemeInvalid", f'{REMOTE}.URI has invalid scheme "", must be http or https'),
        id="scheme-missing",
    ),
    pytest.param(
        root(provider(uri="http://keys/", remote={"validation": {"caSecret": "ca", "subjectName": "keys"}})),
        (
            "RemoteJWKSUpstreamValidationInvalid",
            f"{REMOTE}.UpstreamValidation must not be specified when URI scheme is http.",
        ),
        id="validation-over-http",
    ),
    pytest.param(
        root(provider(remote={"validation": {"caSecret": "missing", "subjectName": "keys"}})),
        (
            "RemoteJWKSUpstreamValidationInvalid",
            f'{REMOTE}.UpstreamValidation is invalid: invalid CA Secret "default/missing": Secret not found',
        ),
        id="validation-ca-missing",
    ),
    pytest.param(
        root(provider(remote={"validation": {"caSecret": "ca", "subjectName": "a", "subjectNames": ["b"]}})),
        (
            "RemoteJWKSUpstreamValidationInvalid",
            f"{REMOTE}.UpstreamValidation is invalid: "
            "first entry of SubjectNames (b) does not match SubjectName (a)",
        ),
        id="validation-subject-names-mismatch",
    ),
    pytest.param(
        root(provider(remote={"validation": {"caSecret": "certs/ca", "subjectName": "keys"}})),
        (
            "RemoteJWKSCACertificateNotDelegated",
            f'{REMOTE}.UpstreamValidation.CACertificate Secret "certs/ca" is not configured for certificate '
            "delegation",
        ),
        id="validation-ca-not-delegated",
    ),
    pytest.param(
        root(provider(remote={"timeout": "s"})),
        ("RemoteJWKSTimeoutInvalid", f'{REMOTE}.Timeout is invalid: time: invalid duration "s"'),
        id="timeout-unparsable",
    ),
    pytest.param(
        root(provider(remote={"timeout": "2000000h"})),
        ("RemoteJWKSTimeoutInvalid", f"{REMOTE}.Timeout is invalid: must be between 0s and 4294967295s"),
        id="timeout-beyond-envoy",
    ),
    pytest.param(
        root(provider(remote={"cacheDuration": ".s"})),
        ("RemoteJWKSCacheDurationInvalid", f'{REMOTE}.CacheDuration is invalid: time: invalid duration ".s"'),
        id="cache-duration-unparsable",
    ),
    pytest.param(
        root(provider(remote={"cacheDuration": "0s"})),
        (
            "RemoteJWKSCacheDurationInvalid",
            f"{REMOTE}.CacheDuration is invalid: must be at least 1ms and less than 9000000000s",
        ),
        id="cache-duration-zero",
    ),
    pytest.param(
        root(provider(uri="https://keys:99999/")),
        ("RemoteJWKSPortInvalid", f"{REMOTE}.URI has an invalid port: port 99999 is out of range 1-65535"),
        id="port-out-of-range",
    ),
]


def test_providers_with_the_fallback_certificate_are_refused() -> None:
    result = build(
        KUARD,
        CERT,
        tls_secret("fallback"),
        proxy("root")
        .fqdn("example.com")
        .tls("cert", enableFallbackCertificate=True)
        .vhost(jwtProviders=[provider()])
        .route("/", service("kuard"))
        .build(),
        config=BuilderConfig(fallback_certificate=ObjectRef("default", "fallback")),
    )
    assert errors(result) == [
        (
            "TLSError",
            "TLSIncompatibleFeatures",
            "Spec.Virtualhost.TLS fallback & JWT verification are incompatible",
        )
    ]
    assert secure(result) is None


@pytest.mark.parametrize(("builder", "expected"), INVALID)
def test_invalid_provider_is_reported_and_the_host_not_served(
    builder: Any, expected: tuple[str, str]
) -> None:
    result = build(
        KUARD, CERT, ca_secret("ca"), ca_secret("ca", "certs"), builder.route("/", service("kuard")).build()
    )
    assert errors(result) == [("JWTVerificationError", *expected)]
    assert secure(result) is None


ROUTE_INVALID = [
    pytest.param(
        root(provider("main")).route("/", service("kuard"), jwtVerificationPolicy={"require": "nope"}),
        ("JWTProviderNotDefined", 'Route references an undefined JWT provider "nope"'),
        id="route-requires-undefined",
    ),
    pytest.param(
        proxy("root")
        .fqdn("example.com")
        .tls("cert")
        .route("/", service("kuard"), jwtVerificationPolicy={"require": "main"}),
        ("JWTProviderNotDefined", 'Route references an undefined JWT provider "main"'),
        id="route-requires-but-host-has-none",
    ),
    pytest.param(
        root(provider("main")).route(
            "/", service("kuard"), jwtVerificationPolicy={"require": "main", "disabled": True}
        ),
        (
            "InvalidJWTVerificationPolicy",
            "route's JWT verification policy cannot specify both require and disabled",
        ),
        id="require-and-disabled",
    ),
]


@pytest.mark.parametrize(("builder", "expected"), ROUTE_INVALID)
def test_invalid_route_policy_serves_nothing_of_the_proxy(builder: Any, expected: tuple[str, str]) -> None:
    result = build(KUARD, CERT, builder.build())
    assert errors(result) == [("JWTVerificationError", *expected)]
    assert secure(result) is None
    assert "example.com" not in result.dag.listeners["ingress_http"].virtual_hosts


def test_invalid_provider_leaves_other_hosts_served() -> None:
    result = build(
        KUARD,
        CERT,
        root(provider(uri="ftp://x/")).route("/", service("kuard")).build(),
        proxy("other").fqdn("other.example.com").tls("cert").route("/", service("kuard")).build(),
    )
    assert secure(result) is None
    assert secure(result, "other.example.com") is not None


# -- localJWKS ------------------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _ec_key(curve: ec.EllipticCurve | None = None, crv: str = "P-256", size: int = 32) -> dict[str, Any]:
    numbers = ec.generate_private_key(curve or ec.SECP256R1()).public_key().public_numbers()
    x, y = numbers.x.to_bytes(size, "big"), numbers.y.to_bytes(size, "big")
    return {"kty": "EC", "crv": crv, "x": _b64url(x), "y": _b64url(y)}


def _rsa_key() -> dict[str, Any]:
    numbers = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key().public_numbers()
    return {"kty": "RSA", "n": _b64url(numbers.n.to_bytes(128, "big")), "e": _b64url(b"\x01\x00\x01")}


def _okp_key() -> dict[str, Any]:
    raw = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw)}


EC_KEY, RSA_KEY, OKP_KEY = _ec_key(), _rsa_key(), _okp_key()
LOCAL_JWKS = json.dumps({"keys": [EC_KEY]})
LOCAL = "Spec.VirtualHost.JWTProviders.LocalJWKS"


def jwks_secret(name: str = "keys", data: dict[str, str] | None = None, secret_type: str = "Opaque") -> Obj:
    """A Secret whose keys hold the given text (a JWKS under jwks.json by default)."""
    content = {"jwks.json": LOCAL_JWKS} if data is None else data
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "default"},
        "type": secret_type,
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in content.items()},
    }


def local(name: str = "main", secret: str = "keys", **fields: Any) -> dict[str, Any]:
    key = fields.pop("key", None)
    source = {"secretName": secret, **({"key": key} if key else {})}
    return {"name": name, "localJWKS": source, **fields}


def test_local_provider_inlines_the_secrets_key_set() -> None:
    result = build(
        KUARD,
        CERT,
        jwks_secret(),
        root(local(issuer="https://issuer.example.com", audiences=["a"], forwardJWT=True, default=True))
        .route("/", service("kuard"))
        .build(),
    )
    assert errors(result) == []
    host = secure(result)
    assert host is not None
    [built] = host.jwt_providers
    assert built == JWTProvider(
        name="main",
        issuer="https://issuer.example.com",
        audiences=("a",),
        forward_jwt=True,
        local_jwks=json.dumps(json.loads(LOCAL_JWKS), separators=(",", ":")),
    )
    assert [r.jwt_provider for r in routes_by_prefix(result).values()] == ["main"]


def test_local_key_set_under_a_named_key_of_a_tls_secret() -> None:
    """Any key name works, also when the Secret is cached before the proxy that names the key."""
    tls = tls_secret("cert-and-keys")
    tls["data"]["signing-keys"] = base64.b64encode(LOCAL_JWKS.encode()).decode()
    result = build(
        KUARD,
        CERT,
        tls,
        root(local(secret="cert-and-keys", key="signing-keys")).route("/", service("kuard")).build(),
    )
    assert errors(result) == []
    host = secure(result)
    assert host is not None and json.loads(host.jwt_providers[0].local_jwks) == json.loads(LOCAL_JWKS)


def test_local_and_remote_providers_side_by_side() -> None:
    result = build(
        KUARD,
        CERT,
        jwks_secret(),
        root(local("local"), provider("remote")).route("/", service("kuard")).build(),
    )
    assert errors(result) == []
    host = secure(result)
    assert host is not None
    assert [(p.name, bool(p.local_jwks), p.remote_jwks_cluster is not None) for p in host.jwt_providers] == [
        ("local", True, False),
        ("remote", False, True),
    ]


def _keys(*keys: Any) -> dict[str, str]:
    return {"jwks.json": json.dumps({"keys": list(keys)})}


LOCAL_INVALID = [
    pytest.param(
        {"name": "main", "remoteJWKS": {"uri": JWKS}, "localJWKS": {"secretName": "keys"}},
        _keys(EC_KEY),
        (
            "JWKSSourceConflict",
            "Spec.VirtualHost.JWTProviders is invalid: provider main sets both remoteJWKS and localJWKS",
        ),
        id="both-sources",
    ),
    pytest.param(
        {"name": "main"},
        _keys(EC_KEY),
        (
            "JWKSSourceMissing",
            "Spec.VirtualHost.JWTProviders is invalid: provider main sets neither remoteJWKS nor localJWKS",
        ),
        id="no-source",
    ),
    pytest.param(
        local(secret="absent"),
        _keys(EC_KEY),
        ("LocalJWKSInvalid", f'{LOCAL} is invalid: Secret "default/absent" not found'),
        id="secret-missing",
    ),
    pytest.param(
        local(key="other.json"),
        _keys(EC_KEY),
        (
            "LocalJWKSInvalid",
            f'{LOCAL} is invalid: Secret "default/keys" has no JSON Web Key Set under key "other.json"',
        ),
        id="key-missing",
    ),
    pytest.param(
        local(key="notes"),
        {"notes": "just text", "jwks.json": LOCAL_JWKS},
        (
            "LocalJWKSInvalid",
            f'{LOCAL} is invalid: Secret "default/keys" has no JSON Web Key Set under key "notes"',
        ),
        id="key-is-not-json",
    ),
    pytest.param(
        local(),
        {"jwks.json": "-----BEGIN PUBLIC KEY-----"},
        (
            "LocalJWKSInvalid",
            f'{LOCAL} is invalid: key "jwks.json" of Secret "default/keys" is not valid JSON',
        ),
        id="pem-not-json",
    ),
    pytest.param(
        local(),
        {"jwks.json": '{"keys": [{"kty": "EC", "x": NaN}]}'},
        (
            "LocalJWKSInvalid",
            f'{LOCAL} is invalid: key "jwks.json" of Secret "default/keys" is not valid JSON',
        ),
        id="json-with-nan",
    ),
    pytest.param(
        local(),
        {"jwks.json": '{"keys": [], "size": 1e999}'},
        (
            "LocalJWKSInvalid",
            f'{LOCAL} is invalid: key "jwks.json" of Secret "default/keys" is not valid JSON',
        ),
        id="json-number-beyond-double",
    ),
    pytest.param(
        local(),
        {"jwks.json": json.dumps([EC_KEY])},
        (
            "LocalJWKSInvalid",
            f'{LOCAL} is invalid: key "jwks.json" of Secret "default/keys" is not a JSON Web Key Set '
            "(a JSON object with a keys array)",
        ),
        id="array-not-object",
    ),
    pytest.param(
        local(),
        _keys(),
        (
            "LocalJWKSInvalid",
            f'{LOCAL} is invalid: key "jwks.json" of Secret "default/keys" has no usable key '
            "(the keys array is empty)",
        ),
        id="no-keys",
    ),
    pytest.param(
        local(),
        _keys({"kty": "XYZ"}, {**EC_KEY, "crv": "secp256k1"}),
        (
            "LocalJWKSInvalid",
            f'{LOCAL} is invalid: key "jwks.json" of Secret "default/keys" has no usable key '
            '(keys[0]: kty "XYZ" is not one of RSA, EC, OKP, oct)',
        ),
        id="no-usable-key-first-problem-reported",
    ),
]


@pytest.mark.parametrize(("provider_spec", "data", "expected"), LOCAL_INVALID)
def test_invalid_local_provider_is_reported_and_the_host_not_served(
    provider_spec: dict[str, Any], data: dict[str, str], expected: tuple[str, str]
) -> None:
    result = build(
        KUARD, CERT, jwks_secret(data=data), root(provider_spec).route("/", service("kuard")).build()
    )
    assert errors(result) == [("JWTVerificationError", *expected)]
    assert secure(result) is None


# What Envoy 1.40 loads (tests/unit/envoy/test_jwt_authn.py asks the real Envoy about the same table):
# a key set is accepted when at least one entry of `keys` loads.
KEY_SETS = [
    pytest.param({"keys": [RSA_KEY]}, True, id="rsa"),
    pytest.param({"keys": [{**RSA_KEY, "alg": "PS384", "use": "enc"}]}, True, id="rsa-pss-any-use"),
    pytest.param({"keys": [{**RSA_KEY, "n": RSA_KEY["n"] + "="}]}, True, id="rsa-padded-base64"),
    pytest.param({"keys": [{**RSA_KEY, "n": RSA_KEY["n"] + "=="}]}, False, id="rsa-wrongly-padded-base64"),
    pytest.param({"keys": [EC_KEY]}, True, id="ec-p256"),
    pytest.param({"keys": [_ec_key(ec.SECP384R1(), "P-384", 48)]}, True, id="ec-p384"),
    pytest.param({"keys": [_ec_key(ec.SECP521R1(), "P-521", 66)]}, True, id="ec-p521"),
    pytest.param(
        {"keys": [{k: v for k, v in EC_KEY.items() if k != "crv"}]}, True, id="ec-crv-defaults-p256"
    ),
    pytest.param({"keys": [{**OKP_KEY, "alg": "EdDSA"}]}, True, id="ed25519"),
    pytest.param({"keys": [{"kty": "oct", "k": _b64url(b"0123456789abcdef")}]}, True, id="hmac"),
    pytest.param({"keys": [{"kty": "RSA"}, 1, EC_KEY]}, True, id="bad-entries-skipped"),
    pytest.param({"keys": []}, False, id="empty"),
    pytest.param({}, False, id="no-keys-member"),
    pytest.param({"keys": {"a": EC_KEY}}, False, id="keys-not-array"),
    pytest.param({"keys": [1]}, False, id="entry-not-object"),
    pytest.param({"keys": [{k: v for k, v in RSA_KEY.items() if k != "kty"}]}, False, id="no-kty"),
    pytest.param({"keys": [{**RSA_KEY, "alg": "ES256"}]}, False, id="rsa-with-ec-alg"),
    pytest.param({"keys": [{**RSA_KEY, "e": ""}]}, False, id="rsa-empty-exponent"),
    pytest.param(
        {"keys": [{**RSA_KEY, "n": RSA_KEY["n"].replace("-", "+").replace("_", "/") + "+/"}]},
        False,
        id="rsa-standard-base64",
    ),
    pytest.param({"keys": [{**EC_KEY, "y": EC_KEY["x"]}]}, False, id="ec-point-off-curve"),
    pytest.param({"keys": [{**EC_KEY, "crv": "secp256k1"}]}, False, id="ec-unknown-curve"),
    pytest.param({"keys": [{**EC_KEY, "alg": "ES384"}]}, False, id="ec-alg-does-not-match-crv"),
    pytest.param({"keys": [{**OKP_KEY, "crv": "X25519"}]}, False, id="okp-x25519"),
    pytest.param({"keys": [{"kty": "OKP", "x": OKP_KEY["x"]}]}, False, id="okp-without-crv"),
    pytest.param({"keys": [{**OKP_KEY, "x": _b64url(b"short")}]}, False, id="okp-short"),
    pytest.param({"keys": [{"kty": "oct", "k": ""}]}, False, id="hmac-empty"),
]


@pytest.mark.parametrize(("document", "usable"), KEY_SETS)
def test_which_key_sets_are_usable(document: Any, usable: bool) -> None:
    inlined, problem = usable_jwks(json.dumps(document).encode())
    assert (problem == "") is usable
    assert (json.loads(inlined) == document) if usable else inlined == ""


def test_a_secret_holding_only_a_key_set_is_cached() -> None:
    cache = cache_of(jwks_secret(data={"jwks.json": "{}", "signing": LOCAL_JWKS, "password": "hunter2"}))
    stored = cache.secrets[ObjectRef("default", "keys")]
    assert sorted(stored.data) == ["jwks.json", "signing"]


@pytest.mark.parametrize(
    ("proxies", "rebuild"),
    [
        pytest.param([root(local())], True, id="named-by-a-local-provider"),
        pytest.param([root(local(secret="elsewhere"))], False, id="not-named"),
        pytest.param([], False, id="no-proxy"),
    ],
)
def test_a_change_to_a_key_set_secret_rebuilds_when_a_provider_names_it(
    proxies: list[Any], rebuild: bool
) -> None:
    cache = cache_of(*(p.route("/", service("kuard")).build() for p in proxies))
    assert cache.insert(jwks_secret()) is rebuild
