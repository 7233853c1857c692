"""Full-batch gradient descent against independent solutions.

Every reference here is computed without skgd: closed forms (numpy's least
squares and pseudo-inverse), scikit-learn's own solvers (LinearRegression,
Ridge, Lasso, ElasticNet, LogisticRegression), scipy's L-BFGS on the
objective written out in numpy, scipy's LP solver, and a plain numpy loop of
the tutorial's update rule.

skgd minimises

    sum_i s_i loss(y_i, x_i w + b) / sum_i s_i
        + alpha * ((1 - r) / 2 ||w||^2 + r ||w||_1)

with the losses of scikit-learn's SGD (squared_error is r^2 / 2).  The
conversions to the other solvers' parametrisations are written next to each
comparison.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.optimize import linprog, minimize
from sklearn.datasets import make_classification
from sklearn.linear_model import (
    ElasticNet,
    Lasso,
    LinearRegression,
    LogisticRegression,
    Ridge,
)
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_class_weight

import skgd
from skgd.exceptions import DivergenceError
from skgd.schedules import InverseTime

# Full-batch GD with the automatic step 1/L converges linearly; on the
# well-conditioned data below this many iterations reach machine precision.
MAX_ITER = 2000

# These oracles check the textbook iteration (plain rule, constant step,
# no preconditioning) against closed forms and scikit-learn; the defaults
# are checked against the same solvers in tests/test_fullbatch.py.
TEXTBOOK = dict(
    optimizer="sgd", learning_rate="constant", momentum=0.9, precondition=False
)


def GDRegressor(**params):
    return skgd.GDRegressor(**{**TEXTBOOK, **params})


def GDClassifier(**params):
    return skgd.GDClassifier(**{**TEXTBOOK, **params})


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


def regression_data(seed, n=200, d=5, n_outliers=0):
    """Standardized, mildly correlated features; y linear plus noise."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d) @ (np.eye(d) + 0.3 * rng.randn(d, d))
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = X @ rng.randn(d) + 1.5 + 0.5 * rng.randn(n)
    y[:n_outliers] += 15.0
    sample_weight = rng.uniform(0.2, 2.0, n)
    return X, y, sample_weight


def classification_data(n_classes, seed=0):
    X, y = make_classification(
        n_samples=300,
        n_features=6,
        n_informative=4,
        n_classes=n_classes,
        n_clusters_per_class=1,
        random_state=seed,
    )
    return StandardScaler().fit_transform(X), y


def tutorial_data():
    """x = 2 U(0, 1), 100 points, y = 4 + 3 x + N(0, 1)."""
    rng = np.random.RandomState(42)
    x = 2 * rng.rand(100, 1)
    y = 4 + 3 * x[:, 0] + rng.randn(100)
    return x, y


def normal_equation(X, y):
    """[intercept, coefficients...] by least squares, independent of skgd."""
    Z = np.column_stack([np.ones(X.shape[0]), X])
    return np.linalg.lstsq(Z, y, rcond=None)[0]


def largest_eigenvalue(X, sample_weight=None, fit_intercept=True):
    """Largest eigenvalue of sum_i s_i z_i z_i^T / sum_i s_i, z_i = [x_i, 1]."""
    s = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    Z = np.column_stack([X, np.ones(X.shape[0])]) if fit_intercept else X
    gram = (Z * s[:, None]).T @ Z / s.sum()
    return np.linalg.eigvalsh(gram)[-1]


