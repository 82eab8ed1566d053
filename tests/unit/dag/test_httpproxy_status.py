"""HTTPProxy status: every error reason the processor reports, with Contour's condition type and message.

Each case feeds objects in and checks the `Valid` condition's errors of one proxy. Messages are
Contour's own (internal/dag/httpproxy_processor.go), since users and tooling grep for them.
"""

from __future__ import annotations

from typing import Any

import pytest

from contour.dag.builder import BuilderConfig
from contour.dag.model import ObjectRef
from contour.dag.status import StatusUpdate

from .fixtures import (
    build,
    ca_secret,
    cert_pem,
    crl_secret,
    delegation,
    k8s_service,
    key_pem,
    port,
    proxy,
    secret,
    service,
    tls_secret,
)

Obj = dict[str, Any]
ROOT = ObjectRef("default", "root")
KUARD = k8s_service("kuard")


def status_of(statuses: list[StatusUpdate], ref: ObjectRef) -> dict[str, Any]:
    matches = [u.status for u in statuses if u.ref == ref and u.plural == "httpproxies"]
    assert len(matches) == 1, f"no single status for {ref}: {statuses}"
    return matches[0]


def errors_of(statuses: list[StatusUpdate], ref: ObjectRef) -> list[tuple[str, str, str]]:
    cond = status_of(statuses, ref)["conditions"][0]
    return [(e["type"], e["reason"], e["message"]) for e in cond.get("errors", [])]


def root() -> Any:
    return proxy("root").fqdn("example.com")


