"""Bad input and bad parameters get a clear error and change nothing;
divergence is reported, never returned."""

import pickle
import re

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import FitFailedWarning, NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

import skgd
from skgd import DivergenceError
from skgd.schedules import InverseTime

RNG = np.random.RandomState(0)
X_TRAIN = RNG.normal(size=(40, 4))
Y_REG = X_TRAIN @ [1.0, -2.0, 0.5, 0.0] + 0.3 + 0.1 * RNG.normal(size=40)
Y_CLF = np.array(["a", "b", "c", "d"] * 10)[np.argsort(X_TRAIN[:, 0])]
X_TEST = RNG.normal(size=(7, 4))

FIT_PARAMS = dict(eta0=0.05, max_iter=5, tol=None, random_state=0)

# Divergence is a property of the textbook iteration (the defaults' line
# search backtracks from any step), so the estimators here run it: the
# plain rule (or the named one), the given steps, a fixed momentum, no
# preconditioning.
TEXTBOOK = dict(
    optimizer="sgd", learning_rate="constant", momentum=0.9, precondition=False
)


def GDRegressor(**params):
    return skgd.GDRegressor(**{**TEXTBOOK, **params})


def GDClassifier(**params):
    return skgd.GDClassifier(**{**TEXTBOOK, **params})


def fitted_regressor(**params):
    return GDRegressor(**{**FIT_PARAMS, **params}).fit(X_TRAIN, Y_REG)


def fitted_classifier(**params):
    return GDClassifier(**{**FIT_PARAMS, **params}).fit(X_TRAIN, Y_CLF)


FITTED = {
    "regressor": fitted_regressor,
    "classifier": fitted_classifier,
    "regressor-sgd1": lambda: fitted_regressor(batch_size=1, optimizer="adam"),
    "classifier-hinge": lambda: fitted_classifier(loss="hinge", batch_size=3),
}


def y_for(est):
    return Y_CLF if isinstance(est, skgd.GDClassifier) else Y_REG


def snapshot(est):
    """Every attribute, serialised: equal snapshots mean equal content down
    to every array element, dtype and random generator state."""
    return {name: pickle.dumps(value) for name, value in vars(est).items()}


def outputs(est):
    out = [est.predict(X_TEST)]
    if isinstance(est, skgd.GDClassifier):
        out.append(est.decision_function(X_TEST))
    return out


class Unchanged:
    """Context manager: the estimator must be exactly as it was."""

    def __init__(self, est):
        self.est = est

    def __enter__(self):
        self.snap = snapshot(self.est)
        self.coef = self.est.coef_.copy()
        self.intercept = self.est.intercept_.copy()
        self.out = outputs(self.est)
        return self

    def __exit__(self, *exc):
        est = self.est
        after = snapshot(est)
        assert after.keys() == self.snap.keys()
        changed = [name for name in after if after[name] != self.snap[name]]
        assert not changed, f"attributes changed by a failing call: {changed}"
        np.testing.assert_array_equal(est.coef_, self.coef)
        assert est.coef_.dtype == self.coef.dtype
        np.testing.assert_array_equal(est.intercept_, self.intercept)
        for a, b in zip(outputs(est), self.out):
            np.testing.assert_array_equal(a, b)
        return False


def check_fails_cleanly(est, call, exc, match):
    with Unchanged(est):
        with pytest.raises(exc, match=match):
            call(est)


# --------------------------------------------------------------------------
# Bad data
# --------------------------------------------------------------------------


def with_value(A, index, value):
    A = np.array(A, dtype=float, copy=True)
    A[index] = value
    return A