# --------------------------------------------------------------------------
# Least squares and ridge
# --------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_least_squares_matches_linear_regression(weighted, fit_intercept):
    X, y, sw = regression_data(0)
    sw = sw if weighted else None
    gd = GDRegressor(
        penalty=None, tol=None, max_iter=MAX_ITER, fit_intercept=fit_intercept
    ).fit(X, y, sample_weight=sw)
    ref = LinearRegression(fit_intercept=fit_intercept).fit(X, y, sample_weight=sw)
    assert gd.coef_.shape == ref.coef_.shape
    assert_allclose(gd.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    assert_allclose(gd.intercept_[0], ref.intercept_, rtol=1e-6, atol=1e-9)
    if not fit_intercept:
        assert gd.intercept_[0] == 0.0


def test_least_squares_multi_output_matches_linear_regression():
    X, y, sw = regression_data(1)
    rng = np.random.RandomState(1)
    Y = np.column_stack([y, -2 * y + rng.randn(y.shape[0]), 3 * X[:, 0] + 7])
    gd = GDRegressor(penalty=None, tol=None, max_iter=MAX_ITER).fit(
        X, Y, sample_weight=sw
    )
    ref = LinearRegression().fit(X, Y, sample_weight=sw)
    assert gd.coef_.shape == (3, X.shape[1])
    assert gd.intercept_.shape == (3,)
    assert_allclose(gd.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    assert_allclose(gd.intercept_, ref.intercept_, rtol=1e-6, atol=1e-9)
    assert_allclose(gd.predict(X), ref.predict(X), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("alpha", [1e-3, 0.1, 1.0])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_l2_matches_ridge(alpha, weighted, fit_intercept):
    X, y, sw = regression_data(2)
    sw = sw if weighted else None
    gd = GDRegressor(
        penalty="l2",
        alpha=alpha,
        tol=None,
        max_iter=MAX_ITER,
        fit_intercept=fit_intercept,
    ).fit(X, y, sample_weight=sw)
    # Ridge minimises ||s^1/2 (y - Xw - b)||^2 + A ||w||^2; dividing by
    # 2 sum(s) gives skgd's objective when A = alpha * sum(s).
    total_weight = X.shape[0] if sw is None else sw.sum()
    ref = Ridge(
        alpha=alpha * total_weight, solver="cholesky", fit_intercept=fit_intercept
    ).fit(X, y, sample_weight=sw)
    assert_allclose(gd.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    assert_allclose(gd.intercept_[0], ref.intercept_, rtol=1e-6, atol=1e-9)


def test_multi_output_ridge():
    X, y, sw = regression_data(3)
    Y = np.column_stack([y, X @ np.arange(X.shape[1]) - 4.0])
    alpha = 0.05
    gd = GDRegressor(alpha=alpha, tol=None, max_iter=MAX_ITER).fit(X, Y)
    ref = Ridge(alpha=alpha * X.shape[0], solver="cholesky").fit(X, Y)
    assert_allclose(gd.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    assert_allclose(gd.intercept_, ref.intercept_, rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------
# Robust and insensitive losses: L-BFGS / LP on the objective written out
# --------------------------------------------------------------------------
# HuberRegressor is not used as a reference: it also fits a scale sigma and
# minimises sum_i (sigma + H(r_i / sigma) sigma) + alpha ||w||^2, which is a
# different problem from skgd's mean Huber loss for any alpha.


def huber_loss(r, eps):
    """r^2 / 2 for |r| <= eps, eps |r| - eps^2 / 2 beyond; d/dr; d2/dr2."""
    absr = np.abs(r)
    inside = absr <= eps
    value = np.where(inside, 0.5 * r * r, eps * absr - 0.5 * eps * eps)
    return value, np.clip(r, -eps, eps), inside.astype(float)


def squared_epsilon_insensitive_loss(r, eps):
    """max(0, |r| - eps)^2; d/dr; d2/dr2."""
    excess = np.maximum(np.abs(r) - eps, 0.0)
    return excess * excess, 2.0 * np.sign(r) * excess, 2.0 * (excess > 0)


def minimize_objective(loss, X, y, sw, eps, alpha):
    """Minimise sum s_i loss(r_i) / sum s + alpha / 2 ||w||^2.

    L-BFGS finds the region; both losses are piecewise quadratic, so Newton
    steps with the (generalised) Hessian then solve the stationarity
    condition of that region exactly, beyond L-BFGS's precision, which is
    limited by comparing objective values.
    """
    total = sw.sum()
    Z = np.column_stack([X, np.ones(X.shape[0])])
    ridge = alpha * np.append(np.ones(X.shape[1]), 0.0)

    def fun(theta):
        value, deriv, _ = loss(Z @ theta - y, eps)
        objective = sw @ value / total + 0.5 * ridge @ theta**2
        return objective, Z.T @ (sw * deriv) / total + ridge * theta

    theta = minimize(
        fun,
        np.zeros(Z.shape[1]),
        jac=True,
        method="L-BFGS-B",
        options=dict(gtol=1e-12, ftol=1e-15, maxiter=100_000, maxcor=30),
    ).x
    for _ in range(20):
        _, deriv, curvature = loss(Z @ theta - y, eps)
        grad = Z.T @ (sw * deriv) / total + ridge * theta
        hessian = (Z * (sw * curvature)[:, None]).T @ Z / total + np.diag(ridge)
        step = np.linalg.solve(hessian, grad)
        theta = theta - step
        if np.max(np.abs(step)) < 1e-14:
            break
    _, grad = fun(theta)
    assert np.max(np.abs(grad)) < 1e-12
    return theta[:-1], theta[-1]


@pytest.mark.parametrize(
    "loss_name, loss",
    [
        ("huber", huber_loss),
        ("squared_epsilon_insensitive", squared_epsilon_insensitive_loss),
    ],
)
@pytest.mark.parametrize("epsilon", [0.5, 1.0])
def test_smooth_robust_losses_match_lbfgs(loss_name, loss, epsilon):
    X, y, sw = regression_data(4, n_outliers=10)
    alpha = 1e-2
    gd = GDRegressor(
        loss=loss_name, epsilon=epsilon, alpha=alpha, tol=None, max_iter=MAX_ITER
    ).fit(X, y, sample_weight=sw)
    coef, intercept = minimize_objective(loss, X, y, sw, epsilon, alpha)
    assert_allclose(gd.coef_, coef, rtol=0, atol=1e-9)
    assert_allclose(gd.intercept_[0], intercept, rtol=0, atol=1e-9)


def test_huber_is_robust_where_squared_error_is_not():
    """The outliers pull least squares away, not the Huber fit."""
    X, y, _ = regression_data(5, n_outliers=20)
    clean = regression_data(5)[1]
    ref = LinearRegression().fit(X, clean)
    huber = GDRegressor(
        loss="huber", epsilon=1.0, penalty=None, tol=None, max_iter=MAX_ITER
    ).fit(X, y)
    squared = GDRegressor(penalty=None, tol=None, max_iter=MAX_ITER).fit(X, y)
    huber_error = np.abs(huber.intercept_[0] - ref.intercept_)
    squared_error = np.abs(squared.intercept_[0] - ref.intercept_)
    assert huber_error < 0.3 * squared_error


def test_epsilon_insensitive_reaches_the_lp_optimum():
    """Without a penalty, epsilon-insensitive regression is a linear program.

    The loss has kinks, so a constant step oscillates; a decaying step
    (subgradient method) approaches the LP optimum.
    """
    X, y, sw = regression_data(6, d=4)
    eps = 0.3
    n, d = X.shape
    total = sw.sum()
    # Variables [w, b, xi]: minimise sum s_i xi_i / sum s subject to
    # xi_i >= |x_i w + b - y_i| - eps, xi_i >= 0.
    Z = np.column_stack([X, np.ones(n)])
    lp = linprog(
        np.concatenate([np.zeros(d + 1), sw / total]),
        A_ub=np.block([[Z, -np.eye(n)], [-Z, -np.eye(n)]]),
        b_ub=np.concatenate([y + eps, eps - y]),
        bounds=[(None, None)] * (d + 1) + [(0, None)] * n,
        method="highs",
    )
    assert lp.status == 0

    gd = GDRegressor(
        loss="epsilon_insensitive",
        epsilon=eps,
        penalty=None,
        learning_rate=InverseTime(t1=10),
        tol=None,
        max_iter=3000,
    ).fit(X, y, sample_weight=sw)
    residual = X @ gd.coef_ + gd.intercept_[0] - y
    objective = sw @ np.maximum(np.abs(residual) - eps, 0.0) / total
    assert lp.fun <= objective <= lp.fun + 1e-5
    assert_allclose(gd.coef_, lp.x[:d], atol=1e-3)
    assert_allclose(gd.intercept_[0], lp.x[d], atol=1e-3)


# --------------------------------------------------------------------------
# L1 and elastic net: full-batch proximal gradient (ISTA)
# --------------------------------------------------------------------------


def sparse_regression_data():
    rng = np.random.RandomState(7)
    n, d = 200, 8
    X = rng.randn(n, d) @ (np.eye(d) + 0.3 * rng.randn(d, d))
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    w = np.array([2.0, -1.5, 1.0, 0.0, 0.0, 0.05, 0.0, -0.02])
    y = X @ w + 1.5 + 0.5 * rng.randn(n)
    return X, y, rng.uniform(0.2, 2.0, n)


@pytest.mark.parametrize("alpha", [0.05, 0.2])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_l1_matches_lasso_with_exact_zeros(alpha, weighted):
    X, y, sw = sparse_regression_data()
    sw = sw if weighted else None
    gd = GDRegressor(penalty="l1", alpha=alpha, tol=None, max_iter=MAX_ITER).fit(
        X, y, sample_weight=sw
    )
    # Lasso: sum s_i (y_i - x_i w - b)^2 / (2 sum s) + alpha ||w||_1, which is
    # skgd's squared_error (r^2 / 2) with the l1 penalty.
    ref = Lasso(alpha=alpha, tol=1e-14, max_iter=1_000_000).fit(X, y, sample_weight=sw)
    assert_allclose(gd.coef_, ref.coef_, rtol=1e-7, atol=1e-10)
    assert_allclose(gd.intercept_[0], ref.intercept_, rtol=1e-7, atol=1e-10)
    # Exact zeros, in the same places as the coordinate-descent solution.
    zeros = ref.coef_ == 0.0
    assert zeros.sum() >= 3
    assert np.array_equal(gd.coef_ == 0.0, zeros)


@pytest.mark.parametrize("l1_ratio", [0.3, 0.8])
@pytest.mark.parametrize("alpha", [0.05, 0.2])
def test_elasticnet_matches_sklearn(alpha, l1_ratio):
    X, y, sw = sparse_regression_data()
    gd = GDRegressor(
        penalty="elasticnet",
        alpha=alpha,
        l1_ratio=l1_ratio,
        tol=None,
        max_iter=MAX_ITER,
    ).fit(X, y, sample_weight=sw)
    # ElasticNet adds alpha * (l1_ratio ||w||_1 + (1 - l1_ratio) / 2 ||w||^2)
    # to the same data term: skgd's definition of the elastic net.
    ref = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-14, max_iter=1_000_000)
    ref.fit(X, y, sample_weight=sw)
    assert_allclose(gd.coef_, ref.coef_, rtol=1e-7, atol=1e-10)
    assert_allclose(gd.intercept_[0], ref.intercept_, rtol=1e-7, atol=1e-10)
    assert np.array_equal(gd.coef_ == 0.0, ref.coef_ == 0.0)
    if l1_ratio > 0.5:
        assert np.any(ref.coef_ == 0.0)


# --------------------------------------------------------------------------
# Logistic regression
# --------------------------------------------------------------------------


def logistic_reference(X, y, alpha, total_weight, **fit_params):
    # LogisticRegression minimises C sum_i s_i logloss_i + ||w||^2 / 2;
    # divided by C sum(s) this is skgd's objective when
    # C = 1 / (alpha * sum(s)).  The intercept is unpenalised in both.
    return LogisticRegression(
        C=1.0 / (alpha * total_weight), tol=1e-12, max_iter=10_000
    ).fit(X, y, **fit_params)


def centred(intercept):
    """Softmax intercepts are defined up to a common shift."""
    return intercept - intercept.mean() if intercept.shape[0] > 2 else intercept


@pytest.mark.parametrize("n_classes", [2, 3, 4])
@pytest.mark.parametrize("alpha", [1e-2, 1e-3])
def test_log_loss_matches_logistic_regression(n_classes, alpha):
    X, y = classification_data(n_classes, seed=n_classes)
    gd = GDClassifier(alpha=alpha, tol=None, max_iter=3 * MAX_ITER).fit(X, y)
    ref = logistic_reference(X, y, alpha, X.shape[0])
    expected_rows = 1 if n_classes == 2 else n_classes
    assert gd.coef_.shape == ref.coef_.shape == (expected_rows, X.shape[1])
    assert_allclose(gd.predict_proba(X), ref.predict_proba(X), rtol=0, atol=1e-6)
    assert_allclose(gd.coef_, ref.coef_, rtol=0, atol=1e-5)
    assert_allclose(centred(gd.intercept_), centred(ref.intercept_), atol=1e-5)
    assert np.array_equal(gd.predict(X), ref.predict(X))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_log_loss_weighted_matches_logistic_regression(n_classes):
    X, y = classification_data(n_classes, seed=10 + n_classes)
    sw = np.random.RandomState(0).uniform(0.2, 2.0, X.shape[0])
    alpha = 1e-2
    gd = GDClassifier(alpha=alpha, tol=None, max_iter=MAX_ITER).fit(
        X, y, sample_weight=sw
    )
    ref = logistic_reference(X, y, alpha, sw.sum(), sample_weight=sw)
    assert_allclose(gd.predict_proba(X), ref.predict_proba(X), rtol=0, atol=1e-6)
    assert_allclose(gd.coef_, ref.coef_, rtol=0, atol=1e-5)


def test_log_loss_class_weight_matches_logistic_regression():
    X, y = classification_data(3, seed=20)
    alpha = 1e-2
    gd = GDClassifier(
        alpha=alpha, class_weight="balanced", tol=None, max_iter=MAX_ITER
    ).fit(X, y)
    # class_weight multiplies the sample weights, so their total sets C.
    weights = compute_class_weight("balanced", classes=np.unique(y), y=y)[y]
    ref = LogisticRegression(
        C=1.0 / (alpha * weights.sum()),
        class_weight="balanced",
        tol=1e-12,
        max_iter=10_000,
    ).fit(X, y)
    assert_allclose(gd.predict_proba(X), ref.predict_proba(X), rtol=0, atol=1e-6)
    assert_allclose(gd.coef_, ref.coef_, rtol=0, atol=1e-5)


def test_log_loss_string_labels():
    X, y = classification_data(3, seed=30)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    gd = GDClassifier(alpha=1e-2, tol=None, max_iter=MAX_ITER).fit(X, labels)
    ref = logistic_reference(X, labels, 1e-2, X.shape[0])
    assert list(gd.classes_) == list(ref.classes_)
    assert_allclose(gd.predict_proba(X), ref.predict_proba(X), rtol=0, atol=1e-6)


# --------------------------------------------------------------------------
# The tutorial experiments
# --------------------------------------------------------------------------


def test_tutorial_batch_gd_reaches_normal_equation():
    x, y = tutorial_data()
    theta = normal_equation(x, y)
    gd = GDRegressor(penalty=None, tol=None, max_iter=1000).fit(x, y)
    assert_allclose(gd.intercept_[0], theta[0], rtol=0, atol=1e-8)
    assert_allclose(gd.coef_[0], theta[1], rtol=0, atol=1e-8)
    # The noise moves the solution off (4, 3), but not far.
    assert abs(theta[0] - 4) < 0.5 and abs(theta[1] - 3) < 0.5


@pytest.mark.parametrize("tutorial_eta", [0.001, 0.01, 0.1])
def test_tutorial_update_rule_step_by_step(tutorial_eta):
    """Full-batch GD is exactly theta <- theta - eta (2/m) Z^T (Z theta - y).

    The tutorial's cost is the MSE, whose gradient (2/m) Z^T (Z theta - y) is
    twice that of skgd's mean of r^2 / 2: the tutorial's eta is skgd's
    eta0 / 2.  Both start from the same random point and run 1000 steps; the
    two smaller steps leave the iterate short of the solution, so the match
    is a match of the whole trajectory, not of the limit.
    """
    x, y = tutorial_data()
    m = x.shape[0]
    Z = np.column_stack([np.ones(m), x])
    theta0 = np.random.RandomState(0).randn(2)
    theta = theta0.copy()
    for _ in range(1000):
        theta = theta - tutorial_eta * (2.0 / m) * Z.T @ (Z @ theta - y)

    gd = GDRegressor(
        penalty=None, tol=None, max_iter=1000, eta0=2 * tutorial_eta, shuffle=False
    ).fit(x, y, coef_init=theta0[1:], intercept_init=theta0[:1])
    assert_allclose([gd.intercept_[0], gd.coef_[0]], theta, rtol=1e-10, atol=1e-12)
    if tutorial_eta < 0.1:
        # "A smaller eta left it short of the answer after 1,000 iterations."
        assert np.max(np.abs(theta - normal_equation(x, y))) > 1e-3


def test_tutorial_sgd_with_inverse_time_schedule():
    """eta_t = t0 / (t + t1) with t0 = 5, t1 = 50 is 0.1 / (1 + t / 50): in
    skgd's half-scale gradient, eta0 = 0.2 with InverseTime(t1=50).  50 epochs
    of 100 single-sample updates land within a few hundredths of the normal
    equation."""
    x, y = tutorial_data()
    theta = normal_equation(x, y)
    for seed in range(3):
        sgd = GDRegressor(
            penalty=None,
            batch_size=1,
            learning_rate=InverseTime(t1=50),
            eta0=0.2,
            max_iter=50,
            tol=None,
            random_state=seed,
        ).fit(x, y)
        assert sgd.n_iter_ == 50
        assert sgd.t_ == 50 * 100
        assert abs(sgd.intercept_[0] - theta[0]) < 0.05
        assert abs(sgd.coef_[0] - theta[1]) < 0.05


def test_tutorial_tiny_example_converges_to_minimum_norm_solution():
    """X = [[1,1],[2,2],[3,3]], y = [1,2,3], from zero, no intercept: every
    exact fit has theta_1 + theta_2 = 1, and gradient descent from zero stays
    in the row space of X, so it converges to the minimum-norm fit [0.5, 0.5]
    (the tutorial's printed [0.999, 0.999] is not a solution at all)."""
    X = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    y = np.array([1.0, 2.0, 3.0])
    minimum_norm = np.linalg.pinv(X) @ y
    assert_allclose(minimum_norm, [0.5, 0.5])
    for eta0 in ["auto", 0.02]:  # 0.02 is the tutorial's eta = 0.01
        gd = GDRegressor(
            penalty=None, fit_intercept=False, tol=None, max_iter=1000, eta0=eta0
        ).fit(X, y)
        assert_allclose(gd.coef_, minimum_norm, rtol=0, atol=1e-10)
        assert not np.allclose(gd.coef_, [0.999, 0.999], atol=0.1)


@pytest.mark.parametrize("eta0", [10.0, 1.0], ids=["eta0=10", "tutorial-eta=0.5"])
def test_too_large_step_raises_divergence_error(eta0):
    x, y = tutorial_data()
    L = largest_eigenvalue(x)
    with pytest.raises(DivergenceError) as info:
        GDRegressor(penalty=None, tol=None, max_iter=1000, eta0=eta0).fit(x, y)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.eta == eta0
    assert_allclose(err.largest_stable_step, 2.0 / L, rtol=1e-3)
    assert err.largest_stable_step < eta0
    assert isinstance(err.epoch, int) and 1 <= err.epoch <= 1000
    message = str(err)
    assert f"epoch {err.epoch}" in message
    assert f"{eta0:.4g}" in message
    assert f"{err.largest_stable_step:.4g}" in message


def test_largest_stable_step_is_the_stability_threshold():
    """Just above 2/L full-batch GD diverges, just below it converges."""
    x, y = tutorial_data()
    stable = 2.0 / largest_eigenvalue(x)
    with pytest.raises(DivergenceError) as info:
        GDRegressor(penalty=None, tol=None, max_iter=1000, eta0=3 * stable).fit(x, y)
    assert_allclose(info.value.largest_stable_step, stable, rtol=1e-3)
    with pytest.raises(DivergenceError):
        GDRegressor(penalty=None, tol=None, max_iter=1000, eta0=1.1 * stable).fit(x, y)
    gd = GDRegressor(penalty=None, tol=None, max_iter=1000, eta0=0.95 * stable).fit(
        x, y
    )
    theta = normal_equation(x, y)
    assert_allclose([gd.intercept_[0], gd.coef_[0]], theta, rtol=0, atol=1e-8)


# --------------------------------------------------------------------------
# eta0="auto"
# --------------------------------------------------------------------------


def _auto_cases():
    x, y = tutorial_data()
    rng = np.random.RandomState(3)
    X = rng.randn(150, 4) * [1.0, 3.0, 0.5, 2.0] + [5.0, -2.0, 0.0, 1.0]
    sw = rng.uniform(0.1, 3.0, X.shape[0])
    y_reg = X @ [1.0, -0.5, 2.0, 0.3] + rng.randn(X.shape[0])
    Xc, yc = make_classification(
        n_samples=150, n_features=4, n_informative=3, n_redundant=0, random_state=0
    )
    Xc = Xc * [1.0, 3.0, 0.5, 2.0] + [5.0, -2.0, 0.0, 1.0]
    X3, y3 = make_classification(
        n_samples=150,
        n_features=4,
        n_informative=3,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        random_state=1,
    )
    # (estimator, X, y, sample_weight, curvature of the loss)
    return {
        "tutorial-squared_error": (GDRegressor(penalty=None), x, y, None, 1.0),
        "squared_error": (GDRegressor(), X, y_reg, sw, 1.0),
        "squared_error-no-intercept": (
            GDRegressor(fit_intercept=False),
            X,
            y_reg,
            sw,
            1.0,
        ),
        "huber": (GDRegressor(loss="huber", epsilon=1.0), X, y_reg, sw, 1.0),
        "squared_epsilon_insensitive": (
            GDRegressor(loss="squared_epsilon_insensitive"),
            X,
            y_reg,
            sw,
            2.0,
        ),
        "binary-log_loss": (GDClassifier(), Xc, yc, sw, 0.25),
        "squared_hinge": (GDClassifier(loss="squared_hinge"), Xc, yc, None, 2.0),
        # The Hessian of the softmax loss in the scores, diag(p) - p p^T, has
        # eigenvalues at most 1/2.
        "multinomial-log_loss": (GDClassifier(), X3, y3, None, 0.5),
    }


AUTO_CASES = _auto_cases()


@pytest.mark.parametrize("case", list(AUTO_CASES))
def test_auto_step_is_inverse_smoothness(case):
    estimator, X, y, sw, curvature = AUTO_CASES[case]
    estimator.set_params(tol=None, max_iter=300)
    estimator.fit(X, y, sample_weight=sw)
    L = curvature * largest_eigenvalue(X, sw, estimator.fit_intercept)
    assert_allclose(estimator.eta0_, 1.0 / L, rtol=1e-3)


@pytest.mark.parametrize("case", list(AUTO_CASES))
def test_auto_step_loss_curve_never_increases(case):
    estimator, X, y, sw, _ = AUTO_CASES[case]
    estimator.set_params(tol=None, max_iter=300)
    estimator.fit(X, y, sample_weight=sw)
    curve = np.asarray(estimator.loss_curve_)
    assert curve.shape == (300,)
    assert np.all(np.isfinite(curve))
    increases = np.diff(curve)
    assert np.all(increases <= 1e-12 * np.abs(curve[:-1])), increases.max()
    assert curve[-1] < curve[0]


def test_loss_curve_is_the_objective():
    """For the full batch the recorded value is the objective at the start of
    each epoch: the first entry is the objective of the zero model, the last
    the objective one step before the final coefficients."""
    x, y = tutorial_data()
    alpha = 0.1
    gd = GDRegressor(alpha=alpha, tol=None, max_iter=5, eta0=0.05).fit(x, y)
    assert_allclose(gd.loss_curve_[0], np.mean(0.5 * y**2), rtol=1e-12)
    gd_prev = GDRegressor(alpha=alpha, tol=None, max_iter=4, eta0=0.05).fit(x, y)
    residual = x @ gd_prev.coef_ + gd_prev.intercept_[0] - y
    expected = np.mean(0.5 * residual**2) + 0.5 * alpha * gd_prev.coef_ @ gd_prev.coef_
    assert_allclose(gd.loss_curve_[-1], expected, rtol=1e-12)
