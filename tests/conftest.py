"""Fixtures shared by every suite: pytest-jupyter's server fixtures are loaded here
(pytest only honours ``pytest_plugins`` in the top-level conftest)."""

pytest_plugins = ["pytest_jupyter.jupyter_server"]
