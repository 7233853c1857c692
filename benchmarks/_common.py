"""Shared helpers of the benchmarks: timing in alternation, per-epoch cost,
and the table they print.

Machines are shared and noisy, so every comparison runs the two contenders
in the same process on the same data, alternating A B A B ..., and reports
the median of the pairwise ratios next to the medians of each side.
"""

import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning


def timed(fn):
    """Wall time of one call of fn()."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def fitter(estimator_class, X, y, **params):
    """fit(epochs): train a fresh estimator for exactly that many epochs."""

    def fit(epochs):
        estimator_class(max_iter=epochs, tol=None, random_state=0, **params).fit(X, y)

    return fit


def epoch_cost(fit_epochs, short, long):
    """Seconds per epoch of a training run, with the fixed costs of a call
    (input validation, set-up) removed: the difference between a run of
    `long` epochs and one of `short` epochs, divided by the difference."""

    def measure():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t_short = timed(lambda: fit_epochs(short))
            t_long = timed(lambda: fit_epochs(long))
        return (t_long - t_short) / (long - short)

    return measure


def compare(name, skgd_fn, peer_fn, peer_name, repeats, target=None):
    """Alternate the two measurements `repeats` times; return a row."""
    skgd_fn()  # warm-up: first-touch page faults, caches, lazy imports
    peer_fn()
    ours, theirs, ratios = [], [], []
    for _ in range(repeats):
        a = skgd_fn()
        b = peer_fn()
        ours.append(a)
        theirs.append(b)
        ratios.append(a / b)
    return {
        "case": name,
        "peer": peer_name,
        "skgd_ms": 1e3 * float(np.median(ours)),
        "peer_ms": 1e3 * float(np.median(theirs)),
        "ratio": float(np.median(ratios)),
        "ratio_min": float(np.min(ratios)),
        "ratio_max": float(np.max(ratios)),
        "target": target,
    }


def print_table(rows, repeats):
    print(
        f"medians of {repeats} alternating runs; ratio = skgd / peer "
        "(lower is faster), min-max of the pairwise ratios in brackets"
    )
    header = (
        f"{'case':<44} {'peer':<34} {'skgd ms':>9} {'peer ms':>9} "
        f"{'ratio':>7} {'[min - max]':>15} {'target':>8}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        target = "" if row["target"] is None else f"<= {row['target']:g}"
        verdict = ""
        if row["target"] is not None:
            verdict = " ok" if row["ratio"] <= row["target"] else " MISSED"
        print(
            f"{row['case']:<44} {row['peer']:<34} {row['skgd_ms']:>9.2f} "
            f"{row['peer_ms']:>9.2f} {row['ratio']:>7.3f} "
            f"[{row['ratio_min']:.3f} - {row['ratio_max']:.3f}] {target:>8}{verdict}"
        )
