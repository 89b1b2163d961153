"""The line splitter and batcher every executor's log path goes through."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from nagelfluh_lab.executors.base import LogLine
from nagelfluh_lab.executors.lines import TRUNCATED, LineSplitter, LogBatcher

PROGRESS = "##nagelfluh:progress "


def split(chunks: list[bytes], max_line: int = 64 * 1024) -> list[str]:
    splitter = LineSplitter(max_line)
    lines = [line for chunk in chunks for line in splitter.feed(chunk)]
    return lines + splitter.close()


@given(st.lists(st.sampled_from(["a", "bc", "é", "日本", "", "\r"]), max_size=30),
       st.lists(st.integers(1, 12), max_size=40))
def test_lines_do_not_depend_on_where_chunks_break(words: list[str], cuts: list[int]):
    """Pipes deliver arbitrary chunks, even inside a multi-byte character."""
    data = "\n".join(words).encode() + b"\n"
    chunks, start = [], 0
    for size in cuts:
        chunks.append(data[start:start + size])
        start += size
    chunks.append(data[start:])
    assert split(chunks) == split([data])


def test_crlf_ends_a_line_and_a_final_line_needs_no_newline():
    assert split([b"one\r", b"\ntwo\r\nthree"]) == ["one", "two", "three"]


def test_invalid_utf8_becomes_replacement_characters():
    assert split([b"ok \xff\xfe end\n"]) == ["ok \ufffd\ufffd end"]


def test_over_long_line_is_truncated_in_one_chunk_or_across_many():
    long = b"x" * 50
    expected = ["x" * 10 + TRUNCATED, "short"]
    assert split([long + b"\nshort\n"], max_line=10) == expected
    assert split([long[:7], long[7:30], long[30:] + b"\nsho", b"rt\n"], max_line=10) == expected
    assert split([long], max_line=10) == ["x" * 10 + TRUNCATED]


def collecting_batcher(max_lines: int = 3, interval: float = 0.01):
    calls: list[tuple[str, object]] = []

    async def on_logs(lines: list[LogLine]) -> None:
        calls.append(("logs", [line.line for line in lines]))

    async def on_progress(progress: float) -> None:
        calls.append(("progress", progress))

    return LogBatcher(on_logs, on_progress, max_lines, interval), calls


async def test_batches_keep_order_and_size_and_progress_follows_its_lines():
    batcher, calls = collecting_batcher()
    await batcher.add("stdout", ["a", "b", f"{PROGRESS}0.25", "c", "d", f"{PROGRESS}nope"])
    await batcher.add("stdout", ["e", f"{PROGRESS}2"])
    await batcher.close()
    assert calls == [("logs", ["a", "b", "c"]), ("logs", ["d", f"{PROGRESS}nope"]),
                     ("progress", 0.25), ("logs", ["e"]), ("progress", 1.0)]


async def test_progress_only_counts_on_stdout():
    batcher, calls = collecting_batcher()
    await batcher.add("stderr", [f"{PROGRESS}0.5"])
    await batcher.close()
    assert calls == [("logs", [f"{PROGRESS}0.5"])]


async def test_a_quiet_line_is_delivered_after_the_interval_without_more_output():
    batcher, calls = collecting_batcher(max_lines=1000, interval=0.01)
    await batcher.add("stdout", ["lonely"])
    await asyncio.sleep(0.2)
    assert calls == [("logs", ["lonely"])]
    await batcher.close()
