"""TLS settings of a root HTTPProxy: certificate, protocol versions, fallback and client validation.

Split from httpproxy_processor.py; follows the TLS part of Contour's computeHTTPProxy, check for
check, with Contour's condition reasons and messages. A certificate referenced as "ns/name" must be
delegated to the proxy's namespace by a TLSCertificateDelegation.
"""

from __future__ import annotations

from contour.api.projectcontour import v1 as api
from contour.dag.annotations import tls_version
from contour.dag.builder import BuildContext
from contour.dag.goformat import go_quote
from contour.dag.httpproxy_auth import compute_secure_authorization
from contour.dag.httpproxy_jwt import compute_jwt_providers
from contour.dag.model import DownstreamValidation, Secret
from contour.dag.secrets import (
    DelegationNotPermittedError,
    SecretError,
    lookup_ca_secret,
    lookup_crl_secret,
    lookup_tls_secret,
    split_ref,
)
from contour.dag.status import DetailedCondition
from contour.dag.vhosts import ensure_secure_virtual_host


def _namespace(proxy: api.HTTPProxy) -> str:
    return proxy.metadata.namespace or ""


def compute_tls(
    ctx: BuildContext, proxy: api.HTTPProxy, tls: api.TLS, host: str, cond: DetailedCondition
) -> bool:
    """Checks and attaches a root's TLS settings; False (after adding the error) stops the root."""
    ns = _namespace(proxy)
    if tls.passthrough and tls.enable_fallback_certificate:
        cond.add_error(
            "TLSError",
            "TLSIncompatibleFeatures",
            "Spec.VirtualHost.TLS: both Passthrough and enableFallbackCertificate were specified",
        )
    secret_name = (tls.secret_name or "").strip()
    if secret_name and tls.passthrough:
        cond.add_error(
            "TLSError",
            "TLSConfigNotValid",
            "Spec.VirtualHost.TLS: both Passthrough and SecretName were specified",
        )
        return False
    if not secret_name and not tls.passthrough:
        cond.add_error(
            "TLSError",
            "TLSConfigNotValid",
            "Spec.VirtualHost.TLS: neither Passthrough nor SecretName were specified",
        )
        return False
    if tls.passthrough and tls.client_validation is not None:
        cond.add_error(
            "TLSError",
            "TLSIncompatibleFeatures",
            "Spec.VirtualHost.TLS passthrough cannot be combined with tls.clientValidation",
        )
        return False
    if tls.passthrough:
        return True

    try:
        secret = lookup_tls_secret(ctx.cache, split_ref(tls.secret_name or "", ns), ns)
    except DelegationNotPermittedError:
        cond.add_error(
            "TLSError",
            "DelegationNotPermitted",
            f"Spec.VirtualHost.TLS Secret {go_quote(tls.secret_name)} certificate delegation not permitted",
        )
        return False
    except SecretError as exc:
        cond.add_error(
            "TLSError",
            "SecretNotValid",
            f"Spec.VirtualHost.TLS Secret {go_quote(tls.secret_name)} is invalid: {exc}",
        )
        return False

    min_version = tls_version(tls.minimum_protocol_version or "", "1.2")
    max_version = tls_version(tls.maximum_protocol_version or "", "1.3")
    if max_version < min_version:
        cond.add_error(
            "TLSError",
            "TLSConfigNotValid",
            "Spec.Virtualhost.TLS the minimum protocol version is greater than the maximum protocol version",
        )
        return False
    svhost = ensure_secure_virtual_host(ctx.dag, host)
    svhost.secret = secret
    svhost.min_tls_version = min_version
    svhost.max_tls_version = max_version

    vh = proxy.spec.virtualhost
    assert vh is not None
    if tls.enable_fallback_certificate and tls.client_validation is not None:
        cond.add_error(
            "TLSError",
            "TLSIncompatibleFeatures",
            "Spec.Virtualhost.TLS fallback & client validation are incompatible",
        )
        return False
    if tls.enable_fallback_certificate and vh.authorization is not None:
        cond.add_error(
            "TLSError",
            "TLSIncompatibleFeatures",
            "Spec.Virtualhost.TLS fallback & client authorization are incompatible",
        )
        return False
    if tls.enable_fallback_certificate:
        fallback = ctx.config.fallback_certificate
        if fallback is None:
            cond.add_error(
                "TLSError",
                "FallbackNotPresent",
                "Spec.Virtualhost.TLS enabled fallback but the fallback Certificate Secret "
                "is not configured in Contour configuration file",
            )
            return False
        try:
            svhost.fallback_certificate = lookup_tls_secret(ctx.cache, fallback, ns)
        except DelegationNotPermittedError:
            cond.add_error(
                "TLSError",
                "FallbackNotDelegated",
                f"Spec.VirtualHost.TLS Secret {go_quote(fallback)} "
                "is not configured for certificate delegation",
            )
            return False
        except SecretError as exc:
            cond.add_error(
                "TLSError",
                "FallbackNotValid",
                f"Spec.Virtualhost.TLS Secret {go_quote(fallback)} fallback certificate is invalid: {exc}",
            )
            return False

    cv = tls.client_validation
    if cv is not None:
        dv = _downstream_validation(ctx, cv, ns, cond)
        if dv is None:
            return False
        svhost.downstream_validation = dv

    if not compute_secure_authorization(ctx, proxy, svhost, cond):
        return False
    return compute_jwt_providers(ctx, proxy, svhost, cond)


