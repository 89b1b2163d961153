"""A notebook as a process type, the way a notebook user meets it: right-click the
notebook in the file browser, register it, find it in the type picker with the form
its parameters cell makes, run it, watch its cells in the live log, and open the
executed notebook, outputs and all, in the Lab. A parameters cell that does not parse
is refused naming its line. A type the project no longer wants is retired from the
form, once the user confirms, and leaves the picker."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from playwright.sync_api import expect

from tests.ui.lab import Editor, LabPage

PARAMETERS = '''"""A damped oscillation, sampled and written as a CSV table."""
frequency: float = 2.0  # Frequency: oscillations per second, in Hz; range: 0.1..20
damping = 0.5  # Damping: decay rate per second; range: 0..5
samples: int = 200  # Samples: how many points to compute; range: 10..5000
'''

COMPUTE = """import math, pathlib
step = 0.01
rows = [
    (i * step, math.exp(-damping * i * step) * math.sin(2 * math.pi * frequency * i * step))
    for i in range(samples)
]
print(f"computed {samples} samples at {frequency} Hz")
written = pathlib.Path(nagelfluh_output_dir, "oscillation.csv").write_text(
    "time [s],amplitude [mm]\\n" + "".join(f"{t},{a}\\n" for t, a in rows)
)
"""

SUMMARY = """peak = max(abs(a) for _, a in rows)
print(f"peak amplitude {peak:.3f} mm")
"""


def write_notebook(folder: Path, stem: str, parameters: str = PARAMETERS) -> Path:
    """A notebook with a heading, a cell tagged `parameters` and two cells using them,
    under a unique name (the suite's Lab keeps its types)."""
    cell = new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    notebook = new_notebook(
        cells=[
            new_markdown_cell("# Damped oscillation"),
            cell,
            new_code_cell(COMPUTE),
            new_code_cell(SUMMARY),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    path = folder / f"{stem}-{uuid.uuid4().hex[:6]}.ipynb"
    path.write_text(nbformat.writes(notebook))
    return path


def project_types(page: LabPage) -> dict[str, dict]:
    listed = page.api("GET", "process-types", params={"project": page.project()})
    return {t["name"]: t for t in listed["items"]}


def split_log_beside_editor(page: LabPage) -> None:
    """Put the log view to the right of the editor, as a user drags its tab."""
    page.page.evaluate(
        """() => {
            const app = window.jupyterapp;
            const views = Array.from(app.shell.widgets('main'));
            const holding = id => views.find(w => w.node.querySelector(`[data-testid="${id}"]`));
            const editor = holding('nf-editor');
            app.shell.add(holding('nf-log'), 'main', { mode: 'split-right', ref: editor.id });
        }"""
    )


def test_a_notebook_registered_from_the_file_browser_runs_from_its_form_and_opens_executed(
    page: LabPage,
):
    notebook = write_notebook(page.server.root, "damped")
    name = notebook.stem  # the dialog proposes the file's stem
    page.open_panel()
    dialog = page.register_notebook_dialog(notebook.name)
    expect(dialog.get_by_test_id("nf-register-name")).to_have_value(name)
    expect(dialog.get_by_test_id("nf-register-project")).to_have_value(str(page.project()))
    expect(dialog.get_by_test_id("nf-register-environment")).to_have_value("bootstrap")
    page.screenshot("notebook-register")
    dialog.get_by_role("button", name="Register").click()
    # attached, not visible: the screenshot hides notifications for the rest of the page's life
    expect(page.toast(f"Registered process type {name} (revision 1)")).to_be_attached()
    registered = project_types(page)[name]
    assert (registered["kind"], registered["revision"]) == ("notebook", 1)
    assert registered["source"]["path"] == notebook.name

    editor = Editor(page).new(name, f"oscillation-{name[-6:]}")
    option = editor.by_id("nf-editor-type").locator("option:checked")
    expect(option).to_have_text("Damped oscillation (notebook · rev 1)")
    expect(editor.by_id("nf-type-source")).to_have_text(
        f"Notebook type, from {notebook.name}, revision 1"
    )
    expect(editor.root.locator(".nf-TypeDescription")).to_have_text(
        "A damped oscillation, sampled and written as a CSV table."
    )
    expect(editor.field("/frequency")).to_have_value("2")
    form = editor.root.locator(".nf-ParametersForm")
    expect(form).to_contain_text("Frequency")
    expect(form).to_contain_text("oscillations per second, in Hz")
    editor.field("/frequency").fill("2.5")
    editor.field("/samples").fill("300")
    page.screenshot("notebook-form")

    editor.submit()
    editor.wait_version(1, "queued", "running", "completed")
    page.panel_button("Log").click()
    log = page.page.get_by_test_id("nf-log")
    status = log.get_by_test_id("nf-log-status")
    expect(status).to_have_attribute("data-connection", "open")
    process = page.processes()[0]
    ran = page.wait_version(process["id"], timeout=120)
    logs = page.api("GET", f"process/{process['id']}/versions/1/logs")["items"]
    lines_text = [line["line"] for line in logs]
    assert ran["state"] == "completed", (ran["message"], "\n".join(lines_text))
    expect(status).to_have_attribute("data-state", "completed")
    expect(status).to_have_attribute("data-lines", str(len(logs)))
    assert "computed 300 samples at 2.5 Hz" in lines_text, lines_text
    lines = log.get_by_test_id("nf-log-line")
    expect(lines.filter(has_text="computed 300 samples at 2.5 Hz")).to_have_count(1)
    expect(lines.filter(has_text=re.compile(r"\[cell \d+/\d+\]"))).not_to_have_count(0)

    page.panel_button("Versions").click()
    outputs = editor.outputs(1)
    expect(outputs.filter(has_text="oscillation.csv")).to_have_count(1)
    executed_name = f"{name}.executed.ipynb"
    executed = outputs.filter(has_text=executed_name)
    expect(executed).to_have_attribute("data-mime-type", "application/x-ipynb+json")
    expect(
        outputs.filter(has_text="oscillation.csv").get_by_test_id("nf-open-in-lab")
    ).to_have_count(0)
    details = editor.provenance(1)
    expect(details.locator('[data-fact="Process type"]')).to_contain_text("notebook · rev 1")
    editor.row_button("nf-version-details", 1).click()  # closed again for the picture
    split_log_beside_editor(page)
    page.screenshot("notebook-run")

    editor.open_in_lab(executed_name)
    saved = page.server.root / "nagelfluh-runs" / f"{process['name']}-v1" / executed_name
    tab = page.tab(executed_name)
    expect(tab).to_be_visible(timeout=30_000)
    notebook_panel = page.page.locator(".jp-NotebookPanel:visible")
    expect(
        notebook_panel.locator(".jp-OutputArea-output", has_text="peak amplitude")
    ).to_have_count(1)
    expect(
        notebook_panel.locator(".jp-OutputArea-output", has_text="computed 300 samples")
    ).to_have_count(1)
    # the Lab records the kernel it started in the metadata, as the run did: nothing changed
    page.page.evaluate(
        """async () => {
            const session = window.jupyterapp.shell.currentWidget.sessionContext;
            await session.ready;
            await Promise.all([session.session.kernel.info, session.session.kernel.spec]);
        }"""
    )
    page.page.wait_for_timeout(500)  # the metadata is set once those promises resolve
    expect(tab).not_to_have_class(re.compile(r"\bjp-mod-dirty\b"))
    cells = nbformat.read(saved, as_version=4).cells
    assert cells[0].source == "# Damped oscillation"
    assert any("peak amplitude" in output.get("text", "") for output in cells[-1].outputs)
    page.screenshot("notebook-executed")


def test_a_parameters_cell_that_does_not_parse_is_refused_naming_its_line(page: LabPage):
    notebook = write_notebook(
        page.server.root, "broken", parameters="frequency = 2.0\nsamples = = 200\n"
    )
    dialog = page.register_notebook_dialog(notebook.name)
    dialog.get_by_role("button", name="Register").click()
    error = page.page.locator(".jp-Dialog").get_by_test_id("nf-register-error")
    expect(error).to_contain_text("Notebook: its parameters cell: line 2")
    expect(error).to_contain_text("syntax")
    expect(page.page.locator(".jp-Dialog").get_by_test_id("nf-register-name")).to_have_value(
        notebook.stem
    )
    page.page.locator(".jp-Dialog").get_by_role("button", name="Cancel").click()
    expect(page.page.locator(".jp-Dialog")).to_have_count(0)
    assert notebook.stem not in project_types(page)


def test_a_project_type_retired_from_the_form_leaves_the_picker_once_confirmed(page: LabPage):
    notebook = write_notebook(page.server.root, "retiring")
    name = notebook.stem
    project = page.project()
    page.api("POST", "process-types", json={"project": project, "path": notebook.name})
    page.command("nagelfluh:refresh")  # registered behind the Lab's back: list it
    editor = Editor(page).new(name, f"retiring-{name[-6:]}")
    select = editor.by_id("nf-editor-type")
    retire = editor.by_id("nf-retire-type")
    expect(retire).to_have_accessible_name(f"Retire process type {name}")
    dialog = page.page.locator(".jp-Dialog")

    retire.click()
    expect(dialog).to_contain_text(f"Retire process type {name}?")
    expect(dialog).to_contain_text("Its processes, versions, logs and datasets stay")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(select).to_have_value(name)
    assert name in project_types(page)

    retire.click()
    dialog.get_by_role("button", name="Retire", exact=True).click()
    expect(dialog).to_have_count(0)
    expect(editor.by_id("nf-editor-message")).to_have_text(
        f"Retired {name}; register its notebook again to bring it back."
    )
    expect(select.locator(f'option[value="{name}"]')).to_have_count(0)
    expect(select).not_to_have_value(name)
    assert name not in project_types(page)
    kept = page.api("GET", f"process-types/{name}", params={"project": project})
    assert kept["retired"] is not None

    select.select_option("synthetic-signal")  # installed with its package: not the project's
    expect(retire).to_have_count(0)
