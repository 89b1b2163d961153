"""The ``%nagel`` magics in a real kernel, as notebook cells run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest
import requests
import websocket
from nagelfluh_magics.magics import PROGRESS_BYTES

from tests.magics.conftest import clean_env, version_rows, wait_until_ended

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def one_line_error(cell) -> str:
    """The single line a failed magic shows; a traceback or a second line fails."""
    assert not cell.errors, cell.describe()
    assert "Traceback" not in cell.describe()
    lines = cell.stderr.strip().splitlines()
    assert len(lines) == 1, cell.describe()
    assert lines[0].startswith("UsageError: "), lines
    return lines[0]


def printed_json(kernel, expression: str):
    return json.loads(kernel.run(f"import json; print(json.dumps({expression}))").stdout)


def test_help_lists_every_command_and_each_command_explains_itself(kernel):
    overview = kernel.run("%nagel help").stdout
    commands = (
        "types ls datasets upload run new logs cancel versions diff restore rerun load plot map "
        "register"
    )
    commands = commands.split()
    for command in commands:
        assert f"\n  {command} " in overview, overview
    run_help = kernel.run("%nagel run --help")
    assert "usage: %nagel run" in run_help.stdout and "--wait" in run_help.stdout
    assert not run_help.stderr
    assert "usage: %nagel plot" in kernel.run("%nagel help plot").stdout


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("%nagel frobnicate", "invalid choice: 'frobnicate'"),
        ("%nagel cancel abc", "'abc' is not ID or ID/VERSION"),
        ("%nagel plot", "the following arguments are required: DATASET"),
        ("%nagel run sleep --deadline soon", "argument --deadline: invalid float value"),
        ("%nagel logs 987654", "process 987654 not found (not_found 404)"),
        ("%%nagel run sleep\nseconds: -1", "/parameters/seconds: -1 is less than the minimum"),
        ("%%nagel run sleep\nseconds: [1,", "the parameters are not valid YAML/JSON"),
        ("%%nagel run sleep\n- 1\n- 2", "the parameters must be a mapping"),
        ("%%nagel ls\nx: 1", "takes no cell body"),
        ('%nagel run "sleep', "No closing quotation"),
        (
            "%nagel upload /no/such/survey.nc",
            "%nagel upload: no file or folder '/no/such/survey.nc'",
        ),
    ],
)
def test_a_mistake_shows_one_clear_line_and_no_traceback(kernel, source, says):
    assert says in one_line_error(kernel.run(source, fails=True))


def test_tables_are_html_in_jupyter_and_plain_text_elsewhere(kernel, outputs):
    types = kernel.run("%nagel types").result
    assert "<table>" in types["text/html"] and "synthetic-signal" in types["text/html"]
    header = types["text/plain"].splitlines()[0].split()
    assert header == ["name", "title", "environment", "description"]
    listed = kernel.run("%nagel ls --limit 2").result["text/plain"].splitlines()
    assert listed[0].split()[:3] == ["id", "name", "type"] and len(listed) == 4
    newest = printed_json(kernel, "_.items[0]['id']")
    assert listed[2].split()[0] == str(newest)
    signal = outputs["signal_mm"]
    datasets = kernel.run(f"%nagel datasets --process {signal['process']}").result["text/plain"]
    assert "signal.nc" in datasets and "amplitude [mm/s]" in datasets


def test_upload_makes_a_file_a_dataset_of_your_first_project_and_shows_it(kernel, client, tmp_path):
    path = tmp_path / f"stations-{uuid.uuid4().hex[:6]}.csv"
    path.write_bytes(b"x,depth\n1,10\n")
    cell = kernel.run(f"%nagel upload {path}")
    header, _, row = cell.result["text/plain"].splitlines()
    assert header.split() == ["id", "name", "project", "type", "bytes"]
    assert not cell.data("display_data")  # a small file shows no progress bar
    dataset = printed_json(kernel, "_.items[0]")
    first = client.projects()[0]
    assert (dataset["project"], dataset["name"]) == (first["id"], path.name)
    assert row.split() == [str(dataset["id"]), path.name, *first["name"].split(), "text/csv", "13"]
    assert client.dataset_bytes(dataset["id"]) == path.read_bytes()


def test_a_big_upload_shows_a_progress_bar_and_lands_under_its_name_in_its_project(
    kernel, client, tmp_path
):
    project = client.create_project(f"uploads {uuid.uuid4().hex[:6]}")
    path = tmp_path / "gravity.bin"
    path.write_bytes(os.urandom(PROGRESS_BYTES + 1))
    cell = kernel.run(f"%nagel upload {path} --name raw/gravity-1.bin --project {project['id']}")
    (bar,) = [d[WIDGET_VIEW]["model_id"] for d in cell.data("display_data") if WIDGET_VIEW in d]
    state = kernel.runner.widget_state[bar]
    assert (state["value"], state["bar_style"]) == (1.0, "success")
    (dataset,) = client.datasets(project=project["id"])
    assert (dataset["name"], dataset["size"]) == ("raw/gravity-1.bin", PROGRESS_BYTES + 1)


def test_an_upload_under_a_taken_name_says_so_and_how_to_go_on(kernel, client, tmp_path):
    path = tmp_path / f"twice-{uuid.uuid4().hex[:6]}.csv"
    path.write_bytes(b"t,v\n0,1\n")
    kernel.run(f"%nagel upload {path}")
    first = client.projects()[0]
    taken = one_line_error(kernel.run(f"%nagel upload {path}", fails=True))
    assert taken == (
        f"UsageError: %nagel upload: a dataset named '{path.name}' already exists in project "
        f"'{first['name']}' ({first['id']}); use --name"
    )
    kernel.run(f"%nagel upload {path} --name again-{path.name}")
    unknown = one_line_error(kernel.run(f"%nagel upload {path} --project 987654", fails=True))
    assert unknown == "UsageError: %nagel upload: you have no project 987654"


def test_an_upload_in_a_terminal_shows_text_progress(server, tmp_path):
    path = tmp_path / "big.bin"
    path.write_bytes(bytes(PROGRESS_BYTES))
    name = f"big-{uuid.uuid4().hex[:6]}.bin"
    env = clean_env(NAGELFLUH_URL=server.url, NAGELFLUH_TOKEN=server.token)
    source = f"%load_ext nagelfluh_magics\n%nagel upload {path} --name {name}"
    done = subprocess.run(
        [sys.executable, "-m", "IPython", "--quick", "--colors=NoColor", "-c", source],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    bars = [line for line in done.stdout.splitlines() if line.startswith(f"{name} [")]
    assert bars[0] == f"{name} [....................]   0% uploading", done.stdout
    assert f"{name} [##########..........]  50% uploading" in bars
    assert bars[-1] == f"{name} [####################] 100% completed"


def test_run_with_wait_streams_the_logs_shows_progress_and_returns_the_handle(kernel):
    cell = kernel.run("%%nagel run sleep --wait --cpu 500m --memory 256Mi\nseconds: 1.5")
    ticks = ["tick 1: 1 of 1.5 s", "tick 2: 1.5 of 1.5 s"]
    assert cell.stdout.splitlines() == ["sleeping 1.5 s", *ticks, "done sleeping"]
    (bar,) = [d[WIDGET_VIEW]["model_id"] for d in cell.data("display_data") if WIDGET_VIEW in d]
    state = kernel.runner.widget_state[bar]
    assert (state["value"], state["bar_style"]) == (1.0, "success")
    assert "state: completed" in cell.result["text/plain"]
    handle = printed_json(kernel, "[_.state, _.info['resources'], _.logs()[-1]]")
    assert handle[0] == "completed" and handle[2] == "done sleeping"
    assert handle[1]["memory"] == "256Mi" and handle[1]["cpu"] in (0.5, "500m")


def test_run_returns_at_once_with_a_handle_to_assign(kernel, client):
    kernel.run("h = %nagel run synthetic-signal --name quick")
    process, version = map(int, kernel.run("print(h.ref)").stdout.split("/"))
    assert version == 1 and client.process(process)["name"] == "quick"
    assert printed_json(kernel, "h.wait(show=False).state") == "completed"
    loaded = printed_json(kernel, "h.load('signal.nc')['amplitude'].attrs['units']")
    assert loaded == "mm/s"
    missing = kernel.run("h.output('spectrum.nc')", fails=True).errors[0]
    assert missing.evalue == f"\"{process}/1 has no output 'spectrum.nc' (outputs: signal.nc)\""


def test_run_takes_json_parameters_too(kernel, client):
    kernel.run('%%nagel run synthetic-signal --name from-json\n{"duration": 1, "units": "nm"}')
    ref = printed_json(kernel, "_.ref")
    info = client.version(int(ref.split("/")[0]), 1)
    assert info["parameters"]["units"] == "nm" and info["parameters"]["duration"] == 1


def test_new_shows_the_form_of_a_process_type(kernel):
    assert WIDGET_VIEW in kernel.run("%nagel new sleep").result
    assert printed_json(kernel, "[type(_).__name__, _.type_name]") == ["ProcessForm", "sleep"]
    unknown = one_line_error(kernel.run("%nagel new no-such-type", fails=True))
    assert "unknown process type 'no-such-type'" in unknown


def test_logs_follow_prints_every_line_until_the_run_ends(kernel, client):
    process = client.submit("sleep", {"seconds": 1.5})["id"]
    cell = kernel.run(f"%nagel logs {process} --follow")
    stored = [line["line"] for line in client.log_lines(process, 1)]
    assert cell.stdout.splitlines() == stored and stored[-1] == "done sleeping"
    assert f"[{process}/1 completed]" in cell.stderr
    assert kernel.run(f"%nagel logs {process}/1").stdout.splitlines() == stored


def test_cancel_stops_a_running_sleep_and_every_listing_calls_it_cancelled(kernel, client):
    process = client.submit("sleep", {"seconds": 60})["id"]
    deadline = time.monotonic() + 30
    while client.version(process)["state"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    cancelled = kernel.run(f"%nagel cancel {process}").result["text/plain"]
    assert "state: cancelled" in cancelled and "failed" not in cancelled
    info = client.version(process, 1)
    assert (info["state"], info["reason"]) == ("failed", "cancelled")
    assert "Process cancelled by user" in kernel.run(f"%nagel logs {process}").stdout
    listed = kernel.run("%nagel ls --limit 20").result["text/plain"].splitlines()
    row = next(line for line in listed[2:] if line.split()[0] == str(process))
    assert " cancelled " in row and "failed" not in row, row
    versions = version_rows(kernel.run(f"%nagel versions {process}"))
    assert versions[-1].split()[1] == "cancelled", versions


def test_versions_diff_and_restore(kernel, client):
    process = client.submit("sleep", {"seconds": 0})["id"]
    wait_until_ended(client, process)
    client.new_version(process, {"seconds": 0.1})
    wait_until_ended(client, process, 2)
    versions = version_rows(kernel.run(f"%nagel versions {process}"))
    assert [line.split()[0] for line in versions[3:]] == ["1", "2"]
    assert '{"seconds":0.1}' in versions[-1]
    diff = kernel.run(f"%nagel diff {process} 1 2").result
    assert "/seconds" in diff["text/html"]
    change = diff["text/plain"].splitlines()[3].split()
    assert change == ["parameters", "/seconds", "changed", "0", "0.1"]
    kernel.run(f"restored = %nagel restore {process} 1 --wait")
    restored = printed_json(
        kernel, "[restored.version, restored.state, restored.info['parameters']]"
    )
    assert restored == [3, "completed", {"seconds": 0}]


def test_load_gives_xarray_for_netcdf_and_pandas_for_tables(kernel, client, outputs):
    signal = outputs["signal_mm"]
    kernel.run(f"ds = %nagel load {signal['id']}")
    loaded = printed_json(
        kernel,
        "[type(ds).__module__.split('.')[0], ds['amplitude'].attrs['units'], ds.sizes['time']]",
    )
    assert loaded == ["xarray", "mm/s", 2000]
    table = client.upload(
        signal["project"],
        f"stations-{uuid.uuid4().hex[:6]}.csv",
        b"x,depth\n1,10\n2,20\n",
        "text/csv",
    )
    kernel.run(f"df = %nagel load dataset:{table['id']}")
    frame = printed_json(kernel, "[type(df).__name__, list(df.columns), df['depth'].sum().item()]")
    assert frame == ["DataFrame", ["x", "depth"], 30]


def figure_json(kernel, name: str) -> dict:
    return printed_json(
        kernel,
        f"{{'class': type({name}).__name__, 'traces': [t.to_plotly_json() for t in {name}.data],"
        f" 'layout': {name}.layout.to_plotly_json()}}",
    )


def test_plot_gives_each_unit_its_own_y_axis(kernel, outputs):
    mm, nm = outputs["signal_mm"]["id"], outputs["signal_nm"]["id"]
    kernel.run(f"fig = %nagel plot {mm} {nm} --y amplitude")
    figure = figure_json(kernel, "fig")
    assert figure["class"] == "FigureWidget"
    assert [(t["xaxis"], t["yaxis"]) for t in figure["traces"]] == [("x", "y"), ("x", "y2")]
    layout = figure["layout"]
    assert layout["yaxis"]["title"]["text"] == "amplitude [mm/s]"
    assert layout["yaxis2"]["title"]["text"] == "amplitude [nm]"
    assert (layout["yaxis2"]["overlaying"], layout["yaxis2"]["side"]) == ("y", "right")
    assert layout["xaxis"]["title"]["text"] == "time [s]"


def test_plot_puts_datasets_in_the_same_unit_on_one_axis(kernel, outputs):
    first, second = outputs["signal_mm"]["id"], outputs["signal_mm_2"]["id"]
    kernel.run(f"same = %nagel plot {first} {second}")
    figure = figure_json(kernel, "same")
    assert [t["yaxis"] for t in figure["traces"]] == ["y", "y"]
    assert len(figure["traces"]) == 2 and "yaxis2" not in figure["layout"]


def test_a_zoomed_plot_gets_full_resolution_for_the_visible_range(kernel, outputs):
    signal = outputs["signal_mm"]["id"]  # 2000 samples at 500 Hz
    kernel.run(f"zoomed = %nagel plot {signal} --points 100")
    overview = printed_json(kernel, "list(zoomed.data[0].x)")
    assert len(overview) <= 102
    kernel.run("zoomed.layout.xaxis.range = [1.0, 1.1]")
    detail = printed_json(kernel, "list(zoomed.data[0].x)")
    assert detail == pytest.approx([1.0 + i / 500 for i in range(51)])


def test_map_colours_points_by_a_variable_with_its_unit_and_fetches_nothing(kernel, outputs):
    survey = outputs["survey"]["id"]
    kernel.run(f"m = %nagel map {survey}")
    figure = figure_json(kernel, "m")
    (trace,) = figure["traces"]
    assert trace["type"] == "scatter" and len(trace["x"]) == 30
    assert trace["marker"]["colorbar"]["title"]["text"] == "gravity_anomaly [mGal]"
    assert figure["layout"]["yaxis"]["scaleanchor"] == "x"
    assert "http" not in json.dumps(figure)


def test_a_configured_tile_server_draws_the_map_over_its_tiles(kernel, outputs):
    survey = outputs["survey"]["id"]
    tiles = "http://tiles.example.internal/{z}/{x}/{y}.png"
    kernel.run(
        f"import os; os.environ['NAGELFLUH_MAP_TILES'] = {tiles!r}\n"
        f"tiled = %nagel map {survey} --color gravity_anomaly\n"
        "del os.environ['NAGELFLUH_MAP_TILES']"
    )
    figure = figure_json(kernel, "tiled")
    assert figure["traces"][0]["type"] == "scattermap"
    assert figure["layout"]["map"]["style"]["sources"]["tiles"]["tiles"] == [tiles]


class ServerKernel:
    """A kernel started by the server itself (``POST /api/kernels``), as JupyterLab
    starts one, driven over its WebSocket channels."""

    def __init__(self, server) -> None:
        self.server = server
        self.headers = {"Authorization": f"token {server.token}"}
        started = requests.post(server.url + "api/kernels", json={}, headers=self.headers)
        started.raise_for_status()
        self.id = started.json()["id"]
        self.session = uuid.uuid4().hex
        channels = server.url.replace("http://", "ws://") + f"api/kernels/{self.id}/channels"
        self.socket = websocket.create_connection(
            channels, header=[f"Authorization: token {server.token}"], timeout=60
        )

    def run(self, code: str) -> dict[str, str]:
        """Execute ``code``; what it printed (by stream) and its result's plain text."""
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "session": self.session,
            "username": "test",
            "version": "5.3",
        }
        request = {
            "header": header,
            "parent_header": {},
            "metadata": {},
            "content": {"code": code, "silent": False, "allow_stdin": False},
            "channel": "shell",
            "buffers": [],
        }
        self.socket.send(json.dumps(request))
        shown = {"stdout": "", "stderr": "", "result": ""}
        while True:
            message = json.loads(self.socket.recv())
            if message["parent_header"].get("msg_id") != msg_id or message["channel"] != "iopub":
                continue
            kind, body = message["msg_type"], message["content"]
            if kind == "stream":
                shown[body["name"]] += body["text"]
            elif kind == "execute_result":
                shown["result"] += body["data"]["text/plain"]
            elif kind == "error":
                shown["stderr"] += "\n".join(body["traceback"])
            elif kind == "status" and body["execution_state"] == "idle":
                return shown

    def close(self) -> None:
        self.socket.close()
        requests.delete(self.server.url + f"api/kernels/{self.id}", headers=self.headers)


