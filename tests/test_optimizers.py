"""Every update rule, batch mode, penalty and schedule against a plain NumPy
implementation of the training loop.

The reference below is written from the mathematical definition of the
solver (batch gradient scaled by the mean sample weight, optimizer rule per
coordinate, L2 shrink and L1 soft threshold at the rule's effective step,
or the cumulative L1 penalty for plain SGD on stochastic batches, running
average of the iterates), row by row in NumPy, with no code shared
with skgd.  With
``shuffle=False`` the estimators must reproduce it to rounding error.
"""

import numpy as np
import pytest
from scipy.special import logsumexp

import skgd
from skgd.schedules import InverseTime

# The textbook iteration the reference implements: the schedule's steps as
# given, a fixed momentum, no preconditioning.  The defaults train the full
# batch differently (accelerated, line search, preconditioned; see
# tests/test_fullbatch.py), so every estimator here names these.
TEXTBOOK = dict(
    optimizer="sgd", learning_rate="constant", momentum=0.9, precondition=False
)


def GDRegressor(**params):
    return skgd.GDRegressor(**{**TEXTBOOK, **params})


def GDClassifier(**params):
    return skgd.GDClassifier(**{**TEXTBOOK, **params})


RTOL = 1e-10
ATOL = 1e-13
EPS_ADAPTIVE = 1e-8

OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]
BATCHES = ["full", 1, 7]
PENALTIES = [None, "l2", "l1", "elasticnet"]


# --------------------------------------------------------------------------
# NumPy reference
# --------------------------------------------------------------------------


def point_losses(loss, P, T, eps):
    """Elementwise loss and derivative dloss/dp of predictions P for targets T
    (real targets, or +-1 for the margin losses)."""
    if loss == "squared_error":
        r = P - T
        return 0.5 * r**2, r
    if loss == "huber":
        r = P - T
        inside = np.abs(r) <= eps
        value = np.where(inside, 0.5 * r**2, eps * np.abs(r) - 0.5 * eps**2)
        return value, np.where(inside, r, eps * np.sign(r))
    if loss == "epsilon_insensitive":
        r = P - T
        outside = np.abs(r) > eps
        return np.where(outside, np.abs(r) - eps, 0.0), np.where(
            outside, np.sign(r), 0.0
        )
    if loss == "squared_epsilon_insensitive":
        r = P - T
        z = np.maximum(np.abs(r) - eps, 0.0)
        return z**2, 2.0 * z * np.sign(r)
    z = P * T
    if loss == "log_loss":
        return np.logaddexp(0.0, -z), -T / (1.0 + np.exp(z))
    if loss == "hinge":
        return np.maximum(1.0 - z, 0.0), np.where(z <= 1.0, -T, 0.0)
    if loss == "squared_hinge":
        m = np.maximum(1.0 - z, 0.0)
        return m**2, -2.0 * T * m
    if loss == "modified_huber":
        value = np.where(z >= 1.0, 0.0, np.where(z >= -1.0, (1 - z) ** 2, -4 * z))
        deriv = np.where(
            z >= 1.0, 0.0, np.where(z >= -1.0, -2.0 * T * (1 - z), -4.0 * T)
        )
        return value, deriv
    if loss == "perceptron":
        return np.maximum(-z, 0.0), np.where(z <= 0.0, -T, 0.0)
    raise AssertionError(loss)


def row_losses(loss, P, targets, eps):
    """Per-row loss (n,) and derivative (n, K).  For "multinomial", targets
    are class indices; otherwise an (n, K) matrix of targets."""
    if loss == "multinomial":
        lse = logsumexp(P, axis=1)
        idx = np.arange(P.shape[0])
        value = lse - P[idx, targets]
        deriv = np.exp(P - lse[:, None])
        deriv[idx, targets] -= 1.0
        return value, deriv
    value, deriv = point_losses(loss, P, targets, eps)
    return value.sum(axis=1), deriv


def soft_threshold(w, thr):
    return np.sign(w) * np.maximum(np.abs(w) - thr, 0.0)


