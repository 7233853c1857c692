"""Pictures of the gradient-descent tutorials, drawn with skgd.

Run it with ``.venv/bin/python docs/examples/tutorial_pictures.py [out_dir]``
(``demo_output`` by default). It writes four PNG files and prints their
paths:

1. ``learning_rate_too_small_right_too_high.png``: batch gradient descent
   with a step that is too small, about right, and too large (it diverges);
2. ``batch_sgd_minibatch.png``: batch, stochastic and mini-batch gradient
   descent on the same data, the noisy SGD curve with its moving average;
3. ``sgd_schedule.png``: SGD with the schedule t0 / (t + t1) against a
   constant step;
4. ``learning_rate_finder.png``: the learning-rate range test and the step
   it suggests.

The data is the tutorials': x = 2 U(0, 1), 100 points, y = 4 + 3x + N(0, 1).
Every figure compares the fitted intercept and slope with the exact answer
of the normal equation.

The tutorials minimise the mean squared error, whose gradient
(2/m) X^T (X theta - y) is twice that of skgd's squared error
(1/2 (y - p)^2), so the tutorials' step eta is skgd's ``eta0 = 2 eta``; the
labels give both.
"""

import os
import sys
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from skgd import (  # noqa: E402
    DivergenceError,
    GDRegressor,
    LossCurveDisplay,
    find_learning_rate,
)
from skgd.schedules import InverseTime  # noqa: E402

SEED = 42


def tutorial_data():
    """x = 2 U(0, 1), y = 4 + 3x + N(0, 1), 100 points."""
    rng = np.random.RandomState(SEED)
    X = 2 * rng.rand(100, 1)
    y = 4 + 3 * X[:, 0] + rng.randn(100)
    return X, y


def normal_equation(X, y):
    """theta = (intercept, slope) from least squares, and its objective
    (1/2) mean (X theta - y)^2, the level gradient descent converges to."""
    Xb = np.column_stack([np.ones(len(X)), X])
    theta = np.linalg.lstsq(Xb, y, rcond=None)[0]
    return theta, 0.5 * np.mean((Xb @ theta - y) ** 2)


def theta_of(model):
    return np.array([model.intercept_[0], model.coef_[0]])


def fmt(theta):
    return f"[{theta[0]:.3f}, {theta[1]:.3f}]"


def text_box(ax, lines, loc="upper right"):
    """Put lines of text in a framed box inside the axes."""
    x, ha = (0.98, "right") if "right" in loc else (0.02, "left")
    y, va = (0.97, "top") if "upper" in loc else (0.03, "bottom")
    ax.text(
        x,
        y,
        "\n".join(lines),
        transform=ax.transAxes,
        ha=ha,
        va=va,
        fontsize=8.5,
        family="monospace",
        bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.9},
    )


def fit_until_divergence(model, X, y, max_epochs):
    """Train one full-batch epoch at a time until DivergenceError; the model
    keeps every epoch before the one that diverged."""
    for _ in range(max_epochs):
        try:
            model.partial_fit(X, y)
        except DivergenceError as error:
            return error
    return None


def save(fig, out_dir, name):
    path = os.path.join(out_dir, name)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    print(path)
    return path


# ----------------------------------------------------------------------
# The figures
# ----------------------------------------------------------------------


