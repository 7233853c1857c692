"""Tests for skgd.LossCurveDisplay: it draws what it claims, headless."""

import subprocess
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402

from skgd import (  # noqa: E402
    GDClassifier,
    GDRegressor,
    LossCurveDisplay,
    find_learning_rate,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def tutorial_data():
    rng = np.random.RandomState(0)
    X = 2 * rng.rand(100, 1)
    y = 4 + 3 * X[:, 0] + rng.randn(100)
    return X, y


@pytest.fixture(scope="module")
def batch_fit(tutorial_data):
    X, y = tutorial_data
    return GDRegressor(penalty=None, max_iter=200, tol=None).fit(X, y)


@pytest.fixture(scope="module")
def sgd_fit(tutorial_data):
    X, y = tutorial_data
    return GDRegressor(
        penalty=None, batch_size=1, eta0=0.05, max_iter=30, tol=None, random_state=0
    ).fit(X, y)


def trailing_mean(values, window):
    """Mean of the last `window` values at each position, one at a time."""
    out = []
    for k in range(len(values)):
        chunk = values[max(0, k - window + 1) : k + 1]
        out.append(sum(chunk) / len(chunk))
    return np.array(out)


def test_line_is_the_loss_curve(batch_fit):
    display = LossCurveDisplay.from_estimator(batch_fit)
    np.testing.assert_array_equal(display.line_.get_ydata(), batch_fit.loss_curve_)
    np.testing.assert_array_equal(
        display.line_.get_xdata(), np.arange(1, len(batch_fit.loss_curve_) + 1)
    )
    assert display.lines_ == [display.line_]
    assert display.ax_ is display.line_.axes
    assert display.figure_ is display.ax_.figure
    assert display.line_.get_label() == "GDRegressor"
    assert display.ax_.get_xlabel() == "Epoch"
    assert display.ax_.get_yscale() == "linear"
    # No early stopping: no validation axis, no raw/smoothed pair.
    assert display.ax_validation_ is None
    assert display.validation_lines_ == [None]
    assert display.raw_lines_ is None
    assert display.reference_line_ is None


def test_plot_draws_on_given_axes(batch_fit):
    _, ax = plt.subplots()
    display = LossCurveDisplay.from_estimator(batch_fit, ax=ax, label="batch GD")
    assert display.ax_ is ax
    assert display.line_.get_label() == "batch GD"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["batch GD"]


@pytest.mark.parametrize(
    "estimator, score_name",
    [
        (GDRegressor(early_stopping=True, random_state=0), "Validation R²"),
        (GDClassifier(early_stopping=True, random_state=0), "Validation accuracy"),
    ],
)
def test_validation_scores_on_secondary_axis(tutorial_data, estimator, score_name):
    X, y = tutorial_data
    if isinstance(estimator, GDClassifier):
        y = (y > np.median(y)).astype(int)
    estimator.fit(X, y)
    assert estimator.validation_scores_ is not None

    display = LossCurveDisplay.from_estimator(estimator)
    (validation_line,) = display.validation_lines_
    np.testing.assert_array_equal(
        validation_line.get_ydata(), estimator.validation_scores_
    )
    np.testing.assert_array_equal(
        display.line_.get_ydata(), estimator.loss_curve_
    )
    # Its own y axis, sharing the epochs.
    assert validation_line.axes is display.ax_validation_
    assert display.ax_validation_ is not display.ax_
    assert display.ax_validation_.get_shared_x_axes().joined(
        display.ax_, display.ax_validation_
    )
    assert display.ax_validation_.get_ylabel() == score_name
    assert validation_line.get_color() == display.line_.get_color()


def test_smoothing_is_a_trailing_moving_average(sgd_fit):
    curve = list(sgd_fit.loss_curve_)
    display = LossCurveDisplay.from_estimator(sgd_fit, smoothing_window=5)
    np.testing.assert_allclose(
        display.line_.get_ydata(), trailing_mean(curve, 5), rtol=1e-12
    )
    # The raw curve stays, faint, behind the bold average.
    (raw,) = display.raw_lines_
    np.testing.assert_array_equal(raw.get_ydata(), curve)
    assert raw.get_alpha() < 1.0
    assert display.line_.get_alpha() in (None, 1.0)
    assert display.line_.get_linewidth() > raw.get_linewidth()
    assert raw.get_color() == display.line_.get_color()


def test_smoothing_window_larger_than_curve_and_of_one():
    curve = [5.0, 3.0, 4.0, 1.0]
    display = LossCurveDisplay(curve).plot(smoothing_window=10)
    np.testing.assert_allclose(display.line_.get_ydata(), trailing_mean(curve, 10))
    display = LossCurveDisplay(curve).plot(smoothing_window=1)
    np.testing.assert_array_equal(display.line_.get_ydata(), curve)


@pytest.mark.parametrize("window", [0, -3, 2.5, True, "5"])
def test_invalid_smoothing_window(window):
    with pytest.raises(ValueError, match="smoothing_window"):
        LossCurveDisplay([3.0, 2.0, 1.0]).plot(smoothing_window=window)


def test_log_scale(batch_fit):
    display = LossCurveDisplay.from_estimator(batch_fit, log_scale=True)
    assert display.ax_.get_yscale() == "log"


def test_reference_line(batch_fit, tutorial_data):
    X, y = tutorial_data
    Xb = np.column_stack([np.ones(len(X)), X])
    theta = np.linalg.lstsq(Xb, y, rcond=None)[0]
    exact = 0.5 * np.mean((Xb @ theta - y) ** 2)
    display = LossCurveDisplay.from_estimator(
        batch_fit, reference=exact, reference_label="normal equation"
    )
    line = display.reference_line_
    np.testing.assert_allclose(line.get_ydata(), [exact, exact])
    assert line.get_linestyle() == "--"
    assert line.get_label() == "normal equation"
    # Batch GD on the same objective ends on the reference.
    assert batch_fit.loss_curve_[-1] == pytest.approx(exact, rel=1e-3)


def test_from_estimators_one_line_each(tutorial_data):
    X, y = tutorial_data
    etas = [0.01, 0.1, 0.5]
    fits = [
        GDRegressor(penalty=None, eta0=eta, max_iter=30, tol=None).fit(X, y)
        for eta in etas
    ]
    labels = [f"eta0={eta}" for eta in etas]
    display = LossCurveDisplay.from_estimators(fits, labels=labels, log_scale=True)
    assert len(display.lines_) == 3
    assert display.line_ == display.lines_
    for line, fit, label in zip(display.lines_, fits, labels):
        np.testing.assert_array_equal(line.get_ydata(), fit.loss_curve_)
        assert line.get_label() == label
    assert len({line.get_color() for line in display.lines_}) == 3
    legend = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert legend == labels
    assert display.ax_.get_yscale() == "log"


def test_from_estimators_mapping_and_default_labels(batch_fit, sgd_fit):
    display = LossCurveDisplay.from_estimators({"batch": batch_fit, "SGD": sgd_fit})
    assert [line.get_label() for line in display.lines_] == ["batch", "SGD"]
    display = LossCurveDisplay.from_estimators([batch_fit, sgd_fit])
    assert [line.get_label() for line in display.lines_] == [
        "GDRegressor 1",
        "GDRegressor 2",
    ]


def test_from_estimators_smoothing_applies_to_each(batch_fit, sgd_fit):
    display = LossCurveDisplay.from_estimators(
        [batch_fit, sgd_fit], labels=["batch", "SGD"], smoothing_window=3
    )
    assert len(display.raw_lines_) == 2
    for line, fit in zip(display.lines_, [batch_fit, sgd_fit]):
        np.testing.assert_allclose(
            line.get_ydata(), trailing_mean(list(fit.loss_curve_), 3)
        )


def test_from_estimators_label_count_must_match(batch_fit, sgd_fit):
    with pytest.raises(ValueError, match="labels has 1 entries"):
        LossCurveDisplay.from_estimators([batch_fit, sgd_fit], labels=["one"])
    with pytest.raises(ValueError, match="empty"):
        LossCurveDisplay.from_estimators([])


def test_from_values():
    display = LossCurveDisplay(
        [4.0, 2.0, 1.5], validation_scores=[0.2, 0.5, 0.6], label="run"
    )
    assert display.loss_curve == [4.0, 2.0, 1.5]
    display.plot()
    np.testing.assert_array_equal(display.line_.get_ydata(), [4.0, 2.0, 1.5])
    np.testing.assert_array_equal(
        display.validation_lines_[0].get_ydata(), [0.2, 0.5, 0.6]
    )
    # Several curves at once, one of them without validation scores.
    display = LossCurveDisplay(
        [[3.0, 2.0], [3.0, 1.0, 0.5]],
        validation_scores=[None, [0.1, 0.2, 0.3]],
        label=["a", "b"],
    ).plot()
    assert [len(line.get_ydata()) for line in display.lines_] == [2, 3]
    assert display.validation_lines_[0] is None
    assert display.validation_lines_[1] is not None


def test_from_values_rejects_bad_input():
    with pytest.raises(ValueError, match="empty"):
        LossCurveDisplay([]).plot()
    with pytest.raises(ValueError, match="validation_scores has 1 entries"):
        LossCurveDisplay([[1.0, 0.5], [1.0]], validation_scores=[[0.1]]).plot()


def test_unfitted_estimator_raises_not_fitted(batch_fit):
    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(GDRegressor())
    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimators([batch_fit, GDClassifier()])


def test_missing_matplotlib_gives_clear_error(monkeypatch, batch_fit):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    message = r"LossCurveDisplay needs matplotlib: pip install 'skgd\[plot\]'"
    with pytest.raises(ImportError, match=message):
        LossCurveDisplay.from_estimator(batch_fit)
    with pytest.raises(ImportError, match=message):
        LossCurveDisplay.from_estimators([batch_fit])
    with pytest.raises(ImportError, match=message):
        LossCurveDisplay([1.0, 0.5]).plot()


def test_missing_matplotlib_for_finder_plot(monkeypatch, tutorial_data):
    X, y = tutorial_data
    result = find_learning_rate(GDRegressor(), X, y, num=20, stop=1.0)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install 'skgd\[plot\]'"):
        result.plot()


def test_import_skgd_does_not_import_matplotlib():
    code = (
        "import sys, skgd; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
