"""
Learning rate too small, about right, too large
===============================================

No formula picks the learning rate; the tutorials' advice is to try a few
values and watch the cost go down. Here batch gradient descent runs on the
tutorial data with three steps: the tutorial's :math:`\\eta = 0.01`, 0.1 and
0.5, that is ``eta0`` = 0.02, 0.2 and 1.0 in skgd.
"""

import matplotlib.pyplot as plt
import numpy as np

from skgd import DivergenceError, GDRegressor, LossCurveDisplay

rng = np.random.RandomState(42)
X = 2 * rng.rand(100, 1)
y = 4 + 3 * X[:, 0] + rng.randn(100)
Xb = np.column_stack([np.ones(len(X)), X])
theta_exact = np.linalg.lstsq(Xb, y, rcond=None)[0]
objective_exact = 0.5 * np.mean((Xb @ theta_exact - y) ** 2)


def plain_gd(eta0, max_iter=1000):
    """The textbook iteration: full batch, constant step, no penalty."""
    return GDRegressor(
        penalty=None,
        optimizer="sgd",
        learning_rate="constant",
        precondition=False,
        eta0=eta0,
        max_iter=max_iter,
        tol=None,
    )


small = plain_gd(0.02).fit(X, y)
right = plain_gd(0.2).fit(X, y)
for name, model in [("eta0=0.02", small), ("eta0=0.2", right)]:
    print(f"{name}: theta = {model.intercept_[0]:.4f}, {model.coef_[0]:.4f}")
print(f"exact:     theta = {theta_exact[0]:.4f}, {theta_exact[1]:.4f}")

# %%
# With ``eta0=0.02`` the 1,000 iterations are not enough: the answer is
# still visibly short of the normal equation's. ``eta0=0.2`` gets there.
#
# The tutorial's :math:`\eta = 0.5` diverges, its coefficients growing to
# about -1e13. skgd does not return such a model: it stops training with a
# :class:`~skgd.DivergenceError`, whose message says when it happened and
# what step would be stable. On a quadratic objective gradient descent
# converges exactly when the step is below :math:`2/L`, :math:`L` the
# largest eigenvalue of the (scaled) Gram matrix.

try:
    plain_gd(1.0).fit(X, y)
except DivergenceError as error:
    print(error)
    print("largest stable step:", round(error.largest_stable_step, 4))

# %%
# To draw the diverging run, train it one epoch at a time with
# ``partial_fit`` until the error comes: the model keeps every epoch before
# the one that diverged. Its objective grows geometrically, a straight line
# going up on the log scale; the step that is too small crawls; the right
# one reaches the normal equation's objective (the dashed line).

high = plain_gd(1.0)
for _ in range(1000):
    try:
        high.partial_fit(X, y)
    except DivergenceError:
        break
print("epochs before divergence was detected:", high.n_iter_)

fig, ax = plt.subplots(figsize=(8, 4.8))
LossCurveDisplay.from_estimators(
    [small, right, high],
    labels=[
        "too small: eta0 = 0.02 (tutorial 0.01)",
        "about right: eta0 = 0.2 (tutorial 0.1)",
        "too large: eta0 = 1.0 (tutorial 0.5)",
    ],
    ax=ax,
    log_scale=True,
    reference=objective_exact,
    reference_label="normal equation",
)
ax.set_xscale("log")
ax.set_xlabel("iteration (log scale)")
ax.set_title("Batch gradient descent with three learning rates")
plt.show()
