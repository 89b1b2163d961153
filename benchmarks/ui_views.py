"""The side panel's big views in a real JupyterLab in headless Chromium: the log view
with 1,000,000 lines and the flow view with 2,000 processes.

Each figure is a ratio against a baseline measured in the same run:
- log history: the view's time from open until every line is in it, against
  fetching the same pages over REST from Python (what the view adds on top of
  the download: parsing, storing, filtering, drawing);
- log scrolling: milliseconds per scroll step (set scrollTop, two animation
  frames) with 1,000,000 lines against 1,000 lines — virtualised rendering
  keeps it flat; the DOM row count is reported too;
- flow: time until every node is drawn, time for a click to select, and time per
  wheel-zoom step, with 2,000 processes against 20.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import httpx
from _server import PYTHON, TERMINAL, Server, Targets, argument_parser, jupyter_server
from playwright.sync_api import Browser, Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.ui.browser import CHROMIUM, CHROMIUM_ARGS, lab_config

PRODUCER = str(Path(__file__).with_name("_line_process.py"))
SCROLL_STEPS = 60
WHEEL_STEPS = 20


def lab(local_executor: dict, tmp: str):
    return jupyter_server(local_executor, app="lab", app_config=lab_config(Path(tmp)))


def open_lab(page: Page, server: Server) -> None:
    page.goto(f"{server.url}lab/workspaces/bench?reset&token={server.token}")
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=60_000)
    page.wait_for_function("() => window.jupyterapp?.commands.hasCommand('nagelfluh:open-log')")
    page.locator('.jp-SideBar [data-id="nagelfluh-side-panel"]').click()
    page.locator("#nf-project-select option").first.wait_for(state="attached")


def wait_all(client: httpx.Client, ids: list[int]) -> None:
    for process in ids:
        while client.get(f"process/{process}/versions/1").json()["state"] not in TERMINAL:
            time.sleep(0.05)


def fetch_all_logs(client: httpx.Client, process: int) -> float:
    start, since = time.perf_counter(), 0
    while True:
        page = client.get(
            f"process/{process}/versions/1/logs", params={"since": since, "limit": 10000}
        ).json()
        if not page["items"]:
            return time.perf_counter() - start
        since = page["items"][-1]["seq"]


def list_processes(client: httpx.Client, project: int) -> float:
    """Seconds to fetch every process of the project in the pages the side panel asks for."""
    start, cursor = time.perf_counter(), None
    while True:
        params = {"project": project, "limit": 200} | ({"cursor": cursor} if cursor else {})
        cursor = client.get("process", params=params).json()["next"]
        if cursor is None:
            return time.perf_counter() - start


def measure_log(browser: Browser, lines: int) -> dict:
    with (
        tempfile.TemporaryDirectory() as tmp,
        lab({"command": [PYTHON, PRODUCER, str(lines)]}, tmp) as server,
    ):
        with httpx.Client(base_url=server.api_url, headers=server.headers, timeout=120) as client:
            process = client.post(
                "process", json={"type": "sleep", "parameters": {"seconds": 0}, "name": "lines"}
            ).json()["id"]
            wait_all(client, [process])
            download = min(fetch_all_logs(client, process) for _ in range(2))
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        open_lab(page, server)
        page.locator(f'.nf-ProcessRow[data-process-id="{process}"]').click()
        start = time.perf_counter()
        page.evaluate("() => window.jupyterapp.commands.execute('nagelfluh:open-log')")
        page.locator(f'[data-testid="nf-log-status"][data-lines="{lines}"]').wait_for(
            timeout=300_000
        )
        load = time.perf_counter() - start
        step_ms = page.evaluate(
            """async steps => {
                const s = document.querySelector('.nf-Log-scroller');
                const frame = () => new Promise(
                    r => requestAnimationFrame(() => requestAnimationFrame(r)));
                const t0 = performance.now();
                for (let i = 0; i <= steps; i++) {
                    s.scrollTop = (s.scrollHeight - s.clientHeight) * ((i * 37) % steps) / steps;
                    await frame();
                }
                return (performance.now() - t0) / steps;
            }""",
            SCROLL_STEPS,
        )
        rows = page.locator('[data-testid="nf-log-line"]').count()
        page.close()
    return {"download": download, "load": load, "step_ms": step_ms, "rows": rows}


def measure_flow(browser: Browser, processes: int) -> dict:
    with (
        tempfile.TemporaryDirectory() as tmp,
        lab({"command": [PYTHON, PRODUCER, "0"]}, tmp) as server,
    ):
        with httpx.Client(base_url=server.api_url, headers=server.headers, timeout=120) as client:
            project = client.get("projects").json()["items"][0]["id"]
            upload = client.post(
                "dataset", params={"project": project, "name": "input.bin"}, content=b"0" * 64
            ).json()
            ids = []
            for n in range(processes):
                body = (
                    {"type": "fft", "parameters": {"signal": f"dataset:{upload['id']}"}}
                    if n % 2
                    else {"type": "sleep", "parameters": {"seconds": 0}}
                )
                ids.append(client.post("process", json={**body, "name": f"p{n}"}).json()["id"])
            wait_all(client, ids)
            listing = min(list_processes(client, project) for _ in range(2))
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        start = time.perf_counter()
        open_lab(page, server)
        page.wait_for_function(
            "n => document.querySelectorAll('.nf-ProcessRow').length === n",
            arg=processes,
            timeout=120_000,
        )
        panel = time.perf_counter() - start
        start = time.perf_counter()
        page.evaluate("() => window.jupyterapp.commands.execute('nagelfluh:open-flow')")
        page.wait_for_function(
            "n => document.querySelectorAll('[data-testid=nf-flow-node]').length === n",
            arg=processes,
            timeout=120_000,
        )
        draw = time.perf_counter() - start
        select_ms = click_select(page)
        wheel_ms = page.evaluate(
            """async steps => {
                const svg = document.querySelector('[data-testid=nf-flow]');
                const box = svg.getBoundingClientRect();
                const t0 = performance.now();
                for (let i = 0; i < steps; i++) {
                    svg.dispatchEvent(new WheelEvent('wheel', {
                        bubbles: true, cancelable: true, deltaY: i % 2 ? 120 : -120,
                        clientX: box.x + box.width / 2, clientY: box.y + box.height / 2}));
                    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
                }
                return (performance.now() - t0) / steps;
            }""",
            WHEEL_STEPS,
        )
        page.close()
    return {
        "listing": listing,
        "panel": panel,
        "draw": draw,
        "select_ms": select_ms,
        "wheel_ms": wheel_ms,
    }


def click_select(page: Page, clicks: int = 5) -> float:
    """Milliseconds from a real mouse click on a node in view until it shows selected."""
    ids = page.evaluate(
        """clicks => {
            const view = document.querySelector('[data-testid=nf-flow]').getBoundingClientRect();
            const inside = r => r.width > 0 && r.left >= view.left && r.right <= view.right
                && r.top >= view.top && r.bottom <= view.bottom;
            return [...document.querySelectorAll('[data-testid=nf-flow-node]')]
                .filter(node => inside(node.getBoundingClientRect()))
                .map(node => node.dataset.processId).slice(0, clicks);
        }""",
        clicks,
    )
    times = []
    for process in ids:
        node = page.locator(f'[data-testid="nf-flow-node"][data-process-id="{process}"]')
        start = time.perf_counter()
        node.click()
        page.wait_for_function(
            "n => n.getAttribute('aria-selected') === 'true'", arg=node.element_handle()
        )
        times.append((time.perf_counter() - start) * 1000)
    return sum(times) / len(times)


def report_log(browser: Browser, lines: int, targets: Targets) -> None:
    small, big = measure_log(browser, 1_000), measure_log(browser, lines)
    print(
        f"log view, {lines:,} lines: history {big['load']:.2f} s (REST download alone "
        f"{big['download']:.2f} s), scroll step {big['step_ms']:.1f} ms "
        f"(1,000 lines: {small['step_ms']:.1f} ms), {big['rows']} rows in the DOM"
    )
    targets.judge("log history / REST download", big["load"] / big["download"], 2.0, False, "x")
    targets.judge(
        "log scroll step, big / small", big["step_ms"] / small["step_ms"], 2.0, False, "x"
    )
    targets.require("log view keeps < 200 rows in the DOM", big["rows"] < 200)


def report_flow(browser: Browser, processes: int, targets: Targets) -> None:
    small, big = measure_flow(browser, 20), measure_flow(browser, processes)
    print(
        f"side panel, {processes:,} processes: Lab open to all rows shown {big['panel']:.2f} s; "
        f"listing them over REST alone {big['listing']:.2f} s"
    )
    print(f"flow view, {processes:,} processes (20 in brackets):")
    for key, label, target in (
        ("draw", "drawn, s", 100.0),
        ("select_ms", "click to selected, ms", 3.0),
        ("wheel_ms", "wheel-zoom step, ms", 3.0),
    ):
        print(f"  {label:<36} {big[key]:10.2f}   ({small[key]:.2f})")
        targets.judge(
            f"flow {label.split(',')[0]}, big / small", big[key] / small[key], target, False, "x"
        )


def main() -> int:
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--processes", type=int, default=2_000)
    parser.add_argument("--views", default="log,flow", help="log, flow or log,flow")
    args = parser.parse_args()
    views = set(args.views.split(","))
    targets = Targets()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        if "log" in views:
            report_log(browser, args.lines, targets)
        if "flow" in views:
            report_flow(browser, args.processes, targets)
        browser.close()
    return targets.exit_code(args.check)


if __name__ == "__main__":
    sys.exit(main())
