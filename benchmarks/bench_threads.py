"""skgd's threads: beside busy processes, on small data, and against peers.

Cases:

- busy neighbours: two neighbour processes run throughout (pure-Python CPU
  loops, then processes that fit skgd mini-batches themselves, as parallel
  experiments or worker processes would), and beside them skgd's fits of
  100k x 100 dense data (mini-batch 256 for 5 epochs, full batch for 20
  iterations, per-sample SGD for 1 epoch) are timed against the floor
  ``X.T @ (X @ w - y)`` (the same number of passes, BLAS with its threads),
  measured beside the same processes.  Goals: mini-batch 256 and full batch
  <= 1.5x the floor beside skgd neighbours, and no run above 3x.
- small data: the default fit and 200 full-batch epochs on the 442 x 10
  diabetes data and on 5000 x 20, with 2 OpenMP threads against 1
  (threadpoolctl); goal <= 1.1.
- sparse per-sample SGD, hinge, CSR 100k x 10k at 0.1 %, against
  SGDClassifier, per epoch and per whole fit (5 epochs); goal <= 0.5 both.
- the quiet-machine goals of bench_regressor.py (mini-batch 256 <= 2x the
  floor, full-batch iteration <= 1.5x, per-sample <= 0.33x SGDRegressor,
  Adam mini-batch <= 0.2x MLPRegressor, float32 <= 0.7x float64).
- ``--threshold``: where two threads start to pay, the measurement behind
  BLOCK_WORK in skgd/_kernel.pyx: full-batch epochs whose work is cut into
  two blocks and run on 2 threads, against the same epoch as one block on
  one thread.

Every ratio is the median of alternating runs in one process (min - max in
brackets).  On a machine shared with other work the busy-neighbour numbers
are mixed-load numbers: repeat them.

Run: ``python benchmarks/bench_threads.py [--repeats 7] [--only busy,small,...]``
"""

import argparse
import contextlib
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
from _common import compare, epoch_cost, fitter, print_table, timed
from bench_classifier import GD, SGD, sparse_binary
from bench_regressor import make_data, speed_goal_rows
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from threadpoolctl import threadpool_limits

from skgd import GDClassifier, GDRegressor, _kernel

STEP = 1e-3
N_SAMPLES, N_FEATURES = 100_000, 100
SECTIONS = ("busy", "small", "sparse", "quiet")

# The neighbours.  Each prints "ready" once it is busy, then never stops by
# itself.
CPU_NEIGHBOUR = textwrap.dedent(
    """
    print("ready", flush=True)
    while True:
        total = 0
        for i in range(100_000):
            total += i * i
    """
)
SKGD_NEIGHBOUR = textwrap.dedent(
    """
    import warnings
    import numpy as np
    from skgd import GDRegressor

    warnings.simplefilter("ignore")
    rng = np.random.RandomState(1)
    X = rng.standard_normal((100_000, 100))
    y = X @ rng.standard_normal(100) + 0.1 * rng.standard_normal(100_000)
    fit = dict(batch_size=256, max_iter=5, tol=None, eta0=1e-3, random_state=0)
    GDRegressor(**fit).fit(X, y)
    print("ready", flush=True)
    while True:
        GDRegressor(**fit).fit(X, y)
    """
)
# Short names, for the table: "2 skgd fits" are two processes fitting
# skgd mini-batches in a loop.
NEIGHBOURS = {
    "2 Python loops": CPU_NEIGHBOUR,
    "2 skgd fits": SKGD_NEIGHBOUR,
}


