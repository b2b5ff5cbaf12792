"""Shared pytest fixtures: the local fixture server (tests/fixture_server.py) stands in for the network."""
from tests.support.fixture_server import arxiv_server, fixture_server  # noqa: F401 (pytest fixtures)
