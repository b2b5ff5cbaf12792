"""Shared pytest fixtures: the local fixture server (tests/fixture_server.py) stands in for the network."""
import os

import pytest

from tests.support.fixture_server import arxiv_server, fixture_server  # noqa: F401 (pytest fixtures)


@pytest.fixture(autouse=True, scope="session")
def _per_user_data_home(tmp_path_factory):
    """No test writes to the real per-user data folder: the default ($XDG_DATA_HOME/dissect) is a temporary one
    (child processes inherit it)."""
    before = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("xdg-data-home"))
    yield
    if before is None:
        os.environ.pop("XDG_DATA_HOME", None)
    else:
        os.environ["XDG_DATA_HOME"] = before
