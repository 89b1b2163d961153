"""ProcessForm against a fake client: what is asked of the server, and when."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from nagelfluh_magics.forms import ProcessForm, StatusWidget
from nagelfluh_magics.forms.process_form import QUANTITY_PATTERN

FFT: dict[str, Any] = {
    "name": "fft",
    "title": "Amplitude spectrum (FFT)",
    "description": "Fourier amplitude spectrum of a 1-D signal.",
    "environment": "bootstrap",
    "schema": {
        "type": "object",
        "properties": {
            "signal": {
                "type": "string",
                "format": "nagelfluh-dataset",
                "pattern": "^dataset:.+",
                "title": "Signal",
            },
            "window": {"type": "string", "enum": ["none", "hann"], "default": "hann"},
            "detrend": {"type": "boolean", "default": True},
        },
        "required": ["signal"],
        "additionalProperties": False,
    },
}


@pytest.fixture
def client(fake_client) -> Any:
    return fake_client([FFT])


def resource(form: ProcessForm, name: str) -> Any:
    return form.settings.field(f"/resources/{name}")


def test_form_shows_the_type_and_the_server_default_resources_with_their_cost(client):
    form = ProcessForm(client, "fft", project=2)
    assert "Amplitude spectrum (FFT)" in form.children[0].value
    assert client.called("process_type") == [("fft",)]
    assert client.called("datasets") == [(2,)]
    assert client.called("estimate") == [({},)]
    assert [resource(form, n).control.value for n in ("cpu", "memory", "deadline_seconds")] == [
        "1",
        "1Gi",
        3600.0,
    ]
    assert "0.5" in form.cost.value
    assert form.settings.field("/name").control.value == "Amplitude spectrum (FFT)"


def test_submit_with_invalid_fields_sends_nothing_and_marks_them(client):
    form = ProcessForm(client, "fft", estimate_delay=0)
    resource(form, "memory").control.value = "lots"
    assert form.submit() is None
    assert client.called("submit") == []
    assert form.form.field("/signal").messages == ["'signal' is a required property"]
    assert resource(form, "memory").messages and "lots" in resource(form, "memory").messages[0]
    assert "2 fields to fix" in form.message.value


def test_a_server_validation_error_lands_on_the_fields_it_names(client, server_error):
    client.fail["submit"] = server_error(
        400,
        "parameters do not match the schema",
        [
            {"path": "/parameters/signal", "message": "dataset 3 is not in project 1"},
            {"path": "/resources/memory", "message": "at least 16Mi"},
        ],
    )
    form = ProcessForm(client, "fft", estimate_delay=0)
    form.form.field("/signal").control.value = "dataset:3"
    form.submit_button.click()
    assert len(client.called("submit")) == 1
    assert form.form.field("/signal").messages == ["dataset 3 is not in project 1"]
    assert "dataset 3 is not in project 1" in form.form.field("/signal").error.value
    assert resource(form, "memory").messages == ["at least 16Mi"]
    assert "parameters do not match the schema" in form.message.value
    assert form.statuses.children == ()
    assert not form.submit_button.disabled


def test_errors_without_field_details_are_shown_under_submit(client, server_error):
    client.fail["submit"] = server_error(402, "balance 0.1 cannot cover 0.5", {"balance": 0.1})
    form = ProcessForm(client, "fft", parameters={"signal": "dataset:3"})
    assert form.submit() is None
    assert "balance 0.1 cannot cover 0.5" in form.message.value


def test_resource_edits_ask_for_an_estimate_with_parsed_values(client):
    form = ProcessForm(client, "fft", estimate_delay=0)
    resource(form, "cpu").control.value = "500m"
    resource(form, "cpu").control.value = "0.5"
    resource(form, "memory").control.value = "512Mi"
    resource(form, "deadline_seconds").control.value = 600.0
    assert client.called("estimate")[1:] == [
        ({"cpu": "500m", "memory": "1Gi", "deadline_seconds": 3600},),
        ({"cpu": 0.5, "memory": "1Gi", "deadline_seconds": 3600},),
        ({"cpu": 0.5, "memory": "512Mi", "deadline_seconds": 3600},),
        ({"cpu": 0.5, "memory": "512Mi", "deadline_seconds": 600},),
    ]
    assert "0.04167" in form.cost.value  # 0.5 cores x 1/6 h x 0.5 per core-hour
    form.settings.field("/name").control.value = "renamed"
    assert len(client.called("estimate")) == 5  # the name costs nothing


def test_an_invalid_resource_is_flagged_at_once_and_not_estimated(client):
    form = ProcessForm(client, "fft", estimate_delay=0)
    resource(form, "cpu").control.value = "two"
    assert len(client.called("estimate")) == 1
    assert resource(form, "cpu").messages
    assert "fix the resources" in form.cost.value
    resource(form, "cpu").control.value = "2"
    assert client.called("estimate")[-1] == ({"cpu": 2, "memory": "1Gi", "deadline_seconds": 3600},)
    assert resource(form, "cpu").messages == []


def test_a_failing_estimate_is_shown_as_text(client, server_error):
    form = ProcessForm(client, "fft", estimate_delay=0)
    client.fail["estimate"] = server_error(400, "cpu: at most 1024 cores", [])
    resource(form, "cpu").control.value = "4096"
    assert "no estimate: cpu: at most 1024 cores" in form.cost.value


def test_estimates_wait_for_typing_to_pause(client):
    form = ProcessForm(client, "fft", estimate_delay=0.1)
    for text in ("2", "25", "250", "250m"):
        resource(form, "cpu").control.value = text
    deadline = time.monotonic() + 5
    while len(client.called("estimate")) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.2)
    assert client.called("estimate")[1:] == [
        ({"cpu": "250m", "memory": "1Gi", "deadline_seconds": 3600},)
    ]


def test_a_successful_submit_shows_a_live_status_of_the_new_version(client):
    form = ProcessForm(client, "fft", project=2, estimate_delay=0)
    form.form.field("/signal").control.value = "dataset:7"
    resource(form, "cpu").control.value = "250m"
    process = form.submit()
    assert client.called("submit") == [
        (
            "fft",
            {"signal": "dataset:7", "window": "hann", "detrend": True},
            "Amplitude spectrum (FFT)",
            {"cpu": "250m", "memory": "1Gi", "deadline_seconds": 3600},
            2,
            True,
        )
    ]
    (status,) = form.statuses.children
    assert isinstance(status, StatusWidget)
    assert (status.process_id, status.version) == (process["id"], 1)
    assert not status.cancel_button.disabled  # queued, as the submit answered
    client.push({"type": "state", "state": "completed", "reason": None})
    assert status.join(timeout=5)
    assert status.state == "completed"
    assert f"process {process['id']} v1" in form.message.value


def test_an_unreachable_dataset_list_leaves_the_form_usable(client):
    client.fail["datasets"] = ConnectionError("connection refused")
    form = ProcessForm(client, "fft")
    assert "could not list datasets" in form.message.value
    assert [value for _, value in form.form.field("/signal").control.options] == [""]


def test_datasets_may_come_as_a_page_of_the_api(client):
    client.datasets = lambda project=None: {"items": client.dataset_items, "next": None}
    form = ProcessForm(client, "fft")
    options = [value for _, value in form.form.field("/signal").control.options]
    assert options == ["", "dataset:3", "dataset:7"]


def test_the_forms_resource_pattern_is_the_quantity_grammar_the_server_documents():
    """The form refuses in the notebook only what the server would refuse: `1e3` and
    `+1Gi` are quantities to both."""
    document = json.loads((Path(__file__).parents[3] / "nagelfluh_lab/openapi.json").read_text())
    resources = document["components"]["schemas"]["Resources"]["properties"]
    for field in ("cpu", "memory"):
        [text] = [s for s in resources[field]["anyOf"] if s["type"] == "string"]
        assert text["pattern"] == QUANTITY_PATTERN, field
    for good in ("1e3", "+1Gi", "500m", "1."):
        assert re.match(QUANTITY_PATTERN, good), good
