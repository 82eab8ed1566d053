"""The xDS snapshot cache and the gRPC server that streams it to Envoy."""
