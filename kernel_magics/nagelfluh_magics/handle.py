"""A handle on one version of a process: what ``%%nagel run`` returns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .client import TERMINAL
from .provenance import reproducibility_text, version_ref
from .states import state_text
from .table import pairs_html

SHOWN_OUTPUTS = 10  # a summary names this many outputs and counts the rest

if TYPE_CHECKING:
    from .client import Client


class ProcessHandle:
    """Version ``version`` of process ``process``, refreshed from the server on
    demand (``refresh()``), so a handle kept in a variable stays true."""

    def __init__(
        self, client: Client, process: int, version: int, info: dict[str, Any] | None = None
    ):
        self.client = client
        self.process = process
        self.version = version
        self.info = info if info is not None else client.version(process, version)

    @classmethod
    def of(cls, client: Client, version_info: dict[str, Any]) -> ProcessHandle:
        return cls(client, version_info["process"], version_info["version"], version_info)

    @property
    def ref(self) -> str:
        """``ID/V``, as the magics take it."""
        return f"{self.process}/{self.version}"

    def refresh(self) -> ProcessHandle:
        self.info = self.client.version(self.process, self.version)
        return self

    @property
    def state(self) -> str:
        return self.info["state"]

    @property
    def done(self) -> bool:
        return self.state in TERMINAL

    @property
    def outputs(self) -> list[dict[str, Any]]:
        """The output datasets, oldest first (known once the version has completed).
        A version carries only its first ones; the rest come from the dataset list."""
        outputs = self.info["outputs"]
        if self.info.get("output_count", 0) > len(outputs):
            listed = self.client.datasets(process=self.process, version=self.version)
            self.info["outputs"] = outputs = sorted(listed, key=lambda d: d["id"])
        return outputs

    def output(self, name: str) -> dict[str, Any]:
        """The output dataset called ``name`` (e.g. ``"signal.nc"``)."""
        for dataset in self.outputs:
            if dataset["name"] == name:
                return dataset
        names = ", ".join(d["name"] for d in self.outputs) or "none"
        raise KeyError(f"{self.ref} has no output {name!r} (outputs: {names})")

    @property
    def provenance(self) -> dict[str, Any] | None:
        """What exactly produced this version (type and its version, runner, environment
        and its digest, parameters, inputs and outputs with digests, resources, times,
        exit status, cache decision): the API's record, None for a version from before
        provenance was kept. ``%nagel versions`` shows it readably."""
        return self.info.get("provenance")

    @property
    def cached_from(self) -> dict[str, Any] | None:
        """``{"process", "version"}`` whose outputs this version reuses (a cache hit)."""
        return self.info.get("cached_from")

    @property
    def reproducibility(self) -> dict[str, Any] | None:
        """For an exact re-run, ``{"state": "identical" | "differs" | "pending" |
        "failed", "differing": [OUTPUT NAME...]}``; None for any other version."""
        return self.info.get("reproducibility")

    def rerun(self, wait: bool = False, show: bool = True) -> ProcessHandle:
        """Re-run this (ended) version exactly, the cache bypassed; the new version's
        handle, which once ended tells whether the outputs were reproduced
        (``reproducibility``). With ``wait``, returns once it has ended (see ``wait``)."""
        handle = ProcessHandle.of(self.client, self.client.rerun(self.process, self.version))
        return handle.wait(show) if wait else handle

    def logs(self) -> list[str]:
        """The persisted log lines so far."""
        return [line["line"] for line in self.client.log_lines(self.process, self.version)]

    def wait(self, show: bool = True) -> ProcessHandle:
        """Block until the version ends; with ``show``, stream its logs and progress."""
        from .live import wait

        wait(self.client, self.process, self.version, show=show)
        return self.refresh()

    def cancel(self) -> ProcessHandle:
        self.info = self.client.cancel(self.process, self.version)
        return self

    def load(self, name: str) -> Any:
        """An output as an xarray Dataset (NetCDF) or a pandas DataFrame (tables)."""
        from .data import load

        return load(self.client, self.output(name)["id"])

    def _summary(self) -> list[tuple[str, str]]:
        info = self.info
        rows = [("process", self.ref), ("state", state_text(info["state"], info.get("reason")))]
        if info.get("message"):
            rows.append(("message", info["message"]))
        if info["state"] == "running":
            rows.append(("progress", f"{info.get('progress', 0):.0%}"))
        if info.get("cached_from"):
            rows.append(("cached from", version_ref(info["cached_from"])))
        if info.get("rerun_of"):
            rows.append(("re-run of", version_ref(info["rerun_of"])))
            rows.append(("reproducibility", reproducibility_text(info.get("reproducibility"))))
        shown = info["outputs"][:SHOWN_OUTPUTS]
        outputs = ", ".join(f"{d['name']} (dataset {d['id']})" for d in shown)
        more = info.get("output_count", len(info["outputs"])) - len(shown)
        if outputs:
            rows.append(("outputs", outputs + (f" and {more} more" if more > 0 else "")))
        return rows

    def __repr__(self) -> str:
        return "<ProcessHandle " + ", ".join(f"{k}: {v}" for k, v in self._summary()) + ">"

    def _repr_html_(self) -> str:
        return pairs_html(self._summary())