BAD_FIT_DATA = {
    "nan-in-X": (lambda est: (with_value(X_TRAIN, (3, 1), np.nan), y_for(est)),
                 "Input X contains NaN"),
    "inf-in-X": (lambda est: (with_value(X_TRAIN, (0, 0), np.inf), y_for(est)),
                 "Input X contains infinity"),
    "neg-inf-in-X": (lambda est: (with_value(X_TRAIN, (5, 2), -np.inf), y_for(est)),
                     "Input X contains infinity"),
    "too-few-rows-in-y": (lambda est: (X_TRAIN, y_for(est)[:-1]),
                          "inconsistent numbers of samples"),
    "too-many-rows-in-X": (lambda est: (np.vstack([X_TRAIN, X_TRAIN[:2]]),
                                        y_for(est)),
                           "inconsistent numbers of samples"),
    "3d-X": (lambda est: (X_TRAIN.reshape(40, 2, 2), y_for(est)),
             "Found array with dim 3"),
    "1d-X": (lambda est: (X_TRAIN[:, 0], y_for(est)), "Expected 2D array"),
    "empty-X": (lambda est: (X_TRAIN[:0], y_for(est)[:0]), "0 sample"),
    "no-features": (lambda est: (X_TRAIN[:, :0], y_for(est)), "0 feature"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_FIT_DATA))
@pytest.mark.parametrize("kind", list(FITTED))
def test_bad_data_at_fit_leaves_estimator_unchanged(kind, case):
    est = FITTED[kind]()
    make, match = BAD_FIT_DATA[case]
    X, y = make(est)
    check_fails_cleanly(est, lambda e: e.fit(X, y), ValueError, match)
    if case not in ("empty-X", "no-features", "1d-X", "3d-X"):
        check_fails_cleanly(est, lambda e: e.partial_fit(X, y), ValueError, match)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_non_finite_y_regressor(method, value):
    est = fitted_regressor()
    y = with_value(Y_REG, 7, value)
    expected = "NaN" if np.isnan(value) else "infinity"
    check_fails_cleanly(
        est, lambda e: getattr(e, method)(X_TRAIN, y), ValueError,
        f"Input y contains {expected}",
    )  # fmt: skip


def test_non_finite_y_multi_output():
    est = GDRegressor(**FIT_PARAMS).fit(X_TRAIN, np.column_stack([Y_REG, -Y_REG]))
    y = np.column_stack([Y_REG, with_value(Y_REG, 2, np.nan)])
    check_fails_cleanly(est, lambda e: e.fit(X_TRAIN, y), ValueError, "NaN")


def test_nan_label_classifier():
    est = fitted_classifier()
    y = with_value(np.arange(40) % 2, 3, np.nan)
    check_fails_cleanly(est, lambda e: e.fit(X_TRAIN, y), ValueError, "NaN")


SAMPLE_WEIGHTS = {
    "negative": (with_value(np.ones(40), 4, -0.5), "[Nn]egative values"),
    "nan": (with_value(np.ones(40), 4, np.nan), "NaN"),
    "inf": (with_value(np.ones(40), 4, np.inf), "infinity"),
    "wrong-length": (np.ones(39), r"sample_weight.*\(39,\).*\(40,\)"),
    "2d": (np.ones((40, 2)), "1D array or scalar"),
    "all-zero": (np.zeros(40), "non-zero|sum to zero"),
}


@pytest.mark.parametrize("case", list(SAMPLE_WEIGHTS))
@pytest.mark.parametrize("kind", list(FITTED))
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_bad_sample_weight(method, kind, case):
    est = FITTED[kind]()
    sw, match = SAMPLE_WEIGHTS[case]
    check_fails_cleanly(
        est,
        lambda e: getattr(e, method)(X_TRAIN, y_for(e), sample_weight=sw),
        ValueError,
        match,
    )


@pytest.mark.parametrize("kind", list(FITTED))
def test_wrong_feature_count_at_predict(kind):
    est = FITTED[kind]()
    message = r"X has 3 features, but \w+ is expecting 4 features"
    with Unchanged(est):
        for method in ("predict", "decision_function", "score"):
            if not hasattr(est, method):
                continue
            args = (X_TEST[:, :3],) + ((y_for(est)[:7],) if method == "score" else ())
            with pytest.raises(ValueError, match=message):
                getattr(est, method)(*args)


@pytest.mark.parametrize("kind", list(FITTED))
@pytest.mark.parametrize("n_features", [3, 5])
def test_wrong_feature_count_at_partial_fit(kind, n_features):
    est = FITTED[kind]()
    X = np.hstack([X_TRAIN, X_TRAIN])[:, :n_features]
    check_fails_cleanly(
        est, lambda e: e.partial_fit(X, y_for(e)), ValueError,
        f"X has {n_features} features, but \\w+ is expecting 4 features",
    )  # fmt: skip