def _validation_secret(
    ctx: BuildContext, cond: DetailedCondition, name: str, ns: str, label: str
) -> Secret | None:
    """The client-validation CA bundle (`label` "CA") or CRL ("CRL") named `name`; None after adding
    the error."""
    ref = split_ref(name, ns)
    lookup = lookup_ca_secret if label == "CA" else lookup_crl_secret
    try:
        return lookup(ctx.cache, ref, ns)
    except DelegationNotPermittedError as exc:
        cond.add_error(
            "TLSError",
            "DelegationNotPermitted",
            f"Spec.VirtualHost.TLS {label} Secret {go_quote(name)} is invalid: {exc}",
        )
    except SecretError as exc:
        cond.add_error(
            "TLSError",
            "ClientValidationInvalid",
            "Spec.VirtualHost.TLS client validation is invalid: "
            f"invalid {label} Secret {go_quote(ref)}: {exc}",
        )
    return None


def _downstream_validation(
    ctx: BuildContext, cv: api.ClientValidation, ns: str, cond: DetailedCondition
) -> DownstreamValidation | None:
    forward: tuple[str, ...] = ()
    if cv.forward_client_certificate is not None:
        f = cv.forward_client_certificate
        forward = tuple(
            name
            for name, on in (
                ("subject", f.subject),
                ("cert", f.cert),
                ("chain", f.chain),
                ("dns", f.dns),
                ("uri", f.uri),
            )
            if on
        )
    ca: Secret | None = None
    if cv.ca_secret:
        ca = _validation_secret(ctx, cond, cv.ca_secret, ns, "CA")
        if ca is None:
            return None
    elif not cv.skip_client_cert_validation:
        # Contour reports this but still programs the host (no return in its code).
        cond.add_error(
            "TLSError",
            "ClientValidationInvalid",
            "Spec.VirtualHost.TLS client validation is invalid: CA Secret must be specified",
        )
    crl: Secret | None = None
    if cv.crl_secret:
        crl = _validation_secret(ctx, cond, cv.crl_secret, ns, "CRL")
        if crl is None:
            return None
    return DownstreamValidation(
        ca=ca,
        crl=crl,
        skip_client_cert_validation=bool(cv.skip_client_cert_validation),
        only_verify_leaf_cert_crl=bool(cv.crl_only_verify_leaf_cert) if crl is not None else False,
        optional_client_certificate=bool(cv.optional_client_certificate),
        forward_client_certificate=forward,
    )