def rule(optimizer, w, g, state, eta, t, mu, b1, b2):
    """One update rule on arrays w, g with per-coordinate state (dict of
    arrays of the same shape, updated in place).  Returns the new w and the
    rule's effective step per coordinate: eta for plain SGD, eta / (1 - mu)
    for the momentum rules (the size their velocity settles at), eta over
    the root of the (bias-corrected) second moment for the adaptive rules."""
    if optimizer == "sgd":
        return w - eta * g, np.full_like(w, eta)
    if optimizer in ("momentum", "nesterov"):
        v = mu * state["v"] - eta * g
        state["v"][...] = v
        eff = np.full_like(w, eta / (1 - mu))
        if optimizer == "momentum":
            return w + v, eff
        return w + mu * v - eta * g, eff
    if optimizer == "adagrad":
        state["s"][...] = state["s"] + g**2
        eff = eta / (np.sqrt(state["s"]) + EPS_ADAPTIVE)
        return w - eff * g, eff
    if optimizer == "rmsprop":
        state["s"][...] = b2 * state["s"] + (1 - b2) * g**2
        eff = eta / (np.sqrt(state["s"]) + EPS_ADAPTIVE)
        return w - eff * g, eff
    if optimizer in ("adam", "adamw"):
        state["m"][...] = b1 * state["m"] + (1 - b1) * g
        state["v"][...] = b2 * state["v"] + (1 - b2) * g**2
        m_hat = state["m"] / (1 - b1 ** (t + 1))
        v_hat = state["v"] / (1 - b2 ** (t + 1))
        eff = eta / (np.sqrt(v_hat) + EPS_ADAPTIVE)
        return w - eff * m_hat, eff
    raise AssertionError(optimizer)


class Reference:
    """Plain NumPy gradient descent, one epoch at a time, rows in order."""

    def __init__(
        self,
        loss,
        n_outputs,
        n_features,
        *,
        epsilon=0.1,
        fit_intercept=True,
        batch_size="full",
        step=lambda t: 0.01,
        optimizer="sgd",
        momentum=0.9,
        beta_1=0.9,
        beta_2=0.999,
        alpha=0.0,
        l1_ratio=0.0,
        average_start=-1,
    ):
        self.loss = loss
        self.eps = epsilon
        self.fit_intercept = fit_intercept
        self.batch_size = batch_size
        self.step = step
        self.optimizer = optimizer
        self.mu, self.b1, self.b2 = momentum, beta_1, beta_2
        self.alpha, self.rho = alpha, l1_ratio
        self.average_start = average_start
        d = n_features
        self.d = d
        self.W = np.zeros((n_outputs, d + 1))
        self.W_avg = np.zeros_like(self.W)
        self.state_coef = {k: np.zeros((n_outputs, d)) for k in ("v", "s", "m")}
        self.state_int = {k: np.zeros(n_outputs) for k in ("v", "s", "m")}
        self.t = 0
        self.loss_curve = []
        # Cumulative L1 penalty (Tsuruoka et al., 2009): what any weight could
        # have received, and what each did receive (signed).
        self.u = 0.0
        self.q = np.zeros((n_outputs, d))

    def penalty(self):
        coef = self.W[:, : self.d]
        return self.alpha * (
            (1 - self.rho) / 2 * np.sum(coef**2) + self.rho * np.sum(np.abs(coef))
        )

    def epoch(self, X, targets, sample_weight=None):
        n, d = X.shape
        sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
        s_mean = sw.mean()
        B = n if self.batch_size == "full" else min(self.batch_size, n)
        pen = self.penalty()
        loss_sum = 0.0
        for start in range(0, n, B):
            rows = np.arange(start, min(start + B, n))
            Xb = X[rows]
            P = Xb @ self.W[:, :d].T + self.W[:, d]
            value, deriv = row_losses(self.loss, P, targets[rows], self.eps)
            loss_sum += np.sum(sw[rows] * value)
            coeff = sw[rows, None] * deriv / (len(rows) * s_mean)
            G_coef = coeff.T @ Xb
            G_int = coeff.sum(axis=0)
            self.update(G_coef, G_int, self.step(self.t), stochastic=B < n)
            self.t += 1
            if self.average_start >= 0 and self.t > self.average_start:
                self.W_avg += (self.W - self.W_avg) / (self.t - self.average_start)
        self.loss_curve.append(loss_sum / sw.sum() + pen)

    def update(self, G_coef, G_int, eta, stochastic=False):
        """Plain SGD: the proximal step S((1 - eta alpha (1 - rho)) w - eta g,
        eta alpha rho), or on stochastic batches the same shrink and step
        followed by the cumulative L1 penalty.  Other rules: the L2 term
        joins the gradient, the rule moves w, then the soft threshold at the
        rule's effective step times alpha rho (so that a fixed point is a
        solution of the penalised problem).  The intercept takes the rule alone."""
        d = self.d
        a, rho = self.alpha, self.rho
        coef = self.W[:, :d]
        if self.optimizer == "sgd":
            coef = (1 - eta * a * (1 - rho)) * coef - eta * G_coef
            eff = eta
            if stochastic and a * rho > 0:
                self.u += eta * a * rho
                owed = np.where(coef > 0, self.u + self.q, self.u - self.q)
                clipped = np.where(
                    coef > 0,
                    np.maximum(0.0, coef - owed),
                    np.where(coef < 0, np.minimum(0.0, coef + owed), 0.0),
                )
                self.q += clipped - coef
                coef = clipped
                eff = 0.0  # the soft threshold below is then the identity
        elif self.optimizer == "adamw":
            # Decoupled weight decay: the L2 term shrinks the weights, the
            # moments see the data gradient alone.
            coef, eff = rule(
                "adamw", (1 - eta * a * (1 - rho)) * coef, G_coef, self.state_coef,
                eta, self.t, self.mu, self.b1, self.b2,
            )  # fmt: skip
        else:
            g = G_coef + a * (1 - rho) * coef
            coef, eff = rule(
                self.optimizer, coef, g, self.state_coef, eta, self.t,
                self.mu, self.b1, self.b2,
            )  # fmt: skip
        self.W[:, :d] = soft_threshold(coef, eff * a * rho)
        if self.fit_intercept:
            self.W[:, d], _ = rule(
                self.optimizer, self.W[:, d], G_int, self.state_int, eta, self.t,
                self.mu, self.b1, self.b2,
            )  # fmt: skip

    @property
    def published(self):
        if self.average_start >= 0 and self.t > self.average_start:
            return self.W_avg
        return self.W


