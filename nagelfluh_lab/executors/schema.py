"""Schema extraction: which process types an environment's image offers (DESIGN §2).

An extractor runs ``python -m nagelfluh_runner schema`` where the environment's
processes would run, and hands back what it printed; the environment service
parses, validates and stores it. It is kept apart from the executor, whose
interface is about runs: only executors that run images have an extractor.
"""

from __future__ import annotations

from typing import NamedTuple

from traitlets.config import LoggingConfigurable


class Extracted(NamedTuple):
    """What the command printed, and the image it ran pinned by digest (``name@sha256:...``),
    where the extractor can tell (a pod's status): the environment's digest in cache keys."""

    output: str
    image: str | None = None


class SchemaExtractionFailed(Exception):
    """The command could not be run, or failed; ``str()`` says why, for the user."""


class SchemaExtractor(LoggingConfigurable):
    """Runs the runner's ``schema`` command in an image."""

    async def start(self) -> None:
        """Connect. Called once when the server starts, before any ``extract``."""

    async def stop(self) -> None:
        """Disconnect. Extractions still under way are cancelled first by their callers."""

    async def extract(self, environment: str, image: str, attempt: int) -> Extracted:
        """The standard output of ``python -m nagelfluh_runner schema`` in ``image``.

        ``attempt`` numbers the registrations of ``environment``: called again with
        the same attempt (after a server restart), it takes up the work it left.
        Raises :class:`SchemaExtractionFailed`.
        """
        raise NotImplementedError
