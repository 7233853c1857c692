"""
Batch, stochastic and mini-batch gradient descent
=================================================

The three modes differ only in how many rows make one update:
``batch_size="full"`` (one update per epoch on all rows), ``1`` (one row per
update) and ``k`` (``k`` rows per update, the usual choice in practice). In
skgd they are one code path, so the comparison is of the modes alone.

The data is the tutorials' line, :math:`y = 4 + 3x + N(0, 1)`, 100 points.
"""

import matplotlib.pyplot as plt
import numpy as np

from skgd import GDRegressor, LossCurveDisplay

rng = np.random.RandomState(42)
X = 2 * rng.rand(100, 1)
y = 4 + 3 * X[:, 0] + rng.randn(100)
Xb = np.column_stack([np.ones(len(X)), X])
theta_exact = np.linalg.lstsq(Xb, y, rcond=None)[0]
objective_exact = 0.5 * np.mean((Xb @ theta_exact - y) ** 2)

common = dict(
    penalty=None,
    optimizer="sgd",
    learning_rate="constant",
    precondition=False,
    tol=None,
    random_state=0,
)
modes = {
    "batch GD, eta0 = 0.2": GDRegressor(batch_size="full", eta0=0.2, **common),
    "mini-batch GD, 16 rows, eta0 = 0.1": GDRegressor(
        batch_size=16, eta0=0.1, **common
    ),
    "SGD, eta0 = 0.02": GDRegressor(batch_size=1, eta0=0.02, **common),
}
# One epoch per partial_fit call; after each, the exact objective of the
# model, minus that of the normal equation.
gaps = {name: [] for name in modes}
for _ in range(50):
    for name, model in modes.items():
        model.partial_fit(X, y)
        pred = model.predict(X)
        gaps[name].append(0.5 * np.mean((pred - y) ** 2) - objective_exact)
for name, model in modes.items():
    print(
        f"{name:>36}: {model.t_:5d} updates, theta = "
        f"{model.intercept_[0]:.3f}, {model.coef_[0]:.3f}"
    )
print(
    f"{'normal equation':>36}:                theta = {theta_exact[0]:.3f}, "
    f"{theta_exact[1]:.3f}"
)

# %%
# On the left, how far each model's objective is above the normal
# equation's after every epoch, on a log scale. Per epoch the stochastic
# modes make many more updates than the full batch (100 and 7 against 1),
# so they get close much sooner; but at a constant step they then hover
# at a noise floor, every update pulling the line towards one row or a
# few, while batch gradient descent keeps going down at its steady linear
# rate and has caught up with them by the 50th epoch.
#
# The cost of single SGD updates is too noisy to read at all: each point is
# the loss of one row. The tutorials' advice is to average it over the last
# 10, 100 or 1,000 updates. To record a cost per update, the right panel
# feeds SGD one row per ``partial_fit`` call (each call is an epoch of one
# update, so ``loss_curve_`` gets one entry per update), and
# ``smoothing_window=100`` draws the trailing 100-update average over the
# raw costs.

per_update = GDRegressor(batch_size=1, eta0=0.02, **common)
order = np.random.RandomState(0)
for _ in range(12):
    for i in order.permutation(len(X)):
        per_update.partial_fit(X[i : i + 1], y[i : i + 1])

fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
for name, gap in gaps.items():
    left.semilogy(np.arange(1, 51), gap, label=name)
left.set_xlabel("epoch")
left.set_ylabel("objective minus the normal equation's")
left.legend()
left.set_title("Distance to the minimum after each epoch")
display = LossCurveDisplay(per_update.loss_curve_).plot(
    ax=right,
    smoothing_window=100,
    reference=objective_exact,
    reference_label="normal equation",
)
display.raw_lines_[0].set_label("cost of each update")
display.line_.set_label("average of the last 100 updates")
right.legend()
right.set_ylim(0, 3)
right.set_xlabel("update (one row each)")
right.set_ylabel("cost of the row, before its update")
right.set_title("SGD, update by update")
fig.tight_layout()
plt.show()