CASES = [
    pytest.param(
        [root().build()],
        ROOT,
        (
            "SpecError",
            "NothingDefined",
            "HTTPProxy.Spec must have at least one Route, Include, or a TCPProxy",
        ),
        None,
        id="SpecError-NothingDefined",
    ),
    pytest.param(
        [proxy("root", "team").fqdn("example.com").route("/", service("kuard")).build()],
        ObjectRef("team", "root"),
        (
            "RootNamespaceError",
            "RootProxyNotAllowedInNamespace",
            "root HTTPProxy cannot be defined in this namespace",
        ),
        BuilderConfig(root_namespaces=("roots",)),
        id="RootNamespaceError-RootProxyNotAllowedInNamespace",
    ),
    pytest.param(
        [
            root().route("/", service("kuard")).build(),
            proxy("other").fqdn("example.com").route("/", service("kuard")).build(),
            KUARD,
        ],
        ROOT,
        (
            "VirtualHostError",
            "DuplicateVhost",
            'fqdn "example.com" is used in multiple HTTPProxies: default/other, default/root',
        ),
        None,
        id="VirtualHostError-DuplicateVhost",
    ),
    pytest.param(
        [root().include("missing", "team", prefix="/a").build()],
        ROOT,
        ("IncludeError", "IncludeNotFound", "include team/missing not found"),
        None,
        id="IncludeError-IncludeNotFound",
    ),
    pytest.param(
        [
            root().include("other", prefix="/a").build(),
            proxy("other").fqdn("other.example.com").route("/", service("kuard")).build(),
            KUARD,
        ],
        ROOT,
        (
            "IncludeError",
            "RootIncludesRoot",
            "root httpproxy cannot include another root httpproxy (default/other)",
        ),
        None,
        id="IncludeError-RootIncludesRoot",
    ),
    pytest.param(
        [
            root().include("a", prefix="/a").build(),
            proxy("a").include("b", prefix="/b").build(),
            proxy("b").include("a", prefix="/c").build(),
        ],
        ObjectRef("default", "a"),
        (
            "IncludeError",
            "IncludeCreatesCycle",
            "include creates an include cycle: default/root -> default/a -> default/b -> default/a",
        ),
        None,
        id="IncludeError-IncludeCreatesCycle",
    ),
    pytest.param(
        [
            root().include("a", conditions=[{"exact": "/a"}]).build(),
            proxy("a").route("/", service("kuard")).build(),
        ],
        ROOT,
        (
            "IncludeError",
            "PathMatchConditionsNotValid",
            "include: exact conditions are not allowed in includes block",
        ),
        None,
        id="IncludeError-PathMatchConditionsNotValid-exact",
    ),
    pytest.param(
        [root().include("a", prefix="a").build(), proxy("a").route("/", service("kuard")).build()],
        ROOT,
        (
            "IncludeError",
            "PathMatchConditionsNotValid",
            "include: prefix conditions must start with /, a was supplied",
        ),
        None,
        id="IncludeError-PathMatchConditionsNotValid-no-slash",
    ),
    pytest.param(
        [
            root().include("a", prefix="/x").include("b", prefix="/x").build(),
            proxy("a").route("/", service("kuard")).build(),
            proxy("b").route("/", service("kuard")).build(),
        ],
        ROOT,
        ("IncludeError", "DuplicateMatchConditions", "duplicate conditions defined on an include"),
        None,
        id="IncludeError-DuplicateMatchConditions",
    ),
    pytest.param(
        [root().route("/", service("kuard"), conditions=[{"prefix": "/b"}]).build(), KUARD],
        ROOT,
        (
            "RouteError",
            "PathMatchConditionsNotValid",
            "route: more than one prefix, exact or regex is not allowed in a condition block",
        ),
        None,
        id="RouteError-PathMatchConditionsNotValid-two-prefixes",
    ),
    pytest.param(
        [root().route(None, service("kuard"), conditions=[{"regex": "/(a)\\1"}]).build(), KUARD],
        ROOT,
        ("RouteError", "PathMatchConditionsNotValid", "route: supplied regex: /(a)\\1 invalid. error: "),
        None,
        id="RouteError-PathMatchConditionsNotValid-regex-rejected-by-re2",
    ),
    pytest.param(
        [
            root()
            .route(
                "/",
                service("kuard"),
                conditions=[
                    {"header": {"name": "x-a", "exact": "1"}},
                    {"header": {"name": "X-A", "exact": "2"}},
                ],
            )
            .build(),
            KUARD,
        ],
        ROOT,
        (
            "RouteError",
            "HeaderMatchConditionsNotValid",
            "cannot specify duplicate header 'exact match' conditions in the same route",
        ),
        None,
        id="RouteError-HeaderMatchConditionsNotValid-duplicate-exact",
    ),
    pytest.param(
        [
            root()
            .route(
                "/",
                service("kuard"),
                conditions=[
                    {"header": {"name": "x-a", "present": True}},
                    {"header": {"name": "x-a", "notpresent": True}},
                ],
            )
            .build(),
            KUARD,
        ],
        ROOT,
        (
            "RouteError",
            "HeaderMatchConditionsNotValid",
            "cannot specify contradictory 'present' and 'notpresent' conditions for the same route and "
            "header",
        ),
        None,
        id="RouteError-HeaderMatchConditionsNotValid-present-notpresent",
    ),
    pytest.param(
        [
            root()
            .route("/", service("kuard"), conditions=[{"header": {"name": "x-a", "regex": "(?<=a)b"}}])
            .build(),
            KUARD,
        ],
        ROOT,
        (
            "RouteError",
            "HeaderMatchConditionsNotValid",
            "invalid regular expression specified for 'regex' condition",
        ),
        None,
        id="RouteError-HeaderMatchConditionsNotValid-regex",
    ),
    pytest.param(
        [
            root()
            .route(
                "/",
                service("kuard"),
                conditions=[{"queryParameter": {"name": "q", "exact": "a", "prefix": "b"}}],
            )
            .build(),
            KUARD,
        ],
        ROOT,
        (
            "RouteError",
            "QueryParameterMatchConditionsNotValid",
            "cannot specify more than one condition in the same match condition branch",
        ),
        None,
        id="RouteError-QueryParameterMatchConditionsNotValid-two-ops",
    ),
    pytest.param(
        [root().route("/", service("kuard"), conditions=[{"queryParameter": {"name": "q"}}]).build(), KUARD],
        ROOT,
        (
            "RouteError",
            "QueryParameterMatchConditionsNotValid",
            "must specify at least one query parameter condition",
        ),
        None,
        id="RouteError-QueryParameterMatchConditionsNotValid-no-op",
    ),
    pytest.param(
        [root().route("/", service("kuard"), directResponsePolicy={"statusCode": 200}).build(), KUARD],
        ROOT,
        (
            "RouteError",
            "RouteActionCountNotValid",
            "must set exactly one of route.services or route.requestRedirectPolicy or "
            "route.directResponsePolicy",
        ),
        None,
        id="RouteError-RouteActionCountNotValid",
    ),
    pytest.param(
        [root().route("/", service("kuard"), timeoutPolicy={"response": "s"}).build(), KUARD],
        ROOT,
        (
            "RouteError",
            "TimeoutPolicyNotValid",
            "route.timeoutPolicy failed to parse: error parsing response timeout: "
            'unable to parse timeout string "s": time: invalid duration "s"',
        ),
        None,
        id="RouteError-TimeoutPolicyNotValid",
    ),
    pytest.param(
        [
            root()
            .route(
                "/",
                service("kuard"),
                healthCheckPolicy={"path": "/h", "expectedStatuses": [{"start": 300, "end": 200}]},
            )
            .build(),
            KUARD,
        ],
        ROOT,
        (
            "RouteError",
            "HealthCheckPolicyInvalid",
            "invalid expected status range: start must be less than end",
        ),
        None,
        id="RouteError-HealthCheckPolicyInvalid",
    ),
    pytest.param(
        [
            root()
            .route(
                "/",
                service("kuard"),
                requestHeadersPolicy={"set": [{"name": "x-a", "value": "1"}, {"name": "X-A", "value": "2"}]},
            )
            .build(),
            KUARD,
        ],
        ROOT,
        ("RouteError", "RequestHeadersPolicyInvalid", 'duplicate header addition: "X-A" on request headers'),
        None,
        id="RouteError-RequestHeadersPolicyInvalid",
    ),
    pytest.param(
        [
            root()
            .route("/", service("kuard"), responseHeadersPolicy={"set": [{"name": "host", "value": "x"}]})
            .build(),
            KUARD,
        ],
        ROOT,
        (
            "RouteError",
            "ResponseHeaderPolicyInvalid",
            'rewriting "Host" header is not supported on response headers',
        ),
        None,
        id="RouteError-ResponseHeaderPolicyInvalid-host",
    ),
    pytest.param(
        [
            root()
            .route(
                "/",
                requestRedirectPolicy={"path": "/a", "prefix": "/b"},
            )
            .build()
        ],
        ROOT,
        (
            "RouteError",
            "RequestRedirectPolicy",
            "route.requestRedirectPolicy is invalid: cannot specify both redirect path and redirect prefix",
        ),
        None,
        id="RouteError-RequestRedirectPolicy",
    ),
    pytest.param(
        [
            root()
            .route(
                "/",
                service("kuard"),
                cookieRewritePolicies=[{"name": "c", "secure": True}, {"name": "c", "secure": False}],
            )
            .build(),
            KUARD,
        ],
        ROOT,
        (
            "RouteError",
            "CookieRewritePoliciesInvalid",
            'duplicate cookie rewrite rule for cookie "c" on route cookie rewrite rules',
        ),
        None,
        id="RouteError-CookieRewritePoliciesInvalid",
    ),
    pytest.param(
        [
            root()
            .route(
                None,
                service("kuard"),
                conditions=[{"exact": "/a"}],
                pathRewritePolicy={"replacePrefix": [{"replacement": "/b"}]},
            )
            .build(),
            KUARD,
        ],
        ROOT,
        (
            "PrefixReplaceError",
            "MustHavePrefix",
            "cannot specify prefix replacements without a prefix condition",
        ),
        None,
        id="PrefixReplaceError-MustHavePrefix",
    ),
    pytest.param(
        [
            root()
            .route(
                "/a",
                service("kuard"),
                pathRewritePolicy={
                    "replacePrefix": [
                        {"prefix": "/a", "replacement": "/b"},
                        {"prefix": "/a", "replacement": "/c"},
                    ]
                },
            )
            .build(),
            KUARD,
        ],
        ROOT,
        ("PrefixReplaceError", "DuplicateReplacement", "duplicate replacement prefix '/a'"),
        None,
        id="PrefixReplaceError-DuplicateReplacement",
    ),
    pytest.param(
        [
            root()
            .route(
                "/a",
                service("kuard"),
                pathRewritePolicy={"replacePrefix": [{"replacement": "/b"}, {"replacement": "/c"}]},
            )
            .build(),
            KUARD,
        ],
        ROOT,
        ("PrefixReplaceError", "AmbiguousReplacement", "ambiguous prefix replacement"),
        None,
        id="PrefixReplaceError-AmbiguousReplacement",
    ),
    pytest.param(
        [root().route("/", service("missing")).build()],
        ROOT,
        (
            "ServiceError",
            "ServiceUnresolvedReference",
            'Spec.Routes unresolved service reference: service "default/missing" not found',
        ),
        None,
        id="ServiceError-ServiceUnresolvedReference-missing-service",
    ),
    pytest.param(
        [root().route("/", service("kuard", 8080)).build(), KUARD],
        ROOT,
        (
            "ServiceError",
            "ServiceUnresolvedReference",
            'Spec.Routes unresolved service reference: port "8080" on service "default/kuard" not matched',
        ),
        None,
        id="ServiceError-ServiceUnresolvedReference-missing-port",
    ),
    pytest.param(
        [
            root().route("/", service("kuard", 53)).build(),
            k8s_service("kuard", ports=[port(53, "dns", "UDP")]),
        ],
        ROOT,
        (
            "ServiceError",
            "ServiceUnresolvedReference",
            'Spec.Routes unresolved service reference: unsupported service protocol "UDP"',
        ),
        None,
        id="ServiceError-ServiceUnresolvedReference-udp-port",
    ),
    pytest.param(
        [root().route("/", service("ext")).build(), k8s_service("ext", external_name="example.org")],
        ROOT,
        (
            "ServiceError",
            "ServiceUnresolvedReference",
            "Spec.Routes unresolved service reference: default/ext is an ExternalName service, these are not "
            "currently enabled. See the config.enableExternalNameService config file setting",
        ),
        None,
        id="ServiceError-ServiceUnresolvedReference-externalname-disabled",
    ),
    pytest.param(
        [root().route("/", service("ext")).build(), k8s_service("ext", external_name="localhost")],
        ROOT,
        (
            "ServiceError",
            "ServiceUnresolvedReference",
            "Spec.Routes unresolved service reference: default/ext is an ExternalName service that points to "
            "localhost, this is not allowed",
        ),
        BuilderConfig(enable_external_name_service=True),
        id="ServiceError-ServiceUnresolvedReference-externalname-localhost",
    ),
    pytest.param(
        [root().route("/", service("kuard", mirror=True), service("kuard", mirror=True)).build(), KUARD],
        ROOT,
        ("ServiceError", "OnlyOneMirror", "only one service per route may be nominated as mirror"),
        None,
        id="ServiceError-OnlyOneMirror",
    ),
    pytest.param(
        [
            root()
            .route(
                "/",
                service("kuard", slowStartPolicy={"window": "5s"}),
                loadBalancerPolicy={"strategy": "Random"},
            )
            .build(),
            KUARD,
        ],
        ROOT,
        (
            "ServiceError",
            "SlowStartInvalid",
            "slow start is only supported with RoundRobin or WeightedLeastRequest load balancer strategy",
        ),
        None,
        id="ServiceError-SlowStartInvalid-strategy",
    ),
    pytest.param(
        [
            root().route("/", service("kuard", requestHeadersPolicy={"remove": ["x-a", "X-A"]})).build(),
            KUARD,
        ],
        ROOT,
        ("ServiceError", "RequestHeadersPolicyInvalid", 'duplicate header removal: "X-A" on request headers'),
        None,
        id="ServiceError-RequestHeadersPolicyInvalid",
    ),
    pytest.param(
        [
            root()
            .route("/", service("kuard", responseHeadersPolicy={"set": [{"name": "Host", "value": "a"}]}))
            .build(),
            KUARD,
        ],
        ROOT,
        (
            "ServiceError",
            "ResponseHeadersPolicyInvalid",
            'rewriting "Host" header is not supported on response headers',
        ),
        None,
        id="ServiceError-ResponseHeadersPolicyInvalid",
    ),
    pytest.param(
        [
            root()
            .route(
                "/", service("kuard", protocol="tls", validation={"caSecret": "missing", "subjectName": "k"})
            )
            .build(),
            KUARD,
        ],
        ROOT,
        (
            "ServiceError",
            "TLSUpstreamValidation",
            'Service [kuard:80] TLS upstream validation policy error: invalid CA Secret "default/missing": '
            "Secret not found",
        ),
        None,
        id="ServiceError-TLSUpstreamValidation-missing-ca",
    ),
    pytest.param(
        [
            root()
            .route(
                "/",
                service(
                    "kuard",
                    protocol="h2",
                    validation={"caSecret": "ca", "subjectName": "a", "subjectNames": ["b", "a"]},
                ),
            )
            .build(),
            KUARD,
            ca_secret("ca"),
        ],
        ROOT,
        (
            "ServiceError",
            "TLSUpstreamValidation",
            "Service [kuard:80] TLS upstream validation policy error: first entry of SubjectNames (b) "
            "does not "
            "match SubjectName (a)",
        ),
        None,
        id="ServiceError-TLSUpstreamValidation-subject-names",
    ),
    pytest.param(
        [
            root()
            .route(
                "/", service("kuard", protocol="tls", validation={"caSecret": "certs/ca", "subjectName": "k"})
            )
            .build(),
            KUARD,
            ca_secret("ca", "certs"),
        ],
        ROOT,
        (
            "TLSError",
            "CACertificateNotDelegated",
            'service.UpstreamValidation.CACertificate Secret "certs/ca" is not configured for '
            "certificate delegation",
        ),
        None,
        id="TLSError-CACertificateNotDelegated",
    ),
    pytest.param(
        [root().tls("missing").route("/", service("kuard")).build(), KUARD],
        ROOT,
        ("TLSError", "SecretNotValid", 'Spec.VirtualHost.TLS Secret "missing" is invalid: Secret not found'),
        None,
        id="TLSError-SecretNotValid-missing",
    ),
    pytest.param(
        [
            root().tls("cert").route("/", service("kuard")).build(),
            KUARD,
            secret("cert", tls_crt=b"not a certificate", tls_key=b"nor a key"),
        ],
        ROOT,
        (
            "TLSError",
            "SecretNotValid",
            'Spec.VirtualHost.TLS Secret "cert" is invalid: invalid TLS certificate: failed to locate '
            "certificate",
        ),
        None,
        id="TLSError-SecretNotValid-garbage",
    ),
    pytest.param(
        [
            root().tls("cert").route("/", service("kuard")).build(),
            KUARD,
            secret("cert", tls_crt=cert_pem("www.example.com"), tls_key=key_pem("other.example.com")),
        ],
        ROOT,
        (
            "TLSError",
            "SecretNotValid",
            'Spec.VirtualHost.TLS Secret "cert" is invalid: invalid TLS private key: private key does not '
            "match public key",
        ),
        None,
        id="TLSError-SecretNotValid-key-of-another-certificate",
    ),
    pytest.param(
        [root().tls("certs/cert").route("/", service("kuard")).build(), KUARD, tls_secret("cert", "certs")],
        ROOT,
        (
            "TLSError",
            "DelegationNotPermitted",
            'Spec.VirtualHost.TLS Secret "certs/cert" certificate delegation not permitted',
        ),
        None,
        id="TLSError-DelegationNotPermitted",
    ),
    pytest.param(
        [
            root().tls("certs/cert").route("/", service("kuard")).build(),
            KUARD,
            tls_secret("cert", "certs"),
            delegation("d", "certs", {"cert": ["other"]}),
        ],
        ROOT,
        (
            "TLSError",
            "DelegationNotPermitted",
            'Spec.VirtualHost.TLS Secret "certs/cert" certificate delegation not permitted',
        ),
        None,
        id="TLSError-DelegationNotPermitted-other-namespace",
    ),
    pytest.param(
        [
            root()
            .tls("cert", minimumProtocolVersion="1.3", maximumProtocolVersion="1.2")
            .route("/", service("kuard"))
            .build(),
            KUARD,
            tls_secret("cert"),
        ],
        ROOT,
        (
            "TLSError",
            "TLSConfigNotValid",
            "Spec.Virtualhost.TLS the minimum protocol version is greater than the maximum protocol version",
        ),
        None,
        id="TLSError-TLSConfigNotValid-versions",
    ),
    pytest.param(
        [root().tls("cert", passthrough=True).route("/", service("kuard")).build(), KUARD],
        ROOT,
        (
            "TLSError",
            "TLSConfigNotValid",
            "Spec.VirtualHost.TLS: both Passthrough and SecretName were specified",
        ),
        None,
        id="TLSError-TLSConfigNotValid-passthrough-and-secret",
    ),
    pytest.param(
        [root().tls().route("/", service("kuard")).build(), KUARD],
        ROOT,
        (
            "TLSError",
            "TLSConfigNotValid",
            "Spec.VirtualHost.TLS: neither Passthrough nor SecretName were specified",
        ),
        None,
        id="TLSError-TLSConfigNotValid-neither",
    ),
    pytest.param(
        [
            root()
            .tls(passthrough=True, clientValidation={"caSecret": "ca"})
            .with_spec(tcpproxy={"services": [service("kuard")]})
            .build(),
            KUARD,
        ],
        ROOT,
        (
            "TLSError",
            "TLSIncompatibleFeatures",
            "Spec.VirtualHost.TLS passthrough cannot be combined with tls.clientValidation",
        ),
        None,
        id="TLSError-TLSIncompatibleFeatures-passthrough-client-validation",
    ),
    pytest.param(
        [
            root()
            .tls("cert", enableFallbackCertificate=True, clientValidation={"caSecret": "ca"})
            .route("/", service("kuard"))
            .build(),
            KUARD,
            tls_secret("cert"),
        ],
        ROOT,
        (
            "TLSError",
            "TLSIncompatibleFeatures",
            "Spec.Virtualhost.TLS fallback & client validation are incompatible",
        ),
        None,
        id="TLSError-TLSIncompatibleFeatures-fallback-client-validation",
    ),
    pytest.param(
        [
            root().tls("cert", enableFallbackCertificate=True).route("/", service("kuard")).build(),
            KUARD,
            tls_secret("cert"),
        ],
        ROOT,
        (
            "TLSError",
            "FallbackNotPresent",
            "Spec.Virtualhost.TLS enabled fallback but the fallback Certificate Secret is not "
            "configured in Contour "
            "configuration file",
        ),
        None,
        id="TLSError-FallbackNotPresent",
    ),
    pytest.param(
        [
            root().tls("cert", enableFallbackCertificate=True).route("/", service("kuard")).build(),
            KUARD,
            tls_secret("cert"),
            tls_secret("fallback", "projectcontour"),
        ],
        ROOT,
        (
            "TLSError",
            "FallbackNotDelegated",
            'Spec.VirtualHost.TLS Secret "projectcontour/fallback" is not configured for certificate '
            "delegation",
        ),
        BuilderConfig(fallback_certificate=ObjectRef("projectcontour", "fallback")),
        id="TLSError-FallbackNotDelegated",
    ),
    pytest.param(
        [
            root().tls("cert", enableFallbackCertificate=True).route("/", service("kuard")).build(),
            KUARD,
            tls_secret("cert"),
            delegation("d", "projectcontour", {"fallback": ["*"]}),
        ],
        ROOT,
        (
            "TLSError",
            "FallbackNotValid",
            'Spec.Virtualhost.TLS Secret "projectcontour/fallback" fallback certificate is invalid: '
            "Secret not found",
        ),
        BuilderConfig(fallback_certificate=ObjectRef("projectcontour", "fallback")),
        id="TLSError-FallbackNotValid",
    ),
    pytest.param(
        [
            root().tls("cert", clientValidation={"caSecret": "missing"}).route("/", service("kuard")).build(),
            KUARD,
            tls_secret("cert"),
        ],
        ROOT,
        (
            "TLSError",
            "ClientValidationInvalid",
            'Spec.VirtualHost.TLS client validation is invalid: invalid CA Secret "default/missing": '
            "Secret not found",
        ),
        None,
        id="TLSError-ClientValidationInvalid-missing-ca",
    ),
    pytest.param(
        [
            root().tls("cert", clientValidation={}).route("/", service("kuard")).build(),
            KUARD,
            tls_secret("cert"),
        ],
        ROOT,
        (
            "TLSError",
            "ClientValidationInvalid",
            "Spec.VirtualHost.TLS client validation is invalid: CA Secret must be specified",
        ),
        None,
        id="TLSError-ClientValidationInvalid-no-ca",
    ),
    pytest.param(
        [
            root()
            .tls("cert", clientValidation={"caSecret": "ca", "crlSecret": "ca"})
            .route("/", service("kuard"))
            .build(),
            KUARD,
            tls_secret("cert"),
            ca_secret("ca"),
        ],
        ROOT,
        (
            "TLSError",
            "ClientValidationInvalid",
            'Spec.VirtualHost.TLS client validation is invalid: invalid CRL Secret "default/ca": empty '
            '"crl.pem" key',
        ),
        None,
        id="TLSError-ClientValidationInvalid-crl",
    ),
    pytest.param(
        [
            root()
            .tls("cert", clientValidation={"caSecret": "certs/ca"})
            .route("/", service("kuard"))
            .build(),
            KUARD,
            tls_secret("cert"),
            ca_secret("ca", "certs"),
        ],
        ROOT,
        (
            "TLSError",
            "DelegationNotPermitted",
            'Spec.VirtualHost.TLS CA Secret "certs/ca" is invalid: Certificate delegation not permitted',
        ),
        None,
        id="TLSError-DelegationNotPermitted-client-ca",
    ),
    pytest.param(
        [
            root()
            .tls("cert", clientValidation={"caSecret": "ca", "crlSecret": "certs/crl"})
            .route("/", service("kuard"))
            .build(),
            KUARD,
            tls_secret("cert"),
            ca_secret("ca"),
            crl_secret("crl", "certs"),
        ],
        ROOT,
        (
            "TLSError",
            "DelegationNotPermitted",
            'Spec.VirtualHost.TLS CRL Secret "certs/crl" is invalid: Certificate delegation not permitted',
        ),
        None,
        id="TLSError-DelegationNotPermitted-crl",
    ),
    pytest.param(
        [
            root()
            .vhost(corsPolicy={"allowOrigin": ["(bad"], "allowMethods": ["GET"]})
            .route("/", service("kuard"))
            .build(),
            KUARD,
        ],
        ROOT,
        (
            "CORSError",
            "PolicyDidNotParse",
            'Spec.VirtualHost.CORSPolicy: invalid allowed origin "(bad": allowed origin is invalid '
            "exact match and "
            "invalid regex match",
        ),
        None,
        id="CORSError-PolicyDidNotParse",
    ),
    pytest.param(
        [root().with_spec(tcpproxy={"services": [service("kuard")]}).build(), KUARD],
        ROOT,
        (
            "TCPProxyError",
            "TLSMustBeConfigured",
            "Spec.TCPProxy requires that either Spec.TLS.Passthrough or Spec.TLS.SecretName be set",
        ),
        None,
        id="TCPProxyError-TLSMustBeConfigured",
    ),
    pytest.param(
        [root().tls(passthrough=True).with_spec(tcpproxy={}).build()],
        ROOT,
        ("TCPProxyError", "NothingDefined", "either services or inclusion must be specified"),
        None,
        id="TCPProxyError-NothingDefined",
    ),
    pytest.param(
        [
            root()
            .tls(passthrough=True)
            .with_spec(tcpproxy={"services": [service("kuard")], "include": {"name": "x"}})
            .build(),
            KUARD,
        ],
        ROOT,
        (
            "TCPProxyError",
            "NoServicesAndInclude",
            "cannot specify services and include in the same httpproxy",
        ),
        None,
        id="TCPProxyError-NoServicesAndInclude",
    ),
    pytest.param(
        [root().tls(passthrough=True).with_spec(tcpproxy={"services": [service("missing")]}).build()],
        ROOT,
        (
            "TCPProxyError",
            "ServiceUnresolvedReference",
            'Spec.TCPProxy unresolved service reference: service "default/missing" not found',
        ),
        None,
        id="TCPProxyError-ServiceUnresolvedReference",
    ),
    pytest.param(
        [root().tls(passthrough=True).with_spec(tcpproxy={"include": {"name": "x"}}).build()],
        ROOT,
        ("TCPProxyIncludeError", "IncludeNotFound", "include default/x not found"),
        None,
        id="TCPProxyIncludeError-IncludeNotFound",
    ),
    pytest.param(
        [
            root().tls(passthrough=True).with_spec(tcpproxy={"include": {"name": "other"}}).build(),
            proxy("other")
            .fqdn("other.example.com")
            .with_spec(tcpproxy={"services": [service("kuard")]})
            .build(),
        ],
        ROOT,
        (
            "TCPProxyIncludeError",
            "RootIncludesRoot",
            "root httpproxy cannot include another root httpproxy (default/other)",
        ),
        None,
        id="TCPProxyIncludeError-RootIncludesRoot",
    ),
    pytest.param(
        [
            root().tls(passthrough=True).with_spec(tcpproxy={"include": {"name": "a"}}).build(),
            proxy("a").with_spec(tcpproxy={"include": {"name": "a"}}).build(),
        ],
        ObjectRef("default", "a"),
        (
            "TCPProxyIncludeError",
            "IncludeCreatesCycle",
            "include creates a cycle: default/root -> default/a -> default/a",
        ),
        None,
        id="TCPProxyIncludeError-IncludeCreatesCycle",
    ),
    pytest.param(
        [
            root()
            .vhost(
                ipAllowPolicy=[{"source": "Peer", "cidr": "10.0.0.0/8"}],
                ipDenyPolicy=[{"source": "Peer", "cidr": "10.0.0.1"}],
            )
            .route("/", service("kuard"))
            .build(),
            KUARD,
        ],
        ROOT,
        (
            "IPFilterError",
            "IncompatibleIPAddressFilters",
            "Spec.VirtualHost.IPAllowFilterPolicy and Spec.VirtualHost.IPDepnyFilterPolicy cannot both "
            "be defined.",
        ),
        None,
        id="IPFilterError-IncompatibleIPAddressFilters",
    ),
    pytest.param(
        [proxy("orphan").route("/", service("kuard")).build(), KUARD],
        ObjectRef("default", "orphan"),
        ("Orphaned", "Orphaned", "this HTTPProxy is not part of a delegation chain from a root HTTPProxy"),
        None,
        id="Orphaned",
    ),
]