def test_a_kernel_started_by_the_server_finds_it_without_set_up(server):
    """The server gives its kernels JPY_PARENT_PID; its runtime file gives URL and token."""
    kernel = ServerKernel(server)
    try:
        loaded = kernel.run(
            "%load_ext nagelfluh_magics\nimport os\nprint(os.environ['JPY_PARENT_PID'])"
        )
        assert loaded["stdout"].strip() == str(server.pid), loaded
        types = kernel.run("%nagel types")
        assert "synthetic-signal" in types["result"], types
        url = kernel.run("print(get_ipython().find_magic('nagel').__self__.client.url)")
        assert url["stdout"].strip() == server.url
    finally:
        kernel.close()


def test_a_plain_script_waits_with_text_progress(server):
    script = (
        "from nagelfluh_magics import Client, ProcessHandle\n"
        "client = Client()\n"
        "process = client.submit('sleep', {'seconds': 1})\n"
        "handle = ProcessHandle.of(client, process['versions'][-1]).wait()\n"
        "print('ended', handle.state)\n"
    )
    env = clean_env(NAGELFLUH_URL=server.url, NAGELFLUH_TOKEN=server.token)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "sleeping 1 s" in lines and "done sleeping" in lines
    assert lines[-2].endswith("[####################] 100% completed")
    assert lines[-1] == "ended completed"