def test_wrong_feature_count_with_warm_start():
    est = fitted_regressor(warm_start=True)
    check_fails_cleanly(
        est, lambda e: e.fit(X_TRAIN[:, :3], Y_REG), ValueError, "features"
    )


def test_wrong_target_count_with_warm_start():
    est = GDRegressor(**FIT_PARAMS, warm_start=True).fit(
        X_TRAIN, np.column_stack([Y_REG, Y_REG])
    )
    y3 = np.column_stack([Y_REG, Y_REG, Y_REG])
    check_fails_cleanly(est, lambda e: e.fit(X_TRAIN, y3), ValueError, "output")
    check_fails_cleanly(est, lambda e: e.partial_fit(X_TRAIN, y3), ValueError, "output")


def test_one_class_only():
    est = fitted_classifier()
    check_fails_cleanly(
        est, lambda e: e.fit(X_TRAIN, np.full(40, "a")), ValueError,
        r"at least 2 classes.*only one class",
    )  # fmt: skip
    with pytest.raises(ValueError, match="at least 2 classes"):
        GDClassifier().fit(X_TRAIN, np.zeros(40))
    with pytest.raises(ValueError, match="at least 2 classes"):
        GDClassifier().partial_fit(X_TRAIN, np.zeros(40), classes=[0])


def test_unknown_labels_at_partial_fit():
    est = GDClassifier(**FIT_PARAMS).partial_fit(
        X_TRAIN, Y_CLF, classes=["a", "b", "c", "d"]
    )
    y = Y_CLF.astype(object)
    y[[3, 9]] = ["zebra", "yak"]
    check_fails_cleanly(
        est, lambda e: e.partial_fit(X_TRAIN, y), ValueError,
        r"labels not in classes_.*\['yak', 'zebra'\]",
    )  # fmt: skip


def test_labels_outside_given_classes_at_first_partial_fit():
    est = GDClassifier(**FIT_PARAMS)
    with pytest.raises(ValueError, match="labels not in classes_"):
        est.partial_fit(X_TRAIN, Y_CLF, classes=["a", "b", "c"])
    assert not hasattr(est, "coef_")
    assert not hasattr(est, "classes_")


def test_first_partial_fit_needs_classes():
    est = GDClassifier(**FIT_PARAMS)
    with pytest.raises(ValueError, match="classes must be passed"):
        est.partial_fit(X_TRAIN, Y_CLF)
    assert vars(est) == vars(GDClassifier(**FIT_PARAMS))


def test_continuous_labels_rejected():
    check_fails_cleanly(
        fitted_classifier(), lambda e: e.fit(X_TRAIN, Y_REG), ValueError,
        "Unknown label type",
    )  # fmt: skip


def test_regressor_y_dimension_change_at_partial_fit():
    est = fitted_regressor()
    check_fails_cleanly(
        est, lambda e: e.partial_fit(X_TRAIN, np.column_stack([Y_REG, Y_REG])),
        ValueError, "dimension",
    )  # fmt: skip


@pytest.mark.parametrize(
    "coef_init, intercept_init, match",
    [
        (np.zeros(3), None, "coef_init has shape"),
        (np.zeros((2, 4)), None, "coef_init has shape"),
        (None, np.zeros(2), "intercept_init has shape"),
        (np.full(4, np.nan), None, "finite"),
        (None, [np.inf], "finite"),
    ],
)
def test_bad_init(coef_init, intercept_init, match):
    est = fitted_regressor()
    check_fails_cleanly(
        est,
        lambda e: e.fit(X_TRAIN, Y_REG, coef_init=coef_init,
                        intercept_init=intercept_init),
        ValueError,
        match,
    )  # fmt: skip


@pytest.mark.parametrize("method", ["predict", "decision_function", "predict_proba"])
def test_not_fitted(method):
    est = GDClassifier()
    with pytest.raises(NotFittedError):
        getattr(est, method)(X_TEST)
    with pytest.raises(NotFittedError):
        GDRegressor().predict(X_TEST)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_X_at_predict(value):
    est = fitted_classifier()
    X = with_value(X_TEST, (1, 1), value)
    with Unchanged(est):
        for method in ("predict", "decision_function", "predict_proba"):
            with pytest.raises(ValueError, match="Input X contains"):
                getattr(est, method)(X)


