"""HTTPProxy route policies that act on the upstream's response: Set-Cookie rewriting and internal
redirects, converted from the API to the DAG.

Validation of cookie rewrites (duplicate names, nothing rewritten) stays in the HTTPProxy processor,
which reports it as Contour does (`CookieRewritePoliciesInvalid`); these functions only convert input
that passed it. Internal redirect policies need no check beyond the CRD's enums, as in Contour's
`internalRedirectPolicy`.
"""

from __future__ import annotations

from contour.api.projectcontour import v1 as api
from contour.dag.model import CookieRewritePolicy, InternalRedirectPolicy


def cookie_rewrite_policies(
    policies: list[api.CookieRewritePolicy] | None,
) -> tuple[CookieRewritePolicy, ...]:
    """The DAG form of `cookieRewritePolicies`, in the order given."""
    return tuple(
        CookieRewritePolicy(
            name=p.name,
            path=p.path_rewrite.value if p.path_rewrite is not None else None,
            domain=p.domain_rewrite.value if p.domain_rewrite is not None else None,
            secure=p.secure,
            same_site=p.same_site,
        )
        for p in policies or []
    )


def internal_redirect_policy(policy: api.InternalRedirectPolicy | None) -> InternalRedirectPolicy | None:
    """The DAG form of `internalRedirectPolicy`; cross-scheme redirects default to Never."""
    if policy is None:
        return None
    return InternalRedirectPolicy(
        max_internal_redirects=policy.max_internal_redirects or 0,
        redirect_response_codes=tuple(int(code) for code in policy.redirect_response_codes or ()),
        allow_cross_scheme_redirect=policy.allow_cross_scheme_redirect or "Never",
        deny_repeated_route_redirect=bool(policy.deny_repeated_route_redirect),
    )
