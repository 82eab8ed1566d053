"""The operator: renders and reconciles Contour/Envoy workloads from Contour CRs and Gateways."""
