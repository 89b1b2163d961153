"""``%nagel`` and ``%%nagel``: the whole process loop from notebook cells.

Arguments are parsed by argparse, but a mistake (in the arguments, or one the
server reports) is raised as IPython's ``UsageError``, which a notebook shows
as one line and no traceback.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from . import data, plots, stores
from .client import Client, NagelfluhError
from .functions import registration_text
from .handle import ProcessHandle
from .live import Progress, TextProgress, WidgetProgress, print_lines, widgets_available
from .provenance import VersionHistory
from .states import state_text
from .table import Table, when

LS_LIMIT = 20
PROGRESS_BYTES = 8 * 2**20  # an upload this big shows a progress bar


class _HelpShown(Exception):
    """argparse printed a help text; the magic has nothing more to do."""


class _Parser(argparse.ArgumentParser):
    commands: argparse._SubParsersAction[_Parser] | None = None

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if status:
            raise UsageError(f"{self.prog}: {(message or 'error').strip()}")
        raise _HelpShown


def _reference(text: str) -> tuple[int, int | None]:
    """``ID`` or ``ID/V``."""
    process, _, version = text.partition("/")
    try:
        return _positive(process), (_positive(version) if version else None)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not ID or ID/VERSION") from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def _dataset(text: str) -> int:
    """A dataset id, bare or as the ``dataset:<id>`` reference parameters use."""
    try:
        return _positive(text.removeprefix("dataset:"))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a dataset id") from None


def _names(text: str) -> list[str]:
    return [name for name in text.split(",") if name]


def _no_cache(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--no-cache",
        action="store_true",
        help="run even if identical work completed before (default: reuse its outputs)",
    )


def build_parser() -> _Parser:
    parser = _Parser(prog="%nagel", description="Run and inspect nagelfluh processes.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    parser.commands = commands

    def command(name: str, summary: str) -> _Parser:
        return commands.add_parser(name, help=summary, description=summary)

    command("help", "List the commands.").add_argument("topic", nargs="?", metavar="COMMAND")
    command("types", "Process types and what they do; broken ones with their error.")
    ls = command("ls", "Processes, newest first, with the state of their latest version.")
    ls.add_argument("--project", type=_positive, help="only this project")
    ls.add_argument("--limit", type=_positive, default=LS_LIMIT, help="at most this many")
    datasets = command("datasets", "Datasets: outputs and uploads, newest first.")
    datasets.add_argument("--project", type=_positive, help="only this project")
    datasets.add_argument("--process", type=_reference, metavar="ID[/V]", help="only its outputs")
    upload = command(
        "upload",
        "Upload a file, or a Zarr store's folder, as a dataset, usable as input like any output.",
    )
    upload.add_argument(
        "path", metavar="PATH", help="the file or Zarr folder (relative to the kernel's folder)"
    )
    upload.add_argument("--name", help="name of the dataset (default: the file's or folder's)")
    upload.add_argument("--project", type=_positive, help="project (default: your first)")
    run = command(
        "run",
        "Submit a process; parameters as YAML or JSON in the cell body (%%nagel run). "
        "Returns its handle.",
    )
    run.add_argument("type", metavar="TYPE", help="process type (see %%nagel types)")
    run.add_argument("--name", help="name of the process (default: the type's title)")
    run.add_argument("--project", type=_positive, help="project (default: your first)")
    run.add_argument("--cpu", help="cores, e.g. 0.5 or 500m")
    run.add_argument("--memory", help="memory, e.g. 512Mi")
    run.add_argument("--deadline", type=float, metavar="S", help="wall-clock limit in seconds")
    run.add_argument("--wait", action="store_true", help="stream logs and progress until it ends")
    _no_cache(run)
    new = command("new", "A form of a type's parameters and resources, with cost and Submit.")
    new.add_argument("type", metavar="TYPE", help="process type (see %%nagel types)")
    new.add_argument("--project", type=_positive, help="project (default: your first)")
    logs = command("logs", "Log lines of a version (the latest by default).")
    logs.add_argument("ref", type=_reference, metavar="ID[/V]")
    logs.add_argument("--follow", action="store_true", help="keep printing until the run ends")
    cancel = command("cancel", "Cancel a queued or running version (the latest by default).")
    cancel.add_argument("ref", type=_reference, metavar="ID[/V]")
    versions = command(
        "versions", "Versions of a process: state, cost, parameters, and how each was produced."
    )
    versions.add_argument("process", type=_positive, metavar="ID")
    diff = command("diff", "What changed in parameters and resources from V1 to V2.")
    diff.add_argument("process", type=_positive, metavar="ID")
    diff.add_argument("v1", type=_positive, metavar="V1")
    diff.add_argument("v2", type=_positive, metavar="V2")
    restore = command("restore", "Run V's parameters again, as a new version.")
    restore.add_argument("process", type=_positive, metavar="ID")
    restore.add_argument("version", type=_positive, metavar="V")
    restore.add_argument("--wait", action="store_true", help="stream logs until it ends")
    _no_cache(restore)
    rerun = command(
        "rerun",
        "Re-run V (the latest by default) exactly, the cache bypassed, and tell whether "
        "its outputs came out identical.",
    )
    rerun.add_argument("process", type=_positive, metavar="ID")
    rerun.add_argument("version", type=_positive, nargs="?", metavar="V")
    rerun.add_argument(
        "--wait", action="store_true", help="stream logs until it ends, then show the verdict"
    )
    load = command("load", "A dataset as an xarray Dataset (NetCDF) or pandas DataFrame (tables).")
    load.add_argument("dataset", type=_dataset, metavar="DATASET")
    plot = command(
        "plot", "Plot datasets together; one y axis per unit; a 2-D variable as a heatmap."
    )
    plot.add_argument("datasets", type=_dataset, nargs="+", metavar="DATASET")
    plot.add_argument("--x", help="variable along x (default: the coordinate)")
    plot.add_argument(
        "--y",
        type=_names,
        action="extend",
        default=[],
        metavar="VAR",
        help="variable(s) to plot, repeat or separate by commas (default: all; a 2-D one alone)",
    )
    plot.add_argument(
        "--points", type=_positive, default=plots.DEFAULT_POINTS, help="points the server sends"
    )
    register = command(
        "register",
        "Register a notebook as a process type of a project (its cell tagged 'parameters' "
        "gives the form), or as a new revision of the project's type of that name.",
    )
    register.add_argument(
        "notebook", metavar="NOTEBOOK", help="the .ipynb file (relative to the kernel's folder)"
    )
    register.add_argument(
        "--name", help="type name (default: the notebook's metadata name, else its file name)"
    )
    register.add_argument("--project", type=_positive, help="project (default: your first)")
    register.add_argument(
        "--environment", help="environment whose Python runs it (default: the server's)"
    )
    retire = command(
        "retire",
        "Retire a project's own process type: it takes no new versions; what it made stays, "
        "and registering its notebook again brings it back.",
    )
    retire.add_argument("type", metavar="TYPE", help="the project's type (see %%nagel types)")
    retire.add_argument("--project", type=_positive, help="project (default: your first)")
    map_ = command("map", "Map a dataset's latitude/longitude points, coloured by a variable.")
    map_.add_argument("dataset", type=_dataset, metavar="DATASET")
    map_.add_argument("--color", metavar="VAR", help="variable to colour by (default: the first)")
    return parser


def _parameters(cell: str | None) -> dict[str, Any]:
    """The cell body as YAML (when PyYAML is installed) or JSON: a mapping."""
    if not cell or not cell.strip():
        return {}
    parse: Callable[[str], Any]
    errors: tuple[type[Exception], ...]
    try:
        import yaml
    except ImportError:
        parse, errors = json.loads, (ValueError,)
    else:
        parse, errors = yaml.safe_load, (ValueError, yaml.YAMLError)
    try:
        parsed = parse(cell)
    except errors as error:
        reason = "; ".join(line.strip() for line in str(error).splitlines()[:2])
        raise UsageError(f"%%nagel run: the parameters are not valid YAML/JSON: {reason}") from None
    if parsed is None:
        return {}
    if not isinstance(parsed, dict):
        raise UsageError("%%nagel run: the parameters must be a mapping of names to values")
    return parsed


def _state(info: dict[str, Any]) -> str:
    return state_text(info["state"], info.get("reason"))


class _UploadProgress:
    """An upload's bar (a widget, or text outside a widget front end), redrawn at
    each hundredth: the HTTP library reports every few KiB sent."""

    def __init__(self, label: str) -> None:
        self.bar: Progress = WidgetProgress(label) if widgets_available() else TextProgress(label)
        self.shown = -1

    def sent(self, sent: int, total: int) -> None:
        hundredths = sent * 100 // max(total, 1)
        if hundredths != self.shown:
            self.shown = hundredths
            self.bar.update("uploading", sent / max(total, 1))


@magics_class
class NagelMagics(Magics):
    """The ``%nagel`` line and cell magic (``%nagel help`` lists its commands)."""

    parser = build_parser()

    def __init__(self, shell: Any = None, client: Client | None = None) -> None:
        super().__init__(shell)
        self._client = client

    @property
    def client(self) -> Client:
        """Found on first use, so loading the extension never fails for want of a server."""
        if self._client is None:
            self._client = Client()
        return self._client

    @line_cell_magic
    def nagel(self, line: str, cell: str | None = None) -> Any:
        try:
            args = self.parser.parse_args(shlex.split(line))
        except _HelpShown:
            return None
        except ValueError as error:  # shlex: unbalanced quotes
            raise UsageError(f"%nagel: {error}") from None
        command = args.command or "help"
        if cell is not None and command != "run":
            raise UsageError(f"%%nagel {command} takes no cell body; only %%nagel run does")
        try:
            return getattr(self, "_" + command)(args, cell)
        except (NagelfluhError, data.DataError, stores.StoreError) as error:
            raise UsageError(f"%nagel {command}: {error}") from None

    # ------------------------------------------------------------ commands

    def _help(self, args: argparse.Namespace, _cell: str | None) -> None:
        commands = self.parser.commands
        assert commands is not None
        if args.topic in commands.choices:
            commands.choices[args.topic].print_help()
            return
        if args.topic is not None:
            raise UsageError(f"%nagel help: no command {args.topic!r}")
        print("%nagel COMMAND ... (and %%nagel run TYPE with parameters in the cell)\n")
        for name, sub in commands.choices.items():
            print(f"  {name:<9} {sub.description}")
        print("\n%nagel COMMAND --help tells more.")

    def _types(self, _args: argparse.Namespace, _cell: str | None) -> Table:
        """The types, then the broken ones with their error: a type that failed to
        load is listed as broken, not left out as if it never existed."""
        listing = self.client.type_listing()
        types, broken = listing["items"], listing["broken"]
        rows = [(t["name"], t["title"], t["environment"], t["description"]) for t in types]
        rows += [(b["name"], "(broken)", b["environment"], b["error"]) for b in broken]
        return Table(["name", "title", "environment", "description"], rows, types + broken)

    def _ls(self, args: argparse.Namespace, _cell: str | None) -> Table:
        processes = self.client.processes(args.project, args.limit)
        rows = []
        for p in processes:
            latest = p["versions"][-1]
            rows.append(
                (
                    p["id"],
                    p["name"],
                    p["type"],
                    latest["version"],
                    _state(latest),
                    when(p["created"]),
                )
            )
        return Table(["id", "name", "type", "version", "state", "created"], rows, processes)

    def _datasets(self, args: argparse.Namespace, _cell: str | None) -> Table:
        process, version = args.process or (None, None)
        found = self.client.datasets(args.project, process, version)
        rows = [
            (
                d["id"],
                d["name"],
                f"{d['process']}/{d['version']}" if d["process"] else "upload",
                d["mime_type"],
                d["size"],
                ", ".join(
                    v["name"] + (f" [{v['units']}]" if v.get("units") else "")
                    for v in d["variables"]
                ),
            )
            for d in found
        ]
        columns = ["id", "name", "process", "type", "bytes", "variables"]
        return Table(columns, rows, found)

    def _upload(self, args: argparse.Namespace, _cell: str | None) -> Table:
        path = Path(args.path).expanduser()
        if path.is_dir():  # a Zarr store, zipped on the way (a StoreError if it is none)
            size = stores.store_size(path)
        elif path.is_file():
            size = path.stat().st_size
        else:
            raise UsageError(f"%nagel upload: no file or folder {str(path)!r}")
        name = args.name or path.resolve().name
        project = self._project(args.project)
        progress = _UploadProgress(name) if size >= PROGRESS_BYTES else None
        ended = "failed"
        try:
            dataset = self.client.upload(
                project["id"], name, path, progress=progress.sent if progress else None
            )
            ended = "completed"
        except NagelfluhError as error:
            if error.status == 409:
                raise UsageError(
                    f"%nagel upload: a dataset named {name!r} already exists in project "
                    f"{project['name']!r} ({project['id']}); use --name"
                ) from None
            raise
        finally:
            if progress:
                progress.bar.finish(ended, None)
        row = (
            dataset["id"],
            dataset["name"],
            project["name"],
            dataset["mime_type"],
            dataset["size"],
        )
        return Table(["id", "name", "project", "type", "bytes"], [row], [dataset])

    def _project(self, wanted: int | None, command: str = "upload") -> dict[str, Any]:
        """The project ``wanted`` (your first if None), with the name messages show."""
        for project in self.client.projects():
            if wanted in (None, project["id"]):
                return project
        raise UsageError(f"%nagel {command}: you have no project {wanted or 'yet'}")

    def _register(self, args: argparse.Namespace, _cell: str | None) -> None:
        """Prints what was registered (a new type or revision), or that the notebook is
        identical to the current revision; a notebook the server refuses is one line
        naming the cell's line at fault."""
        path = Path(args.notebook).expanduser()
        if not path.is_file():
            raise UsageError(f"%nagel register: no notebook {str(path)!r}")
        project = self._project(args.project, "register")
        registered = self.client.register(
            path, project=project["id"], name=args.name, environment=args.environment
        )
        print(registration_text(registered))

    def _retire(self, args: argparse.Namespace, _cell: str | None) -> None:
        project = self._project(args.project, "retire")
        retired = self.client.retire(args.type, project["id"])
        print(
            f"Retired process type {retired['name']} of project {project['name']!r}: it takes "
            "no new versions; its processes, versions and datasets stay. Register its "
            "notebook again to bring it back."
        )

    def _run(self, args: argparse.Namespace, cell: str | None) -> ProcessHandle:
        parameters = _parameters(cell)
        asked = {"cpu": args.cpu, "memory": args.memory, "deadline_seconds": args.deadline}
        resources = {key: value for key, value in asked.items() if value is not None}
        process = self.client.submit(
            args.type,
            parameters,
            project=args.project,
            name=args.name,
            resources=resources or None,
            cache=not args.no_cache,
        )
        handle = ProcessHandle.of(self.client, process["versions"][-1])
        return self._wait(handle) if args.wait else handle

    def _wait(self, handle: ProcessHandle) -> ProcessHandle:
        try:
            handle.wait()
        except KeyboardInterrupt:
            print(
                f"stopped following {handle.ref}; it goes on running "
                f"(%nagel cancel {handle.ref} stops it)",
                file=sys.stderr,
            )
            handle.refresh()
        return handle

    def _new(self, args: argparse.Namespace, _cell: str | None) -> Any:
        from .forms import ProcessForm

        return ProcessForm(self.client, args.type, args.project)

    def _latest(self, process: int, version: int | None) -> int:
        return version or self.client.version(process)["version"]

    def _logs(self, args: argparse.Namespace, _cell: str | None) -> None:
        process, version = args.ref
        version = self._latest(process, version)
        if not args.follow:
            print_lines(list(self.client.log_lines(process, version)))
            return
        try:
            for event in self.client.follow(process, version):
                if event["type"] == "log":
                    print_lines(event["lines"])
                elif event["type"] == "state" and event["state"] in ("completed", "failed"):
                    print(f"[{process}/{version} {_state(event)}]", file=sys.stderr)
        except KeyboardInterrupt:
            print(f"stopped following {process}/{version}", file=sys.stderr)

    def _cancel(self, args: argparse.Namespace, _cell: str | None) -> ProcessHandle:
        process, version = args.ref
        return ProcessHandle.of(
            self.client, self.client.cancel(process, self._latest(process, version))
        )

    def _versions(self, args: argparse.Namespace, _cell: str | None) -> VersionHistory:
        return VersionHistory(args.process, self.client.process(args.process)["versions"])

    def _diff(self, args: argparse.Namespace, _cell: str | None) -> Table:
        diff = self.client.compare(args.process, args.v1, args.v2)
        rows = [
            (section, c["path"], c["op"], json.dumps(c["old"]), json.dumps(c["new"]))
            for section in ("parameters", "resources")
            for c in diff[section]
        ]
        caption = f"process {args.process}: v{args.v1} → v{args.v2}"
        if diff["equal"]:
            caption += " (equal)"
        columns = ["section", "path", "change", f"v{args.v1}", f"v{args.v2}"]
        return Table(columns, rows, diff["parameters"] + diff["resources"], caption)

    def _restore(self, args: argparse.Namespace, _cell: str | None) -> ProcessHandle:
        restored = self.client.restore(args.process, args.version, cache=not args.no_cache)
        handle = ProcessHandle.of(self.client, restored)
        return self._wait(handle) if args.wait else handle

    def _rerun(self, args: argparse.Namespace, _cell: str | None) -> ProcessHandle:
        """The new version's handle; waited for, its summary says whether the outputs
        were reproduced (its ``reproducibility``)."""
        version = self._latest(args.process, args.version)
        handle = ProcessHandle.of(self.client, self.client.rerun(args.process, version))
        return self._wait(handle) if args.wait else handle

    def _load(self, args: argparse.Namespace, _cell: str | None) -> Any:
        return data.load(self.client, args.dataset)

    def _plot(self, args: argparse.Namespace, _cell: str | None) -> Any:
        return plots.plot(self.client, args.datasets, args.x, args.y, args.points)

    def _map(self, args: argparse.Namespace, _cell: str | None) -> Any:
        return plots.map_figure(self.client, args.dataset, args.color)
