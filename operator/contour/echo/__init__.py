"""The echo backend used by tests and demos, following the Gateway API conformance echo contract."""
