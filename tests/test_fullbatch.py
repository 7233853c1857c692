"""The full-batch driver: its oracle, stopping rule, acceleration, line
search, preconditioning and adaptive rollback, each against an oracle
(scikit-learn's solvers at tight tolerance, closed forms, a NumPy
reference)."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler

from skgd import GDClassifier, GDRegressor
from skgd._oracle import InMemoryOracle
from skgd._solver import LOSSES, TARGET_REAL


def regression_data(n=80, d=5, seed=0, scales=None):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d))
    if scales is not None:
        X = X * scales + 3.0
    y = X @ rng.normal(size=d) + 1.0 + 0.3 * rng.normal(size=n)
    return X, y


def classification_data(n=150, d=4, n_classes=2, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d))
    logits = X @ rng.normal(size=(d, n_classes))
    y = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
    return X, y


# --------------------------------------------------------------------------
# The in-memory oracle
# --------------------------------------------------------------------------


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_oracle_matches_numpy(sparse, dtype):
    rng = np.random.RandomState(1)
    X = rng.normal(size=(300, 6))
    X[X < 0.3] = 0.0
    Y = rng.normal(size=(300, 2))
    sw = rng.rand(300)
    W = rng.normal(size=(2, 7))
    Xk = sp.csr_matrix(X.astype(dtype)) if sparse else X.astype(dtype)
    oracle = InMemoryOracle(
        Xk, Y.astype(dtype), sw.astype(dtype), n_outputs=2,
        loss_code=LOSSES["squared_error"].code, epsilon=0.1,
        target_kind=TARGET_REAL,
    )  # fmt: skip
    R = X @ W[:, :-1].T + W[:, -1] - Y
    rtol = 1e-12 if dtype == np.float64 else 1e-4
    loss, G = oracle.loss_gradient(W)
    np.testing.assert_allclose(loss, 0.5 * np.sum(sw[:, None] * R**2), rtol=rtol)
    np.testing.assert_allclose(G[:, :-1], (sw[:, None] * R).T @ X, rtol=rtol)
    np.testing.assert_allclose(G[:, -1], (sw[:, None] * R).sum(0), rtol=rtol)
    assert G.dtype == np.float64
    loss_only, none = oracle.loss_gradient(W, with_gradient=False)
    assert none is None
    np.testing.assert_allclose(loss_only, loss, rtol=rtol)
    first, second = oracle.column_moments()
    np.testing.assert_allclose(first, sw @ X, rtol=rtol)
    np.testing.assert_allclose(second, sw @ X**2, rtol=rtol)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_column_moments_in_blocks_match_numpy(sparse, dtype):
    # 40000 x 40 is several blocks (dense and CSR alike): the moments are
    # summed block by block, in parallel, and must be NumPy's sums over the
    # listed rows, the same to the last bit for any thread count.
    rng = np.random.RandomState(3)
    n, d = 40_000, 40
    X = rng.normal(loc=2.0, size=(n, d)) * rng.uniform(0.1, 10, size=d)
    X[rng.rand(n, d) < 0.6] = 0.0
    sw = rng.rand(n)
    rows = np.sort(rng.choice(n, size=n * 3 // 4, replace=False)).astype(np.intp)
    Xk = sp.csr_matrix(X.astype(dtype)) if sparse else X.astype(dtype)
    oracle = InMemoryOracle(
        Xk, np.zeros((n, 1), dtype), sw.astype(dtype), n_outputs=1,
        loss_code=LOSSES["squared_error"].code, epsilon=0.1,
        target_kind=TARGET_REAL, rows=rows,
    )  # fmt: skip
    Xr = X.astype(dtype).astype(np.float64)[rows]
    swr = sw.astype(dtype).astype(np.float64)[rows]
    by_threads = {}
    for n_threads in (1, 2, 3):
        oracle.n_threads = n_threads
        by_threads[n_threads] = oracle.column_moments()
    first, second = by_threads[1]
    assert_allclose(first, swr @ Xr, rtol=1e-11)
    assert_allclose(second, swr @ Xr**2, rtol=1e-11)
    for n_threads in (2, 3):
        for got, expected in zip(by_threads[n_threads], by_threads[1]):
            np.testing.assert_array_equal(got, expected)


def _squared_loss_and_gradient(X, Y, sw, W, rows):
    """NumPy reference: the weighted squared-error sum and its gradient."""
    X, Y, sw = X[rows], Y[rows], sw[rows]
    R = X @ W[:, :-1].T + W[:, -1] - Y
    G = np.column_stack([(sw[:, None] * R).T @ X, (sw[:, None] * R).sum(0)])
    return 0.5 * np.sum(sw[:, None] * R**2), G


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
# 40000 x 40 x 2 outputs is several blocks of work: the threaded path.
@pytest.mark.parametrize("n", [300, 40_000])
def test_extrapolated_pass_matches_numpy(sparse, dtype, n):
    # One read of the rows gives the loss at the trial model W and the loss
    # and gradient at Y = W + beta (W - B), from B's kept predictions.
    rng = np.random.RandomState(2)
    d = 6 if n == 300 else 40
    X = rng.normal(size=(n, d))
    X[X < 0.3] = 0.0
    Y = rng.normal(size=(n, 2))
    sw = rng.rand(n)
    rows = np.sort(rng.choice(n, size=n * 3 // 4, replace=False)).astype(np.intp)
    B, W = rng.normal(size=(2, d + 1)), rng.normal(size=(2, d + 1))
    Xk = sp.csr_matrix(X.astype(dtype)) if sparse else X.astype(dtype)
    oracle = InMemoryOracle(
        Xk, Y.astype(dtype), sw.astype(dtype), n_outputs=2,
        loss_code=LOSSES["squared_error"].code, epsilon=0.1,
        target_kind=TARGET_REAL, rows=rows,
    )  # fmt: skip
    # The reference sees the models as the kernel does, in X's dtype.
    Xr, Yr, swr = (a.astype(dtype).astype(np.float64) for a in (X, Y, sw))
    Bd, Wd = B.astype(dtype).astype(np.float64), W.astype(dtype).astype(np.float64)
    rtol = 1e-11 if dtype == np.float64 else 2e-4
    for beta in (0.0, 0.7):
        loss_W, loss_Y, G = oracle.extrapolated_loss_gradient(W, beta, B)
        ref_W, _ = _squared_loss_and_gradient(Xr, Yr, swr, Wd, rows)
        ref_Y, ref_G = _squared_loss_and_gradient(
            Xr, Yr, swr, Wd + beta * (Wd - Bd), rows
        )
        assert_allclose(loss_W, ref_W, rtol=rtol)
        assert_allclose(loss_Y, ref_Y, rtol=rtol)
        assert_allclose(G, ref_G, rtol=rtol, atol=rtol * np.abs(ref_G).max())
    # The kept predictions of W serve as the next base: the same answers as
    # the generic form, which evaluates Y from the data.
    W2 = rng.normal(size=(2, d + 1))
    fused = oracle.extrapolated_loss_gradient(W2, 0.4, W)
    generic = super(InMemoryOracle, oracle).extrapolated_loss_gradient(W2, 0.4, W)
    assert_allclose(fused[:2], generic[:2], rtol=rtol)
    assert_allclose(fused[2], generic[2], rtol=rtol, atol=rtol * np.abs(fused[2]).max())
    # The functional form agrees with the kept one.
    base = oracle.extrapolated_pass(W, None, 0.0)[3]
    functional = oracle.extrapolated_pass(W2, base, 0.4)
    assert_allclose(functional[:2], fused[:2], rtol=1e-14)
    assert_allclose(functional[2], fused[2], rtol=1e-14, atol=1e-300)


def test_default_line_search_reads_the_data_once_per_trial(monkeypatch):
    # The accelerated search's trials each evaluate the trial point and the
    # next gradient point in one read: apart from the start, no separate
    # loss-only or gradient read of the data per epoch.
    X, y = classification_data(n=400, d=5)
    reads = {"loss_gradient": 0, "extrapolated": 0}
    plain, fused = InMemoryOracle.loss_gradient, InMemoryOracle._extrapolated_pass

    def count_plain(self, *args, **kwargs):
        reads["loss_gradient"] += 1
        return plain(self, *args, **kwargs)

    def count_fused(self, *args, **kwargs):
        reads["extrapolated"] += 1
        return fused(self, *args, **kwargs)

    # The driver's Python loop (the compiled epochs make the same reads).
    monkeypatch.setattr(InMemoryOracle, "compiled_epochs", False)
    monkeypatch.setattr(InMemoryOracle, "loss_gradient", count_plain)
    monkeypatch.setattr(InMemoryOracle, "_extrapolated_pass", count_fused)
    model = GDClassifier(alpha=1e-3).fit(X, y)
    assert model.n_iter_ >= 10
    # The start's gradient, and a few function restarts (a separate read
    # per epoch would make it n_iter_ or more).
    assert reads["loss_gradient"] <= 1 + model.n_iter_ // 4
    assert model.n_iter_ <= reads["extrapolated"] <= 2 * model.n_iter_


def _compiled_and_python(make, X, y, monkeypatch, **fit):
    """The default rule's fit with the compiled epochs, and with the
    driver's Python loop."""
    compiled = make().fit(X, y, **fit)
    with monkeypatch.context() as patch:
        patch.setattr(InMemoryOracle, "compiled_epochs", False)
        python = make().fit(X, y, **fit)
    return compiled, python


