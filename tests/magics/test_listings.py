"""What the kernel's listings say, checked without a server: the words for a
version's state, and the process types that failed to load."""

from __future__ import annotations

from typing import Any

import pytest
from nagelfluh_magics import Client
from nagelfluh_magics.live import TextProgress
from nagelfluh_magics.magics import NagelMagics
from nagelfluh_magics.states import state_text

FFT_BROKEN = {
    "name": "fft",
    "entry_point": "fft = nagelfluh_runner.bootstrap.fft:FFT",
    "environment": "local",
    "error": "ImportError: No module named 'numpy'",
}
SLEEP = {"name": "sleep", "title": "Sleep", "environment": "local", "description": "Waits."}


class ListingClient(Client):
    """A client whose server answers ``GET process-types`` with ``listing``."""

    def __init__(self, listing: dict[str, Any]) -> None:
        super().__init__("http://nowhere.invalid/", "")
        self.listing = listing

    def _get(self, path: str, **params: Any) -> Any:
        assert path == "process-types"
        return dict(self.listing)


@pytest.mark.parametrize(
    ("state", "reason", "reads"),
    [
        ("failed", "cancelled", "cancelled"),
        ("failed", "deadline", "deadline exceeded"),
        ("failed", "oom", "out of memory"),
        ("failed", "error", "failed (error)"),
        ("completed", None, "completed"),
        ("running", None, "running"),
    ],
)
def test_a_failure_with_an_outcome_of_its_own_is_called_by_that_outcome(state, reason, reads):
    assert state_text(state, reason) == reads


def test_a_text_progress_bar_ends_saying_cancelled_not_failed(capsys):
    TextProgress("4/1").finish("failed", "cancelled")
    assert capsys.readouterr().out.rstrip().endswith("0% cancelled")


def test_types_lists_a_broken_type_with_its_error_after_the_working_ones():
    client = ListingClient({"items": [SLEEP], "next": None, "broken": [FFT_BROKEN]})
    table = NagelMagics(client=client).nagel("types")
    assert [row[:3] for row in table.rows] == [
        ["sleep", "Sleep", "local"],
        ["fft", "(broken)", "local"],
    ]
    assert table.rows[1][3] == "ImportError: No module named 'numpy'"
    assert "fft" in repr(table) and "ImportError" in table._repr_html_()


def test_a_server_that_predates_broken_types_lists_none():
    listing = ListingClient({"items": [SLEEP], "next": None}).type_listing()
    assert listing["broken"] == [] and listing["items"] == [SLEEP]
