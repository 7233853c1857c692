"""Hostile input: malformed sparse matrices, overflowing data, climbing
objectives, bad parameters and schedules get a clear error, never a crash,
non-finite output or a silently wrong model; a failed fit changes nothing."""

import pickle
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import log_expit, log_softmax
from sklearn.utils._param_validation import InvalidParameterError

from skgd import DivergenceError, GDClassifier, GDRegressor
from skgd.schedules import Schedule

RNG = np.random.RandomState(0)
X = RNG.randn(40, 5)
Y_CLASS = (X[:, 0] + 0.3 * X[:, 1] > 0).astype(int)
Y_REG = X @ np.arange(1.0, 6.0) + 0.1 * RNG.randn(40)


def _snapshot(est):
    return pickle.dumps(est.__dict__)


def assert_unchanged(est, call, exc=ValueError, match=None):
    """call(est) raises exc, and est is bitwise as it was."""
    before = _snapshot(est)
    with pytest.raises(exc, match=match):
        call(est)
    assert _snapshot(est) == before


def fitted_reg():
    return GDRegressor(max_iter=5, tol=None).fit(X, Y_REG)


# ---------------------------------------------------------------- item 1: CSR

MALFORMED = {
    "negative_index": ("A.indices[0] = -1", "negative"),
    "index_too_large": ("A.indices[0] = 5", "out of range"),
    "indptr_decreasing": ("A.indptr[5] = A.indptr[6] + 1", "non-decreasing"),
    "indptr_end": ("A.indptr[-1] += 3", r"indptr\[-1\]"),
    "indptr_start": ("A.indptr[0] = 1", r"indptr\[0\]"),
    "data_short": ("A.data = A.data[:-1]", "data"),
    "indptr_short": ("A.indptr = A.indptr[:-1]", "n_rows"),
}