@pytest.mark.parametrize(
    "variant",
    ["dense", "sparse", "float32", "weights", "l1", "elasticnet", "raw",
     "no_precondition", "no_intercept", "multinomial", "multi_output",
     "partial_fit", "max_iter"],
)  # fmt: skip
def test_compiled_epochs_follow_the_python_loop(variant, monkeypatch):
    # Same steps, same decisions, same stopping: the same model to rounding.
    rng = np.random.RandomState(3)
    X = rng.normal(size=(200, 6)) * [1.0, 2.0, 0.5, 3.0, 1.0, 0.1] + 0.5
    fit, params, rtol = {}, {}, 1e-10
    classifier = variant == "multinomial"
    if classifier:
        y = np.argmax(X @ rng.normal(size=(6, 3)) + rng.gumbel(size=(200, 3)), 1)
    elif variant == "multi_output":
        y = X @ rng.normal(size=(6, 2)) + rng.normal(size=(200, 2))
    else:
        y = X @ rng.normal(size=6) + rng.normal(size=200)
    if variant == "sparse":
        X[rng.rand(*X.shape) < 0.5] = 0.0
        X = sp.csr_matrix(X)
    elif variant == "float32":
        X, y, rtol = X.astype(np.float32), y.astype(np.float32), 1e-6
    elif variant == "weights":
        fit = {"sample_weight": rng.rand(200) * 2}
    elif variant == "l1":
        params = {"penalty": "l1", "alpha": 0.05}
    elif variant == "elasticnet":
        params = {"penalty": "elasticnet", "alpha": 0.05, "l1_ratio": 0.5}
    elif variant == "raw":
        X = X * 100.0 + 50.0
    elif variant == "no_precondition":
        params = {"precondition": False}
    elif variant == "no_intercept":
        params = {"fit_intercept": False}
    elif variant == "max_iter":
        params = {"max_iter": 7}
    estimator = GDClassifier if classifier else GDRegressor

    alpha = params.pop("alpha", 1e-3)

    def make():
        return estimator(alpha=alpha, **params)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if variant == "partial_fit":
            models = []
            for compiled in (True, False):
                with monkeypatch.context() as patch:
                    patch.setattr(InMemoryOracle, "compiled_epochs", compiled)
                    model = make()
                    for _ in range(12):
                        model.partial_fit(X, y)
                models.append(model)
            a, b = models
        else:
            a, b = _compiled_and_python(make, X, y, monkeypatch, **fit)
    assert a.n_iter_ == b.n_iter_
    assert a.t_ == b.t_
    assert_allclose(a.loss_curve_, b.loss_curve_, rtol=rtol)
    scale = np.abs(b.coef_).max()
    assert_allclose(a.coef_, b.coef_, rtol=rtol, atol=rtol * scale)
    assert_allclose(a.intercept_, b.intercept_, rtol=rtol, atol=rtol * scale)
    if variant == "l1":
        # FISTA's exact zeros, in both.
        assert np.any(b.coef_ == 0)
        np.testing.assert_array_equal(a.coef_ == 0, b.coef_ == 0)


