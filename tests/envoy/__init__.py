"""Tests for the Envoy bootstrap, certgen and the local Envoy runner, against the real Envoy binary."""
