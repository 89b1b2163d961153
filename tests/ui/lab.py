"""Page objects for JupyterLab with the Nagelfluh extension (the galata idea in
Python): each method is one thing a user does or sees, so tests read as stories."""

from __future__ import annotations

import base64
import mimetypes
import re
import time
from pathlib import Path
from typing import Any

import requests
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.servers import Server


class LabPage:
    def __init__(self, page: Page, server: Server, screenshots: Path) -> None:
        self.page = page
        self.server = server
        self.screenshots = screenshots

    # --- the Lab itself -------------------------------------------------------------

    def open(self, workspace: str = "default", query: str = "") -> None:
        name = re.sub(r"[^A-Za-z0-9-]", "-", workspace)[:60]
        url = f"{self.server.url}lab/workspaces/{name}?reset&token={self.server.token}{query}"
        self.page.goto(url)
        self.wait_ready()

    def wait_ready(self) -> None:
        self.page.locator("#jp-main-dock-panel").wait_for()
        self.page.locator("#jupyterlab-splash").wait_for(state="detached")
        self.page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands")
        self.page.wait_for_function(
            "() => window.jupyterapp.commands.hasCommand('nagelfluh:open-panel')"
        )
        # the layout restored (the launcher opened, focus settled): a key pressed before
        # may go to a widget about to be replaced
        self.page.evaluate("() => window.jupyterapp.restored.then(() => true)")

    def command(self, command: str, args: dict | None = None) -> None:
        """Run a command as the palette or a shortcut would."""
        self.page.evaluate(
            "([id, args]) => window.jupyterapp.commands.execute(id, args)", [command, args or {}]
        )

    def palette_items(self, text: str) -> list[str]:
        """What the command palette lists for ``text``, opened with Ctrl+Shift+C and typed
        in as a user does; again if it closed before it showed its items: the palette
        closes when it loses the focus, and a Lab still settling (a loaded machine) may
        take the focus from it (CI saw it close after the search was typed) or miss the
        key. The items are read while the palette shows them."""
        palette = self.page.locator("#command-palette")
        items = palette.locator(".lm-CommandPalette-item")
        for _ in range(5):
            self.page.keyboard.press("Control+Shift+C")
            try:
                palette.locator("input").fill(text, timeout=5000)
                expect(items.first).to_be_visible(timeout=5000)
            except (PlaywrightTimeoutError, AssertionError):
                continue
            return items.all_text_contents()
        raise AssertionError(f"Ctrl+Shift+C did not open the command palette listing {text!r}")

    def set_theme(self, dark: bool) -> None:
        theme = "JupyterLab Dark" if dark else "JupyterLab Light"
        self.command("apputils:change-theme", {"theme": theme})
        self.page.wait_for_function(
            "light => document.body.dataset.jpThemeLight === light", arg=str(not dark).lower()
        )

    def screenshot(self, name: str, keep: bool = True, locator: Locator | None = None) -> Path:
        target = self.screenshots if keep else self.screenshots.parents[1] / "test-artifacts"
        target.mkdir(parents=True, exist_ok=True)
        path = target / f"{name}.png"
        if keep:  # the README's pictures show the views, not passing notifications
            self.page.add_style_tag(content=".Toastify { display: none !important; }")
        self.page.wait_for_timeout(300)
        (locator or self.page).screenshot(path=str(path))
        return path

    def tab(self, label: str) -> Locator:
        return self.page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=label)

    # --- the side panel ---------------------------------------------------------------

    @property
    def panel(self) -> Locator:
        return self.page.locator("#nagelfluh-side-panel")

    def open_panel(self) -> Locator:
        if not self.panel.is_visible():
            self.page.locator('.jp-SideBar [data-id="nagelfluh-side-panel"]').click()
        expect(self.panel).to_be_visible()
        return self.panel

    def panel_button(self, label: str) -> Locator:
        return self.panel.get_by_role("button", name=label, exact=True)

    def process_row(self, name: str) -> Locator:
        return self.panel.locator(".nf-ProcessRow", has_text=name).first

    def wait_row_state(self, name: str, *states: str, timeout: float = 60_000) -> str:
        row = self.process_row(name)
        pattern = "|".join(states)
        expect(row).to_have_attribute("data-state", re.compile(f"^({pattern})$"), timeout=timeout)
        return row.get_attribute("data-state") or ""

    # --- uploads -----------------------------------------------------------------------

    def upload_with_picker(self, *files: Path) -> None:
        """Press the panel's Upload button and pick files in the browser's file chooser."""
        self.open_panel()
        with self.page.expect_file_chooser() as chooser:
            self.panel_button("Upload").click()
        chooser.value.set_files([str(path) for path in files])

    def upload_folder_with_picker(self, folder: Path) -> None:
        """Press the panel's Folder button and choose a folder (a Zarr store's) in the
        browser's folder chooser, which hands the page every file below it."""
        self.open_panel()
        with self.page.expect_file_chooser() as chooser:
            self.panel_button("Folder").click()
        chooser.value.set_files(str(folder))

    def drop_on_panel(self, *files: Path) -> None:
        """Drop files from the desktop on the panel: the drag events a browser fires,
        carrying the files in a DataTransfer (Playwright cannot drag from outside)."""
        self.open_panel()
        payload = [
            {
                "name": path.name,
                "type": mimetypes.guess_type(path.name)[0] or "",
                "base64": base64.b64encode(path.read_bytes()).decode(),
            }
            for path in files
        ]
        self.panel.locator(".nf-SidePanel-body").evaluate(
            """(target, files) => {
                const transfer = new DataTransfer();
                for (const file of files) {
                    const bytes = Uint8Array.from(atob(file.base64), c => c.charCodeAt(0));
                    transfer.items.add(new File([bytes], file.name, { type: file.type }));
                }
                const init = { bubbles: true, cancelable: true, dataTransfer: transfer };
                for (const type of ['dragenter', 'dragover', 'drop']) {
                    target.dispatchEvent(new DragEvent(type, init));
                }
            }""",
            payload,
        )

    def upload_row(self, name: str) -> Locator:
        """An uploaded dataset as the panel lists it."""
        return self.panel.locator(".nf-UploadRow", has_text=name)

    def transfer_row(self, name: str) -> Locator:
        """An upload under way, or one that failed (with why), as the panel lists it."""
        return self.panel.get_by_test_id("nf-transfer").filter(has_text=name)

    def datasets(self) -> list[dict]:
        """The default project's datasets, newest first."""
        return self.api("GET", "dataset", params={"project": self.project()})["items"]

    def dataset_bytes(self, dataset: int) -> bytes:
        response = requests.get(
            f"{self.server.api_url}dataset/{dataset}", headers=self.server.headers, timeout=30
        )
        response.raise_for_status()
        return response.content

    def file_context_menu(self, *names: str) -> Locator:
        """Select files in Lab's file browser and right-click them; the open menu."""
        self.command("filebrowser:activate")
        self.command("filebrowser:refresh")
        items = [self.page.locator(".jp-DirListing-item", has_text=name) for name in names]
        selected = self.page.locator(".jp-DirListing-item.jp-mod-selected")
        for _ in range(3):  # the listing may refresh under the mouse and take a click elsewhere
            items[0].click()
            for item in items[1:]:
                item.click(modifiers=["ControlOrMeta"])
            try:
                expect(selected).to_have_count(len(items), timeout=2000)
                for item in items:
                    expect(item).to_have_class(re.compile(r"\bjp-mod-selected\b"), timeout=500)
                break
            except AssertionError:
                continue
        else:
            raise AssertionError(f"could not select {names} in the file browser")
        items[-1].click(button="right")
        expect(selected).to_have_count(len(items))
        menu = self.page.locator(".lm-Menu")
        expect(menu).to_be_visible()
        return menu

    def register_notebook_dialog(self, name: str) -> Locator:
        """Right-click a notebook in the file browser and choose "Register as Nagelfluh
        process type"; the dialog that asks for project, name and environment."""
        menu = self.file_context_menu(name)
        menu.get_by_text("Register as Nagelfluh process type", exact=True).click()
        dialog = self.page.locator(".jp-Dialog")
        expect(dialog.get_by_test_id("nf-register")).to_be_visible()
        return dialog

    def toast(self, text: str) -> Locator:
        return self.page.locator(".Toastify__toast", has_text=text)

    # --- the REST API, for setting the scene -----------------------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(
            method,
            f"{self.server.url}nagelfluh/api/{path}",
            headers=self.server.headers,
            timeout=30,
            **kwargs,
        )
        response.raise_for_status()
        return response.json()

    def project(self) -> int:
        return self.api("GET", "projects")["items"][0]["id"]

    def processes(self) -> list[dict]:
        """The default project's processes, newest first."""
        return self.api("GET", "process", params={"project": self.project()})["items"]

    def submit(self, type_name: str, name: str, parameters: dict, **resources: Any) -> dict:
        body = {
            "project": self.project(),
            "type": type_name,
            "name": name,
            "parameters": parameters,
            "resources": {"cpu": 1, "memory": "512Mi", "deadline_seconds": 600, **resources},
        }
        return self.api("POST", "process", json=body)

    def wait_version(self, process: int, version: int = 1, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while (info := self.api("GET", f"process/{process}/versions/{version}"))["state"] not in (
            "completed",
            "failed",
        ):
            assert time.monotonic() < deadline, f"{process}/{version} still {info['state']}"
            time.sleep(0.1)
        return info


class Editor:
    """The process editor view: the create form and the versions of the active process."""

    def __init__(self, lab: LabPage) -> None:
        self.lab = lab
        self.root = lab.page.get_by_test_id("nf-editor")

    def by_id(self, test_id: str) -> Locator:
        return self.root.get_by_test_id(test_id)

    def new(self, type_name: str, name: str) -> Editor:
        """Open the create form for a type, as the panel's "New process" button does."""
        self.lab.open_panel()
        self.lab.panel_button("New process").click()
        expect(self.root).to_have_attribute("data-mode", "create")
        self.by_id("nf-editor-type").select_option(type_name)
        self.by_id("nf-editor-name").fill(name)
        return self

    def field(self, pointer: str) -> Locator:
        """An rjsf input by JSON pointer (/a/0/b is #root_a_0_b)."""
        return self.root.locator("#root" + pointer.replace("/", "_"))

    def submit(self) -> None:
        self.by_id("nf-editor-submit").click()

    def version_row(self, number: int) -> Locator:
        return self.root.locator(f'[data-testid="nf-version-row"][data-version="{number}"]')

    def wait_version(self, number: int, *badges: str, timeout: float = 60_000) -> None:
        pattern = "|".join(badges)
        expect(self.version_row(number)).to_have_attribute(
            "data-badge", re.compile(f"^({pattern})$"), timeout=timeout
        )

    # --- provenance, the cache and exact re-runs ----------------------------------------

    @property
    def cache_box(self) -> Locator:
        """The form's "Use cached results" checkbox (create and new-version forms alike)."""
        return self.by_id("nf-editor-cache")

    @property
    def cache_hint(self) -> Locator:
        """What the form says the cache does for the chosen type, or why it cannot."""
        return self.root.locator(".nf-CacheField .nf-Hint")

    def open_versions(self, name: str) -> Editor:
        """Select a process in the side panel and open its versions."""
        self.lab.open_panel()
        self.lab.process_row(name).click()
        self.lab.panel_button("Versions").click()
        expect(self.root).to_have_attribute("data-mode", "edit")
        return self

    def run_new_version(self) -> None:
        self.by_id("nf-version-run").click()

    def row_button(self, test_id: str, number: int) -> Locator:
        return self.root.locator(f'[data-testid="{test_id}"][data-version="{number}"]')

    def rerun_exactly(self, number: int) -> None:
        self.row_button("nf-version-rerun", number).click()

    def provenance(self, number: int) -> Locator:
        """Open a version's provenance details; the details."""
        toggle = self.row_button("nf-version-details", number)
        if toggle.get_attribute("aria-expanded") != "true":
            toggle.click()
        details = self.root.locator(f'[data-testid="nf-provenance"][data-version="{number}"]')
        expect(details).to_be_visible()
        return details

    def cached_from(self, number: int) -> Locator:
        """The cache-hit badge of a version's row (its link to the version it reused)."""
        return self.version_row(number).get_by_test_id("nf-cached-from")

    def reproducibility(self, number: int) -> Locator:
        """An exact re-run's comparison with its original, as its row shows it."""
        return self.version_row(number).get_by_test_id("nf-reproducibility")

    # --- outputs -------------------------------------------------------------------------

    def outputs(self, number: int) -> Locator:
        """The output rows of a version, as the Versions view lists them for the chosen one."""
        return self.root.locator(
            f'[data-testid="nf-version-outputs"][data-version="{number}"] .nf-OutputRow'
        )

    def open_in_lab(self, dataset_name: str) -> None:
        """Press "Open in Lab" on an executed notebook among the chosen version's outputs."""
        row = self.root.locator(".nf-OutputRow", has_text=dataset_name)
        row.get_by_test_id("nf-open-in-lab").click()