# --------------------------------------------------------------------------
# The defaults reach the optimum
# --------------------------------------------------------------------------


def test_default_regressor_is_ridge_on_diabetes():
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = GDRegressor().fit(X, y)
    exact = Ridge(alpha=1e-4 * X.shape[0]).fit(X, y)
    err = np.linalg.norm(est.coef_ - exact.coef_) / np.linalg.norm(exact.coef_)
    assert err <= 1e-4
    np.testing.assert_allclose(est.intercept_, [exact.intercept_], rtol=1e-6)


@pytest.mark.parametrize("sparse", [False, True])
def test_default_regressor_raw_scales_tight_tol(sparse):
    X, y = regression_data(scales=np.array([0.1, 1.0, 10.0, 3.0, 0.5]))
    exact = Ridge(alpha=1e-2 * X.shape[0]).fit(X, y)
    Xf = sp.csr_matrix(X) if sparse else X
    est = GDRegressor(alpha=1e-2, tol=1e-9, max_iter=5000).fit(Xf, y)
    np.testing.assert_allclose(est.coef_, exact.coef_, rtol=1e-7)
    # b = c - m . w cancels digits when the features sit far from zero.
    np.testing.assert_allclose(est.intercept_, [exact.intercept_], rtol=1e-6)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_default_classifier_is_logistic_regression(n_classes):
    X, y = classification_data(n_classes=n_classes)
    alpha = 1e-2
    exact = LogisticRegression(C=1.0 / (alpha * X.shape[0]), tol=1e-12,
                               max_iter=10_000).fit(X, y)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = GDClassifier(alpha=alpha, tol=1e-8, max_iter=5000).fit(X, y)
    np.testing.assert_allclose(
        est.predict_proba(X), exact.predict_proba(X), atol=1e-7
    )


