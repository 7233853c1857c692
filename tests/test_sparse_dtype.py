"""Sparse input trains the same model as dense input; float32 stays float32;
float64 C-contiguous input is used in place."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone

import skgd

RTOL = 1e-9

# These tests exercise the textbook iteration (the plain rule or the named
# one, the given steps, a fixed momentum, no preconditioning), where a step
# size is what is being tested; the defaults search the step on the full
# batch (see tests/test_fullbatch.py).
TEXTBOOK = dict(
    optimizer="sgd", learning_rate="constant", momentum=0.9, precondition=False
)


def GDRegressor(**params):
    return skgd.GDRegressor(**{**TEXTBOOK, **params})


def GDClassifier(**params):
    return skgd.GDClassifier(**{**TEXTBOOK, **params})


def sparse_regression(n=150, d=25, density=0.15, n_targets=None, seed=0):
    rng = np.random.RandomState(seed)
    X = sp.random(n, d, density=density, format="csr", random_state=rng)
    X.data = rng.normal(size=X.nnz)
    Xd = X.toarray()
    Xd[3] = 0.0  # an empty row
    Xd[:, 4] = 0.0  # a feature never seen
    coef = rng.normal(size=(d,) if n_targets is None else (d, n_targets))
    y = Xd @ coef + 0.5
    y = y + 0.1 * rng.normal(size=y.shape)
    return Xd, y


def to_format(X, fmt, index_dtype=np.int32):
    if fmt == "dense":
        return X
    M = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    M.indices = M.indices.astype(index_dtype)
    M.indptr = M.indptr.astype(index_dtype)
    return M


def assert_same_model(a, b, rtol=RTOL, coef_atol=1e-12):
    """Same model up to rounding; coef_atol is relative to the largest
    coefficient."""
    scale = max(np.max(np.abs(a.coef_)), 1e-300)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=rtol, atol=coef_atol * scale)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=rtol, atol=1e-13)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=rtol)
    assert a.t_ == b.t_
    if np.any(a.coef_ == 0) or np.any(b.coef_ == 0):
        # L1 zeros appear at the same places, up to coefficients that sit
        # within rounding of the threshold.
        differ = (a.coef_ == 0) != (b.coef_ == 0)
        assert np.all(np.abs(np.where(differ, a.coef_ + b.coef_, 0)) < 1e-12 * scale)


# --------------------------------------------------------------------------
# Per-sample and mini-batch SGD: the lazy sparse update
# --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("batch_size", [1, 3])
@pytest.mark.parametrize("alpha", [1e-4, 0.1])
@pytest.mark.parametrize("penalty", [None, "l2", "l1", "elasticnet"])
def test_sgd_sparse_equals_dense(penalty, alpha, batch_size, fmt):
    X, y = sparse_regression(seed=1)
    params = dict(
        penalty=penalty,
        alpha=alpha,
        l1_ratio=0.4,
        batch_size=batch_size,
        eta0=0.05,
        max_iter=6,
        tol=None,
        shuffle=True,
        random_state=3,
    )
    dense = GDRegressor(**params).fit(X, y)
    sparse = GDRegressor(**params).fit(to_format(X, fmt), y)
    assert_same_model(dense, sparse)
    if penalty == "l1" and alpha == 0.1:
        seen = np.arange(X.shape[1]) != 4
        assert np.any(dense.coef_[seen] == 0)  # the threshold acted
    # A feature no row has keeps its zero weight.
    assert dense.coef_[4] == 0.0 and sparse.coef_[4] == 0.0
    np.testing.assert_allclose(
        sparse.predict(to_format(X, fmt)), dense.predict(X), rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize(
    "eta0, alpha, penalty, l1_ratio",
    [
        # shrink 0.6 per step: the lazy scale must restart
        (0.02, 20.0, "l2", 0.0),
        (0.02, 20.0, "elasticnet", 0.05),
        (0.1, 10.0, "l2", 0.0),  # shrink factor exactly 0
        (0.25, 5.0, "l2", 0.0),  # shrink factor negative (eta * alpha > 1)
        # A shrink that flips signs costs a weight the cumulative L1 penalty
        # of both sides (see the user guide): only a tiny L1 part leaves
        # weights that are not zero to compare.
        (0.25, 5.0, "elasticnet", 1e-6),
    ],
)
@pytest.mark.parametrize("batch_size", [1, 4])
def test_sgd_sparse_strong_shrink(eta0, alpha, penalty, l1_ratio, batch_size):
    # Dense enough that no row is empty: with a shrink factor of 0 the model
    # after the last update is that row's step alone.
    X, y = sparse_regression(n=1200, d=30, density=0.3, seed=2)
    X = 0.3 * X  # small rows: every step below is stable
    y = 20.0 * y  # gradients large enough to beat the threshold sometimes
    params = dict(
        penalty=penalty,
        alpha=alpha,
        l1_ratio=l1_ratio,
        batch_size=batch_size,
        eta0=eta0,
        max_iter=2,
        tol=None,
        shuffle=True,
        random_state=0,
    )
    dense = GDRegressor(**params).fit(X, y)
    sparse = GDRegressor(**params).fit(sp.csr_matrix(X), y)
    assert np.any(dense.coef_ != 0)
    assert_same_model(dense, sparse)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("batch_size", [1, 3, "full"])
@pytest.mark.parametrize("penalty", ["l2", "elasticnet"])
def test_sgd_multi_output_and_multiclass_sparse(penalty, batch_size, fmt):
    X, Y = sparse_regression(n_targets=3, seed=4)
    params = dict(
        penalty=penalty, alpha=0.05, batch_size=batch_size, eta0=0.05, max_iter=4,
        tol=None, random_state=5,
    )  # fmt: skip
    assert_same_model(
        GDRegressor(**params).fit(X, Y), GDRegressor(**params).fit(to_format(X, fmt), Y)
    )
    labels = np.argmax(Y, axis=1)
    for loss in ("hinge", "log_loss"):
        dense = GDClassifier(loss=loss, **params).fit(X, labels)
        sparse = GDClassifier(loss=loss, **params).fit(to_format(X, fmt), labels)
        assert_same_model(dense, sparse)
        np.testing.assert_array_equal(
            dense.predict(X), sparse.predict(to_format(X, fmt))
        )


REGRESSION_LOSSES = [
    "squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive"
]  # fmt: skip
MARGIN_LOSSES = ["log_loss", "hinge", "squared_hinge", "modified_huber", "perceptron"]


@pytest.mark.parametrize("learning_rate", ["invscaling", "optimal"])
@pytest.mark.parametrize(
    "estimator, loss",
    [(GDRegressor, loss) for loss in REGRESSION_LOSSES]
    + [(GDClassifier, loss) for loss in MARGIN_LOSSES],
)
def test_per_sample_sparse_equals_dense_every_loss(estimator, loss, learning_rate):
    # Per-sample SGD on sparse rows has a loop of its own; a model with one
    # output keeps its prediction out of the per-output buffers.  The dense
    # per-sample update is the reference, with a step that changes every
    # row and sample weights that scale every step.
    X, y = sparse_regression(seed=13)
    if estimator is GDClassifier:
        y = np.where(y > np.median(y), "yes", "no")
    sw = np.random.RandomState(1).uniform(0.2, 2.0, size=X.shape[0])
    params = dict(loss=loss, learning_rate=learning_rate, eta0=0.05, alpha=0.01,
                  batch_size=1, max_iter=5, tol=None, random_state=4)  # fmt: skip
    dense = estimator(**params).fit(X, y, sample_weight=sw)
    sparse = estimator(**params).fit(sp.csr_matrix(X), y, sample_weight=sw)
    assert np.any(dense.coef_ != 0)
    assert_same_model(dense, sparse)


@pytest.mark.parametrize("average", [True, 50])
@pytest.mark.parametrize("penalty", ["l2", "l1"])
def test_sgd_averaged_sparse(penalty, average):
    X, y = sparse_regression(seed=6)
    params = dict(
        penalty=penalty, alpha=0.05, batch_size=1, eta0=0.05, max_iter=3, tol=None,
        random_state=0, average=average,
    )  # fmt: skip
    assert_same_model(
        GDRegressor(**params).fit(X, y), GDRegressor(**params).fit(sp.csr_matrix(X), y)
    )


@pytest.mark.parametrize(
    "eta0, alpha, learning_rate",
    [
        (0.02, 20.0, "constant"),  # shrink 0.6 per step: the lazy scale restarts
        (0.25, 5.0, "constant"),  # shrink factor negative (eta * alpha > 1)
        (0.05, 0.01, "invscaling"),
    ],
)
@pytest.mark.parametrize("average", [True, 700])
def test_per_sample_sparse_lazy_average(eta0, alpha, learning_rate, average):
    # Per-sample sparse SGD keeps the running mean as (U + A V) / B; the
    # dense update averages every weight at every step.  Several outputs,
    # sample weights, an average that starts in the middle of an epoch and
    # partial_fit (the mean carried from one call to the next) included.
    X, Y = sparse_regression(n=600, d=30, density=0.3, n_targets=2, seed=14)
    X = 0.3 * X
    sw = np.random.RandomState(2).uniform(0.5, 1.5, size=X.shape[0])
    params = dict(alpha=alpha, eta0=eta0, learning_rate=learning_rate,
                  batch_size=1, average=average, random_state=6)  # fmt: skip
    dense, sparse = GDRegressor(**params), GDRegressor(**params)
    for _ in range(3):
        dense.partial_fit(X, Y, sample_weight=sw)
        sparse.partial_fit(sp.csr_matrix(X), Y, sample_weight=sw)
    assert np.any(dense.coef_ != 0)
    # The lazy mean loses up to about 1e-10 of the coefficients' scale to
    # cancellation (see AVERAGE_RESCALE_BELOW in the kernel).
    assert_same_model(dense, sparse, coef_atol=1e-10)
    labels = np.argmax(Y, axis=1) + (Y[:, 0] > np.median(Y[:, 0]))  # 3 classes
    params.update(max_iter=3, tol=None)
    for loss in ("hinge", "log_loss"):
        assert_same_model(
            GDClassifier(loss=loss, **params).fit(X, labels, sample_weight=sw),
            GDClassifier(loss=loss, **params).fit(sp.csr_matrix(X), labels,
                                                  sample_weight=sw),
            coef_atol=1e-10,
        )  # fmt: skip


def test_sgd_sparse_partial_fit_and_sample_weight():
    X, y = sparse_regression(seed=7)
    sw = np.random.RandomState(0).uniform(0, 3, size=X.shape[0])
    params = dict(penalty="elasticnet", alpha=0.1, batch_size=2, eta0=0.05,
                  random_state=1)  # fmt: skip
    dense, sparse = GDRegressor(**params), GDRegressor(**params)
    Xs = sp.csr_matrix(X)
    for _ in range(3):
        dense.partial_fit(X, y, sample_weight=sw)
        sparse.partial_fit(Xs, y, sample_weight=sw)
    assert_same_model(dense, sparse)


# --------------------------------------------------------------------------
# Other optimizers and the full batch
# --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("batch_size", [1, 5, "full"])
@pytest.mark.parametrize("optimizer", ["adam", "momentum", "adagrad"])
def test_other_optimizers_sparse_equals_dense(optimizer, batch_size, fmt):
    X, y = sparse_regression(seed=8)
    params = dict(
        optimizer=optimizer, penalty="elasticnet", alpha=0.05, batch_size=batch_size,
        eta0=0.02, max_iter=4, tol=None, random_state=2,
    )  # fmt: skip
    assert_same_model(
        GDRegressor(**params).fit(X, y), GDRegressor(**params).fit(to_format(X, fmt), y)
    )


@pytest.mark.parametrize("penalty", [None, "l2", "l1", "elasticnet"])
def test_full_batch_sparse_equals_dense(penalty):
    X, y = sparse_regression(seed=9)
    params = dict(penalty=penalty, alpha=0.05, eta0=0.2, max_iter=30, tol=None)
    assert_same_model(
        GDRegressor(**params).fit(X, y), GDRegressor(**params).fit(sp.csr_matrix(X), y)
    )


@pytest.mark.parametrize("batch_size", [1, 4, "full"])
def test_int64_index_csr(batch_size):
    X, y = sparse_regression(seed=10)
    Xs = to_format(X, "csr", index_dtype=np.int64)
    assert Xs.indices.dtype == np.int64 and Xs.indptr.dtype == np.int64
    params = dict(penalty="l1", alpha=0.05, batch_size=batch_size, eta0=0.05,
                  max_iter=4, tol=None, random_state=0)  # fmt: skip
    dense = GDRegressor(**params).fit(X, y)
    sparse = GDRegressor(**params).fit(Xs, y)
    assert_same_model(dense, sparse)
    np.testing.assert_allclose(sparse.predict(Xs), dense.predict(X), rtol=1e-9)


def test_mixed_index_dtypes_csr():
    X, y = sparse_regression(seed=11)
    Xs = sp.csr_matrix(X)
    Xs.indices = Xs.indices.astype(np.int64)  # indptr stays int32
    params = dict(batch_size=3, eta0=0.05, max_iter=3, tol=None, random_state=0)
    assert_same_model(GDRegressor(**params).fit(X, y), GDRegressor(**params).fit(Xs, y))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("batch_size", [1, 3, "full"])
def test_non_canonical_csr(optimizer, batch_size):
    # Unsorted column indices, duplicate entries (which add up) and stored
    # zeros describe the same matrix.
    rng = np.random.RandomState(12)
    n, d = 40, 6
    rows, cols, vals = [], [], []
    for i in range(n):
        js = rng.choice(d, size=rng.randint(0, 5))
        for j in js:  # random order, repeats allowed
            rows.append(i)
            cols.append(j)
            vals.append(rng.normal() if rng.rand() > 0.1 else 0.0)
    order = np.argsort(rows, kind="stable")
    rows, cols, vals = (np.asarray(a)[order] for a in (rows, cols, vals))
    indptr = np.searchsorted(rows, np.arange(n + 1))
    X = sp.csr_matrix((vals, cols, indptr), shape=(n, d))
    assert not X.has_canonical_format
    dense = np.zeros((n, d))
    np.add.at(dense, (rows, cols), vals)
    np.testing.assert_array_equal(X.toarray(), dense)
    y = dense @ rng.normal(size=d) + 0.3
    params = dict(optimizer=optimizer, penalty="elasticnet", alpha=0.05,
                  batch_size=batch_size, eta0=0.05, max_iter=4, tol=None,
                  random_state=0)  # fmt: skip
    assert_same_model(GDRegressor(**params).fit(dense, y),
                      GDRegressor(**params).fit(X, y))  # fmt: skip


# --------------------------------------------------------------------------
# float32
# --------------------------------------------------------------------------


@pytest.mark.parametrize("average", [False, True])
@pytest.mark.parametrize("fmt", ["dense", "csr"])
@pytest.mark.parametrize("batch_size", ["full", 1, 8])
def test_float32_trains_in_float32(batch_size, fmt, average):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 6))
    y = X @ rng.normal(size=6) + 1.0 + 0.1 * rng.normal(size=200)
    params = dict(batch_size=batch_size, eta0=0.05, max_iter=20, tol=None,
                  random_state=0, average=average)  # fmt: skip
    m64 = GDRegressor(**params).fit(to_format(X, fmt), y)
    X32 = to_format(X.astype(np.float32), fmt)
    m32 = GDRegressor(**params).fit(X32, y.astype(np.float32))
    assert m32.coef_.dtype == np.float32
    assert m32.intercept_.dtype == np.float32
    assert m64.coef_.dtype == np.float64
    pred32 = m32.predict(X32)
    assert pred32.dtype == np.float32
    np.testing.assert_allclose(m32.coef_, m64.coef_, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(pred32, m64.predict(to_format(X, fmt)), rtol=1e-4,
                               atol=1e-4)  # fmt: skip


def test_float32_x_with_float64_y_stays_float32():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(50, 3)).astype(np.float32)
    y = rng.normal(size=50)
    reg = GDRegressor(eta0=0.05, max_iter=5, tol=None).fit(X, y)
    assert reg.coef_.dtype == np.float32
    clf = GDClassifier(eta0=0.05, max_iter=5, tol=None).fit(X, y > 0)
    assert clf.coef_.dtype == np.float32
    assert clf.intercept_.dtype == np.float32
    assert clf.decision_function(X).dtype == np.float32
    assert clf.predict_proba(X).shape == (50, 2)


@pytest.mark.parametrize("dtype", [np.int64, np.float16, np.int32])
def test_other_dtypes_train_in_float64(dtype):
    rng = np.random.RandomState(2)
    X = rng.randint(-3, 4, size=(40, 3)).astype(dtype)
    y = X.astype(float) @ [1.0, -1.0, 0.5]
    reg = GDRegressor(eta0=0.02, max_iter=5, tol=None).fit(X, y)
    assert reg.coef_.dtype == np.float64
    ref = GDRegressor(eta0=0.02, max_iter=5, tol=None).fit(X.astype(np.float64), y)
    np.testing.assert_array_equal(reg.coef_, ref.coef_)


# --------------------------------------------------------------------------
# Memory layout
# --------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 7, "full"])
def test_fortran_ordered_input(batch_size):
    rng = np.random.RandomState(3)
    X = rng.normal(size=(60, 5))
    y = X @ rng.normal(size=5)
    params = dict(batch_size=batch_size, eta0=0.05, max_iter=4, tol=None,
                  random_state=0, optimizer="nesterov")  # fmt: skip
    c_model = GDRegressor(**params).fit(X, y)
    f_model = GDRegressor(**params).fit(np.asfortranarray(X), y)
    np.testing.assert_array_equal(f_model.coef_, c_model.coef_)
    np.testing.assert_array_equal(f_model.intercept_, c_model.intercept_)
    np.testing.assert_array_equal(
        f_model.predict(np.asfortranarray(X)), c_model.predict(X)
    )
    # A strided view works too.
    wide = np.zeros((60, 10))
    wide[:, ::2] = X
    s_model = GDRegressor(**params).fit(wide[:, ::2], y)
    np.testing.assert_array_equal(s_model.coef_, c_model.coef_)


def peak_extra_memory(est, X, y):
    """Peak memory allocated while `est` fits (X, y), beyond what existed
    before.  A first fit on a few rows runs every lazily imported code path
    beforehand, so that only the fit itself is measured."""
    clone(est).fit(X[:50], y[:50])
    fn = lambda: est.fit(X, y)  # noqa: E731
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before


@pytest.mark.parametrize("batch_size", ["full", 1, 32])
def test_c_contiguous_float64_input_is_not_copied(batch_size):
    rng = np.random.RandomState(4)
    X = rng.normal(size=(20000, 50))
    y = X[:, :5] @ np.ones(5)
    assert X.flags.c_contiguous
    X.flags.writeable = False  # training must not need to write into X either
    reg = GDRegressor(batch_size=batch_size, eta0=0.001, max_iter=2, tol=None,
                      random_state=0)  # fmt: skip
    share = peak_extra_memory(reg, X, y) / X.nbytes
    assert share < 0.10, f"fit allocated {share:.1%} of X.nbytes at its peak"


# A copy of the data would cost 100% of its size; what is left is per-row
# bookkeeping (sample weights, row order), which is large relative to
# float32 rows and sparse rows, hence the looser bound.


@pytest.mark.parametrize("batch_size", ["full", 1])
def test_c_contiguous_float32_input_is_not_copied(batch_size):
    rng = np.random.RandomState(4)
    X = rng.normal(size=(20000, 50)).astype(np.float32)
    y = X[:, :5] @ np.ones(5, dtype=np.float32)
    X.flags.writeable = False
    reg = GDRegressor(batch_size=batch_size, eta0=0.001, max_iter=2, tol=None,
                      random_state=0)  # fmt: skip
    share = peak_extra_memory(reg, X, y) / X.nbytes
    assert reg.coef_.dtype == np.float32
    assert share < 0.5, f"fit allocated {share:.1%} of X.nbytes at its peak"


@pytest.mark.parametrize("batch_size", ["full", 1])
def test_csr_input_is_not_copied(batch_size):
    rng = np.random.RandomState(5)
    X = sp.random(20000, 200, density=0.05, format="csr", random_state=rng)
    y = np.asarray(X[:, :5].sum(axis=1)).ravel()
    nbytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    reg = GDRegressor(batch_size=batch_size, eta0=0.001, max_iter=2, tol=None,
                      random_state=0)  # fmt: skip
    share = peak_extra_memory(reg, X, y) / nbytes
    assert share < 0.5, f"fit allocated {share:.1%} of the CSR arrays at its peak"
