"""GDClassifier against SGDClassifier.

Cases (the target ratios are the project's speed goals):

- per-sample SGD epoch, 5 classes, dense 100k x 100, log_loss: skgd trains
  the softmax model in one pass over X; SGDClassifier trains one binary
  model per class, one pass each
- per-sample SGD epoch, hinge, sparse CSR 100k x 10k at 0.1 % density
- the same with averaging (average=True), which both keep lazily
- per-sample SGD epoch with an L1 penalty (the cumulative penalty on both
  sides), hinge, binary: dense 100k x 100 and sparse CSR as above (skgd
  applies the penalty of absent features lazily, SGDClassifier leaves it
  until the feature next appears)

Run: ``python benchmarks/bench_classifier.py [--repeats 5] [--n-samples 100000]``
"""

import argparse

import numpy as np
import scipy.sparse as sp
from _common import compare, epoch_cost, fitter, print_table
from sklearn.linear_model import SGDClassifier

from skgd import GDClassifier

STEP = 1e-3
ALPHA = 1e-4
# Per-sample updates at the same constant step and penalty on both sides.
GD = dict(batch_size=1, eta0=STEP, alpha=ALPHA)
SGD = dict(learning_rate="constant", eta0=STEP, alpha=ALPHA)


def dense_multiclass(n_samples, n_features, n_classes, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n_samples, n_features))
    scores = X @ rng.standard_normal((n_features, n_classes))
    return X, np.argmax(scores + rng.gumbel(size=scores.shape), axis=1)


def sparse_binary(n_samples, n_features, density, seed=0):
    rng = np.random.RandomState(seed)
    X = sp.random(
        n_samples, n_features, density=density, format="csr", random_state=rng
    )
    coef = rng.standard_normal(n_features)
    y = (X @ coef + 0.1 * rng.standard_normal(n_samples) > 0).astype(int)
    return X, y


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n-samples", type=int, default=100_000)
    args = parser.parse_args()
    n, repeats = args.n_samples, args.repeats
    rows = []

    X, y = dense_multiclass(n, 100, 5)

    rows.append(
        compare(
            "SGD epoch, 5 classes, dense, log_loss",
            epoch_cost(fitter(GDClassifier, X, y, loss="log_loss", **GD), 1, 3),
            epoch_cost(fitter(SGDClassifier, X, y, loss="log_loss", **SGD), 1, 3),
            "SGDClassifier (one-vs-rest)",
            repeats,
            target=0.25,
        )
    )

    Xs, ys = sparse_binary(n, 10_000, 0.001)

    rows.append(
        compare(
            "SGD epoch, hinge, sparse CSR 0.1 %",
            epoch_cost(fitter(GDClassifier, Xs, ys, loss="hinge", **GD), 1, 5),
            epoch_cost(fitter(SGDClassifier, Xs, ys, loss="hinge", **SGD), 1, 5),
            "SGDClassifier",
            repeats,
            target=0.5,
        )
    )

    rows.append(
        compare(
            "SGD epoch, hinge, sparse CSR, averaged",
            epoch_cost(
                fitter(GDClassifier, Xs, ys, loss="hinge", average=True, **GD), 1, 5
            ),
            epoch_cost(
                fitter(SGDClassifier, Xs, ys, loss="hinge", average=True, **SGD), 1, 5
            ),
            "SGDClassifier(average=True)",
            repeats,
        )
    )
    L1 = dict(loss="hinge", penalty="l1")
    GD_L1 = dict(optimizer="sgd", learning_rate="constant", **L1, **GD)
    yb = (y == 0).astype(int)
    rows.append(
        compare(
            "SGD epoch, hinge, L1, dense binary",
            epoch_cost(fitter(GDClassifier, X, yb, **GD_L1), 1, 3),
            epoch_cost(fitter(SGDClassifier, X, yb, **L1, **SGD), 1, 3),
            "SGDClassifier(penalty='l1')",
            repeats,
        )
    )
    rows.append(
        compare(
            "SGD epoch, hinge, L1, sparse CSR 0.1 %",
            epoch_cost(fitter(GDClassifier, Xs, ys, **GD_L1), 1, 5),
            epoch_cost(fitter(SGDClassifier, Xs, ys, **L1, **SGD), 1, 5),
            "SGDClassifier(penalty='l1')",
            repeats,
        )
    )
    print_table(rows, repeats)


if __name__ == "__main__":
    main()