@pytest.mark.parametrize(("objects", "ref", "error", "config"), CASES)
def test_error(
    objects: list[Obj], ref: ObjectRef, error: tuple[str, str, str], config: BuilderConfig | None
) -> None:
    errors = errors_of(build(*objects, config=config).statuses, ref)
    assert any(e[:2] == error[:2] and e[2].startswith(error[2]) for e in errors), f"{error} not in {errors}"


def test_invalid_proxy_status_shape() -> None:
    status = status_of(build(root().route("/", service("missing")).build()).statuses, ROOT)
    assert status == {
        "currentStatus": "invalid",
        "description": "At least one error present, see Errors for details",
        "conditions": [
            {
                "type": "Valid",
                "status": "False",
                "reason": "ErrorPresent",
                "message": "At least one error present, see Errors for details",
                "observedGeneration": 1,
                "errors": [
                    {
                        "type": "ServiceError",
                        "status": "True",
                        "reason": "ServiceUnresolvedReference",
                        "message": (
                            'Spec.Routes unresolved service reference: service "default/missing" not found'
                        ),
                    }
                ],
            }
        ],
    }


def test_valid_proxy_status_shape() -> None:
    obj = root().route("/", service("kuard")).meta(generation=7).build()
    status = status_of(build(obj, KUARD).statuses, ROOT)
    assert status == {
        "currentStatus": "valid",
        "description": "Valid HTTPProxy",
        "conditions": [
            {
                "type": "Valid",
                "status": "True",
                "reason": "Valid",
                "message": "Valid HTTPProxy",
                "observedGeneration": 7,
            }
        ],
    }


