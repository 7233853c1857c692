"""The cost of checking a CSR matrix's structure, against one epoch.

Every fit, partial_fit and predict on CSR input checks indptr and indices
(skgd._validation.check_csr) before the kernel reads them.  This prints the
time of that check over the time of one training epoch on the same matrix
(per-sample SGD and the full batch), timed alternately in one process.

Run: ``python benchmarks/bench_validation.py [--repeats 7] [--n-samples 100000]``
"""

import argparse
import warnings
from functools import partial

import numpy as np
import scipy.sparse as sp
from _common import epoch_cost, fitter, timed
from sklearn.exceptions import ConvergenceWarning

from skgd import GDClassifier
from skgd._validation import check_csr


def sparse_binary(n_samples, n_features, density, seed=0):
    rng = np.random.RandomState(seed)
    X = sp.random(
        n_samples, n_features, density=density, format="csr", random_state=rng
    )
    y = (X @ rng.standard_normal(n_features) > 0).astype(int)
    return X, y


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--n-samples", type=int, default=100_000)
    args = parser.parse_args()
    print(f"medians of {args.repeats} alternating runs; ratio = check_csr / epoch")
    for density in (0.001, 0.01):
        X, y = sparse_binary(args.n_samples, 10_000, density)
        for batch_size in (1, "full"):
            epoch = epoch_cost(
                fitter(GDClassifier, X, y, loss="hinge", batch_size=batch_size,
                       optimizer="sgd", eta0=1e-3), 1, 3,
            )  # fmt: skip
            checks, epochs = [], []
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                for _ in range(args.repeats):
                    checks.append(timed(partial(check_csr, X)))
                    epochs.append(epoch())
            check_ms = 1e3 * float(np.median(checks))
            epoch_ms = 1e3 * float(np.median(epochs))
            print(
                f"density {density:<6} batch_size={batch_size!s:<5} "
                f"check {check_ms:8.3f} ms  epoch {epoch_ms:9.2f} ms  "
                f"ratio {check_ms / epoch_ms:.4f}"
            )


if __name__ == "__main__":
    main()
