"""Certificates for the xDS connection between Contour and Envoy: a CA, a server and a client pair."""
