"""Training control: partial_fit, warm start, early stopping, the "adaptive"
schedule, averaging, and the training history.

Expected values come from a small NumPy implementation of mini-batch
gradient descent written from the solver's specification (rows in their
natural order, batch gradient scaled by the mean sample weight, optimizer
rule per coordinate, L2 shrink and L1 soft threshold, running average of
the iterates), from closed-form objectives, and from scikit-learn's metrics.
Where the issue asks for two training paths to agree exactly (partial_fit
against fit, two warm-started fits against one), the two paths are compared
with each other.
"""

import math
import re

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, log_softmax, softmax
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import StandardScaler

import skgd

OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]
RTOL = 1e-10
ATOL = 1e-12
ADAPTIVE_EPS = 1e-8
MIN_ADAPTIVE_ETA = 1e-6

# The NumPy reference below is the textbook iteration: the plain rule (or
# the named one), the schedule's steps as given, a fixed momentum, no
# preconditioning.  The defaults train the full batch differently (see
# tests/test_fullbatch.py), so every estimator here names these.
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


def diabetes(standardize_y=True):
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    if standardize_y:
        y = (y - y.mean()) / y.std()
    return X, y


def breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def small_regression(n=40, d=5, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    y = X @ rng.randn(d) + 0.7 + 0.3 * rng.randn(n)
    return X, y


# --------------------------------------------------------------------------
# NumPy reference
# --------------------------------------------------------------------------


def soft_threshold(v, thr):
    return np.sign(v) * np.maximum(np.abs(v) - thr, 0.0)


def encode(kind, y, classes=None):
    """Targets as the reference takes them: real columns ("real"), +-1 per
    output ("binary" / "ovr"), or class indices ("multinomial")."""
    if kind == "real":
        return np.asarray(y, dtype=float).reshape(len(y), -1)
    codes = np.searchsorted(classes, y)
    if kind == "binary":
        return np.where(codes == 1, 1.0, -1.0)[:, None]
    if kind == "ovr":
        return np.where(codes[:, None] == np.arange(len(classes)), 1.0, -1.0)
    return codes


def loss_and_derivative(loss, P, T):
    """Per-row loss (m,) and dloss/dP (m, K)."""
    if loss == "squared_error":
        r = P - T
        return 0.5 * np.sum(r**2, axis=1), r
    if loss == "log_loss":
        z = P * T
        return np.sum(np.logaddexp(0.0, -z), axis=1), -T * expit(-z)
    if loss == "hinge":
        z = P * T
        return np.sum(np.maximum(0.0, 1.0 - z), axis=1), np.where(z <= 1.0, -T, 0.0)
    if loss == "multinomial":
        rows = np.arange(P.shape[0])
        logp = log_softmax(P, axis=1)
        deriv = softmax(P, axis=1)
        deriv[rows, T] -= 1.0
        return -logp[rows, T], deriv
    raise AssertionError(loss)


class NumpyGD:
    """Mini-batch gradient descent in plain NumPy, rows in their order.

    W has shape (K, d + 1) with the intercept in the last column.  For the
    batch B at update t (0-based) with step eta:
        G = sum_{i in B} s_i dloss_i [x_i, 1] / (|B| mean(s))
    plain SGD:   w <- S((1 - eta alpha (1 - rho)) w - eta G_w, eta alpha rho)
    other rules: the rule applied to G_w + alpha (1 - rho) w, then S(., thr)
    intercept:   the rule applied to G_b, never penalised.
    Averaging from update k: after update c > k, A <- A + (W - A) / (c - k).
    """

    def __init__(
        self,
        n_outputs,
        n_features,
        loss,
        *,
        optimizer="sgd",
        alpha=0.0,
        l1_ratio=0.0,
        momentum=0.9,
        beta_1=0.9,
        beta_2=0.999,
        average_start=None,
    ):
        shape = (n_outputs, n_features + 1)
        self.W = np.zeros(shape)
        self.S1 = np.zeros(shape)
        self.S2 = np.zeros(shape)
        self.A = np.zeros(shape)
        self.t = 0
        self.d = n_features
        # Cumulative L1 penalty of plain SGD on stochastic batches (Tsuruoka
        # et al., 2009): what any weight could have received, what each did.
        self.u = 0.0
        self.q = np.zeros((n_outputs, n_features))
        self.loss = loss
        self.optimizer = optimizer
        self.alpha, self.rho = alpha, l1_ratio
        self.mu, self.b1, self.b2 = momentum, beta_1, beta_2
        self.average_start = average_start

    # -- the model --------------------------------------------------------

    def decision(self, X, W=None):
        W = self.published() if W is None else W
        return X @ W[:, : self.d].T + W[:, self.d]

    def published(self):
        k = self.average_start
        if k is not None and self.t > k:
            return self.A
        return self.W

    def objective(self, X, T, sw=None, W=None):
        W = self.W if W is None else W
        sw = np.ones(X.shape[0]) if sw is None else sw
        value, _ = loss_and_derivative(self.loss, self.decision(X, W), T)
        coef = W[:, : self.d]
        penalty = self.alpha * (
            0.5 * (1 - self.rho) * np.sum(coef**2) + self.rho * np.sum(np.abs(coef))
        )
        return float(np.sum(sw * value) / np.sum(sw) + penalty)

    # -- training ---------------------------------------------------------

    def epoch(self, X, T, eta, batch_size="full", sw=None):
        n = X.shape[0]
        sw = np.ones(n) if sw is None else np.asarray(sw, dtype=float)
        size = n if batch_size == "full" else batch_size
        mean_sw = sw.mean()
        for start in range(0, n, size):
            rows = np.arange(start, min(start + size, n))
            _, deriv = loss_and_derivative(
                self.loss, self.decision(X[rows], self.W), T[rows]
            )
            coeff = sw[rows, None] * deriv / (len(rows) * mean_sw)
            G = np.hstack([coeff.T @ X[rows], coeff.sum(axis=0)[:, None]])
            self._step(G, eta, stochastic=size < n)
            self.t += 1
            k = self.average_start
            if k is not None and self.t > k:
                self.A += (self.W - self.A) / (self.t - k)

    def _step(self, G, eta, stochastic=False):
        d = self.d
        l2 = self.alpha * (1.0 - self.rho)
        if self.optimizer == "sgd":
            new = self.W - eta * G
            new[:, :d] = (1.0 - eta * l2) * self.W[:, :d] - eta * G[:, :d]
            if stochastic and self.alpha * self.rho > 0:
                self.u += eta * self.alpha * self.rho
                z = new[:, :d]
                clipped = np.where(
                    z > 0,
                    np.maximum(0.0, z - (self.u + self.q)),
                    np.where(z < 0, np.minimum(0.0, z + (self.u - self.q)), 0.0),
                )
                self.q += clipped - z
                new[:, :d] = clipped
                self.W = new
                return
        else:
            g = G.copy()
            g[:, :d] += l2 * self.W[:, :d]
            new = self._rule(g, eta)
        new[:, :d] = soft_threshold(new[:, :d], eta * self.alpha * self.rho)
        self.W = new

    def _rule(self, g, eta):
        W, opt = self.W, self.optimizer
        if opt in ("momentum", "nesterov"):
            self.S1 = self.mu * self.S1 - eta * g
            if opt == "momentum":
                return W + self.S1
            return W + self.mu * self.S1 - eta * g
        if opt == "adagrad":
            self.S1 = self.S1 + g**2
            return W - eta * g / (np.sqrt(self.S1) + ADAPTIVE_EPS)
        if opt == "rmsprop":
            self.S1 = self.b2 * self.S1 + (1 - self.b2) * g**2
            return W - eta * g / (np.sqrt(self.S1) + ADAPTIVE_EPS)
        if opt == "adam":
            self.S1 = self.b1 * self.S1 + (1 - self.b1) * g
            self.S2 = self.b2 * self.S2 + (1 - self.b2) * g**2
            m_hat = self.S1 / (1 - self.b1 ** (self.t + 1))
            v_hat = self.S2 / (1 - self.b2 ** (self.t + 1))
            return W - eta * m_hat / (np.sqrt(v_hat) + ADAPTIVE_EPS)
        raise AssertionError(opt)


def model_W(est):
    """(K, d + 1) array of a fitted estimator's published model."""
    coef = np.atleast_2d(est.coef_)
    return np.hstack([coef, np.asarray(est.intercept_).reshape(-1, 1)])


def assert_same_model(a, b):
    assert_array_equal(a.coef_, b.coef_)
    assert_array_equal(a.intercept_, b.intercept_)


# --------------------------------------------------------------------------
# Validation split, found from the outside
# --------------------------------------------------------------------------


def held_out_rows(Estimator, y, **params):
    """The rows early stopping holds out, recovered through public behaviour.

    The split depends on the targets, validation_fraction and random_state,
    not on X (as in scikit-learn's SGD estimators).  With X the identity
    matrix, one full-batch step from zero moves the coefficient of feature j
    exactly when row j is a training row (every row has a nonzero loss
    derivative at zero), so the zero columns of coef_ name the held-out rows.
    """
    n = len(y)
    probe = Estimator(
        early_stopping=True,
        max_iter=1,
        tol=None,
        eta0=0.5,
        penalty=None,
        **params,
    ).fit(np.eye(n), y)
    moved = np.any(np.atleast_2d(probe.coef_) != 0, axis=0)
    return np.flatnonzero(moved), np.flatnonzero(~moved)


def simulate_stopping(scores, tol, n_iter_no_change, higher_is_better=True):
    """Epochs run under scikit-learn's rule: an epoch that does not beat the
    best so far by tol counts; n_iter_no_change counts in a row stop."""
    best = -np.inf if higher_is_better else np.inf
    count = 0
    for epoch, value in enumerate(scores, start=1):
        if higher_is_better:
            worse = value < best + tol
            best = max(best, value)
        else:
            worse = value > best - tol
            best = min(best, value)
        count = count + 1 if worse else 0
        if count >= n_iter_no_change:
            return epoch
    return len(scores)


# ==========================================================================
# 1. partial_fit
# ==========================================================================


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_partial_fit_full_batch_equals_fit_regressor(optimizer):
    X, y = diabetes()
    fitted = GDRegressor(optimizer=optimizer, max_iter=10, tol=None).fit(X, y)
    incremental = GDRegressor(optimizer=optimizer)
    for call in range(1, 11):
        incremental.partial_fit(X, y)
        assert incremental.t_ == call
        assert incremental.n_iter_ == call
    assert_same_model(incremental, fitted)
    assert incremental.t_ == fitted.t_ == 10
    assert_array_equal(incremental.loss_curve_, fitted.loss_curve_)


CLASSIFICATION_CASES = [
    ("binary", "log_loss"),
    ("binary", "hinge"),
    ("multiclass", "log_loss"),
    ("multiclass", "hinge"),
]


def classification_data(kind):
    if kind == "binary":
        X, y = breast_cancer()
        return X, np.array(["benign", "malignant"])[y]
    return iris()


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("kind, loss", CLASSIFICATION_CASES)
def test_partial_fit_full_batch_equals_fit_classifier(kind, loss, optimizer):
    X, y = classification_data(kind)
    params = dict(loss=loss, optimizer=optimizer)
    fitted = GDClassifier(max_iter=10, tol=None, **params).fit(X, y)
    incremental = GDClassifier(**params)
    incremental.partial_fit(X, y, classes=np.unique(y))
    for _ in range(9):
        incremental.partial_fit(X, y)
    assert_same_model(incremental, fitted)
    assert_array_equal(incremental.classes_, fitted.classes_)
    assert incremental.t_ == fitted.t_ == 10
    assert incremental.n_iter_ == 10
    assert_array_equal(incremental.predict(X), fitted.predict(X))


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_partial_fit_minibatches_carry_state_over_chunks(optimizer):
    # Two chunks of different sizes, batches of 5, no shuffling: one epoch
    # per call, optimizer buffers and the update count (Adam's bias
    # correction) carried from the first chunk to the second.
    X, y = small_regression(n=40, d=4, seed=1)
    sw = np.random.RandomState(2).uniform(0.5, 2.0, size=40)
    chunks = [slice(0, 23), slice(23, 40)]
    eta = 0.05
    params = dict(alpha=0.01, penalty="l2", eta0=eta, batch_size=5, shuffle=False)
    est = GDRegressor(optimizer=optimizer, **params)
    ref = NumpyGD(1, 4, "squared_error", optimizer=optimizer, alpha=0.01)
    expected_t = [5, 9]
    for chunk, t in zip(chunks, expected_t):
        est.partial_fit(X[chunk], y[chunk], sample_weight=sw[chunk])
        ref.epoch(X[chunk], encode("real", y[chunk]), eta, 5, sw[chunk])
        assert est.t_ == t
        assert_allclose(model_W(est), ref.W, rtol=RTOL, atol=ATOL)
    assert est.n_iter_ == 2


def test_partial_fit_classifier_minibatch_matches_reference():
    X, y = iris()
    classes = np.unique(y)
    est = GDClassifier(eta0=0.1, batch_size=16, shuffle=False, alpha=1e-3)
    ref = NumpyGD(3, X.shape[1], "multinomial", alpha=1e-3)
    T = encode("multinomial", y, classes)
    for call, chunk in enumerate([slice(0, 70), slice(70, 150)]):
        kwargs = {"classes": classes} if call == 0 else {}
        est.partial_fit(X[chunk], y[chunk], **kwargs)
        ref.epoch(X[chunk], T[chunk], 0.1, 16)
    assert est.t_ == 5 + 5
    assert_allclose(model_W(est), ref.W, rtol=RTOL, atol=ATOL)


def test_partial_fit_classifier_needs_classes_on_first_call():
    X, y = iris()
    est = GDClassifier()
    with pytest.raises(ValueError, match="classes"):
        est.partial_fit(X, y)
    assert not hasattr(est, "coef_")
    # Classes absent from the first chunk are still known afterwards.
    est.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    assert_array_equal(est.classes_, [0, 1, 2])
    assert est.coef_.shape == (3, X.shape[1])
    est.partial_fit(X[y == 2], y[y == 2])
    assert est.t_ == 2


@pytest.mark.parametrize("Estimator", [GDRegressor, GDClassifier])
def test_partial_fit_rejects_a_different_feature_count(Estimator):
    X, y = iris()
    est = Estimator()
    kwargs = {"classes": np.unique(y)} if Estimator is GDClassifier else {}
    est.partial_fit(X, y, **kwargs)
    coef, intercept, t = est.coef_.copy(), est.intercept_.copy(), est.t_
    with pytest.raises(ValueError, match=r"3 features.*expecting 4|4.*3 features"):
        est.partial_fit(X[:, :3], y)
    assert_array_equal(est.coef_, coef)
    assert_array_equal(est.intercept_, intercept)
    assert est.t_ == t
    est.partial_fit(X, y)
    assert est.t_ == t + 1


def test_set_params_eta0_between_partial_fit_calls():
    X, y = small_regression()
    steps = [0.1, 0.02, 0.3, 0.3]
    est = GDRegressor(eta0=steps[0], alpha=0.01)
    ref = NumpyGD(1, X.shape[1], "squared_error", alpha=0.01)
    for eta in steps:
        est.set_params(eta0=eta)
        est.partial_fit(X, y)
        ref.epoch(X, encode("real", y), eta)
        assert est.eta0_ == eta
        assert_allclose(model_W(est), ref.W, rtol=RTOL, atol=ATOL)


def test_numeric_eta0_applies_after_an_auto_start():
    X, y = small_regression()
    est = GDRegressor(alpha=0.01).partial_fit(X, y)
    # The automatic step is 1 / (largest eigenvalue of the Gram matrix of
    # [X, 1] / n, plus alpha for the L2 penalty); skgd estimates it by power
    # iteration.
    Z = np.hstack([X, np.ones((len(X), 1))])
    auto = 1.0 / (np.linalg.eigvalsh(Z.T @ Z / len(X)).max() + 0.01)
    assert est.eta0_ == pytest.approx(auto, rel=1e-3)
    ref = NumpyGD(1, X.shape[1], "squared_error", alpha=0.01)
    ref.epoch(X, encode("real", y), est.eta0_)
    for eta in (0.05, 0.01):
        est.set_params(eta0=eta).partial_fit(X, y)
        ref.epoch(X, encode("real", y), eta)
    assert_allclose(model_W(est), ref.W, rtol=RTOL, atol=ATOL)


def test_set_params_eta0_between_warm_started_fits():
    X, y = small_regression()
    est = GDRegressor(eta0=0.1, max_iter=3, tol=None, warm_start=True, alpha=0.01)
    ref = NumpyGD(1, X.shape[1], "squared_error", alpha=0.01)
    for eta in (0.1, 0.01):
        est.set_params(eta0=eta).fit(X, y)
        for _ in range(3):
            ref.epoch(X, encode("real", y), eta)
    assert est.t_ == 6
    assert_allclose(model_W(est), ref.W, rtol=RTOL, atol=ATOL)


# ==========================================================================
# 2. Warm start
# ==========================================================================


def two_step_and_one_step(Estimator, X, y, epochs, **params):
    twice = Estimator(max_iter=epochs, tol=None, warm_start=True, **params)
    twice.fit(X, y)
    first_curve = list(twice.loss_curve_)
    twice.fit(X, y)
    once = Estimator(max_iter=2 * epochs, tol=None, **params).fit(X, y)
    return twice, once, first_curve


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_warm_start_full_batch_resumes_exactly_regressor(optimizer):
    X, y = diabetes()
    twice, once, first = two_step_and_one_step(
        GDRegressor, X, y, 10, optimizer=optimizer
    )
    assert_same_model(twice, once)
    assert twice.n_iter_ == once.n_iter_ == 20
    assert twice.t_ == once.t_ == 20
    assert len(twice.loss_curve_) == 20
    assert_array_equal(twice.loss_curve_, once.loss_curve_)
    assert_array_equal(twice.loss_curve_[:10], first)
    assert twice.best_loss_ == min(once.loss_curve_)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("kind, loss", CLASSIFICATION_CASES)
def test_warm_start_full_batch_resumes_exactly_classifier(kind, loss, optimizer):
    X, y = classification_data(kind)
    twice, once, _ = two_step_and_one_step(
        GDClassifier, X, y, 10, loss=loss, optimizer=optimizer
    )
    assert_same_model(twice, once)
    assert twice.n_iter_ == twice.t_ == 20
    assert_array_equal(twice.loss_curve_, once.loss_curve_)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("batch_size", [1, 7])
@pytest.mark.parametrize("Estimator", [GDRegressor, GDClassifier])
def test_warm_start_minibatch_shuffled_resumes_exactly(
    Estimator, batch_size, optimizer
):
    if Estimator is GDRegressor:
        X, y = diabetes()
        eta0 = 0.01
    else:
        X, y = iris()
        eta0 = 0.05
    twice, once, _ = two_step_and_one_step(
        Estimator,
        X,
        y,
        3,
        batch_size=batch_size,
        shuffle=True,
        random_state=42,
        optimizer=optimizer,
        eta0=eta0,
    )
    per_epoch = math.ceil(X.shape[0] / batch_size)
    assert twice.t_ == once.t_ == 6 * per_epoch
    assert twice.n_iter_ == 6
    assert_same_model(twice, once)
    assert_array_equal(twice.loss_curve_, once.loss_curve_)


def test_shuffling_actually_changes_the_minibatch_run():
    # Guards the test above: with shuffling the epochs differ from the
    # natural order, so equality there depends on the carried generator.
    X, y = diabetes()
    params = dict(batch_size=7, eta0=0.01, max_iter=3, tol=None)
    ordered = GDRegressor(shuffle=False, **params).fit(X, y)
    shuffled = GDRegressor(shuffle=True, random_state=42, **params).fit(X, y)
    other = GDRegressor(shuffle=True, random_state=43, **params).fit(X, y)
    assert not np.allclose(ordered.coef_, shuffled.coef_)
    assert not np.allclose(other.coef_, shuffled.coef_)


def test_warm_start_matches_reference_and_cold_start_restarts():
    X, y = small_regression()
    params = dict(eta0=0.05, max_iter=4, tol=None, alpha=0.01, optimizer="adam")
    warm = GDRegressor(warm_start=True, **params).fit(X, y).fit(X, y)
    ref = NumpyGD(1, X.shape[1], "squared_error", optimizer="adam", alpha=0.01)
    for _ in range(8):
        ref.epoch(X, encode("real", y), 0.05)
    assert_allclose(model_W(warm), ref.W, rtol=RTOL, atol=ATOL)

    cold = GDRegressor(warm_start=False, **params).fit(X, y).fit(X, y)
    assert cold.n_iter_ == cold.t_ == 4
    assert len(cold.loss_curve_) == 4
    assert_same_model(cold, GDRegressor(**params).fit(X, y))


# ==========================================================================
# 3. Early stopping
# ==========================================================================


def overfitting_regression(seed=0):
    """Few rows, many noise features: validation R² rises, then falls."""
    rng = np.random.RandomState(seed)
    n, d = 80, 60
    X = rng.randn(n, d)
    w = np.zeros(d)
    w[:3] = [1.5, -2.0, 1.0]
    y = X @ w + 2.0 * rng.randn(n) + 0.5
    return X, y


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("average", [False, True])
def test_early_stopping_regressor(weighted, average):
    X, y = overfitting_regression()
    n, d = X.shape
    sw = np.random.RandomState(5).uniform(0.5, 2.0, n) if weighted else None
    split = dict(validation_fraction=0.2, random_state=3)
    train, val = held_out_rows(GDRegressor, y, **split)
    assert len(val) == math.ceil(0.2 * n)
    assert len(train) == n - len(val)

    eta, alpha, tol, patience = 0.05, 1e-3, 1e-3, 8
    est = GDRegressor(
        early_stopping=True,
        eta0=eta,
        alpha=alpha,
        tol=tol,
        n_iter_no_change=patience,
        max_iter=500,
        average=average,
        **split,
    ).fit(X, y, sample_weight=sw)

    # The reference trains on the training rows only and scores the
    # published model (the running average with averaging) after each epoch.
    sw_all = np.ones(n) if sw is None else sw
    start = 0 if average else None
    ref = NumpyGD(1, d, "squared_error", alpha=alpha, average_start=start)
    T = encode("real", y)
    scores, models = [], []
    for _ in range(500):
        ref.epoch(X[train], T[train], eta, sw=sw_all[train])
        pred = ref.decision(X[val])[:, 0]
        scores.append(r2_score(y[val], pred, sample_weight=sw_all[val]))
        models.append(ref.published().copy())
    n_epochs = simulate_stopping(scores, tol, patience)
    scores = np.array(scores[:n_epochs])
    best = int(np.argmax(scores))
    assert best + 1 < n_epochs, "data should make the best epoch an early one"

    assert est.n_iter_ == n_epochs
    assert len(est.validation_scores_) == n_epochs
    assert_allclose(est.validation_scores_, scores, rtol=1e-9, atol=1e-12)
    assert est.best_validation_score_ == max(est.validation_scores_)
    # The returned model is the best epoch's, not the last one.
    assert_allclose(model_W(est), models[best], rtol=1e-9, atol=1e-12)
    assert not np.allclose(model_W(est), models[n_epochs - 1])
    assert r2_score(
        y[val], est.predict(X[val]), sample_weight=sw_all[val]
    ) == pytest.approx(est.best_validation_score_, rel=1e-12)


def test_early_stopping_returns_best_epoch_without_tol():
    # tol=None: no early stop, but still the best epoch's coefficients.
    X, y = overfitting_regression(seed=1)
    split = dict(validation_fraction=0.25, random_state=7)
    train, val = held_out_rows(GDRegressor, y, **split)
    est = GDRegressor(
        early_stopping=True, eta0=0.05, tol=None, max_iter=150, **split
    ).fit(X, y)
    ref = NumpyGD(1, X.shape[1], "squared_error", alpha=1e-4)
    scores, models = [], []
    for _ in range(150):
        ref.epoch(X[train], encode("real", y[train]), 0.05)
        scores.append(r2_score(y[val], ref.decision(X[val])[:, 0]))
        models.append(ref.W.copy())
    best = int(np.argmax(scores))
    assert best < 149
    assert est.n_iter_ == 150
    assert_allclose(est.validation_scores_, scores, rtol=1e-9, atol=1e-12)
    assert_allclose(model_W(est), models[best], rtol=1e-9, atol=1e-12)


def test_early_stopping_classifier_split_is_stratified():
    rng = np.random.RandomState(0)
    counts = {"a": 60, "b": 30, "c": 10}
    y = np.concatenate([[label] * c for label, c in counts.items()])
    y = y[rng.permutation(len(y))]
    fraction = 0.2
    train, val = held_out_rows(
        GDClassifier, y, validation_fraction=fraction, random_state=11
    )
    assert len(train) + len(val) == len(y)
    assert len(val) == math.ceil(fraction * len(y))
    for label, total in counts.items():
        held = np.sum(y[val] == label)
        assert abs(held - fraction * total) <= 1, (label, held)
        assert 0 < held < total


def noisy_binary(seed=0):
    rng = np.random.RandomState(seed)
    n, d = 120, 60
    X = rng.randn(n, d)
    w = np.zeros(d)
    w[:2] = [1.0, -1.0]
    logits = X @ w
    y = (logits + 1.5 * rng.randn(n) > 0).astype(int)
    return X, np.array(["no", "yes"])[y]


def test_early_stopping_classifier():
    X, y = noisy_binary()
    n, d = X.shape
    split = dict(validation_fraction=0.25, random_state=1)
    train, val = held_out_rows(GDClassifier, y, **split)
    for label in np.unique(y):
        assert np.sum(y[val] == label) == pytest.approx(
            0.25 * np.sum(y == label), abs=1
        )
    eta, tol, patience = 0.5, 1e-4, 10
    est = GDClassifier(
        early_stopping=True,
        eta0=eta,
        alpha=1e-3,
        tol=tol,
        n_iter_no_change=patience,
        max_iter=300,
        **split,
    ).fit(X, y)

    classes = np.unique(y)
    ref = NumpyGD(1, d, "log_loss", alpha=1e-3)
    T = encode("binary", y, classes)
    scores, models = [], []
    for _ in range(300):
        ref.epoch(X[train], T[train], eta)
        pred = classes[(ref.decision(X[val])[:, 0] > 0).astype(int)]
        scores.append(accuracy_score(y[val], pred))
        models.append(ref.W.copy())
    n_epochs = simulate_stopping(scores, tol, patience)
    best = int(np.argmax(scores[:n_epochs]))
    assert best + 1 < n_epochs

    assert est.n_iter_ == n_epochs
    assert_allclose(est.validation_scores_, scores[:n_epochs], rtol=0, atol=1e-12)
    assert est.best_validation_score_ == max(est.validation_scores_)
    assert_allclose(model_W(est), models[best], rtol=1e-9, atol=1e-12)
    assert accuracy_score(y[val], est.predict(X[val])) == est.best_validation_score_


def test_warm_start_keeps_the_same_held_out_rows():
    # A warm-started fit must not train on rows the previous fit held out
    # (scikit-learn's SGD estimators draw the split from random_state, so it
    # is the same at every fit).  Probe as in held_out_rows: a row's
    # coefficient stays zero exactly while the row has never been trained on.
    y = np.random.RandomState(0).randn(50) + 3.0
    est = GDRegressor(
        early_stopping=True,
        validation_fraction=0.2,
        random_state=0,
        max_iter=1,
        tol=None,
        eta0=0.5,
        penalty=None,
        warm_start=True,
    )
    est.fit(np.eye(50), y)
    first = np.flatnonzero(est.coef_ == 0)
    assert len(first) == 10
    est.fit(np.eye(50), y)
    assert_array_equal(np.flatnonzero(est.coef_ == 0), first)


def test_warm_start_with_early_stopping_keeps_one_score_per_epoch():
    # n_iter_ and loss_curve_ accumulate over warm starts; the validation
    # scores are per epoch as well.
    X, y = overfitting_regression()
    est = GDRegressor(
        early_stopping=True,
        random_state=0,
        max_iter=5,
        tol=None,
        eta0=0.05,
        warm_start=True,
    )
    est.fit(X, y).fit(X, y)
    assert est.n_iter_ == len(est.loss_curve_) == 10
    assert len(est.validation_scores_) == est.n_iter_
    assert est.best_validation_score_ == max(est.validation_scores_)


def test_without_early_stopping_there_are_no_validation_scores():
    X, y = small_regression()
    est = GDRegressor(max_iter=5, tol=None).fit(X, y)
    assert est.validation_scores_ is None
    assert est.best_validation_score_ is None
    assert len(est.loss_curve_) == 5


# ==========================================================================
# 4. learning_rate="adaptive"
# ==========================================================================

EPOCH_LINE = re.compile(
    r"Epoch (\d+)\D.*objective ([-+0-9.eE]+).*step ([-+0-9.eE]+).*"
    r"elapsed ([0-9.]+)"
)
REDUCED_LINE = re.compile(r"Step size reduced to ([-+0-9.eE]+)")


def parse_verbose(text):
    """[(kind, values)] for the epoch lines and the step-reduction lines."""
    events = []
    for line in text.splitlines():
        if m := EPOCH_LINE.search(line):
            events.append(("epoch", int(m[1]), float(m[2]), float(m[3]), float(m[4])))
        elif m := REDUCED_LINE.search(line):
            events.append(("reduced", float(m[1])))
    return events


def adaptive_reference(run_epoch, eta0, tol, patience, max_iter, higher_is_better):
    """scikit-learn's "adaptive" rule around a function that trains one epoch
    at step eta and returns the quantity watched (training objective at the
    start of the epoch, or the validation score after it).  Returns the step
    of every epoch and the epochs after which the step was divided."""
    eta, count = eta0, 0
    best = -np.inf if higher_is_better else np.inf
    steps, reductions = [], []
    for epoch in range(1, max_iter + 1):
        steps.append(eta)
        value = run_epoch(eta)
        if higher_is_better:
            worse = value < best + tol
            best = max(best, value)
        else:
            worse = value > best - tol
            best = min(best, value)
        count = count + 1 if worse else 0
        if count >= patience:
            if eta > MIN_ADAPTIVE_ETA:
                eta /= 5.0
                count = 0
                reductions.append((epoch, eta))
            else:
                break
    return steps, reductions


def check_adaptive_output(events, steps, reductions):
    epochs = [e for e in events if e[0] == "epoch"]
    assert [e[1] for e in epochs] == list(range(1, len(steps) + 1))
    assert_allclose([e[3] for e in epochs], steps, rtol=1e-3)
    reduced = [(i, e[1]) for i, e in enumerate(events) if e[0] == "reduced"]
    assert len(reduced) == len(reductions)
    for (position, value), (epoch, eta) in zip(reduced, reductions):
        # The message follows the line of the epoch that ended the plateau.
        assert events[position - 1][:2] == ("epoch", epoch)
        assert value == pytest.approx(eta, rel=1e-3)
    elapsed = [e[4] for e in epochs]
    assert all(b >= a for a, b in zip(elapsed, elapsed[1:]))


def test_adaptive_on_training_loss(capsys):
    X, y = diabetes()
    eta0, tol, patience, alpha = 0.1, 1e-3, 3, 1e-4
    est = GDRegressor(
        learning_rate="adaptive",
        eta0=eta0,
        tol=tol,
        n_iter_no_change=patience,
        alpha=alpha,
        max_iter=1000,
        verbose=1,
    ).fit(X, y)
    events = parse_verbose(capsys.readouterr().out)

    ref = NumpyGD(1, X.shape[1], "squared_error", alpha=alpha)
    T = encode("real", y)

    def run_epoch(eta):
        start = ref.objective(X, T)
        ref.epoch(X, T, eta)
        return start

    steps, reductions = adaptive_reference(
        run_epoch, eta0, tol, patience, 1000, higher_is_better=False
    )
    # Divided by 5 while above 1e-6, then a last plateau ends training.
    assert len(reductions) == 8
    assert reductions[-1][1] < MIN_ADAPTIVE_ETA < reductions[-2][1]
    assert len(steps) < 1000
    assert est.n_iter_ == len(steps)
    assert_allclose(model_W(est), ref.W, rtol=RTOL, atol=ATOL)
    check_adaptive_output(events, steps, reductions)


def test_adaptive_on_validation_score(capsys):
    X, y = overfitting_regression(seed=2)
    split = dict(validation_fraction=0.2, random_state=4)
    train, val = held_out_rows(GDRegressor, y, **split)
    eta0, tol, patience = 0.05, 1e-3, 4
    est = GDRegressor(
        learning_rate="adaptive",
        early_stopping=True,
        eta0=eta0,
        tol=tol,
        n_iter_no_change=patience,
        max_iter=1000,
        verbose=1,
        **split,
    ).fit(X, y)
    events = parse_verbose(capsys.readouterr().out)

    ref = NumpyGD(1, X.shape[1], "squared_error", alpha=1e-4)
    T = encode("real", y)
    scores, models = [], []

    def run_epoch(eta):
        ref.epoch(X[train], T[train], eta)
        scores.append(r2_score(y[val], ref.decision(X[val])[:, 0]))
        models.append(ref.W.copy())
        return scores[-1]

    steps, reductions = adaptive_reference(
        run_epoch, eta0, tol, patience, 1000, higher_is_better=True
    )
    assert len(reductions) >= 3
    assert est.n_iter_ == len(steps)
    assert_allclose(est.validation_scores_, scores, rtol=1e-9, atol=1e-12)
    assert_allclose(model_W(est), models[int(np.argmax(scores))], rtol=1e-9)
    check_adaptive_output(events, steps, reductions)


def test_adaptive_without_tol_never_reduces(capsys):
    X, y = small_regression()
    est = GDRegressor(
        learning_rate="adaptive", eta0=0.05, tol=None, max_iter=40, verbose=1
    ).fit(X, y)
    events = parse_verbose(capsys.readouterr().out)
    assert est.n_iter_ == 40
    assert not [e for e in events if e[0] == "reduced"]
    assert_allclose([e[3] for e in events], 0.05)


# ==========================================================================
# 5. Averaging
# ==========================================================================


@pytest.mark.parametrize("average", [True, 1, 5, 40, 10**6])
@pytest.mark.parametrize("batch_size", ["full", 1, 7])
def test_average_matches_reference(batch_size, average):
    X, y = small_regression(n=23, d=4, seed=3)
    sw = np.random.RandomState(4).uniform(0.5, 2.0, 23)
    params = dict(alpha=0.01, l1_ratio=0.3, eta0=0.05)
    est = GDRegressor(
        penalty="elasticnet",
        batch_size=batch_size,
        shuffle=False,
        max_iter=3,
        tol=None,
        average=average,
        **params,
    ).fit(X, y, sample_weight=sw)
    k = 0 if average is True else average
    ref = NumpyGD(1, 4, "squared_error", alpha=0.01, l1_ratio=0.3, average_start=k)
    for _ in range(3):
        ref.epoch(X, encode("real", y), 0.05, batch_size, sw)
    assert est.t_ == ref.t
    assert_allclose(model_W(est), ref.published(), rtol=RTOL, atol=ATOL)
    if ref.t > k:
        # The average differs from the last iterate it is built from.
        assert not np.allclose(ref.published(), ref.W)


def test_average_as_numpy_bool_is_true():
    # average accepts booleans, NumPy's included; np.True_ means "average
    # every iterate", like True, not "start after one update".
    X, y = small_regression(n=20, d=3)
    params = dict(batch_size=1, shuffle=False, eta0=0.05, max_iter=2, tol=None)
    expected = GDRegressor(average=True, **params).fit(X, y)
    ref = NumpyGD(1, 3, "squared_error", alpha=1e-4, average_start=0)
    for _ in range(2):
        ref.epoch(X, encode("real", y), 0.05, 1)
    assert_allclose(model_W(expected), ref.published(), rtol=RTOL, atol=ATOL)
    got = GDRegressor(average=np.True_, **params).fit(X, y)
    assert_allclose(model_W(got), ref.published(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("batch_size", ["full", 1, 7])
def test_average_classifier_matches_reference(batch_size):
    X, y = breast_cancer()
    X, y = X[:60], y[:60]
    est = GDClassifier(
        batch_size=batch_size,
        shuffle=False,
        eta0=0.1,
        max_iter=2,
        tol=None,
        average=10,
    ).fit(X, y)
    ref = NumpyGD(1, X.shape[1], "log_loss", alpha=1e-4, average_start=10)
    for _ in range(2):
        ref.epoch(X, encode("binary", y, np.unique(y)), 0.1, batch_size)
    assert_allclose(model_W(est), ref.published(), rtol=RTOL, atol=ATOL)


def test_average_carries_over_partial_fit_calls():
    X, y = small_regression(n=30, d=4, seed=6)
    est = GDRegressor(batch_size=7, shuffle=False, eta0=0.05, average=4)
    ref = NumpyGD(1, 4, "squared_error", alpha=1e-4, average_start=4)
    for chunk in (slice(0, 12), slice(12, 30), slice(0, 30)):
        est.partial_fit(X[chunk], y[chunk])
        ref.epoch(X[chunk], encode("real", y[chunk]), 0.05, 7)
        assert_allclose(model_W(est), ref.published(), rtol=RTOL, atol=ATOL)
    assert est.t_ == ref.t == 2 + 3 + 5


# ==========================================================================
# 6. History and progress
# ==========================================================================


def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize(
    "Estimator, load, max_iter",
    [
        (GDRegressor, diabetes, 300),
        (GDRegressor, lambda: diabetes(standardize_y=False), 300),
        (GDClassifier, breast_cancer, 300),
        (GDClassifier, digits, 60),
    ],
    ids=["diabetes", "diabetes-raw-y", "breast-cancer", "digits-softmax"],
)
def test_loss_curve_full_batch_auto_step_never_increases(Estimator, load, max_iter):
    X, y = load()
    est = Estimator(max_iter=max_iter, tol=None).fit(X, y)
    curve = np.asarray(est.loss_curve_)
    assert len(curve) == est.n_iter_ == max_iter
    assert np.all(np.isfinite(curve))
    assert np.all(np.diff(curve) <= 1e-12 * np.abs(curve[:-1]))
    assert curve[-1] < curve[0]
    assert est.best_loss_ == np.min(curve)


def test_loss_curve_is_the_objective_at_the_start_of_each_epoch_regressor():
    X, y = diabetes(standardize_y=False)
    alpha = 0.05
    sw = np.random.RandomState(0).uniform(0.5, 2.0, len(y))
    curve = GDRegressor(alpha=alpha, max_iter=30, tol=None).fit(X, y).loss_curve_
    curve_sw = (
        GDRegressor(alpha=alpha, max_iter=30, tol=None)
        .fit(X, y, sample_weight=sw)
        .loss_curve_
    )
    # At zero: the mean of y^2 / 2.
    assert curve[0] == pytest.approx(0.5 * np.mean(y**2), rel=1e-12)
    assert curve_sw[0] == pytest.approx(0.5 * np.average(y**2, weights=sw), rel=1e-12)
    for e in (1, 2, 5, 29):
        for weights, values in ((None, curve), (sw, curve_sw)):
            fit = GDRegressor(alpha=alpha, max_iter=e, tol=None)
            fit.fit(X, y, sample_weight=weights)
            r = X @ fit.coef_ + fit.intercept_ - y
            objective = 0.5 * np.average(r**2, weights=weights)
            objective += 0.5 * alpha * np.sum(fit.coef_**2)
            assert values[e] == pytest.approx(objective, rel=1e-10)


def test_loss_curve_is_the_objective_at_the_start_of_each_epoch_classifier():
    X, y = breast_cancer()
    alpha = 0.01
    curve = GDClassifier(alpha=alpha, max_iter=20, tol=None).fit(X, y).loss_curve_
    assert curve[0] == pytest.approx(np.log(2.0), rel=1e-12)
    t = np.where(y == 1, 1.0, -1.0)
    for e in (1, 3, 19):
        fit = GDClassifier(alpha=alpha, max_iter=e, tol=None).fit(X, y)
        z = t * (X @ fit.coef_[0] + fit.intercept_[0])
        objective = np.mean(np.logaddexp(0.0, -z)) + 0.5 * alpha * np.sum(fit.coef_**2)
        assert curve[e] == pytest.approx(objective, rel=1e-10)


def test_loss_curve_matches_reference_trajectory():
    X, y = iris()
    eta = 0.3
    est = GDClassifier(eta0=eta, alpha=1e-3, max_iter=15, tol=None).fit(X, y)
    ref = NumpyGD(3, X.shape[1], "multinomial", alpha=1e-3)
    T = encode("multinomial", y, np.unique(y))
    expected = []
    for _ in range(15):
        expected.append(ref.objective(X, T))
        ref.epoch(X, T, eta)
    assert_allclose(est.loss_curve_, expected, rtol=1e-10)
    assert_allclose(model_W(est), ref.W, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("batch_size", ["full", 16])
def test_verbose_prints_one_line_per_epoch(capsys, batch_size):
    X, y = diabetes()
    est = GDRegressor(
        max_iter=12, tol=None, verbose=1, batch_size=batch_size, random_state=0
    ).fit(X, y)
    events = parse_verbose(capsys.readouterr().out)
    assert len(events) == est.n_iter_ == 12
    assert [e[0] for e in events] == ["epoch"] * 12
    assert [e[1] for e in events] == list(range(1, 13))
    # Objective printed to 6 significant digits, step to 4.
    assert_allclose([e[2] for e in events], est.loss_curve_, rtol=1e-5)
    assert_allclose([e[3] for e in events], est.eta0_, rtol=1e-3)
    elapsed = [e[4] for e in events]
    assert all(b >= a >= 0 for a, b in zip(elapsed, elapsed[1:]))


def test_verbose_zero_prints_nothing(capsys):
    X, y = small_regression()
    GDRegressor(max_iter=5, tol=None).fit(X, y)
    assert capsys.readouterr().out == ""
