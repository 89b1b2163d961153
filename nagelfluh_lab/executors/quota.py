"""Admission of runs against a CPU/memory quota: the local analogue of a Kueue
ClusterQueue with the BestEffortFIFO strategy.

Runs are admitted in arrival order while they fit; one that does not fit waits
without blocking smaller ones behind it. (As in Kueue, a steady stream of small
runs can therefore keep a big one waiting.) CPU is counted in millicores so that
adding and releasing many fractional requests never drifts.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, NamedTuple, TypeVar

from .contract import format_memory

K = TypeVar("K", bound=Hashable)


class Request(NamedTuple):
    millicpu: int
    memory: int


def request(cpu: float, memory: int) -> Request:
    return Request(round(cpu * 1000), memory)


def format_cpu(millicpu: int) -> str:
    return f"{millicpu / 1000:g}"


class QuotaQueue(Generic[K]):
    """Which waiting runs may start now, and why the others wait."""

    def __init__(self, cpu: float, memory: int) -> None:
        self.quota = request(cpu, memory)
        self._waiting: dict[K, Request] = {}  # insertion order is arrival order
        self._admitted: dict[K, Request] = {}
        self._used = Request(0, 0)

    def refusal(self, cpu: float, memory: int) -> str | None:
        """Why a request can never be admitted, or None if it can."""
        need = request(cpu, memory)
        if need.millicpu > self.quota.millicpu:
            return (
                f"Requested {format_cpu(need.millicpu)} CPU, more than the local quota "
                f"of {format_cpu(self.quota.millicpu)} CPU"
            )
        if need.memory > self.quota.memory:
            return (
                f"Requested {format_memory(need.memory)} memory, more than the local "
                f"quota of {format_memory(self.quota.memory)}"
            )
        return None

    def add(self, key: K, cpu: float, memory: int) -> None:
        if key in self._waiting or key in self._admitted:
            raise ValueError(f"{key} is already queued")
        self._waiting[key] = request(cpu, memory)

    def occupy(self, key: K, cpu: float, memory: int) -> None:
        """Count a key as admitted at once: its run is running already (found again
        after a restart), whatever the queue holds."""
        need = request(cpu, memory)
        self._admitted[key] = need
        self._used = Request(self._used.millicpu + need.millicpu, self._used.memory + need.memory)

    def remove(self, key: K) -> bool:
        """Withdraw a waiting key; False if it is not waiting."""
        return self._waiting.pop(key, None) is not None

    def release(self, key: K) -> None:
        """Give back what an admitted key held."""
        held = self._admitted.pop(key, None)
        if held is not None:
            self._used = Request(
                self._used.millicpu - held.millicpu, self._used.memory - held.memory
            )

    def admit(self) -> list[K]:
        """Admit, in arrival order, every waiting key that fits what is free."""
        admitted = []
        for key, need in list(self._waiting.items()):
            if self._used.millicpu >= self.quota.millicpu or self._used.memory >= self.quota.memory:
                break  # nothing left for anyone: skip the rest of a long queue
            if self._fits(need):
                del self._waiting[key]
                self._admitted[key] = need
                self._used = Request(
                    self._used.millicpu + need.millicpu, self._used.memory + need.memory
                )
                admitted.append(key)
        return admitted

    def is_admitted(self, key: K) -> bool:
        return key in self._admitted

    @property
    def waiting(self) -> list[K]:
        return list(self._waiting)

    def message(self, key: K) -> str | None:
        """Why ``key`` waits, e.g. "waiting for quota: needs 2 CPU, 1.5 of 2 in use"."""
        need = self._waiting.get(key)
        if need is None:
            return None
        reasons = []
        if need.millicpu + self._used.millicpu > self.quota.millicpu:
            reasons.append(
                f"needs {format_cpu(need.millicpu)} CPU, "
                f"{format_cpu(self._used.millicpu)} of "
                f"{format_cpu(self.quota.millicpu)} in use"
            )
        if need.memory + self._used.memory > self.quota.memory:
            reasons.append(
                f"needs {format_memory(need.memory)} memory, "
                f"{format_memory(self._used.memory)} of "
                f"{format_memory(self.quota.memory)} in use"
            )
        return "waiting for quota: " + "; ".join(reasons) if reasons else "waiting for quota"

    def _fits(self, need: Request) -> bool:
        return (
            self._used.millicpu + need.millicpu <= self.quota.millicpu
            and self._used.memory + need.memory <= self.quota.memory
        )
