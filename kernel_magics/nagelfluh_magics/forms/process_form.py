"""ProcessForm: a process type's parameters, resources, live cost estimate and Submit.

Resources and the run's name are a second SchemaForm, so their errors land on
their fields exactly like the parameters': a 400 names ``/parameters/depth``
or ``/resources/memory`` and each goes to the form that owns it.
"""

from __future__ import annotations

import html
import threading
from typing import Any

import ipywidgets as widgets

from ..provenance import version_ref
from .schema_widgets import SchemaForm
from .status import StatusWidget

# The server's Resources schema (DESIGN §5): both are Kubernetes quantities (500m, 1e3,
# +1Gi), as the server's OpenAPI document states (tests/magics check they agree).
QUANTITY_PATTERN = r"^\+?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[KMGTPE]i|[numkMGTPE])?$"
MAX_DEADLINE = 30 * 24 * 3600
ERROR_COLOR = "#c62828"
OK_COLOR = "#2e7d32"


def settings_schema(title: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """Schema of a run's name and resources; ``defaults`` are the server's resources."""
    resources: dict[str, Any] = {
        "cpu": {
            "type": "string",
            "title": "CPU",
            "description": "Cores: a number such as 0.5, or millicores such as 500m.",
            "pattern": QUANTITY_PATTERN,
        },
        "memory": {
            "type": "string",
            "title": "Memory",
            "description": "A quantity such as 512Mi or 2Gi.",
            "pattern": QUANTITY_PATTERN,
        },
        "deadline_seconds": {
            "type": "number",
            "title": "Deadline (s)",
            "description": "Wall-clock limit of the run, in seconds: past it, the run fails.",
            "exclusiveMinimum": 0,
            "maximum": MAX_DEADLINE,
        },
    }
    for name, value in defaults.items():
        if name in resources and value is not None:
            resources[name]["default"] = (
                value if name == "deadline_seconds" else format_quantity(value)
            )
    return {
        "type": "object",
        "properties": {
            "name": {
                "type": "string",
                "title": "Name",
                "description": "Name of the process in the project.",
                "minLength": 1,
                "maxLength": 255,
                "default": title,
            },
            "resources": {
                "type": "object",
                "title": "Resources",
                "properties": resources,
                "additionalProperties": False,
            },
        },
        "required": ["resources"],
    }


def format_quantity(value: Any) -> str:
    """A number or quantity as the text a user would type (``1``, ``0.5``, ``500m``)."""
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)


def parse_resources(values: dict[str, Any]) -> dict[str, Any]:
    """The API's resources from the fields: CPU a number of cores unless given in millicores."""
    parsed: dict[str, Any] = {}
    if "cpu" in values:
        cpu = values["cpu"].strip()
        parsed["cpu"] = cpu if cpu.endswith("m") else _number(float(cpu))
    if "memory" in values:
        parsed["memory"] = values["memory"].strip()
    if "deadline_seconds" in values:
        parsed["deadline_seconds"] = _number(values["deadline_seconds"])
    return parsed


def _error_text(error: Exception) -> str:
    message = getattr(error, "message", None)
    return str(message) if message else f"{type(error).__name__}: {error}"


def _cache_checkbox(process_type: dict[str, Any]) -> widgets.Checkbox:
    """Whether identical work done before may answer this submission. A type that opted
    out of the cache (its results are not a function of its parameters) always runs,
    so its box is unticked and cannot be ticked."""
    cacheable = bool(process_type.get("cacheable", True))
    return widgets.Checkbox(
        value=cacheable,
        disabled=not cacheable,
        description="Use cached results",
        indent=False,
        tooltip=(
            "Identical work that completed before completes this at once, at no cost"
            if cacheable
            else "This type's results are never cached: it always runs"
        ),
    )