# --------------------------------------------------------------------------
# Line search
# --------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["sgd", "nesterov"])
@pytest.mark.parametrize("penalty", ["l2", "elasticnet"])
def test_line_search_never_raises_the_objective(optimizer, penalty):
    X, y = classification_data(n_classes=3, seed=4)
    X = X * [1.0, 10.0, 0.1, 3.0] + 2.0
    est = GDClassifier(
        optimizer=optimizer, learning_rate="line_search", penalty=penalty,
        alpha=1e-3, eta0=100.0, precondition=False, tol=None, max_iter=60,
    ).fit(X, y)  # fmt: skip
    curve = np.asarray(est.loss_curve_)
    assert np.all(np.diff(curve) <= 1e-12 * np.abs(curve[1:]))
    assert curve[-1] < curve[0]


def test_line_search_refuses_stochastic_batches():
    X, y = regression_data()
    with pytest.raises(ValueError, match="line_search"):
        GDRegressor(learning_rate="line_search", batch_size=8).fit(X, y)


def test_batch_as_large_as_the_data_is_the_full_batch():
    # An integer batch_size covering every row takes the full-batch path,
    # defaults (line search) included: the same iterates as "full".
    X, y = regression_data()
    full = GDRegressor().fit(X, y)
    whole = GDRegressor(batch_size=X.shape[0]).fit(X, y)
    np.testing.assert_array_equal(whole.coef_, full.coef_)
    assert whole.n_iter_ == full.n_iter_