# --------------------------------------------------------------------------
# Invalid parameters
# --------------------------------------------------------------------------

COMMON_INVALID = [
    ("batch_size", 0),
    ("batch_size", -3),
    ("batch_size", "half"),
    ("batch_size", 1.5),
    ("batch_size", None),
    ("eta0", -1),
    ("eta0", 0),
    ("eta0", "fast"),
    ("optimizer", "foo"),
    ("optimizer", "Adam"),
    ("momentum", 1.5),
    ("momentum", 1.0),
    ("momentum", -0.1),
    ("beta_1", 1.0),
    ("beta_1", -0.5),
    ("beta_2", 1.2),
    ("precondition", "yes"),
    ("momentum", "fast"),
    ("learning_rate", "bogus"),
    ("learning_rate", 0.01),
    ("learning_rate", InverseTime),
    ("penalty", "l3"),
    ("penalty", "none"),
    ("alpha", -1e-4),
    ("l1_ratio", 1.5),
    ("l1_ratio", -0.1),
    ("fit_intercept", "yes"),
    ("max_iter", 0),
    ("max_iter", 2.5),
    ("tol", -1.0),
    ("shuffle", "no"),
    ("epsilon", -0.1),
    ("random_state", "seed"),
    ("power_t", np.nan),
    ("early_stopping", "yes"),
    ("validation_fraction", 0.0),
    ("validation_fraction", 1.0),
    ("n_iter_no_change", 0),
    ("warm_start", "yes"),
    ("average", -1),
    ("average", 2.5),
    ("loss", "foo"),
    ("verbose", -1),
]
REGRESSOR_INVALID = COMMON_INVALID + [("loss", "hinge"), ("loss", "log_loss")]
CLASSIFIER_INVALID = COMMON_INVALID + [
    ("class_weight", "auto"),
    ("class_weight", [1.0, 2.0]),
]


def _ids(cases):
    return [f"{name}={value!r}" for name, value in cases]


def invalid_param_pattern(est, name, value):
    # The message names the parameter, the estimator and the bad value.
    return (
        rf"The '{name}' parameter of {type(est).__name__} must be .*"
        rf"Got {re.escape(repr(value))}"
    )


@pytest.mark.parametrize("name, value", REGRESSOR_INVALID, ids=_ids(REGRESSOR_INVALID))
def test_invalid_parameter_at_fit_regressor(name, value):
    est = fitted_regressor().set_params(**{name: value})
    check_fails_cleanly(est, lambda e: e.fit(X_TRAIN, Y_REG), InvalidParameterError,
                        invalid_param_pattern(est, name, value))  # fmt: skip
    with pytest.raises(InvalidParameterError, match=re.escape(repr(value))):
        GDRegressor(**{name: value}).partial_fit(X_TRAIN, Y_REG)


@pytest.mark.parametrize(
    "name, value", CLASSIFIER_INVALID, ids=_ids(CLASSIFIER_INVALID)
)
def test_invalid_parameter_at_fit_classifier(name, value):
    est = fitted_classifier().set_params(**{name: value})
    check_fails_cleanly(est, lambda e: e.fit(X_TRAIN, Y_CLF), InvalidParameterError,
                        invalid_param_pattern(est, name, value))  # fmt: skip
    with pytest.raises(InvalidParameterError, match=re.escape(repr(value))):
        GDClassifier(**{name: value}).partial_fit(X_TRAIN, Y_CLF, classes=list("abcd"))


# partial_fit on a fitted model must check the parameters too: set_params
# between calls is the way to change, say, the penalty or the batch size of
# an incremental model.


@pytest.mark.parametrize("name, value", REGRESSOR_INVALID, ids=_ids(REGRESSOR_INVALID))
def test_invalid_parameter_at_partial_fit_of_fitted_regressor(name, value):
    est = fitted_regressor().set_params(**{name: value})
    check_fails_cleanly(est, lambda e: e.partial_fit(X_TRAIN, Y_REG),
                        InvalidParameterError,
                        invalid_param_pattern(est, name, value))  # fmt: skip


