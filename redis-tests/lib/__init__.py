"""Shared helpers for redis-tests/: TAP output, server start/stop, a raw RESP client."""
