"""GDRegressor against its peers on 100k x 100 dense float64 data.

Cases (the target ratios are the project's speed goals):

- per-sample SGD epoch (shuffled, L2, constant step) vs SGDRegressor
- mini-batch 256 epoch vs one X @ w plus one X.T @ r (the memory floor)
- full-batch iteration vs one X @ w plus one X.T @ r
- mini-batch 256 Adam epoch vs MLPRegressor(hidden_layer_sizes=())
- float32 mini-batch 256 epoch vs the same in float64
- peak memory allocated during a fit, as a share of X's size

Run: ``python benchmarks/bench_regressor.py [--repeats 5] [--n-samples 100000]``
"""

import argparse
import tracemalloc
import warnings

import numpy as np
from _common import compare, epoch_cost, fitter, print_table, timed
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDRegressor
from sklearn.neural_network import MLPRegressor

from skgd import GDRegressor

STEP = 1e-3
ALPHA = 1e-4


def make_data(n_samples, n_features, dtype=np.float64, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n_samples, n_features)).astype(dtype)
    coef = rng.standard_normal(n_features)
    y = (X @ coef + 0.1 * rng.standard_normal(n_samples)).astype(dtype)
    return X, y


def gd_epochs(X, y, **params):
    return fitter(GDRegressor, X, y, alpha=ALPHA, **params)


def matvec_floor(X, y):
    """One pass of X @ w and one of X.T @ r: what any gradient over the
    whole data must at least read."""
    w = np.full(X.shape[1], 0.01, dtype=X.dtype)

    def run():
        r = X @ w - y
        X.T @ r

    return lambda: timed(run)


def peak_fit_memory(X, y, **params):
    """Largest memory allocated during a fit, beyond X and y themselves."""
    est = GDRegressor(max_iter=2, tol=None, random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        tracemalloc.start()
        est.fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


def speed_goal_rows(X, y, repeats):
    """The project's speed goals on dense data (X, y) in float64, one table
    row each; bench_threads.py prints them as the quiet-machine goals."""
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    rows = []

    rows.append(
        compare(
            "per-sample SGD epoch (shuffled, L2, constant)",
            epoch_cost(gd_epochs(X, y, batch_size=1, eta0=STEP), 1, 3),
            epoch_cost(
                fitter(
                    SGDRegressor, X, y, learning_rate="constant", eta0=STEP, alpha=ALPHA
                ),
                1,
                3,
            ),
            "SGDRegressor",
            repeats,
            target=0.33,
        )
    )
    rows.append(
        compare(
            "mini-batch 256 epoch",
            epoch_cost(gd_epochs(X, y, batch_size=256, eta0=STEP), 2, 12),
            matvec_floor(X, y),
            "X @ w + X.T @ r",
            repeats,
            target=2.0,
        )
    )
    rows.append(
        compare(
            "full-batch iteration",
            epoch_cost(gd_epochs(X, y, batch_size="full", eta0=0.1), 5, 25),
            matvec_floor(X, y),
            "X @ w + X.T @ r",
            repeats,
            target=1.5,
        )
    )

    def mlp_peer(epochs):
        MLPRegressor(
            hidden_layer_sizes=(),
            solver="adam",
            batch_size=256,
            learning_rate_init=STEP,
            alpha=ALPHA,
            max_iter=epochs,
            tol=0.0,
            n_iter_no_change=10**6,
            random_state=0,
        ).fit(X, y)

    rows.append(
        compare(
            "mini-batch 256 Adam epoch",
            epoch_cost(
                gd_epochs(X, y, batch_size=256, optimizer="adam", eta0=STEP), 1, 3
            ),
            epoch_cost(mlp_peer, 1, 3),
            "MLPRegressor(hidden_layer_sizes=())",
            repeats,
            target=0.2,
        )
    )
    rows.append(
        compare(
            "float32 mini-batch 256 epoch",
            epoch_cost(gd_epochs(X32, y32, batch_size=256, eta0=STEP), 2, 12),
            epoch_cost(gd_epochs(X, y, batch_size=256, eta0=STEP), 2, 12),
            "the same in float64",
            repeats,
            target=0.7,
        )
    )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n-samples", type=int, default=100_000)
    parser.add_argument("--n-features", type=int, default=100)
    args = parser.parse_args()
    repeats = args.repeats
    X, y = make_data(args.n_samples, args.n_features)
    print_table(speed_goal_rows(X, y, repeats), repeats)

    print()
    size_mb = X.nbytes / 1e6
    print(f"peak memory allocated during fit, as a share of X ({size_mb:.0f} MB)")
    for label, params in [
        ("full batch, eta0='auto'", dict(batch_size="full")),
        ("per-sample SGD", dict(batch_size=1, eta0=STEP)),
        ("mini-batch 256, adam", dict(batch_size=256, optimizer="adam")),
    ]:
        share = peak_fit_memory(X, y, **params) / X.nbytes
        verdict = "ok" if share <= 0.10 else "MISSED"
        print(f"  {label:<28} {100 * share:6.2f} %   (target <= 10 %) {verdict}")


if __name__ == "__main__":
    main()
