"""The xDS TLS certificates of an instance: reused while valid, regenerated before they expire.

The renderer decides where the certificates go (which Secrets, which keys); this module finds out by
rendering once with sentinel strings in place of the PEMs and looking for them in the rendered
Secrets. It then reads those Secrets from the cluster: when all five PEMs are there, every
certificate has at least a third of its lifetime left and the leaves carry the DNS names the
instance's `CertProfile` asks for, they are reused (the Secrets do not change, Contour and Envoy keep
their connection); otherwise a new CA and key pairs are generated with `contour.certgen` (as `contour
certgen` does), valid for the profile's lifetime, and the next apply writes them.

The profile names the Services: Contour's certificate carries the DNS names of the instance's xDS
Service (`contour-<name>`) and of `contour`, the SAN Envoy's bootstrap validation context requires
(contour.envoy.bootstrap.XDS_SERVER_SAN); Envoy's carries those of its Service (`envoy-<name>`).

`seconds_until_rotation` tells the reconciler when to come back: when the first certificate enters
its last third.
"""

from __future__ import annotations

import base64
import binascii
import datetime
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import kr8s
import kr8s.asyncio
from cryptography import x509

from contour.certgen.certs import (
    CONTOUR_SERVICE_NAME,
    DEFAULT_LIFETIME_DAYS,
    ENVOY_SERVICE_NAME,
    generate_certs,
    service_names,
)

# XdsCertificates' fields, in its order.
CERT_FIELDS: Final = ("ca_pem", "contour_cert_pem", "contour_key_pem", "envoy_cert_pem", "envoy_key_pem")
_CERTIFICATES: Final = ("ca_pem", "contour_cert_pem", "envoy_cert_pem")
ROTATE_FRACTION: Final = 1 / 3

CertFields = dict[str, str]
Location = tuple[str, str, str]  # (namespace, Secret name, data key)


@dataclass(frozen=True)
class CertProfile:
    """What an instance's certificates must be: their lifetime and the Services each leaf names (the
    first is the common name; every one contributes its DNS names in the certificates' namespace)."""

    lifetime_days: int = DEFAULT_LIFETIME_DAYS
    contour_services: tuple[str, ...] = (CONTOUR_SERVICE_NAME,)
    envoy_services: tuple[str, ...] = (ENVOY_SERVICE_NAME,)

    def missing_names(self, fields: Mapping[str, str], namespace: str) -> list[str]:
        """DNS names the profile asks for that the stored leaves lack (unreadable leaves lack all)."""
        missing: list[str] = []
        for name, services in (
            ("contour_cert_pem", self.contour_services),
            ("envoy_cert_pem", self.envoy_services),
        ):
            wanted = [n for s in services for n in service_names(s, namespace)]
            have = _dns_names(fields.get(name, ""))
            missing += [n for n in wanted if n not in have]
        return missing


def sentinels() -> CertFields:
    return {name: f"contour-provisioner-sentinel:{name}" for name in CERT_FIELDS}


def locate(objects: Sequence[Mapping[str, Any]], marks: Mapping[str, str]) -> dict[str, Location]:
    """Where each sentinel ended up in the rendered Secrets (fields not found are absent)."""
    wanted = {value: name for name, value in marks.items()}
    found: dict[str, Location] = {}
    for obj in objects:
        if obj.get("kind") != "Secret" or obj.get("apiVersion") != "v1":
            continue
        meta = obj.get("metadata") or {}
        where = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        for key, value in _secret_values(obj).items():
            if value in wanted:
                found[wanted[value]] = (*where, key)
    return found


async def current(api: kr8s.asyncio.Api, locations: Mapping[str, Location]) -> CertFields | None:
    """The PEMs stored at `locations`, or None when any Secret or key is missing."""
    secrets: dict[tuple[str, str], dict[str, str]] = {}
    fields: CertFields = {}
    for name in CERT_FIELDS:
        if name not in locations:
            return None
        namespace, secret, key = locations[name]
        if (namespace, secret) not in secrets:
            try:
                async with api.call_api(
                    "GET", version="v1", base="/api", namespace=namespace, url=f"secrets/{secret}"
                ) as response:
                    secrets[(namespace, secret)] = _secret_values(response.json())
            except kr8s.ServerError as error:
                if error.response is not None and error.response.status_code == 404:
                    return None
                raise
        value = secrets[(namespace, secret)].get(key)
        if not value:
            return None
        fields[name] = value
    return fields


def seconds_until_rotation(fields: Mapping[str, str], now: datetime.datetime) -> float:
    """Seconds until the first certificate has less than a third of its lifetime left (<= 0: now)."""
    due: float | None = None
    for name in _CERTIFICATES:
        try:
            cert = x509.load_pem_x509_certificate(fields[name].encode())
        except (KeyError, ValueError):
            return 0.0
        start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
        rotate_at = end - (end - start) * ROTATE_FRACTION
        left = (rotate_at - now).total_seconds()
        due = left if due is None else min(due, left)
    return due if due is not None else 0.0


def generate(namespace: str, now: datetime.datetime, profile: CertProfile | None = None) -> CertFields:
    profile = profile or CertProfile()
    certs = generate_certs(
        now=now,
        namespace=namespace,
        lifetime_days=profile.lifetime_days,
        contour_service=profile.contour_services[0],
        contour_aliases=profile.contour_services[1:],
        envoy_service=profile.envoy_services[0],
        envoy_aliases=profile.envoy_services[1:],
    )
    return {
        "ca_pem": certs.ca_certificate.decode(),
        "contour_cert_pem": certs.contour_certificate.decode(),
        "contour_key_pem": certs.contour_private_key.decode(),
        "envoy_cert_pem": certs.envoy_certificate.decode(),
        "envoy_key_pem": certs.envoy_private_key.decode(),
    }


@dataclass(frozen=True)
class CertDecision:
    fields: CertFields
    generated: bool
    rotate_in: float  # seconds until these certificates are due for rotation


async def xds_certificates(
    api: kr8s.asyncio.Api,
    render_objects: Callable[[CertFields], Sequence[Mapping[str, Any]]],
    *,
    namespace: str,
    now: datetime.datetime,
    profile: CertProfile | None = None,
) -> CertDecision:
    """The certificates to render with: the stored ones while valid and as the profile asks, else fresh
    ones."""
    profile = profile or CertProfile()
    locations = locate(render_objects(sentinels()), sentinels())
    # The certificates name the namespace the Secrets live in (the instance's, not the owner's).
    namespace = next(iter(locations.values()))[0] if locations else namespace
    stored = await current(api, locations) if locations else None
    if stored is not None:
        left = seconds_until_rotation(stored, now)
        if left > 0 and not profile.missing_names(stored, namespace):
            return CertDecision(stored, False, left)
    fresh = generate(namespace, now, profile)
    return CertDecision(fresh, True, seconds_until_rotation(fresh, now))


def _dns_names(pem: str) -> set[str]:
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return set()
    return set(sans.get_values_for_type(x509.DNSName))


def _secret_values(obj: Mapping[str, Any]) -> dict[str, str]:
    """A Secret's values as text: `data` decoded from base64, `stringData` as it is."""
    values: dict[str, str] = {}
    for key, value in (obj.get("data") or {}).items():
        try:
            values[key] = base64.b64decode(str(value), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            continue
    for key, value in (obj.get("stringData") or {}).items():
        values[key] = str(value)
    return values