def penalty_args(penalty, alpha, l1_ratio):
    if penalty is None:
        return 0.0, 0.0
    return alpha, {"l2": 0.0, "l1": 1.0, "elasticnet": l1_ratio}[penalty]


def average_start(average):
    if average is True:
        return 0
    if average is False or average == 0:
        return -1
    return int(average)


def reference_for(est, X, targets, K, *, loss=None, sample_weight=None, step=None):
    """Run the reference with the parameters of estimator `est`."""
    alpha, rho = penalty_args(est.penalty, est.alpha, est.l1_ratio)
    if step is None:
        eta0 = est.eta0
        step = lambda t: eta0  # noqa: E731
    ref = Reference(
        loss or est.loss,
        K,
        X.shape[1],
        epsilon=est.epsilon,
        fit_intercept=est.fit_intercept,
        batch_size=est.batch_size,
        step=step,
        optimizer=est.optimizer,
        momentum=est.momentum,
        beta_1=est.beta_1,
        beta_2=est.beta_2,
        alpha=alpha,
        l1_ratio=rho,
        average_start=average_start(est.average),
    )
    for _ in range(est.max_iter):
        ref.epoch(X, targets, sample_weight)
    return ref


def check_regressor(est, X, y, ref, *, check_zeros=False):
    W = ref.published
    if y.ndim == 1:
        coef, intercept = W[0, :-1], W[0, -1:]
    else:
        coef, intercept = W[:, :-1], W[:, -1]
    np.testing.assert_allclose(est.coef_, coef, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(est.intercept_, intercept, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(est.loss_curve_, ref.loss_curve, rtol=RTOL, atol=ATOL)
    assert est.t_ == ref.t
    assert est.n_iter_ == len(ref.loss_curve)
    if check_zeros:
        np.testing.assert_array_equal(est.coef_ == 0, coef == 0)


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


def regression_data(n=23, d=5, n_targets=None, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d))
    true = np.array([2.0, -1.0, 0.0, 0.5, 0.0, 1.0, -0.3][:d])
    if n_targets is None:
        y = X @ true + 1.5 + 0.3 * rng.normal(size=n)
    else:
        B = rng.normal(size=(d, n_targets)) * true[:, None]
        y = X @ B + np.arange(n_targets) + 0.3 * rng.normal(size=(n, n_targets))
    return X, y


def as_targets(y):
    return y.reshape(y.shape[0], -1)


# --------------------------------------------------------------------------
# Regressor: every optimizer x batch mode x penalty
# --------------------------------------------------------------------------


@pytest.mark.parametrize("penalty", PENALTIES)
@pytest.mark.parametrize("batch_size", BATCHES)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_regressor_matches_reference(optimizer, batch_size, penalty):
    X, y = regression_data()
    est = GDRegressor(
        shuffle=False,
        tol=None,
        max_iter=3,
        eta0=0.02,
        batch_size=batch_size,
        optimizer=optimizer,
        penalty=penalty,
        alpha=0.3,
        l1_ratio=0.4,
    ).fit(X, y)
    ref = reference_for(est, X, as_targets(y), 1)
    check_regressor(est, X, y, ref, check_zeros=penalty in ("l1", "elasticnet"))


def test_l1_reference_produces_exact_zeros():
    # The soft threshold must actually act in the configurations above, or
    # the L1 comparisons would prove nothing about it.
    X, y = regression_data()
    est = GDRegressor(
        shuffle=False, tol=None, max_iter=3, eta0=0.05, batch_size=1,
        penalty="l1", alpha=0.3,
    ).fit(X, y)  # fmt: skip
    ref = reference_for(est, X, as_targets(y), 1)
    assert np.any(ref.published[0, :-1] == 0)
    assert np.any(ref.published[0, :-1] != 0)
    check_regressor(est, X, y, ref, check_zeros=True)


@pytest.mark.parametrize("batch_size", BATCHES)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_no_intercept_weighted_multi_output(optimizer, batch_size):
    X, y = regression_data(n_targets=3, seed=1)
    sw = np.random.RandomState(2).uniform(0.1, 3.0, size=X.shape[0])
    est = GDRegressor(
        shuffle=False,
        tol=None,
        max_iter=3,
        eta0=0.05,
        batch_size=batch_size,
        optimizer=optimizer,
        penalty="elasticnet",
        alpha=0.2,
        l1_ratio=0.3,
        fit_intercept=False,
    ).fit(X, y, sample_weight=sw)
    assert est.coef_.shape == (3, X.shape[1])
    np.testing.assert_array_equal(est.intercept_, 0.0)
    ref = reference_for(est, X, as_targets(y), 3, sample_weight=sw)
    check_regressor(est, X, y, ref)


@pytest.mark.parametrize("batch_size", BATCHES)
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_sample_weights_with_intercept(optimizer, batch_size):
    X, y = regression_data(n=20, seed=3)
    sw = np.random.RandomState(4).randint(0, 4, size=X.shape[0]).astype(float)
    est = GDRegressor(
        shuffle=False,
        tol=None,
        max_iter=3,
        eta0=0.02,
        batch_size=batch_size,
        optimizer=optimizer,
        penalty="l2",
        alpha=0.1,
    ).fit(X, y, sample_weight=sw)
    ref = reference_for(est, X, as_targets(y), 1, sample_weight=sw)
    check_regressor(est, X, y, ref)


@pytest.mark.parametrize("average", [True, 5, 40])
@pytest.mark.parametrize("batch_size", BATCHES)
@pytest.mark.parametrize("optimizer", ["sgd", "nesterov", "adagrad"])
def test_averaging(optimizer, batch_size, average):
    X, y = regression_data(n=23, seed=5)
    est = GDRegressor(
        shuffle=False,
        tol=None,
        max_iter=3,
        eta0=0.05,
        batch_size=batch_size,
        optimizer=optimizer,
        penalty="elasticnet",
        alpha=0.1,
        l1_ratio=0.5,
        average=average,
    ).fit(X, y)
    ref = reference_for(est, X, as_targets(y), 1)
    check_regressor(est, X, y, ref)


@pytest.mark.parametrize(
    "loss", ["huber", "epsilon_insensitive", "squared_epsilon_insensitive"]
)
@pytest.mark.parametrize("optimizer", ["sgd", "rmsprop"])
def test_other_regression_losses(loss, optimizer):
    X, y = regression_data(n=23, seed=6)
    est = GDRegressor(
        loss=loss,
        epsilon=0.7,
        shuffle=False,
        tol=None,
        max_iter=4,
        eta0=0.05,
        batch_size=5,
        optimizer=optimizer,
        penalty="l2",
        alpha=0.01,
    ).fit(X, y)
    ref = reference_for(est, X, as_targets(y), 1)
    check_regressor(est, X, y, ref)


# --------------------------------------------------------------------------
# Schedules
# --------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("power_t", [0.25, 0.5])
def test_invscaling_schedule(optimizer, power_t):
    X, y = regression_data(seed=7)
    eta0 = 0.05
    est = GDRegressor(
        shuffle=False,
        tol=None,
        max_iter=3,
        eta0=eta0,
        batch_size=1,
        optimizer=optimizer,
        learning_rate="invscaling",
        power_t=power_t,
        penalty="l2",
        alpha=0.1,
    ).fit(X, y)
    ref = reference_for(
        est, X, as_targets(y), 1, step=lambda t: eta0 / (t + 1) ** power_t
    )
    check_regressor(est, X, y, ref)


@pytest.mark.parametrize("optimizer", ["sgd", "nesterov", "rmsprop"])
@pytest.mark.parametrize("batch_size", [1, 7])
def test_inverse_time_schedule(optimizer, batch_size):
    X, y = regression_data(seed=8)
    eta0, t1 = 0.08, 4.0
    est = GDRegressor(
        shuffle=False,
        tol=None,
        max_iter=3,
        eta0=eta0,
        batch_size=batch_size,
        optimizer=optimizer,
        learning_rate=InverseTime(t1=t1),
        penalty="l1",
        alpha=0.2,
    ).fit(X, y)
    ref = reference_for(est, X, as_targets(y), 1, step=lambda t: eta0 / (1 + t / t1))
    check_regressor(est, X, y, ref)


# --------------------------------------------------------------------------
# Resuming: partial_fit and warm_start continue the same trajectory
# --------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", BATCHES)
@pytest.mark.parametrize("optimizer", ["momentum", "adam", "adagrad"])
def test_partial_fit_continues_the_reference(optimizer, batch_size):
    X, y = regression_data(seed=9)
    est = GDRegressor(
        shuffle=False,
        tol=None,
        max_iter=3,
        eta0=0.05,
        batch_size=batch_size,
        optimizer=optimizer,
        penalty="elasticnet",
        alpha=0.1,
    )
    for _ in range(3):
        est.partial_fit(X, y)
    ref = reference_for(est, X, as_targets(y), 1)
    check_regressor(est, X, y, ref)


@pytest.mark.parametrize("optimizer", ["nesterov", "adam"])
def test_warm_start_continues_the_reference(optimizer):
    X, y = regression_data(seed=10)
    est = GDRegressor(
        shuffle=False,
        tol=None,
        max_iter=2,
        eta0=0.05,
        batch_size=7,
        optimizer=optimizer,
        warm_start=True,
    ).fit(X, y)
    est.set_params(max_iter=1).fit(X, y)
    est.set_params(max_iter=3)
    ref = reference_for(est, X, as_targets(y), 1)
    check_regressor(est, X, y, ref)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("resume", ["warm_start", "partial_fit"])
def test_new_eta0_applies_when_resuming(optimizer, resume):
    X, y = regression_data(seed=15)
    est = GDRegressor(
        shuffle=False, tol=None, max_iter=2, eta0=0.05, batch_size="full",
        optimizer=optimizer, warm_start=resume == "warm_start",
    )  # fmt: skip
    if resume == "warm_start":
        est.fit(X, y)
        est.set_params(eta0=0.002, max_iter=1).fit(X, y)
    else:
        est.partial_fit(X, y)
        est.partial_fit(X, y)
        est.set_params(eta0=0.002).partial_fit(X, y)
    est.set_params(max_iter=3, eta0=0.05)
    ref = reference_for(
        est, X, as_targets(y), 1, step=lambda t: 0.05 if t < 2 else 0.002
    )
    check_regressor(est, X, y, ref)
    assert est.eta0_ == 0.002


# --------------------------------------------------------------------------
# Classifier
# --------------------------------------------------------------------------


def classification_data(n=31, d=4, n_classes=3, seed=0):
    rng = np.random.RandomState(seed)
    centers = rng.normal(scale=2.0, size=(n_classes, d))
    codes = np.arange(n) % n_classes
    rng.shuffle(codes)
    X = centers[codes] + rng.normal(size=(n, d))
    return X, codes


def ovr_targets(codes, n_classes):
    if n_classes == 2:
        return np.where(codes == 1, 1.0, -1.0)[:, None]
    T = -np.ones((codes.shape[0], n_classes))
    T[np.arange(codes.shape[0]), codes] = 1.0
    return T


def check_classifier(est, ref):
    W = ref.published
    np.testing.assert_allclose(est.coef_, W[:, :-1], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(est.intercept_, W[:, -1], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(est.loss_curve_, ref.loss_curve, rtol=RTOL, atol=ATOL)
    assert est.t_ == ref.t


CLASSIFIER_CONFIGS = [
    dict(optimizer="sgd", batch_size="full", penalty="l2"),
    dict(optimizer="sgd", batch_size=1, penalty="elasticnet"),
    dict(optimizer="momentum", batch_size=7, penalty=None),
    dict(optimizer="adam", batch_size=7, penalty="l1"),
    dict(optimizer="rmsprop", batch_size=1, penalty="l2", fit_intercept=False),
    dict(optimizer="adagrad", batch_size="full", penalty="elasticnet", average=True),
]


@pytest.mark.parametrize("config", CLASSIFIER_CONFIGS, ids=repr)
def test_multinomial_log_loss(config):
    X, codes = classification_data(seed=11)
    labels = np.array(["ant", "bee", "cat"])
    sw = np.random.RandomState(12).uniform(0.5, 2.0, size=X.shape[0])
    est = GDClassifier(
        loss="log_loss", shuffle=False, tol=None, max_iter=3, eta0=0.1, alpha=0.05,
        **config,
    ).fit(X, labels[codes], sample_weight=sw)  # fmt: skip
    np.testing.assert_array_equal(est.classes_, labels)
    assert est.coef_.shape == (3, X.shape[1])
    ref = reference_for(est, X, codes, 3, loss="multinomial", sample_weight=sw)
    check_classifier(est, ref)


@pytest.mark.parametrize("config", CLASSIFIER_CONFIGS, ids=repr)
@pytest.mark.parametrize("loss", ["hinge", "modified_huber"])
def test_one_vs_rest(config, loss):
    X, codes = classification_data(seed=13)
    est = GDClassifier(
        loss=loss, shuffle=False, tol=None, max_iter=3, eta0=0.1, alpha=0.05,
        **config,
    ).fit(X, codes + 10)  # fmt: skip
    np.testing.assert_array_equal(est.classes_, [10, 11, 12])
    ref = reference_for(est, X, ovr_targets(codes, 3), 3)
    check_classifier(est, ref)


@pytest.mark.parametrize("config", CLASSIFIER_CONFIGS, ids=repr)
@pytest.mark.parametrize(
    "loss", ["log_loss", "hinge", "squared_hinge", "perceptron", "squared_error"]
)
def test_binary(config, loss):
    X, codes = classification_data(n_classes=2, seed=14)
    labels = np.array([-3, 7])
    est = GDClassifier(
        loss=loss, shuffle=False, tol=None, max_iter=3, eta0=0.02, alpha=0.05,
        **config,
    ).fit(X, labels[codes])  # fmt: skip
    assert est.coef_.shape == (1, X.shape[1])
    ref = reference_for(est, X, ovr_targets(codes, 2), 1)
    check_classifier(est, ref)
    decision = X @ ref.published[0, :-1] + ref.published[0, -1]
    np.testing.assert_array_equal(est.predict(X), labels[(decision > 0).astype(int)])


@pytest.mark.parametrize("batch_size", ["full", 1, 7])
def test_class_weight_is_a_sample_weight(batch_size):
    X, codes = classification_data(seed=16)
    class_weight = {0: 0.5, 1: 2.0, 2: 1.25}
    sw = np.random.RandomState(17).uniform(0.5, 2.0, size=X.shape[0])
    est = GDClassifier(
        loss="hinge", shuffle=False, tol=None, max_iter=3, eta0=0.1, alpha=0.05,
        batch_size=batch_size, class_weight=class_weight,
    ).fit(X, codes, sample_weight=sw)  # fmt: skip
    row_weight = sw * np.array([class_weight[c] for c in codes])
    ref = reference_for(est, X, ovr_targets(codes, 3), 3, sample_weight=row_weight)
    check_classifier(est, ref)


def test_batch_larger_than_data_is_the_full_batch():
    X, y = regression_data(seed=18)
    params = dict(tol=None, max_iter=3, eta0=0.05, optimizer="momentum",
                  penalty="l1", alpha=0.1)  # fmt: skip
    big = GDRegressor(batch_size=1000, **params).fit(X, y)
    full = GDRegressor(batch_size="full", **params).fit(X, y)
    np.testing.assert_array_equal(big.coef_, full.coef_)
    np.testing.assert_array_equal(big.intercept_, full.intercept_)
    assert big.t_ == full.t_ == 3


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_shuffling_does_not_touch_the_full_batch(optimizer):
    X, y = regression_data(seed=19)
    params = dict(tol=None, max_iter=4, eta0=0.05, optimizer=optimizer)
    shuffled = GDRegressor(shuffle=True, random_state=3, **params).fit(X, y)
    ref = reference_for(shuffled, X, as_targets(y), 1)
    check_regressor(shuffled, X, y, ref)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize(
    "optimizer, eta0, learning_rate",
    [
        ("sgd", 0.3, "constant"),
        ("momentum", 0.05, "constant"),
        ("nesterov", 0.05, "constant"),
        ("adagrad", 0.5, "constant"),
        ("rmsprop", 0.01, InverseTime(t1=100)),
        ("adam", 0.05, InverseTime(t1=100)),
    ],
)
def test_every_rule_converges_to_the_elastic_net_solution(
    optimizer, eta0, learning_rate, l1_ratio
):
    # The objective is exactly scikit-learn's ElasticNet's; every update rule,
    # with its L1 threshold, must stop at that solution, exact zeros included.
    from sklearn.linear_model import ElasticNet

    rng = np.random.RandomState(20)
    X = rng.normal(size=(60, 5))
    y = X @ [1.5, 0.0, -0.7, 0.05, 0.0] + 0.3 + 0.2 * rng.normal(size=60)
    exact = ElasticNet(alpha=0.1, l1_ratio=l1_ratio, tol=1e-14, max_iter=100_000)
    exact.fit(X, y)
    assert 0 < np.sum(exact.coef_ == 0) < 5  # a sparse, non-trivial solution
    est = GDRegressor(
        optimizer=optimizer, eta0=eta0, learning_rate=learning_rate,
        penalty="elasticnet", l1_ratio=l1_ratio, alpha=0.1, max_iter=2500,
        tol=None,
    ).fit(X, y)  # fmt: skip
    np.testing.assert_allclose(est.coef_, exact.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(est.intercept_, [exact.intercept_], rtol=1e-9)
    np.testing.assert_array_equal(est.coef_ == 0, exact.coef_ == 0)


@pytest.mark.parametrize("batch_size", BATCHES)
def test_adamw_without_l2_is_adam(batch_size):
    """Decoupled weight decay only changes how the L2 term enters: with no
    L2 part (no penalty, or pure L1) AdamW makes Adam's updates exactly."""
    X, y = regression_data()
    for penalty in (None, "l1"):
        params = dict(
            shuffle=False, tol=None, max_iter=3, eta0=0.05, alpha=0.3,
            batch_size=batch_size, penalty=penalty,
        )  # fmt: skip
        adam = GDRegressor(optimizer="adam", **params).fit(X, y)
        adamw = GDRegressor(optimizer="adamw", **params).fit(X, y)
        np.testing.assert_array_equal(adamw.coef_, adam.coef_)
        np.testing.assert_array_equal(adamw.intercept_, adam.intercept_)