def learning_rates_figure(X, y, theta_exact, objective_exact, out_dir):
    """(a) Too small, about right, too large."""
    epochs = 1000
    small = GDRegressor(penalty=None, eta0=0.02, max_iter=epochs, tol=None)
    right = GDRegressor(penalty=None, eta0=0.2, max_iter=epochs, tol=None)
    small.fit(X, y)
    right.fit(X, y)
    # Above 2/L (about 0.97 here) every step overshoots a little more: the
    # tutorials' eta = 0.5 is eta0 = 1.0 in skgd.
    high = GDRegressor(penalty=None, eta0=1.0, tol=None)
    error = fit_until_divergence(high, X, y, epochs)

    fig, ax = plt.subplots(figsize=(8.5, 5.2))
    LossCurveDisplay.from_estimators(
        [small, right, high],
        labels=[
            "too small: eta0 = 0.02 (tutorial eta = 0.01)",
            "right: eta0 = 0.2 (tutorial eta = 0.1)",
            "too high: eta0 = 1.0 (tutorial eta = 0.5)",
        ],
        ax=ax,
        log_scale=True,
        reference=objective_exact,
        reference_label=f"normal equation, objective {objective_exact:.4f}",
    )
    ax.set_xscale("log")
    ax.set_xlabel("Epoch = iteration (full batch, log scale)")
    ax.set_ylabel("Training objective ½·mean((Xθ - y)²)")
    ax.set_title(
        "Batch gradient descent: the learning rate decides\n"
        f"normal equation θ = {fmt(theta_exact)}"
    )
    lines = [
        f"normal equation  θ = {fmt(theta_exact)}",
        f"eta0 = 0.02      θ = {fmt(theta_of(small))}  ({epochs} it.)",
        f"eta0 = 0.2       θ = {fmt(theta_of(right))}  ({epochs} it.)",
    ]
    if error is not None:
        lines.append(
            f"eta0 = 1.0       DivergenceError after {high.n_iter_} iterations"
        )
        lines.append(
            f"                 (objective {error.objective:.2g}; stable "
            f"below {error.largest_stable_step:.3g})"
        )
    text_box(ax, lines, loc="upper left")
    ax.legend(loc="center right", fontsize=8.5)
    return save(fig, out_dir, "learning_rate_too_small_right_too_high.png")


def sgd_cost_per_update(X, y, eta0, epochs):
    """SGD one row at a time through partial_fit, so that the cost of every
    update is recorded: ``loss_curve_`` gains one entry per call, the loss of
    that row just before its update."""
    model = GDRegressor(penalty=None, batch_size=1, eta0=eta0)
    rng = np.random.RandomState(SEED)
    for _ in range(epochs):
        for i in rng.permutation(len(X)):
            model.partial_fit(X[i : i + 1], y[i : i + 1])
    return model


def batch_modes_figure(X, y, theta_exact, objective_exact, out_dir):
    """(b) Batch vs SGD vs mini-batch."""
    epochs = 50
    common = dict(penalty=None, max_iter=epochs, tol=None, random_state=SEED)
    batch = GDRegressor(eta0=0.2, **common).fit(X, y)
    mini = GDRegressor(batch_size=16, eta0=0.1, **common).fit(X, y)
    sgd = GDRegressor(batch_size=1, eta0=0.02, **common).fit(X, y)
    reference = dict(
        reference=objective_exact,
        reference_label=f"normal equation, objective {objective_exact:.4f}",
    )

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.2))
    LossCurveDisplay.from_estimators(
        [batch, mini, sgd],
        labels=[
            "batch GD, eta0 = 0.2: 1 update per epoch",
            "mini-batch GD, 16 rows, eta0 = 0.1: 7 updates per epoch",
            "SGD, 1 row, eta0 = 0.02: 100 updates per epoch",
        ],
        ax=left,
        log_scale=True,
        **reference,
    )
    left.set_ylabel("Training objective (mean over the epoch's updates)")
    left.set_title("Objective per epoch, 50 epochs")
    text_box(
        left,
        [
            f"normal equation  θ = {fmt(theta_exact)}",
            f"batch GD         θ = {fmt(theta_of(batch))}",
            f"mini-batch GD    θ = {fmt(theta_of(mini))}",
            f"SGD              θ = {fmt(theta_of(sgd))}",
            "(all after 50 epochs)",
        ],
        loc="upper right",
    )
    left.legend(loc="center right", fontsize=8.5)

    # The cost of single updates is too noisy to read; its average over the
    # last 100 updates shows the trend.
    per_update = sgd_cost_per_update(X, y, eta0=0.02, epochs=30)
    display = LossCurveDisplay(per_update.loss_curve_).plot(
        ax=right, smoothing_window=100, **reference
    )
    display.raw_lines_[0].set_label("SGD, eta0 = 0.02: cost of each update")
    display.line_.set_label("its average over the last 100 updates")
    right.set_ylim(0, 3)
    right.set_xlabel("Update (one row each, 30 epochs)")
    right.set_ylabel("Cost ½(y - xθ)² of the row, before its update")
    right.set_title("SGD update by update, and its 100-update moving average")
    text_box(
        right,
        [
            f"normal equation    θ = {fmt(theta_exact)}",
            f"SGD, {len(per_update.loss_curve_)} updates  θ = "
            f"{fmt(theta_of(per_update))}",
        ],
        loc="upper right",
    )
    right.legend(loc="center right", fontsize=8.5)
    fig.suptitle(
        "Batch, mini-batch and stochastic gradient descent on y = 4 + 3x + noise"
    )
    return save(fig, out_dir, "batch_sgd_minibatch.png")


