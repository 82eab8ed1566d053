"""Contour, in Python: a Gateway-API-first ingress controller and operator for Envoy.

The package is layered (see the import-linter contracts in pyproject.toml): `api` holds the models
generated from the CRD schemas in crds/, `dag` and `envoy` are pure translation code, `k8s`, `xds`,
`apiserver` and `envoyproc` do the I/O, `controller` and `provisioner` wire them together, and `cli`
is the entry point.
"""

__version__ = "0.1.0"
