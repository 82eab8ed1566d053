"""Tests of `contour echo`, as a real process reached by real HTTP/1.1, HTTP/2, TLS and WebSocket clients."""