@pytest.mark.parametrize(
    "name, value", CLASSIFIER_INVALID, ids=_ids(CLASSIFIER_INVALID)
)
def test_invalid_parameter_at_partial_fit_of_fitted_classifier(name, value):
    est = fitted_classifier().set_params(**{name: value})
    check_fails_cleanly(est, lambda e: e.partial_fit(X_TRAIN, Y_CLF),
                        InvalidParameterError,
                        invalid_param_pattern(est, name, value))  # fmt: skip


def test_invalid_parameter_is_a_value_error():
    with pytest.raises(ValueError, match="batch_size"):
        GDRegressor(batch_size=0).fit(X_TRAIN, Y_REG)


def test_every_constrained_parameter_is_checked():
    covered = {name for name, _ in REGRESSOR_INVALID}
    assert covered == set(skgd.GDRegressor._parameter_constraints)
    covered = {name for name, _ in CLASSIFIER_INVALID}
    assert covered == set(skgd.GDClassifier._parameter_constraints)


@pytest.mark.parametrize("penalty", [None, "l2"])
def test_optimal_schedule_needs_positive_alpha(penalty):
    est = fitted_regressor()
    est.set_params(learning_rate="optimal", penalty=penalty, alpha=0.0)
    check_fails_cleanly(est, lambda e: e.fit(X_TRAIN, Y_REG), ValueError,
                        "positive alpha")  # fmt: skip


def test_invalid_schedule_object_parameter():
    est = fitted_regressor()
    est.set_params(learning_rate=InverseTime(t1=-1.0))
    check_fails_cleanly(est, lambda e: e.fit(X_TRAIN, Y_REG), ValueError, "t1")


def test_balanced_class_weight_rejected_by_partial_fit():
    est = GDClassifier(**FIT_PARAMS, class_weight="balanced").fit(X_TRAIN, Y_CLF)
    check_fails_cleanly(est, lambda e: e.partial_fit(X_TRAIN, Y_CLF), ValueError,
                        "balanced")  # fmt: skip


# --------------------------------------------------------------------------
# Divergence
# --------------------------------------------------------------------------


def gram_curvature(X, sw=None):
    """Largest eigenvalue of sum_i s_i z_i z_i^T / sum_i s_i, z_i = [x_i, 1]."""
    sw = np.ones(X.shape[0]) if sw is None else sw
    Z = np.hstack([X, np.ones((X.shape[0], 1))])
    return np.linalg.eigvalsh(Z.T @ (sw[:, None] * Z) / sw.sum())[-1]


def diverging_fit(est, *args, **kwargs):
    with pytest.raises(DivergenceError) as info:
        est.fit(*args, **kwargs)
    return info.value


def stable_step_factor(optimizer, momentum=0.9):
    """eta * L below this keeps the iteration on a quadratic bounded:
    2 for plain GD; 2 (1 + mu) for heavy-ball momentum; 2 (1 + mu) / (1 + 2 mu)
    for Nesterov's rule w <- w + mu v - eta g, whose iteration matrix has the
    characteristic polynomial z^2 - (1 + mu)(1 - h) z + mu (1 - h), h = eta L,
    stable exactly for h < 2 (1 + mu) / (1 + 2 mu)."""
    if optimizer == "momentum":
        return 2.0 * (1.0 + momentum)
    if optimizer == "nesterov":
        return 2.0 * (1.0 + momentum) / (1.0 + 2.0 * momentum)
    return 2.0


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov"])
def test_divergence_full_batch_reports_largest_stable_step(optimizer):
    sw = np.random.RandomState(1).uniform(0.5, 2.0, size=40)
    stable = stable_step_factor(optimizer) / gram_curvature(X_TRAIN, sw)
    params = dict(penalty=None, max_iter=300, tol=None, optimizer=optimizer)
    error = diverging_fit(
        GDRegressor(eta0=1.5 * stable, **params), X_TRAIN, Y_REG, sample_weight=sw
    )
    assert isinstance(error, ValueError)
    assert error.eta == 1.5 * stable
    assert 1 <= error.epoch <= 300
    message = str(error)
    assert f"epoch {error.epoch}" in message
    assert f"{error.eta:.4g}" in message
    assert f"{error.largest_stable_step:.4g}" in message
    assert "step size" in message and "largest stable step" in message
    # Just below the largest stable step, the same fit converges.
    est = GDRegressor(eta0=0.95 * stable, **params).fit(
        X_TRAIN, Y_REG, sample_weight=sw
    )
    assert np.all(np.isfinite(est.coef_))
    assert est.loss_curve_[-1] < est.loss_curve_[0]
    # And that is the step the error reports.
    assert error.largest_stable_step == pytest.approx(stable, rel=1e-3)


