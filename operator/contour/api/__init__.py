"""API models: generated per group/version from the CRD schemas in crds/, plus hand-written meta.py.

The generated modules (projectcontour, gateway, operator) must not be edited by hand: change the
schema in crds/ and run `make codegen`.
"""
