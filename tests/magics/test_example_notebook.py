"""The example notebook Binder opens runs top to bottom against a real server, and
shows what it promises: logs, plots, a map, the inversion's fit, a form and an exact
re-run that reproduced its original."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tests.magics.conftest import clean_env

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "nagelfluh-tour.ipynb"
PLOTLY = "application/vnd.plotly.v1+json"
WIDGET = "application/vnd.jupyter.widget-view+json"


def _outputs(cell) -> list:
    return cell.get("outputs", [])


def _text(cell) -> str:
    return "".join(
        o.get("text", "") + "".join(o.get("data", {}).get("text/plain", "")) for o in _outputs(cell)
    )


def _figures(notebook) -> list[dict]:
    """Every Plotly figure the notebook showed, as a static figure or a FigureWidget model."""
    figures = []
    for cell in notebook.cells:
        for output in _outputs(cell):
            data = output.get("data", {})
            if PLOTLY in data:
                figures.append(data[PLOTLY])
    states = (
        notebook.metadata.get("widgets", {})
        .get("application/vnd.jupyter.widget-state+json", {})
        .get("state", {})
    )
    for model in states.values():
        state = model.get("state", {})  # a FigureWidget (an anywidget since Plotly 7)
        if "_widget_data" in state and "_widget_layout" in state:
            figures.append({"data": state["_widget_data"], "layout": state["_widget_layout"]})
    return figures


def test_tour_notebook_runs_and_shows_logs_plots_map_form_and_a_reproduced_rerun(server):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=180,
        resources={"metadata": {"path": ROOT}},
        store_widget_state=True,
    ).execute(env=clean_env(NAGELFLUH_URL=server.url, NAGELFLUH_TOKEN=server.token))
    errors = [o for c in notebook.cells for o in _outputs(c) if o.output_type == "error"]
    assert not errors, json.dumps(errors, default=str)[:3000]
    text = "\n".join(_text(c) for c in notebook.cells if c.cell_type == "code")
    assert "synthetic-survey" in text  # the types table
    assert "RMS misfit" in text  # the inversion's log, printed
    assert "density_contrast" in text  # the model, loaded with xarray
    assert "reproducibility: identical" in text  # the signal, re-run exactly
    figures = _figures(notebook)
    titles = json.dumps(figures)
    assert len(figures) >= 4, "signal, spectrum, map and fit"
    assert "Hz" in titles and "mGal" in titles
    widgets = [o for c in notebook.cells for o in _outputs(c) if WIDGET in o.get("data", {})]
    assert widgets, "the %nagel new form"


def test_binder_installs_runner_magics_and_extension_and_opens_the_tour():
    post_build = ROOT / "binder" / "postBuild"
    assert post_build.stat().st_mode & stat.S_IXUSR
    script = post_build.read_text()
    assert "-c constraints.txt ./runner" in script
    assert "./kernel_magics[data]" in script and " .\n" in script
    assert "examples/nagelfluh-tour.ipynb" in script and NOTEBOOK.exists()
    assert (ROOT / "binder" / "runtime.txt").read_text().strip().startswith("python-3.")
    assert os.path.exists(ROOT / "constraints.txt")
