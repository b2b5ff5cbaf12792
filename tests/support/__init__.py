"""Helpers shared by tests and benchmarks: fixture servers, fake backends, the fixture catalog."""
