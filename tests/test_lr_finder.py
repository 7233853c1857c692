"""Tests for skgd.find_learning_rate, the learning-rate range test."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    make_classification,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

import skgd
from skgd import (
    DivergenceError,
    LearningRateFinderResult,
    find_learning_rate,
)

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


def tutorial():
    rng = np.random.RandomState(0)
    X = 2 * rng.rand(100, 1)
    return X, 4 + 3 * X[:, 0] + rng.randn(100)


def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def synthetic_regression():
    return make_regression(300, 10, noise=10.0, random_state=0)


def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def synthetic_classification():
    return make_classification(300, 10, n_informative=5, random_state=0)


def quiet_fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def fit_with_suggestion(estimator, X, y, **finder_kwargs):
    with warnings.catch_warnings():
        # Inconclusive stochastic tests warn; their suggestion must still
        # train.
        warnings.simplefilter("ignore", UserWarning)
        result = find_learning_rate(estimator, X, y, random_state=0, **finder_kwargs)
    # A DivergenceError here fails the test.
    fitted = quiet_fit(clone(estimator).set_params(eta0=result.eta0), X, y)
    return result, fitted


# --------------------------------------------------------------------------
# The suggestion trains without diverging
# --------------------------------------------------------------------------

REGRESSION_CASES = [
    (tutorial, "squared_error"),
    (diabetes, "squared_error"),
    (diabetes, "huber"),
    (synthetic_regression, "squared_epsilon_insensitive"),
    (synthetic_regression, "epsilon_insensitive"),
]
CLASSIFICATION_CASES = [
    (cancer, "log_loss"),
    (cancer, "squared_hinge"),
    (cancer, "hinge"),
    (digits, "log_loss"),
    (synthetic_classification, "modified_huber"),
]
BATCH_SIZES = ["full", 1, 32]


def case_id(case):
    data, loss = case
    return f"{data.__name__}-{loss}"


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
@pytest.mark.parametrize("case", REGRESSION_CASES, ids=case_id)
def test_suggestion_trains_regressor(case, batch_size):
    data, loss = case
    X, y = data()
    estimator = GDRegressor(loss=loss, batch_size=batch_size, random_state=0)
    result, fitted = fit_with_suggestion(estimator, X, y)
    assert np.isfinite(result.eta0) and result.eta0 > 0
    # Usable, not merely finite: training made progress, and the model is
    # about as good as with the automatic step (constant-step SGD ends
    # noisier with a larger step, hence the margin).
    assert fitted.loss_curve_[-1] < fitted.loss_curve_[0]
    auto = quiet_fit(clone(estimator), X, y)
    assert fitted.score(X, y) > auto.score(X, y) - 0.1


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
@pytest.mark.parametrize("case", CLASSIFICATION_CASES, ids=case_id)
def test_suggestion_trains_classifier(case, batch_size):
    data, loss = case
    X, y = data()
    estimator = GDClassifier(loss=loss, batch_size=batch_size, random_state=0)
    result, fitted = fit_with_suggestion(estimator, X, y)
    assert np.isfinite(result.eta0) and result.eta0 > 0
    assert fitted.loss_curve_[-1] < fitted.loss_curve_[0]
    auto = quiet_fit(clone(estimator), X, y)
    assert fitted.score(X, y) > auto.score(X, y) - 0.03


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov", "adam"])
@pytest.mark.parametrize("batch_size", BATCH_SIZES)
def test_suggestion_trains_with_other_update_rules(optimizer, batch_size):
    X, y = cancer()
    estimator = GDClassifier(
        loss="squared_hinge", optimizer=optimizer, batch_size=batch_size,
        random_state=0,
    )
    _, fitted = fit_with_suggestion(estimator, X, y)
    assert fitted.score(X, y) > 0.95


def test_unscaled_features_do_not_diverge():
    # Breast-cancer features span four orders of magnitude: the stable step
    # is tiny, and the suggestion must find it.
    X, y = load_breast_cancer(return_X_y=True)
    for batch_size in BATCH_SIZES:
        estimator = GDClassifier(batch_size=batch_size, random_state=0)
        fit_with_suggestion(estimator, X, y, start=1e-9, stop=1e-3)


def test_stochastic_suggestion_respects_the_stability_bound():
    # With one row per update and the squared hinge, the range test alone
    # sees the loss fall up to steps a hundred times the stable one; the
    # bound holds the suggestion under 90% of 2/L.
    X, y = cancer()
    estimator = GDClassifier(loss="squared_hinge", batch_size=1, random_state=0)
    result = find_learning_rate(estimator, X, y, random_state=0)
    auto = clone(estimator).set_params(max_iter=1, tol=None).fit(X, y).eta0_
    assert result.cap == pytest.approx(0.9 * 2 * auto)
    assert result.eta0 <= result.cap
    assert result.eta0 < 0.1 * result.min_loss_learning_rate


@pytest.mark.parametrize(
    "optimizer, momentum, stable",
    [
        # 2(1 + m) for heavy ball, 2(1 + m)/(1 + 2m) for Nesterov, and for
        # Nesterov's accelerated rule (momentum="auto") its limit m -> 1.
        ("momentum", "auto", 2 * 1.9),
        ("momentum", 0.9, 2 * 1.9),
        ("momentum", 0.5, 2 * 1.5),
        ("nesterov", 0.9, 2 * 1.9 / 2.8),
        ("nesterov", "auto", 4 / 3),
    ],
)
def test_full_batch_momentum_bound_is_the_quadratic_stability_limit(
    optimizer, momentum, stable
):
    # A full batch's automatic step is 1/L for every rule (the plain rule's
    # probe gives it), so the cap is 90% of the stability limit times 1/L.
    X, y = tutorial()
    estimator = GDRegressor(optimizer=optimizer, momentum=momentum)
    result = find_learning_rate(estimator, X, y, random_state=0)
    inverse_L = (
        GDRegressor(optimizer="sgd", learning_rate="constant", max_iter=1, tol=None)
        .fit(X, y)
        .eta0_
    )
    assert result.cap == pytest.approx(0.9 * stable * inverse_L, rel=1e-12)
    assert result.eta0 <= result.cap


# --------------------------------------------------------------------------
# What the test records
# --------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:The smoothed loss never fell")
@pytest.mark.parametrize("batch_size", ["full", 8])
def test_learning_rates_are_geometric_from_start(batch_size):
    X, y = tutorial()
    result = find_learning_rate(
        GDRegressor(batch_size=batch_size), X, y, start=1e-5, stop=1e2, num=50,
        random_state=0,
    )
    n = len(result.learning_rates)
    ratio = (1e2 / 1e-5) ** (1 / 49)
    np.testing.assert_allclose(
        result.learning_rates, 1e-5 * ratio ** np.arange(n), rtol=1e-12
    )
    assert len(result.losses) == len(result.raw_losses) == n


def test_runs_to_stop_when_nothing_diverges():
    X, y = tutorial()
    result = find_learning_rate(GDRegressor(), X, y, start=1e-4, stop=0.1, num=30)
    assert not result.diverged
    assert len(result.learning_rates) == 30
    assert result.learning_rates[-1] == pytest.approx(0.1)


def test_raw_losses_are_the_objective_before_each_update():
    # Full batch, squared error, L2 penalty: check the first two recorded
    # losses and the step between them by hand.
    X, y = tutorial()
    alpha, start = 0.1, 1e-3
    result = find_learning_rate(
        GDRegressor(alpha=alpha), X, y, start=start, stop=1.0, num=10
    )
    x = X[:, 0]
    assert result.raw_losses[0] == pytest.approx(0.5 * np.mean(y**2), rel=1e-12)
    # One gradient step from zero with the first step size.
    w = start * np.mean(y * x)
    b = start * np.mean(y)
    expected = 0.5 * np.mean((y - w * x - b) ** 2) + 0.5 * alpha * w**2
    assert result.raw_losses[1] == pytest.approx(expected, rel=1e-10)


@pytest.mark.filterwarnings("ignore:The smoothed loss never fell")
def test_losses_are_the_bias_corrected_moving_average():
    X, y = synthetic_regression()
    smoothing = 0.1
    result = find_learning_rate(
        GDRegressor(batch_size=16), X, y, smoothing=smoothing, random_state=0
    )
    average, expected = 0.0, []
    for k, raw in enumerate(result.raw_losses):
        average = smoothing * raw + (1 - smoothing) * average
        expected.append(average / (1 - (1 - smoothing) ** (k + 1)))
    np.testing.assert_allclose(result.losses, expected, rtol=1e-12)
    no_smoothing = find_learning_rate(
        GDRegressor(batch_size=16), X, y, smoothing=1.0, random_state=0
    )
    np.testing.assert_allclose(no_smoothing.losses, no_smoothing.raw_losses)
    assert len(no_smoothing.losses) <= len(result.losses)


def test_stops_once_the_loss_explodes():
    X, y = tutorial()
    result = find_learning_rate(GDRegressor(), X, y, diverge_factor=4.0)
    assert result.diverged
    assert len(result.losses) < 100
    assert result.losses[-1] > 4.0 * result.losses.min()
    # The suggestion lies below the largest stable step 2/L of batch GD.
    auto = GDRegressor(max_iter=1, tol=None).fit(X, y).eta0_
    assert result.eta0 < 2 * auto
    assert result.eta0 == pytest.approx(0.1 * result.min_loss_learning_rate)


def test_result_attributes_and_repr():
    X, y = tutorial()
    result = find_learning_rate(GDRegressor(), X, y)
    assert isinstance(result, LearningRateFinderResult)
    assert result.batch_size == 100
    assert result.min_loss_learning_rate in result.learning_rates
    assert "eta0=" in repr(result)


def test_batch_size_defaults_to_the_estimators():
    X, y = tutorial()
    assert find_learning_rate(GDRegressor(batch_size=16), X, y).batch_size == 16
    assert find_learning_rate(GDRegressor(), X, y).batch_size == 100
    result = find_learning_rate(GDRegressor(), X, y, batch_size=8)
    assert result.batch_size == 8
    assert find_learning_rate(GDRegressor(batch_size=500), X, y).batch_size == 100


# --------------------------------------------------------------------------
# The estimator passed in is left alone
# --------------------------------------------------------------------------


def test_does_not_modify_an_unfitted_estimator():
    X, y = cancer()
    estimator = GDClassifier(batch_size=32, eta0=0.5, random_state=0)
    params = estimator.get_params()
    find_learning_rate(estimator, X, y)
    assert estimator.get_params() == params
    assert not [name for name in vars(estimator) if name.endswith("_")]


def test_does_not_modify_a_fitted_estimator():
    X, y = tutorial()
    estimator = GDRegressor(batch_size=10, random_state=0).fit(X, y)
    state = {k: np.copy(v) for k, v in vars(estimator).items() if k.endswith("_")}
    params = estimator.get_params()
    find_learning_rate(estimator, X, y)
    assert estimator.get_params() == params
    for name, value in state.items():
        np.testing.assert_array_equal(getattr(estimator, name), value)


def test_does_not_consume_a_random_state_instance():
    X, y = tutorial()
    rng = np.random.RandomState(0)
    find_learning_rate(GDRegressor(batch_size=10, random_state=rng), X, y)
    assert rng.randint(1000) == np.random.RandomState(0).randint(1000)


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------


def test_classifier_with_string_labels_and_balanced_weights():
    X, y = synthetic_classification()
    labels = np.where(y == 1, "yes", "no")
    estimator = GDClassifier(batch_size=16, class_weight="balanced", random_state=0)
    result, fitted = fit_with_suggestion(estimator, X, labels)
    assert fitted.score(X, labels) > 0.8


def test_sparse_input_matches_dense():
    X, y = synthetic_regression()
    dense = find_learning_rate(GDRegressor(batch_size=8), X, y, random_state=0)
    sparse = find_learning_rate(
        GDRegressor(batch_size=8), sp.csr_matrix(X), y, random_state=0
    )
    np.testing.assert_allclose(sparse.raw_losses, dense.raw_losses, rtol=1e-10)
    assert sparse.eta0 == pytest.approx(dense.eta0)


def test_rows_of_zero_weight_are_left_out():
    X, y = tutorial()
    X_extra = np.vstack([X, [[100.0], [-50.0]]])
    y_extra = np.concatenate([y, [1e6, -1e6]])
    weights = np.concatenate([np.ones(100), [0.0, 0.0]])
    plain = find_learning_rate(GDRegressor(), X, y)
    weighted = find_learning_rate(
        GDRegressor(), X_extra, y_extra, sample_weight=weights
    )
    np.testing.assert_allclose(weighted.raw_losses, plain.raw_losses, rtol=1e-12)
    assert weighted.eta0 == plain.eta0


def test_invalid_parameters():
    X, y = tutorial()
    with pytest.raises(ValueError, match="stop must be larger than start"):
        find_learning_rate(GDRegressor(), X, y, start=1.0, stop=0.1)
    with pytest.raises(InvalidParameterError):
        find_learning_rate(GDRegressor(), X, y, smoothing=0.0)
    with pytest.raises(InvalidParameterError):
        find_learning_rate(GDRegressor(), X, y, diverge_factor=1.0)
    with pytest.raises(InvalidParameterError):
        find_learning_rate(GDRegressor(), X, y, num=1)
    with pytest.raises(InvalidParameterError):
        find_learning_rate(GDRegressor(), X, y, batch_size=0)


def test_start_that_diverges_at_once_is_an_error():
    X, y = tutorial()
    with pytest.raises(ValueError, match="very first update"):
        find_learning_rate(GDRegressor(), X, y, start=1e3, stop=1e5)


def test_start_too_large_warns():
    # 2/L is about 1 here: from a start of 3 the loss only grows.
    X, y = tutorial()
    with pytest.warns(UserWarning, match="start=3.0 is already too large"):
        result = find_learning_rate(GDRegressor(), X, y, start=3.0, stop=30.0)
    assert result.eta0 == pytest.approx(0.3)


def test_stochastic_test_without_progress_warns_and_falls_back():
    # One row per update: 100 updates are far too few to fit this data, so
    # the loss only wanders around its starting level until it explodes.
    X, y = synthetic_regression()
    estimator = GDRegressor(batch_size=1)
    with pytest.warns(UserWarning, match="never fell below half"):
        result = find_learning_rate(estimator, X, y, random_state=0)
    assert result.eta0 == result.cap
    with pytest.warns(UserWarning, match="never fell below half"):
        result = find_learning_rate(
            GDRegressor(loss="epsilon_insensitive", batch_size=1), X, y,
            random_state=0,
        )
    assert result.cap is None
    assert result.eta0 == pytest.approx(0.1 * result.learning_rates[-1])
    # With enough updates the test sees the valley and does not warn.
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        find_learning_rate(estimator, X, y, num=3000, random_state=0)


def test_perceptron_warns_that_the_test_cannot_rank_steps():
    X, y = cancer()
    with pytest.warns(UserWarning, match="loss is zero at the starting point"):
        find_learning_rate(GDClassifier(loss="perceptron"), X, y)


# --------------------------------------------------------------------------
# Plot
# --------------------------------------------------------------------------


def test_plot_marks_the_suggestion():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y = tutorial()
    result = find_learning_rate(GDRegressor(batch_size=10), X, y, random_state=0)
    ax = result.plot()
    try:
        assert ax.get_xscale() == "log"
        smooth, raw = ax.get_lines()[:2]
        np.testing.assert_array_equal(smooth.get_xdata(), result.learning_rates)
        np.testing.assert_array_equal(smooth.get_ydata(), result.losses)
        np.testing.assert_array_equal(raw.get_ydata(), result.raw_losses)
        vertical = [
            line.get_xdata()[0]
            for line in ax.get_lines()
            if line.get_label().startswith("suggested eta0")
        ]
        assert vertical == [result.eta0]
    finally:
        plt.close("all")


def test_divergence_error_is_what_the_finder_catches():
    # The finder relies on DivergenceError being raised by partial_fit when a
    # step blows the weights up; make sure that is so.
    X, y = tutorial()
    model = GDRegressor(eta0=1e4, batch_size="full")
    with pytest.raises(DivergenceError):
        model.partial_fit(X, y)


@pytest.mark.parametrize("batch_size", ["full", 32])
def test_plot_loss_axis_shows_the_useful_part(batch_size):
    # The test ends with the loss exploding by orders of magnitude (about
    # 1.7e6 for single batches of 32 here, against a valley near 2e3); an
    # axis scaled to that flattens the valley.  The axis must hold the
    # smoothed curve from the start through its minimum and leave the
    # explosion out.
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y = diabetes()
    result = find_learning_rate(
        GDRegressor(batch_size=batch_size), X, y, random_state=0
    )
    assert result.diverged
    i_min = int(np.argmin(result.losses))
    ax = result.plot()
    try:
        bottom, top = ax.get_ylim()
        assert ax.get_yscale() == "log"
        useful = result.losses[: i_min + 1]
        assert bottom <= result.raw_losses[: i_min + 1].min()
        assert top >= useful.max()
        # No more than half a decade of room above the useful part...
        assert top <= 10**0.5 * useful.max()
        # ...so the explosion at the end is off the axes.
        assert max(result.raw_losses.max(), result.losses.max()) > top
    finally:
        plt.close("all")


def test_plot_loss_axis_is_linear_when_a_loss_is_zero():
    # The perceptron's loss is zero at the all-zero start: no log axis.
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y = cancer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = find_learning_rate(
            GDClassifier(loss="perceptron", batch_size=32), X, y, random_state=0
        )
    assert result.raw_losses.min() == 0.0
    ax = result.plot()
    try:
        bottom, top = ax.get_ylim()
        assert ax.get_yscale() == "linear"
        assert bottom < 0.0 < top
    finally:
        plt.close("all")