@contextlib.contextmanager
def neighbours(code, count=2):
    """Run `count` processes of `code` for the duration of the block; they
    are stopped on the way out, also on an error or Ctrl-C."""
    processes = []
    try:
        for _ in range(count):
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-c", code],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
            )
        for process in processes:
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError("a neighbour process failed to start")
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def quiet_fit(estimator):
    def run(X, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(X, y)

    return run


def fit_time(make, X, y, times=1):
    """Wall time of `times` fits of a fresh make() in a row."""

    def run():
        for _ in range(times):
            quiet_fit(make())(X, y)

    return lambda: timed(run)


def floor_time(X, y, passes):
    """`passes` evaluations of X.T @ (X @ w - y): what `passes` epochs of
    any gradient method must at least read."""
    w = np.full(X.shape[1], 0.01, dtype=X.dtype)

    def run():
        for _ in range(passes):
            X.T @ (X @ w - y)

    return lambda: timed(run)


def busy_rows(X, y, repeats):
    """skgd's fits against the floor, beside each kind of neighbour."""
    cases = [
        ("mini-batch 256 x5", dict(batch_size=256, eta0=STEP), 5, 1.5),
        ("full batch x20", dict(batch_size="full", eta0=0.1), 20, 1.5),
        ("per-sample x1", dict(batch_size=1, eta0=STEP), 1, None),
    ]
    rows = []
    for label, code in NEIGHBOURS.items():
        with neighbours(code):
            for name, params, epochs, target in cases:
                make = lambda p=params, e=epochs: GDRegressor(  # noqa: E731
                    max_iter=e, tol=None, random_state=0, **p
                )
                # Only the skgd neighbours carry the goal; beside pure
                # Python loops the ratio is reported.
                goal = target if "skgd" in label else None
                rows.append(
                    compare(
                        f"{name}, beside {label}",
                        fit_time(make, X, y),
                        floor_time(X, y, epochs),
                        f"{epochs} x X.T @ (X @ w - y), same load",
                        repeats,
                        target=goal,
                    )
                )
    return rows


def small_rows(repeats):
    """2 OpenMP threads against 1 on small data (BLAS keeps its threads
    on both sides)."""

    def with_threads(n_threads, fn):
        def run():
            with threadpool_limits(limits=n_threads, user_api="openmp"):
                return fn()

        return run

    X_diabetes, y_diabetes = load_diabetes(return_X_y=True)
    datasets = {
        "diabetes 442 x 10": (X_diabetes, y_diabetes),
        "5000 x 20": make_data(5000, 20),
    }
    rows = []
    for name, (X, y) in datasets.items():
        # Several fits per measurement: one takes tens of milliseconds, short
        # enough for the noise of a shared machine to swamp it.
        times = 3
        default_fit = fit_time(GDRegressor, X, y, times=times)
        rows.append(
            compare(
                f"default fit, {name}",
                with_threads(2, default_fit),
                with_threads(1, default_fit),
                "the same on 1 thread",
                repeats,
                target=1.1,
            )
        )
        # A fixed number of epochs: on data this small one epoch takes
        # microseconds, too little to time by itself.
        epochs = fit_time(
            lambda: GDRegressor(max_iter=200, tol=None, eta0=0.01), X, y, times=times
        )
        rows.append(
            compare(
                f"200 full-batch epochs, {name}",
                with_threads(2, epochs),
                with_threads(1, epochs),
                "the same on 1 thread",
                repeats,
                target=1.1,
            )
        )
    return rows


def sparse_rows(repeats):
    """Per-sample SGD, hinge, on 100k x 10k CSR at 0.1 %."""
    X, y = sparse_binary(100_000, 10_000, 0.001)
    ours = fitter(GDClassifier, X, y, loss="hinge", **GD)
    theirs = fitter(SGDClassifier, X, y, loss="hinge", **SGD)
    return [
        compare(
            "SGD epoch, hinge, sparse CSR 0.1 %",
            epoch_cost(ours, 1, 5),
            epoch_cost(theirs, 1, 5),
            "SGDClassifier",
            repeats,
            target=0.5,
        ),
        compare(
            "SGD fit (5 epochs), hinge, sparse CSR 0.1 %",
            lambda: timed(lambda: quiet_fit_epochs(ours, 5)),
            lambda: timed(lambda: quiet_fit_epochs(theirs, 5)),
            "SGDClassifier",
            repeats,
            target=0.5,
        ),
    ]


def quiet_fit_epochs(fit_epochs, epochs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit_epochs(epochs)


def kernel_epoch(X, y, n_threads, block_work, calls):
    """Time `calls` full-batch epochs (plain step, squared error) of the
    kernel itself on `n_threads` threads, blocks of `block_work`."""
    n, d = X.shape
    empty = np.empty((0, d + 1))
    no_index = np.empty(0, dtype=np.int32)
    W = np.zeros((1, d + 1))
    Y = np.ascontiguousarray(y.reshape(-1, 1))
    order = np.arange(n, dtype=np.intp)
    args = (
        X,
        np.empty(0),
        no_index,
        no_index,
        False,
        Y,
        0,
        np.ones(n),
        1.0,
        W,
        True,
        order,
        n,
        np.array([1e-3]),
        0,
        0.1,
        0,
        0.9,
        0.9,
        0.999,
        empty,
        empty,
        0,
        1e-4,
        0.0,
        empty,
        -1,
        n_threads,
    )

    def run():
        previous = _kernel._swap_block_work(block_work)
        try:
            start = time.perf_counter()
            for _ in range(calls):
                _kernel.run_epoch(*args)
            return (time.perf_counter() - start) / calls
        finally:
            _kernel._swap_block_work(previous)

    return run


def threshold_table(repeats):
    """Full-batch epochs of dense float64 data with 100 features: the work
    cut into two blocks on 2 threads, against one block on the calling
    thread, for epochs of increasing work (rows x 101)."""
    print("full-batch epoch of the kernel: 2 threads on 2 blocks / 1 thread, 1 block")
    print(
        f"{'work':>9} {'rows':>6} {'1 thread us':>12} {'2 threads us':>13} {'ratio':>7}"
    )
    d = 100
    for log_work in range(14, 23):
        work = 1 << log_work
        n = max(work // (d + 1), 2)
        X, y = make_data(n, d)
        calls = max(3, (1 << 24) // work)
        row = compare(
            str(work),
            kernel_epoch(X, y, 2, (n * (d + 1) + 1) // 2, calls),
            kernel_epoch(X, y, 1, 1 << 40, calls),
            "",
            repeats,
        )
        print(
            f"{work:>9} {n:>6} {1e3 * row['peer_ms']:>12.1f} "
            f"{1e3 * row['skgd_ms']:>13.1f} {row['ratio']:>7.3f} "
            f"[{row['ratio_min']:.3f} - {row['ratio_max']:.3f}]"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections among {', '.join(SECTIONS)}",
    )
    parser.add_argument(
        "--threshold",
        action="store_true",
        help="measure where two threads start to pay, and nothing else",
    )
    args = parser.parse_args()
    repeats = args.repeats
    if args.threshold:
        threshold_table(repeats)
        return
    sections = args.only.split(",")
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose among {SECTIONS}")
    X, y = make_data(N_SAMPLES, N_FEATURES)
    rows = []
    start = time.perf_counter()
    if "busy" in sections:
        rows += busy_rows(X, y, repeats)
    if "small" in sections:
        rows += small_rows(repeats)
    if "sparse" in sections:
        rows += sparse_rows(repeats)
    if "quiet" in sections:
        rows += speed_goal_rows(X, y, repeats)
    print_table(rows, repeats)
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