# --------------------------------------------------------------------------
# FISTA: exact zeros of the Lasso and elastic net
# --------------------------------------------------------------------------


@pytest.mark.parametrize("learning_rate", ["auto", "constant"])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_fista_exact_zeros(l1_ratio, learning_rate):
    rng = np.random.RandomState(20)
    X = rng.normal(size=(60, 5)) * [1.0, 5.0, 0.2, 1.0, 2.0]
    y = X @ [1.5, 0.0, -0.7, 0.05, 0.0] + 0.3 + 0.2 * rng.normal(size=60)
    exact = ElasticNet(alpha=0.1, l1_ratio=l1_ratio, tol=1e-14, max_iter=100_000)
    if l1_ratio == 1.0:
        exact = Lasso(alpha=0.1, tol=1e-14, max_iter=100_000)
    exact.fit(X, y)
    assert 0 < np.sum(exact.coef_ == 0) < 5
    est = GDRegressor(
        penalty="elasticnet", l1_ratio=l1_ratio, alpha=0.1, tol=1e-10,
        max_iter=20_000, learning_rate=learning_rate,
    ).fit(X, y)  # fmt: skip
    np.testing.assert_allclose(est.coef_, exact.coef_, rtol=1e-7, atol=1e-10)
    np.testing.assert_array_equal(est.coef_ == 0, exact.coef_ == 0)


# --------------------------------------------------------------------------
# Nesterov: the convex momentum sequence with gradient restart
# --------------------------------------------------------------------------


def fista_reference(X, y, alpha, eta, epochs):
    """FISTA with the gradient restart of O'Donoghue & Candes on the ridge
    objective, in NumPy (no preconditioning)."""
    n, d = X.shape
    Z = np.hstack([X, np.ones((n, 1))])
    x = np.zeros(d + 1)
    yk = x.copy()
    theta = 1.0
    restarts = 0
    curve = []
    for _ in range(epochs):
        r = Z @ yk - y
        curve.append(0.5 * np.mean(r**2) + 0.5 * alpha * yk[:d] @ yk[:d])
        g = Z.T @ r / n
        g[:d] += alpha * yk[:d]
        x_new = yk - eta * g
        if (yk - x_new) @ (x_new - x) > 0:
            restarts += 1
            theta = 1.0
            y_next = x_new
        else:
            theta_next = 0.5 * (1 + np.sqrt(1 + 4 * theta**2))
            y_next = x_new + (theta - 1) / theta_next * (x_new - x)
            theta = theta_next
        x, yk = x_new, y_next
    return x, curve, restarts