CALLS = [
    "GDRegressor(batch_size=1, max_iter=2, tol=None).fit(A, y)",
    "GDRegressor(max_iter=2, tol=None).partial_fit(A, y)",
    "GDRegressor(max_iter=2, tol=None).fit(X, y).predict(A)",
    "GDClassifier(max_iter=2, tol=None).fit(X, y > 0).decision_function(A)",
    "GDClassifier(max_iter=2, tol=None).fit(X, y > 0).predict_proba(A)",
    "GDRegressor(max_iter=2, tol=None).fit(X, y).score(A, y)",
    "find_learning_rate(GDRegressor(), A, y, num=5)",
]


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_csr_gives_value_error_in_subprocess(case):
    # Run in a child process, so that a crash of the kernel fails the test
    # instead of killing pytest.
    mutation, message = MALFORMED[case]
    script = textwrap.dedent(
        f"""
        import numpy as np, scipy.sparse as sp
        from skgd import GDRegressor, GDClassifier, find_learning_rate
        rng = np.random.RandomState(0)
        X = sp.random(30, 5, density=0.5, format="csr", random_state=0)
        y = rng.randn(30)
        for call in {CALLS!r}:
            A = X.copy()
            {mutation}
            try:
                eval(call)
            except ValueError as e:
                print("VALUEERROR", str(e).replace(chr(10), " "))
            else:
                print("ACCEPTED", call)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == len(CALLS), out.stdout
    for line in lines:
        assert line.startswith("VALUEERROR Malformed sparse matrix"), line
        assert re.search(message, line), line


def test_malformed_csr_built_by_constructor():
    data = np.ones(3)
    indices = np.array([0, 7, 1], dtype=np.int32)
    indptr = np.array([0, 1, 2, 3], dtype=np.int32)
    try:
        A = sp.csr_matrix((data, indices, indptr), shape=(3, 4))
    except ValueError:
        return  # scipy refused it itself, with a ValueError
    with pytest.raises(ValueError, match="out of range"):
        GDRegressor().fit(A, np.arange(3.0))


def test_malformed_csr_keeps_fitted_state():
    est = fitted_reg()
    A = sp.csr_matrix(X)
    A.indices[0] = 99
    assert_unchanged(est, lambda e: e.fit(A, Y_REG), match="out of range")
    assert_unchanged(est, lambda e: e.partial_fit(A, Y_REG), match="out of range")


def test_canonical_csr_is_not_copied():
    from skgd._validation import check_csr

    A = sp.csr_matrix(X)
    assert check_csr(A) is A


def _with_duplicates(A):
    """The same matrix with every stored entry split into two halves stored
    out of order."""
    A = A.tocoo()
    rows = np.concatenate([A.row, A.row])
    cols = np.concatenate([A.col, A.col])
    vals = np.concatenate([0.25 * A.data, 0.75 * A.data])
    order = np.argsort(rows, kind="stable")
    rows, cols, vals = rows[order], cols[order], vals[order]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=A.shape[0]))])
    D = sp.csr_matrix((vals, cols, indptr), shape=A.shape)
    D.has_canonical_format = True  # a stale flag must not be trusted
    return D


@pytest.mark.parametrize("batch_size", [1, 7, "full"])
def test_duplicate_entries_train_like_canonical(batch_size):
    A = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0.0))
    D = _with_duplicates(A)
    assert D.nnz == 2 * A.nnz
    params = dict(batch_size=batch_size, max_iter=20, tol=None, random_state=0)
    ref = GDRegressor(**params).fit(A, Y_REG)
    dup = GDRegressor(**params).fit(D, Y_REG)
    np.testing.assert_allclose(dup.eta0_, ref.eta0_, rtol=1e-12)
    np.testing.assert_allclose(dup.coef_, ref.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dup.predict(D), ref.predict(A), rtol=1e-10)


# ------------------------------------------------- item 2: non-finite output


def test_float32_overflowing_decision_is_refused():
    Xs = (X * 1e35).astype(np.float32)
    # Without preconditioning (which would train this data fine).
    est = GDClassifier(
        loss="hinge", eta0=1e-30, max_iter=5, tol=None, precondition=False
    )
    with pytest.raises(DivergenceError, match="StandardScaler") as info:
        est.fit(Xs, Y_CLASS)
    assert info.value.reason in ("data_scale", "step", "weights_overflow")
    assert not hasattr(est, "coef_")


def test_float64_huge_data_huge_step_never_gives_non_finite_output():
    Xs = X * 3e149
    est = GDClassifier(loss="hinge", eta0=1e10, max_iter=5, tol=None)
    try:
        est.fit(Xs, Y_CLASS)
    except ValueError:
        assert not hasattr(est, "coef_")
    else:
        assert np.all(np.isfinite(est.decision_function(Xs)))


# --------------------------------------------------- item 3: linear climbs

BOUNDED = [
    (GDClassifier, "log_loss"),
    (GDClassifier, "hinge"),
    (GDClassifier, "modified_huber"),
    (GDRegressor, "huber"),
    (GDRegressor, "epsilon_insensitive"),
]


@pytest.mark.parametrize("cls, loss", BOUNDED)
def test_climbing_objective_is_divergence(cls, loss):
    y = Y_CLASS if cls is GDClassifier else Y_REG
    est = cls(loss=loss, eta0=1e3, optimizer="sgd", learning_rate="constant")
    with pytest.raises(DivergenceError, match="clearly above") as info:
        est.fit(X, y)
    err = info.value
    assert err.reason == "climb"
    assert err.objective > err.start_objective
    # The start objective is that of the zero model: the mean loss at 0.
    zero = {"log_loss": np.log(2), "hinge": 1.0, "modified_huber": 1.0}
    if loss in zero:
        np.testing.assert_allclose(err.start_objective, zero[loss], rtol=1e-12)
    assert not hasattr(est, "coef_")


def test_climb_keeps_fitted_state_on_warm_start():
    est = GDClassifier(loss="hinge", optimizer="sgd", learning_rate="constant",
                       eta0=0.01, max_iter=20, tol=None).fit(X, Y_CLASS)
    est.set_params(eta0=1e3, warm_start=True)
    assert_unchanged(est, lambda e: e.fit(X, Y_CLASS), DivergenceError, "clearly above")


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov", "adam", "adagrad"])
@pytest.mark.parametrize("batch_size", [1, 7, "full"])
def test_stable_runs_are_not_judged_climbing(optimizer, batch_size):
    est = GDClassifier(loss="hinge", optimizer=optimizer, batch_size=batch_size,
                       max_iter=30, tol=None, random_state=0).fit(X, Y_CLASS)
    assert np.all(np.isfinite(est.decision_function(X)))


def test_divergence_error_pickles_with_reason():
    err = DivergenceError(3, 0.5, 1.0, 7.0, reason="climb", start_objective=1.0)
    back = pickle.loads(pickle.dumps(err))
    assert (back.reason, back.start_objective, back.epoch) == ("climb", 1.0, 3)
    assert str(back) == str(err)


# ------------------------------------------------ item 4: class weights


@pytest.mark.parametrize("class_weight", [{0: -1.0, 1: 1.0}, {0: 1.0, 1: -0.5}])
def test_negative_class_weight_refused(class_weight):
    est = GDClassifier(class_weight=class_weight)
    with pytest.raises(ValueError, match="Negative values in class_weight"):
        est.fit(X, Y_CLASS)
    fitted = GDClassifier(max_iter=5, tol=None).fit(X, Y_CLASS)
    fitted.set_params(class_weight=class_weight)
    assert_unchanged(fitted, lambda e: e.partial_fit(X, Y_CLASS), match="Negative")


# ------------------------------------------------ item 5: blame the data


def test_none_target_is_a_data_error():
    y = Y_REG.astype(object)
    y[3] = None
    est = fitted_reg()
    assert_unchanged(est, lambda e: e.fit(X, y), match="NaN or infinity")
    assert_unchanged(est, lambda e: e.partial_fit(X, y), match="NaN or infinity")


@pytest.mark.parametrize("scale", [1e300])
def test_overflowing_targets_are_a_data_error(scale):
    est = fitted_reg()
    assert_unchanged(
        est, lambda e: e.fit(X, Y_REG * scale), match="targets .*too large"
    )


def test_float32_target_out_of_range():
    with pytest.raises(ValueError, match="beyond the range of float32"):
        GDRegressor().fit(X.astype(np.float32), Y_REG * 1e50)


def test_huge_targets_that_fit_train_or_blame_data():
    est = GDRegressor().fit(X, Y_REG * 1e150)
    np.testing.assert_allclose(est.predict(X) / 1e150, Y_REG, atol=0.5)


def test_huge_coef_init_is_a_coefficient_error():
    est = fitted_reg()
    with pytest.raises(ValueError, match="initial coefficients") as info:
        est.fit(X, Y_REG, coef_init=np.full(5, 1e300))
    assert not isinstance(info.value, DivergenceError)
    assert "eta0" not in str(info.value)


def test_overflowed_weights_are_not_reported_as_objective_zero():
    from skgd._divergence import DivergenceMonitor

    monitor = DivergenceMonitor(
        lambda W: 0.0, lambda W: W, lambda: 1.0, start_objective=1.0,
        zero_objective=1.0, reference=1.0, updates_per_epoch=1, adaptive=False,
    )
    with pytest.raises(DivergenceError, match="coefficients overflowed") as info:
        monitor.check_epoch(2, 0.5, 0.0, np.array([[np.inf, 0.0]]))
    assert info.value.reason == "weights_overflow"
    assert "reached 0" not in str(info.value)


# ------------------------------------------------ item 7: schedules, params


class WrongShape(Schedule):
    def _compute(self, t, eta0):
        return np.full((t.shape[0], 2), eta0)


class NegativeStep(Schedule):
    def _compute(self, t, eta0):
        return -eta0 * np.ones(t.shape)


class NonFinite(Schedule):
    def _compute(self, t, eta0):
        return np.full(t.shape, np.inf)


class OwnCall(Schedule):
    def __call__(self, t, eta0):
        return np.float64(eta0)  # a scalar, not one step per update


@pytest.mark.parametrize(
    "schedule, match",
    [
        (WrongShape(), "WrongShape returned an array of shape"),
        (NegativeStep(), "NegativeStep returned a negative step"),
        (NonFinite(), "NonFinite returned non-finite"),
        (OwnCall(), "OwnCall returned an array of shape"),
    ],
)
@pytest.mark.parametrize("batch_size", [1, "full"])
def test_bad_schedule_output_named(schedule, match, batch_size):
    est = fitted_reg()
    est.set_params(learning_rate=schedule, eta0=0.1, batch_size=batch_size)
    assert_unchanged(est, lambda e: e.fit(X, Y_REG), match=match)
    assert_unchanged(est, lambda e: e.partial_fit(X, Y_REG), match=match)


@pytest.mark.parametrize(
    "param", ["eta0", "batch_size", "max_iter", "n_iter_no_change", "alpha",
              "tol", "momentum", "beta_1", "beta_2", "power_t", "epsilon",
              "validation_fraction", "l1_ratio"],
)
@pytest.mark.parametrize("value", [True, False])
def test_bool_numeric_parameters_refused(param, value):
    est = GDRegressor(**{param: value})
    with pytest.raises(InvalidParameterError, match=f"'{param}' parameter"):
        est.fit(X, Y_REG)


@pytest.mark.parametrize("param", ["alpha", "eta0", "power_t", "tol"])
def test_infinite_numeric_parameters_refused(param):
    with pytest.raises(InvalidParameterError, match=f"'{param}' parameter"):
        GDRegressor(**{param: np.inf}).fit(X, Y_REG)


def test_average_true_still_accepted():
    est = GDRegressor(average=True, batch_size=1, max_iter=5, tol=None).fit(X, Y_REG)
    assert np.all(np.isfinite(est.coef_))


# ------------------------------------------------ item 9: validation, logs


@pytest.mark.parametrize("cls", [GDRegressor, GDClassifier])
def test_zero_weight_validation_split_refused(cls):
    y = Y_CLASS if cls is GDClassifier else Y_REG
    est = cls(early_stopping=True, validation_fraction=0.2, random_state=0)
    # The validation rows of this random_state (the second seed drawn from
    # it, as the estimators do), with exactly their weights set to zero.
    split_seed = np.random.RandomState(0).randint(np.iinfo(np.int32).max, size=2)[1]
    probe = cls(validation_fraction=0.2)
    _, validation = probe._validation_split(
        y.reshape(-1, 1).astype(float), np.ones(len(y)),
        np.random.RandomState(split_seed),
    )
    weights = np.ones(len(y))
    weights[validation] = 0.0
    with pytest.raises(ValueError, match="validation set are all zero"):
        est.fit(X, y, sample_weight=weights)
    # Some validation weight left: training and scoring go ahead.
    weights[validation[0]] = 1.0
    assert est.fit(X, y, sample_weight=weights).validation_scores_


@pytest.mark.parametrize("n_classes", [2, 3])
def test_predict_log_proba_finite_for_confident_predictions(n_classes):
    edges = np.quantile(X[:, 0], np.linspace(0, 1, n_classes + 1)[1:-1])
    y = np.digitize(X[:, 0], edges)
    est = GDClassifier(max_iter=20, tol=None).fit(X, y)
    # Push the decision values to +-1e4: probabilities round to 0 and 1.
    est.coef_ = est.coef_ * 1e4 / np.abs(est.decision_function(X)).max()
    est.intercept_ = est.intercept_ * 0
    decision = est.decision_function(X)
    got = est.predict_log_proba(X)
    if n_classes == 2:
        oracle = np.column_stack([log_expit(-decision), log_expit(decision)])
    else:
        oracle = log_softmax(decision, axis=1)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, oracle, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(np.exp(got), est.predict_proba(X), atol=1e-12)


# ------------------------------------- climbs too short for the epoch gate


def test_gross_climb_in_one_epoch_is_refused():
    # One epoch of per-sample SGD at a step of 1e3 takes log_loss from
    # log 2 to hundreds: too few updates for the noisy-start allowance, but
    # no transient excuses a model that much worse than predicting zero.
    est = GDClassifier(loss="log_loss", batch_size=1, optimizer="sgd",
                       learning_rate="constant", eta0=1e3, max_iter=1,
                       tol=None)  # fmt: skip
    with pytest.raises(DivergenceError, match="clearly above") as info:
        est.fit(X, Y_CLASS)
    assert info.value.reason == "climb"
    assert info.value.objective > 6 * np.log(2)
    assert not hasattr(est, "coef_")
