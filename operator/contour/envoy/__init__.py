"""Pure translation of the DAG into Envoy xDS protobuf messages and bootstrap configuration."""
