"""The notebook side against the real thing: a ``jupyter server`` subprocess with the
extension (its own SQLite database, file storage and Jupyter dirs, under a base_url
so URL joining is exercised), and kernels of this venv run by nbclient, as a
notebook front end would run them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import nbformat
import pytest
from nagelfluh_magics import Client
from nbclient import NotebookClient

from tests.servers import Server, clean_env, running_server

__all__ = ["clean_env", "running_server"]

CELL_SECONDS = 120


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("server")) as running:
        yield running


@pytest.fixture(scope="session")
def client(server: Server) -> Client:
    return Client(server.url, server.token)


def wait_until_ended(client: Client, process: int, version: int = 1, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while (info := client.version(process, version))["state"] not in ("completed", "failed"):
        assert time.monotonic() < deadline, f"{process}/{version} still {info['state']}"
        time.sleep(0.05)
    return info


def version_rows(cell) -> list[str]:
    """The summary table of ``%nagel versions`` (the provenance of each version follows it)."""
    return cell.result["text/plain"].split("\n\n")[0].splitlines()


@pytest.fixture(scope="session")
def outputs(client) -> dict[str, dict]:
    """Output datasets the plot, map and load tests share: two signals in different
    units, one more in the first one's unit, and a gravity survey."""
    runs = {
        "signal_mm": client.submit("synthetic-signal", {"duration": 4, "sample_rate": 500}),
        "signal_mm_2": client.submit("synthetic-signal", {"duration": 2, "seed": 7}),
        "signal_nm": client.submit("synthetic-signal", {"duration": 2, "units": "nm"}),
        "survey": client.submit("synthetic-survey", {"nx": 6, "ny": 5}),
    }
    found = {}
    for name, process in runs.items():
        info = wait_until_ended(client, process["id"])
        assert info["state"] == "completed", info
        found[name] = info["outputs"][0]
    return found


class Kernel:
    """A kernel of this venv, fed cells one at a time by nbclient, as a notebook is."""

    def __init__(self, env: dict[str, str]) -> None:
        self.notebook = nbformat.v4.new_notebook()
        self.runner = NotebookClient(
            self.notebook, kernel_name="python3", timeout=CELL_SECONDS, allow_errors=True
        )
        self._setup = self.runner.setup_kernel(env=env)

    def __enter__(self) -> Kernel:
        self._setup.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._setup.__exit__(*exc)

    def run(self, source: str, fails: bool = False) -> Cell:
        """Execute one cell; unless ``fails``, a cell that raised fails the test."""
        cell = nbformat.v4.new_code_cell(source)
        self.notebook.cells.append(cell)
        self.runner.execute_cell(cell, len(self.notebook.cells) - 1)
        result = Cell(cell)
        if not fails:
            assert not result.errors, result.describe()
        return result


class Cell:
    """What a cell showed: its streams, results and displays."""

    def __init__(self, cell: Any) -> None:
        self.outputs = cell.outputs

    def stream(self, name: str) -> str:
        return "".join(o.text for o in self.outputs if o.output_type == "stream" and o.name == name)

    @property
    def stdout(self) -> str:
        return self.stream("stdout")

    @property
    def stderr(self) -> str:
        return self.stream("stderr")

    @property
    def errors(self) -> list[Any]:
        return [o for o in self.outputs if o.output_type == "error"]

    def data(self, output_type: str = "execute_result") -> list[dict]:
        return [o.data for o in self.outputs if o.output_type == output_type]

    @property
    def result(self) -> dict:
        (found,) = self.data()
        return found

    def describe(self) -> str:
        return json.dumps([dict(o) for o in self.outputs], indent=1, default=str)[:4000]


@pytest.fixture(scope="session")
def kernel(server) -> Iterator[Kernel]:
    """One kernel for the magics tests (they start no state another one relies on),
    told its server through NAGELFLUH_URL/NAGELFLUH_TOKEN, magics loaded."""
    with Kernel(clean_env(NAGELFLUH_URL=server.url, NAGELFLUH_TOKEN=server.token)) as running:
        running.run("%load_ext nagelfluh_magics")
        yield running