class ProcessForm(widgets.VBox):  # type: ignore[misc]  # ipywidgets has no types
    """Parameters of one process type, its resources and cost, and a Submit button.

    ``client`` is duck-typed: ``process_type(name)``, ``datasets(project=)`` (a
    list, or a page ``{"items": [...]}``), ``estimate(resources)``,
    ``submit(type_name, parameters, name=, resources=, project=, cache=)``, plus what
    StatusWidget uses. Server errors are exceptions with ``.message`` and
    ``.details`` (``[{"path", "message"}]`` for a 400). ``parameters`` prefills
    the form (e.g. from an earlier version); estimates wait ``estimate_delay``
    seconds after the last resource edit, so typing "500m" asks once.
    """

    def __init__(
        self,
        client: Any,
        type_name: str,
        project: int | None = None,
        *,
        parameters: dict[str, Any] | None = None,
        estimate_delay: float = 0.3,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.client = client
        self.type_name = type_name
        self.project = project
        self.estimate_delay = estimate_delay
        self.process: dict[str, Any] | None = None
        self.message = widgets.HTML()
        self.process_type = client.process_type(type_name)
        title = self.process_type.get("title") or type_name
        self.form = SchemaForm(
            self.process_type["schema"], parameters, datasets_provider=self._datasets
        )
        self.cost = widgets.HTML()
        self._estimate_lock = threading.Lock()
        self._estimate_seq = 0
        self._timer: threading.Timer | None = None
        defaults = self._estimate({}, 0)
        self.settings = SchemaForm(settings_schema(title, defaults))
        self.settings.observe_edits(self._settings_edited)
        self.submit_button = widgets.Button(
            description="Submit", icon="play", button_style="primary"
        )
        self.submit_button.on_click(lambda button: self.submit())
        self.use_cache = _cache_checkbox(self.process_type)
        self.statuses = widgets.VBox()
        header = widgets.HTML(
            f"<h3 style='margin:.2em 0'>{html.escape(title)}</h3>"
            f"<p style='color:#555'>{html.escape(self.process_type.get('description') or '')}</p>"
        )
        self.children = [
            header,
            self.form,
            self.settings,
            self.use_cache,
            widgets.HBox([self.submit_button, self.cost]),
            self.message,
            self.statuses,
        ]

    def _datasets(self) -> list[dict[str, Any]]:
        """The project's datasets, from a list or a page (``{"items": [...]}``)."""
        try:
            answer = self.client.datasets(project=self.project)
            return list(answer["items"] if isinstance(answer, dict) else answer)
        except Exception as error:  # the form stays usable; the picker is just empty
            self._say(f"could not list datasets: {_error_text(error)}")
            return []

    def resources(self) -> dict[str, Any]:
        """The resources as the API takes them; absent ones take the server's defaults."""
        return parse_resources((self.settings.value or {}).get("resources", {}))

    def _settings_edited(self, pointer: str) -> None:
        if pointer and not pointer.startswith("/resources"):
            return
        errors = self.settings.errors()
        self.settings.show_errors(errors)
        with self._estimate_lock:
            self._estimate_seq += 1
            seq = self._estimate_seq
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if any(e["path"].startswith("/resources") for e in errors):
            self.cost.value = "Estimated cost: fix the resources first"
            return
        resources = self.resources()
        if self.estimate_delay <= 0:
            self._estimate(resources, seq)
            return
        timer = threading.Timer(self.estimate_delay, self._estimate, (resources, seq))
        timer.daemon = True
        with self._estimate_lock:
            self._timer = timer
        timer.start()

    def _estimate(self, resources: dict[str, Any], seq: int) -> dict[str, Any]:
        """Ask for the cost of ``resources``; show it unless a newer edit superseded it.

        Returns the resources the server would use (its defaults applied), or
        ``{}`` when it could not answer: the error is shown, never raised.
        """
        try:
            answer = self.client.estimate(resources)
        except Exception as error:
            reason = html.escape(_error_text(error))
            text = f'<span style="color:{ERROR_COLOR}">no estimate: {reason}</span>'
            answer = {}
        else:
            estimated = float(answer.get("estimated") or 0.0)
            text = (
                f"Estimated cost: at most <b>{estimated:.4g}</b> credits"
                if estimated
                else "Estimated cost: <b>free</b>"
            )
        with self._estimate_lock:
            if seq == self._estimate_seq:
                self.cost.value = text
        return dict(answer.get("resources") or {})

    def submit(self) -> dict[str, Any] | None:
        """Validate, then submit; returns the new process, or None with the errors shown."""
        self._say("")
        errors = self.form.errors()
        setting_errors = self.settings.errors()
        self.form.show_errors(errors)
        self.settings.show_errors(setting_errors)
        if errors or setting_errors:
            count = len(errors) + len(setting_errors)
            self._say(f"{count} field{'s' * (count > 1)} to fix before submitting")
            return None
        name = (self.settings.value or {}).get("name") or None
        self.submit_button.disabled = True
        try:
            process = self.client.submit(
                self.type_name,
                self.form.value,
                name=name,
                resources=self.resources() or None,
                project=self.project,
                cache=self.use_cache.value or self.use_cache.disabled,  # disabled: uncacheable
            )
        except Exception as error:  # shown on the form: a button callback has nobody to raise to
            self._show_failure(error)
            return None
        finally:
            self.submit_button.disabled = False
        self.process = process
        version: dict[str, Any] = (
            process["versions"][-1] if process.get("versions") else {"version": 1}
        )
        status = StatusWidget(
            self.client, process["id"], version["version"], state=version.get("state")
        )
        self.statuses.children = (status, *self.statuses.children)
        cached = version.get("cached_from")
        hit = f", completed at once from the cache ({version_ref(cached)})" if cached else ""
        self._say(f"submitted: process {process['id']} v{version['version']}{hit}", OK_COLOR)
        return process

    def _show_failure(self, error: Exception) -> None:
        """A server error's field details go onto the fields, its message under Submit."""
        details = getattr(error, "details", None)
        if isinstance(details, list):
            fields = [d for d in details if isinstance(d, dict)]
            self.settings.show_errors(self.form.show_errors(fields, prefix="/parameters"))
        self._say(_error_text(error))

    def _say(self, text: str, color: str = ERROR_COLOR) -> None:
        self.message.value = (
            f'<span style="color:{color}">{html.escape(text)}</span>' if text else ""
        )