def test_a_submitted_form_follows_its_run_live_and_its_cancel_button_stops_it(kernel, client):
    """The form's status widget updates from the events socket while the kernel stays free,
    and its Cancel button cancels the run on the server."""
    kernel.run(
        "from nagelfluh_magics import Client\n"
        "from nagelfluh_magics.forms import ProcessForm\n"
        "form = ProcessForm(Client(), 'sleep')\n"
        "form.form.value = {'seconds': 60}\n"
        "created = form.submit()\n"
        "status = form.statuses.children[0]"
    )
    process = int(kernel.run("created['id']").result["text/plain"])
    deadline = time.monotonic() + 30
    while client.version(process, 1)["state"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    waited = kernel.run(
        "import time\n"
        "end = time.monotonic() + 20\n"
        "while status.state != 'running' and time.monotonic() < end:\n"
        "    time.sleep(0.05)\n"
        "status.state, status.cancel_button.disabled"
    )
    assert waited.result["text/plain"] == "('running', False)"
    kernel.run("status.cancel_button.click()")
    info = wait_until_ended(client, process)
    assert (info["state"], info["reason"]) == ("failed", "cancelled")
    ended = kernel.run(
        "status.join(20)\nstatus.state, status.reason, status.cancel_button.disabled"
    )
    assert ended.result["text/plain"] == "('failed', 'cancelled', True)"
