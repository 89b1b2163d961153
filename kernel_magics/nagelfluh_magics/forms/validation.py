"""Validation of form values with jsonschema, errors addressed by JSON pointer.

Errors carry the pointer of the field a user has to fix: a missing required
property is reported at its own path (``/signal``), not at its parent object,
so the form can mark the empty dataset picker rather than the whole form. The
server's 400 answers use the same convention, so both land on the same widget.
"""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from nagelfluh_runner.pointer import located, tokens

DATASET_FORMAT = "nagelfluh-dataset"
DATASET_PREFIX = "dataset:"

FORMAT_CHECKER = FormatChecker()


@FORMAT_CHECKER.checks(DATASET_FORMAT)
def is_dataset_reference(value: object) -> bool:
    """``dataset:<id>``: what the server resolves; format only constrains strings."""
    return not isinstance(value, str) or re.fullmatch(rf"{DATASET_PREFIX}[0-9]+", value) is not None


def _message(error: Any) -> str:
    if error.validator == "format" and error.validator_value == DATASET_FORMAT:
        return f"{error.instance!r} is not a dataset reference ({DATASET_PREFIX}<id>)"
    return error.message


def validation_errors(schema: dict[str, Any], value: Any) -> list[dict[str, str]]:
    """``[{"path", "message"}]`` for everything wrong with ``value``, ordered by path."""
    validator = Draft202012Validator(schema, format_checker=FORMAT_CHECKER)
    found = [
        {"path": path, "message": _message(error)}
        for path, error in located(validator.iter_errors(value))
    ]
    return sorted(found, key=lambda error: tokens(error["path"]))
