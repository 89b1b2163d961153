"""Decimation of a 1-D variable for a plot: the dataset view's min/max per bucket.

The view (``GET dataset/{id}/view``) keeps, for ``points`` (about the plot's width
in pixels), the minimum and maximum of every bucket of the samples in range, so
peaks survive and a zoomed-in request gets full resolution again. Timed in the
same run, on the same signals (a noisy sine with spikes, float64):

- the numpy implementation the view had before (a Python loop over the buckets,
  ``argmin``/``argmax`` of each), kept here as the baseline;
- the view's own ``_decimate`` as it is now;
- ``tsdownsample``'s MinMaxLTTBDownsampler and MinMaxDownsampler, bare, with
  ``n_out`` = points.

Prints the median of each, and each against the baseline. ``--check`` exits 1 if
the view's decimation is not faster than the baseline or loses an extreme.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
from tsdownsample import MinMaxDownsampler, MinMaxLTTBDownsampler

from nagelfluh_lab.services.views import DEFAULT_POINTS, _decimate

SIZES = (1_000_000, 10_000_000)
BASELINE = "numpy per bucket (before)"


def numpy_buckets(index: np.ndarray, ys: list[np.ndarray], points: int) -> np.ndarray:
    """The view's decimation before tsdownsample (nagelfluh_lab/services/views.py)."""
    if index.size <= points:
        return index
    per_bucket = 2 * max(1, len(ys))
    buckets = np.array_split(index, max(1, (points - 2) // per_bucket))
    chosen = [index[:1], index[-1:]]
    for y in ys:
        for bucket in buckets:
            values = y[bucket]
            missing = np.isnan(values)
            lowest = np.where(missing, np.inf, values).argmin()
            highest = np.where(missing, -np.inf, values).argmax()
            chosen.append(bucket[[lowest, highest]])
    return np.unique(np.concatenate(chosen))


def signal(n: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    y = np.sin(np.linspace(0, 200 * np.pi, n)) + rng.normal(0, 0.3, n)
    y[rng.integers(0, n, 20)] += rng.normal(0, 10, 20)  # spikes a plot must not lose
    return y


def timed(work: Callable[[], np.ndarray], repeats: int) -> tuple[list[float], np.ndarray]:
    """Seconds of each of ``repeats`` runs after a warm-up run, and what it kept."""
    seconds, result = [], work()
    for _ in range(repeats):
        started = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - started)
    return seconds, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--points",
        default=f"{DEFAULT_POINTS},20000",
        help="points asked for, comma-separated (default: the view's default and 20000)",
    )
    parser.add_argument("--repeats", type=int, default=5, help="runs of each (median shown)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args()
    missed = []
    print(f"median of {args.repeats} runs each, after a warm-up run")
    for n in SIZES:
        y = signal(n)
        index = np.arange(n)
        for points in map(int, args.points.split(",")):
            missed += _compare(y, index, points, args.repeats)
    if missed:
        print("\nmissed: " + "; ".join(missed))
    return 1 if args.check and missed else 0


def _compare(y: np.ndarray, index: np.ndarray, points: int, repeats: int) -> list[str]:
    n, missed = y.size, []
    candidates = {
        BASELINE: lambda: numpy_buckets(index, [y], points),
        "view _decimate (now)": lambda: _decimate(index, [y], points),
        "tsdownsample MinMaxLTTB": lambda: MinMaxLTTBDownsampler().downsample(y, n_out=points),
        "tsdownsample MinMax": lambda: MinMaxDownsampler().downsample(y, n_out=points),
    }
    print(f"\n{n:,} points to {points:,}")
    medians = {}
    for label, work in candidates.items():
        seconds, kept = timed(work, repeats)
        medians[label] = statistics.median(seconds)
        extremes = {int(np.argmin(y)), int(np.argmax(y))} <= set(kept.tolist())
        print(
            f"  {label:<27} {medians[label] * 1000:9.2f} ms   {kept.size:6d} kept   "
            f"extremes {'kept' if extremes else 'LOST'}"
        )
        if label.startswith("view") and (not extremes or kept.size > points):
            missed.append(f"{n:,} to {points:,}: the view lost an extreme or kept too many")
    for label, median in medians.items():
        if label != BASELINE:
            print(f"  {label + ' vs before':<38} {medians[BASELINE] / median:7.1f}x faster")
    if medians["view _decimate (now)"] >= medians[BASELINE]:
        missed.append(f"{n:,} to {points:,}: the view is not faster than before")
    return missed


if __name__ == "__main__":
    sys.exit(main())
