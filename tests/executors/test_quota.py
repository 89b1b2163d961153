"""Admission against the local quota (BestEffortFIFO), without processes."""

from __future__ import annotations

from nagelfluh_lab.executors.contract import GIB
from nagelfluh_lab.executors.quota import QuotaQueue


def test_admits_in_order_and_lets_smaller_runs_pass_a_waiting_big_one():
    queue: QuotaQueue[str] = QuotaQueue(cpu=2, memory=4 * GIB)
    for key, cpu in [("a", 1.5), ("big", 1), ("small", 0.5)]:
        queue.add(key, cpu, GIB)
    assert queue.admit() == ["a", "small"]
    assert queue.waiting == ["big"]
    assert queue.message("big") == "waiting for quota: needs 1 CPU, 2 of 2 in use"
    queue.release("a")
    assert queue.admit() == ["big"]
    assert queue.message("big") is None


def test_message_names_every_resource_that_does_not_fit():
    queue: QuotaQueue[str] = QuotaQueue(cpu=2, memory=4 * GIB)
    queue.add("running", 1.5, 3 * GIB)
    queue.add("waiting", 1, 2 * GIB)
    queue.admit()
    assert queue.message("waiting") == (
        "waiting for quota: needs 1 CPU, 1.5 of 2 in use; "
        "needs 2 GiB memory, 3 GiB of 4 GiB in use")


def test_fractional_cpu_requests_add_up_exactly():
    queue: QuotaQueue[int] = QuotaQueue(cpu=1, memory=GIB)
    for key in range(10):
        queue.add(key, 0.1, 1)
    assert queue.admit() == list(range(10))
    for key in range(10):
        queue.release(key)
    queue.add(99, 1, GIB)
    assert queue.admit() == [99]


def test_request_beyond_the_whole_quota_is_explained():
    queue: QuotaQueue[str] = QuotaQueue(cpu=2, memory=4 * GIB)
    assert queue.refusal(1, GIB) is None
    assert queue.refusal(3, GIB) == "Requested 3 CPU, more than the local quota of 2 CPU"
    assert queue.refusal(1, 8 * GIB) == (
        "Requested 8 GiB memory, more than the local quota of 4 GiB")


def test_withdrawn_run_is_no_longer_waiting():
    queue: QuotaQueue[str] = QuotaQueue(cpu=1, memory=GIB)
    queue.add("a", 1, GIB)
    queue.add("b", 1, GIB)
    queue.admit()
    assert queue.remove("b") is True
    assert queue.remove("b") is False
    assert queue.waiting == []
