"""
Early stopping and averaging
============================

Two ways to get a good model out of noisy stochastic training.

**Early stopping** (``early_stopping=True``) holds out
``validation_fraction`` of the training rows, scores them after every epoch
and stops once the score has not improved by ``tol`` for
``n_iter_no_change`` epochs; the published coefficients are those of the
*best* validation epoch.

**Averaging** (``average=True``, or ``average=k`` to start after ``k``
updates) publishes the running mean of the iterates
instead of the last one. SGD at a constant step ends up bouncing around the
minimum; the mean of the bounces lies much closer to it.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_regression
from sklearn.linear_model import LinearRegression

from skgd import GDRegressor, LossCurveDisplay

X, y = make_regression(n_samples=400, n_features=30, noise=20.0, random_state=0)
sgd = dict(
    batch_size=1, optimizer="sgd", learning_rate="constant", eta0=0.01, random_state=0
)

stopped = GDRegressor(
    early_stopping=True,
    validation_fraction=0.2,
    n_iter_no_change=5,
    tol=1e-4,
    max_iter=200,
    **sgd,
).fit(X, y)
print(
    f"early stopping after {stopped.n_iter_} epochs, best validation "
    f"R² = {stopped.best_validation_score_:.4f}"
)

# %%
# The training objective (left axis) and the validation R² (right axis) per
# epoch. Training stops a few epochs after the validation score stops
# improving; the model it returns is that of the best epoch.

display = LossCurveDisplay.from_estimator(stopped, log_scale=True)
display.ax_.set_title("Early stopping: training objective and validation R²")
plt.show()

# %%
# For averaging, train two models one epoch at a time with ``partial_fit``
# and measure after each epoch how far the published coefficients are from
# the exact least-squares ones. The last iterate stalls at the noise floor
# the constant step allows; the average keeps improving.

exact = LinearRegression().fit(X, y).coef_
last = GDRegressor(penalty=None, **sgd)
# Start the average after 10 epochs (4,000 updates), once the iterates
# have reached the noise floor, so that the early ones do not weigh on it.
averaged = GDRegressor(penalty=None, average=4000, **sgd)
errors = {"last iterate": [], "average of the iterates": []}
for _ in range(60):
    for name, model in [("last iterate", last), ("average of the iterates", averaged)]:
        model.partial_fit(X, y)
        errors[name].append(np.linalg.norm(model.coef_ - exact) / np.linalg.norm(exact))
print({name: f"{values[-1]:.2e}" for name, values in errors.items()})

fig, ax = plt.subplots(figsize=(7.5, 4.5))
for name, values in errors.items():
    ax.semilogy(np.arange(1, len(values) + 1), values, label=name)
ax.set_xlabel("epoch")
ax.set_ylabel("relative distance to the exact coefficients")
ax.set_title("SGD at a constant step: last iterate against the average")
ax.legend()
plt.show()