def test_nesterov_is_fista_with_restart():
    X, y = regression_data(seed=3)
    X[:, 1] = X[:, 0] + 0.05 * X[:, 1]  # ill-conditioned: restarts happen
    alpha, eta, epochs = 1e-3, 0.2, 200
    x, curve, restarts = fista_reference(X, y, alpha, eta, epochs)
    assert restarts > 0
    est = GDRegressor(
        optimizer="nesterov", learning_rate="constant", eta0=eta,
        precondition=False, alpha=alpha, tol=None, max_iter=epochs,
    ).fit(X, y)  # fmt: skip
    np.testing.assert_allclose(est.coef_, x[:-1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(est.intercept_, x[-1:], rtol=1e-9)
    np.testing.assert_allclose(est.loss_curve_, curve, rtol=1e-9)


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov"])
def test_momentum_auto_step_beats_plain_gradient_descent(optimizer):
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    exact = Ridge(alpha=1e-4 * X.shape[0]).fit(X, y)
    best = 0.5 * np.mean((X @ exact.coef_ + exact.intercept_ - y) ** 2)
    best += 0.5e-4 * exact.coef_ @ exact.coef_
    params = dict(learning_rate="constant", tol=None, max_iter=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = GDRegressor(optimizer="sgd", **params).fit(X, y)
        fast = GDRegressor(optimizer=optimizer, **params).fit(X, y)
    assert fast.loss_curve_[-1] - best <= 0.5 * (plain.loss_curve_[-1] - best)


# --------------------------------------------------------------------------
# Adaptive: a diverging epoch is rolled back
# --------------------------------------------------------------------------


def test_adaptive_rolls_back_a_diverging_step():
    X, y = regression_data(seed=5)
    exact = Ridge(alpha=1e-3 * X.shape[0]).fit(X, y)
    # tol=None: scikit-learn's plateau rule would also divide the step; the
    # rollback alone must bring eta0=50 (far above 2/L) down to a stable step.
    est = GDRegressor(
        optimizer="sgd", learning_rate="adaptive", eta0=50.0, alpha=1e-3,
        precondition=False, tol=None, max_iter=3000,
    ).fit(X, y)  # fmt: skip
    np.testing.assert_allclose(est.coef_, exact.coef_, rtol=1e-9)
    assert np.all(np.isfinite(est.loss_curve_))
    # Rolled-back epochs leave the curve where it was: it never rises.
    assert np.all(np.diff(est.loss_curve_) <= 1e-12 * np.abs(est.loss_curve_[1:]))


# --------------------------------------------------------------------------
# Preconditioning leaves the minimiser where it is
# --------------------------------------------------------------------------

SMOOTH_REGRESSION = ["squared_error", "huber", "squared_epsilon_insensitive"]
SMOOTH_CLASSIFICATION = ["log_loss", "squared_hinge", "modified_huber"]


def _fit_both(make, X, y, **fit):
    params = dict(tol=1e-10, max_iter=20_000)
    a = make(precondition=True, **params).fit(X, y, **fit)
    b = make(precondition=False, **params).fit(X, y, **fit)
    return a, b


@pytest.mark.parametrize("loss", SMOOTH_REGRESSION)
@pytest.mark.parametrize("variant", ["dense", "sparse", "float32", "weights",
                                     "multi_output", "no_intercept"])
def test_precondition_keeps_the_regression_minimiser(loss, variant):
    # Scales and offsets that the unpreconditioned run still solves to many
    # digits within its budget.
    rng = np.random.RandomState(7)
    X = rng.normal(size=(60, 4)) * [0.5, 1.0, 2.0, 1.5] + [1.0, -1.0, 0.5, 0.0]
    y = X @ [2.0, 0.5, 0.1, -1.0] + rng.normal(size=60)
    fit, kwargs, rtol = {}, {}, 1e-6
    if variant == "sparse":
        X[rng.rand(*X.shape) < 0.3] = 0.0
        X = sp.csr_matrix(X)
    elif variant == "float32":
        # float32 resolves the objective to about 1e-7, the minimiser to
        # the square root of that times the conditioning.
        X, y, rtol = X.astype(np.float32), y.astype(np.float32), 5e-3
    elif variant == "weights":
        fit = {"sample_weight": rng.rand(60) * 3}
    elif variant == "multi_output":
        y = np.column_stack([y, -2 * y + 1])
    elif variant == "no_intercept":
        kwargs = {"fit_intercept": False}

    def make(**p):
        return GDRegressor(loss=loss, alpha=1e-2, epsilon=0.5, **kwargs, **p)

    a, b = _fit_both(make, X, y, **fit)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=rtol, atol=rtol * 1e-2)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("loss", SMOOTH_CLASSIFICATION)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_precondition_keeps_the_classification_minimiser(loss, n_classes):
    X, y = classification_data(n_classes=n_classes, seed=8)
    X = X * [0.5, 1.0, 2.0, 1.5] + 1.0

    def make(**p):
        return GDClassifier(loss=loss, alpha=1e-2, **p)

    a, b = _fit_both(make, X, y)
    # Coefficients of order 1: 1e-6 absolute is 1e-6 relative to the model.
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-6, atol=1e-6)