def schedule_figure(X, y, theta_exact, objective_exact, out_dir):
    """(c) t0 / (t + t1) against a constant step, for SGD."""
    epochs = 50
    t0, t1 = 5.0, 50.0
    common = dict(
        penalty=None, batch_size=1, max_iter=epochs, tol=None, random_state=SEED
    )
    # The tutorial's eta_t = t0 / (t + t1) is InverseTime(t1) with a first
    # step of t0 / t1, doubled for skgd's half squared error.
    eta0 = 2 * t0 / t1
    scheduled = GDRegressor(
        learning_rate=InverseTime(t1=t1), eta0=eta0, **common
    ).fit(X, y)
    constant = GDRegressor(eta0=eta0, **common).fit(X, y)
    constant_small = GDRegressor(eta0=0.01, **common).fit(X, y)

    fig, ax = plt.subplots(figsize=(8.5, 5.2))
    LossCurveDisplay.from_estimators(
        [constant, constant_small, scheduled],
        labels=[
            f"constant eta0 = {eta0:g}",
            "constant eta0 = 0.01",
            f"InverseTime(t1={t1:g}), eta0 = {eta0:g}: "
            f"eta_t = {eta0:g} / (1 + t/{t1:g})",
        ],
        ax=ax,
        log_scale=True,
        reference=objective_exact,
        reference_label=f"normal equation, objective {objective_exact:.4f}",
    )
    ax.set_xscale("log")
    ax.set_ylim(0.38, 10)
    ax.set_xlabel("Epoch (log scale)")
    ax.set_ylabel("Training objective (mean over the epoch's updates)")
    ax.set_title(
        "SGD (1 row per update, 100 updates per epoch): "
        f"schedule t0 / (t + t1), t0 = {t0:g}, t1 = {t1:g}\n"
        "a small constant step starts slowly, a large one never settles; "
        "the decaying step does both"
    )
    text_box(
        ax,
        [
            f"normal equation  θ = {fmt(theta_exact)}",
            f"InverseTime      θ = {fmt(theta_of(scheduled))}",
            f"constant {eta0:g}     θ = {fmt(theta_of(constant))}",
            f"constant 0.01    θ = {fmt(theta_of(constant_small))}",
            f"(after {epochs} epochs)",
        ],
        loc="upper right",
    )
    ax.legend(loc="center right", fontsize=8.5)
    return save(fig, out_dir, "sgd_schedule.png")


def finder_figure(X, y, theta_exact, objective_exact, out_dir):
    """(d) The learning-rate range test, full batch and mini-batch."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.2))
    for ax, batch_size in zip(axes, ["full", 16]):
        model = GDRegressor(penalty=None, batch_size=batch_size, random_state=SEED)
        result = find_learning_rate(model, X, y, random_state=SEED)
        result.plot(ax=ax)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = model.set_params(eta0=result.eta0).fit(X, y)
        ax.set_yscale("log")
        ax.set_title(
            f"batch_size = {batch_size!r}: suggested eta0 = {result.eta0:.3g}"
        )
        text_box(
            ax,
            [
                f"normal equation       θ = {fmt(theta_exact)}",
                f"fit with suggestion   θ = {fmt(theta_of(fitted))}",
                f"({fitted.n_iter_} epochs, objective "
                f"{fitted.loss_curve_[-1]:.4f} vs {objective_exact:.4f})",
            ],
            loc="lower left",
        )
        ax.legend(loc="center left", fontsize=8.5)
    fig.suptitle(
        "Learning-rate range test: the step grows at every update until the "
        "loss explodes;\nthe suggestion is a tenth of the step at the "
        "minimum of the (smoothed) loss"
    )
    fig.subplots_adjust(top=0.84, wspace=0.25)
    return save(fig, out_dir, "learning_rate_finder.png")


def main(out_dir="demo_output"):
    """Write the four PNG files into `out_dir` and return their paths."""
    os.makedirs(out_dir, exist_ok=True)
    X, y = tutorial_data()
    theta_exact, objective_exact = normal_equation(X, y)
    return [
        figure(X, y, theta_exact, objective_exact, out_dir)
        for figure in (
            learning_rates_figure,
            batch_modes_figure,
            schedule_figure,
            finder_figure,
        )
    ]


if __name__ == "__main__":
    main(*sys.argv[1:2])
