"""Code generation from the CRD schemas in crds/: pydantic models, the API reference, config/crd/.

`python -m codegen` regenerates everything; `python -m codegen --check` fails when a generated file
differs from what the schemas produce. Every schema is checked against the structural-schema rules
first, so a malformed schema stops generation with its file and JSON pointer.
"""