def test_divergence_per_sample_reports_row_norm_step():
    X = X_TRAIN.copy()
    X[11] *= 3.0  # one long row sets the stable step of per-sample SGD
    stable = 2.0 / np.max(np.sum(X**2, axis=1) + 1.0)
    error = diverging_fit(
        GDRegressor(eta0=50 * stable, batch_size=1, max_iter=50, tol=None,
                    penalty=None, shuffle=False),
        X, Y_REG,
    )  # fmt: skip
    assert error.largest_stable_step == pytest.approx(stable, rel=1e-9)
    assert error.eta == 50 * stable


DIVERGING = {
    "regressor": dict(eta0=1e3),
    "classifier": dict(eta0=1e3, loss="squared_hinge"),
    "regressor-sgd1": dict(eta0=1e3, optimizer="sgd"),
    "classifier-hinge": dict(eta0=1e3, loss="squared_error"),
}


@pytest.mark.parametrize("kind", list(FITTED))
def test_divergence_leaves_fitted_estimator_unchanged(kind):
    est = FITTED[kind]().set_params(max_iter=200, **DIVERGING[kind])
    check_fails_cleanly(est, lambda e: e.fit(X_TRAIN, y_for(e)), DivergenceError,
                        "diverged at epoch")  # fmt: skip


def test_divergence_with_warm_start_leaves_estimator_unchanged():
    est = fitted_regressor(warm_start=True, max_iter=20)
    # Rows 1000 times longer make the step of the fitted model far too large.
    check_fails_cleanly(est, lambda e: e.fit(1e3 * X_TRAIN, Y_REG), DivergenceError,
                        "diverged at epoch")  # fmt: skip


def squared_objective(est, X, y):
    return 0.5 * np.mean((est.predict(X) - y) ** 2)


@pytest.mark.parametrize("batch_size", ["full", 5, 1])
def test_divergence_across_partial_fit_calls_is_detected(batch_size):
    # Each call is one epoch of a step far too large.  No call may return a
    # model whose objective exploded (a million times that of the zero
    # model); the call that detects it raises and leaves the model as it was.
    est = GDRegressor(eta0=10.0, penalty=None, batch_size=batch_size, shuffle=False)
    limit = 1e6 * max(0.5 * np.mean(Y_REG**2), 1.0)
    for call in range(1, 31):
        before = snapshot(est)
        try:
            est.partial_fit(X_TRAIN, Y_REG)
        except DivergenceError:
            assert snapshot(est) == before
            return
        objective = squared_objective(est, X_TRAIN, Y_REG)
        assert objective < limit, (
            f"partial_fit call {call} returned coefficients up to "
            f"{np.max(np.abs(est.coef_)):.3g}, objective {objective:.3g}, "
            "without raising DivergenceError"
        )
    pytest.fail("30 diverging partial_fit calls raised nothing")


@pytest.mark.parametrize("max_iter", [1, 2])
def test_divergence_in_the_last_epoch_is_detected(max_iter):
    # A step of 1e6 on unit-scale data: the model it returns would have an
    # objective around 1e12, so fit must raise instead of returning it.
    try:
        est = GDRegressor(eta0=1e6, max_iter=max_iter, tol=None, penalty=None).fit(
            X_TRAIN, Y_REG
        )
    except DivergenceError:
        return
    objective = squared_objective(est, X_TRAIN, Y_REG)
    pytest.fail(
        f"fit returned coefficients up to {np.max(np.abs(est.coef_)):.3g} with "
        f"objective {objective:.3g} (loss_curve_={est.loss_curve_})"
    )


