"""ipywidgets forms: parameters from a process type's JSON Schema, submit, live status.

``ProcessForm(client, type_name)`` is what ``%nagel new TYPE`` shows;
``SchemaForm`` is the generic JSON Schema form it is built on.
"""

from .process_form import ProcessForm
from .schema_widgets import SchemaForm
from .status import StatusWidget
from .validation import validation_errors

__all__ = ["ProcessForm", "SchemaForm", "StatusWidget", "validation_errors"]