def test_orphan_status_is_orphaned() -> None:
    status = status_of(
        build(proxy("o").route("/", service("kuard")).build(), KUARD).statuses, ObjectRef("default", "o")
    )
    assert status["currentStatus"] == "orphaned"
    assert status["description"] == "this HTTPProxy is not part of a delegation chain from a root HTTPProxy"


def test_included_child_is_valid_not_orphaned() -> None:
    result = build(
        root().include("child", "team", prefix="/x").build(),
        proxy("child", "team").route("/", service("kuard")).build(),
        k8s_service("kuard", "team"),
    )
    assert status_of(result.statuses, ObjectRef("team", "child"))["currentStatus"] == "valid"


def test_child_error_is_reported_on_the_child() -> None:
    result = build(
        root().include("child", prefix="/x").build(), proxy("child").route("/", service("missing")).build()
    )
    assert status_of(result.statuses, ROOT)["currentStatus"] == "valid"
    assert errors_of(result.statuses, ObjectRef("default", "child"))[0][1] == "ServiceUnresolvedReference"


def test_request_hash_warnings_do_not_invalidate() -> None:
    obj = (
        root()
        .route(
            "/",
            service("kuard"),
            loadBalancerPolicy={"strategy": "RequestHash", "requestHashPolicies": [{"terminal": True}]},
        )
        .build()
    )
    status = status_of(build(obj, KUARD).statuses, ROOT)
    cond = status["conditions"][0]
    assert status["currentStatus"] == "valid"
    assert [w["reason"] for w in cond["warnings"]] == ["IgnoredField", "IgnoredField"]


def test_unparsed_httpproxy_is_reported_invalid() -> None:
    bad = root().with_spec(routes=[{"services": [{"name": "s", "port": "http"}]}]).build()
    errors = errors_of(build(bad).statuses, ROOT)
    assert errors[0][:2] == ("SpecError", "SpecInvalid")


def test_delegation_gets_valid_status() -> None:
    updates = [
        u
        for u in build(delegation("d", "certs", {"c": ["*"]})).statuses
        if u.plural == "tlscertificatedelegations"
    ]
    assert [(u.ref, u.status["conditions"][0]["status"]) for u in updates] == [
        (ObjectRef("certs", "d"), "True")
    ]


def test_statuses_are_sorted_and_stable() -> None:
    objs = [
        proxy("b").route("/", service("kuard")).build(),
        proxy("a").route("/", service("kuard")).build(),
        KUARD,
    ]
    first, second = build(*objs).statuses, build(*reversed(objs)).statuses
    assert [u.ref.name for u in first] == ["a", "b"]
    assert first == second