def test_transient_overshoot_that_converges_is_not_divergence():
    # RMSprop's first steps are 1/sqrt(1 - beta_2) ~ 32 times eta0 (no bias
    # correction): one overshoot, after which this run settles exactly on the
    # target within a few updates (checked here with the rule written out).
    X = np.zeros((2, 1))
    y = np.array([0.125, 0.125])
    eta, beta_2 = 0.5, 0.999
    w = s = 0.0
    objectives = []
    for _ in range(10):
        g = w - 0.125
        objectives.append(0.5 * g * g)
        s = beta_2 * s + (1 - beta_2) * g * g
        w -= eta * g / (np.sqrt(s) + 1e-8)
    assert max(objectives) > 100 and objectives[-1] < 1e-20
    est = GDRegressor(optimizer="rmsprop", eta0=eta, penalty=None, max_iter=10,
                      tol=None).fit(X, y)  # fmt: skip
    np.testing.assert_allclose(est.intercept_, [0.125])
    np.testing.assert_allclose(est.loss_curve_, objectives, rtol=1e-12, atol=1e-300)


def test_divergence_error_pickles():
    error = DivergenceError(epoch=3, eta=0.5, largest_stable_step=0.01, objective=1e20)
    clone_ = pickle.loads(pickle.dumps(error))
    assert type(clone_) is DivergenceError
    assert isinstance(clone_, ValueError)
    assert str(clone_) == str(error)
    assert (clone_.epoch, clone_.eta, clone_.largest_stable_step, clone_.objective) == (
        3, 0.5, 0.01, 1e20,
    )  # fmt: skip


def test_divergence_error_from_a_fit_pickles():
    error = diverging_fit(
        GDRegressor(eta0=100.0, max_iter=100, tol=None), X_TRAIN, Y_REG
    )
    restored = pickle.loads(pickle.dumps(error))
    assert str(restored) == str(error)
    assert restored.epoch == error.epoch
    assert restored.largest_stable_step == error.largest_stable_step
    # The objective that triggered the error is reported as it was.
    assert restored.objective == error.objective or (
        np.isnan(restored.objective) and np.isnan(error.objective)
    )


@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_diverging_candidate_in_grid_search_is_a_failed_fit():
    from sklearn.model_selection import GridSearchCV

    grid = GridSearchCV(
        GDRegressor(max_iter=100, tol=None),
        {"eta0": [0.05, 1e3]},
        cv=2,
        error_score=np.nan,
    )
    with pytest.warns(FitFailedWarning, match="DivergenceError"):
        grid.fit(X_TRAIN, Y_REG)
    assert grid.best_params_ == {"eta0": 0.05}
    assert np.isnan(grid.cv_results_["mean_test_score"][1])


# --------------------------------------------------------------------------
# predict_proba only where it means something
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "loss, has_proba",
    [
        ("log_loss", True),
        ("modified_huber", True),
        ("hinge", False),
        ("squared_hinge", False),
        ("perceptron", False),
        ("squared_error", False),
        ("huber", False),
    ],
)
@pytest.mark.parametrize("n_classes", [2, 4])
def test_predict_proba_availability(loss, has_proba, n_classes):
    unfitted = GDClassifier(loss=loss)
    assert hasattr(unfitted, "predict_proba") is has_proba
    assert hasattr(unfitted, "predict_log_proba") is has_proba
    y = Y_CLF if n_classes == 4 else np.isin(Y_CLF, ["a", "b"])
    est = GDClassifier(loss=loss, **FIT_PARAMS).fit(X_TRAIN, y)
    assert hasattr(est, "predict_proba") is has_proba
    assert hasattr(est, "predict_log_proba") is has_proba
    if has_proba:
        proba = est.predict_proba(X_TEST)
        assert proba.shape == (7, n_classes)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
        assert np.all((proba >= 0) & (proba <= 1))
        np.testing.assert_allclose(
            np.exp(est.predict_log_proba(X_TEST)), proba, rtol=1e-12
        )
    else:
        with pytest.raises(AttributeError, match="predict_proba"):
            est.predict_proba(X_TEST)
    # Switching the loss with set_params switches the method with it.
    switched = clone(est).set_params(loss="hinge" if has_proba else "log_loss")
    assert hasattr(switched, "predict_proba") is not has_proba
