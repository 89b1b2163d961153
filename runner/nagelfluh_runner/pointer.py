"""JSON pointers (RFC 6901), the one way every Python part of Nagelfluh writes and reads them.

Error answers, form fields and validation issues are all addressed by pointer, and a
field name may hold ``/`` or ``~``: escaping in one place keeps the server, the
runner and the kernel's forms agreeing on which field is meant. It also turns
jsonschema's errors into pointers: jsonschema reports a missing required property
at its parent object, where a form has no field to mark, so :func:`located` puts it
at the property's own pointer, read from the schema and the instance rather than
from jsonschema's English message.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Any


def escape(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def join(pointer: str, *tokens: str | int) -> str:
    """``pointer`` extended by ``tokens``, each escaped: ``join("/a", "b/c") == "/a/b~1c"``."""
    return pointer + "".join(f"/{escape(token)}" for token in tokens)


def tokens(pointer: str) -> list[str]:
    """The unescaped reference tokens of a JSON pointer (``""`` is the whole document)."""
    if not pointer:
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"not a JSON pointer: {pointer!r}")
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def located(errors: Iterable[Any]) -> Iterator[tuple[str, Any]]:
    """``(pointer, error)`` for jsonschema ``ValidationError``s, a ``required`` error at
    the missing property's pointer.

    jsonschema raises one ``required`` error per missing property, in the order the
    schema lists them, all at the parent: they are matched to the missing names in
    that order.
    """
    pending: dict[str, list[str]] = {}
    for error in errors:
        pointer = join("", *error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            key = f"{pointer}#{id(error.schema)}"
            if key not in pending:
                pending[key] = [n for n in error.validator_value if n not in error.instance]
            if pending[key]:
                pointer = join(pointer, pending[key].pop(0))
        yield pointer, error
