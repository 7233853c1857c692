"""
Finding a learning rate with a range test
=========================================

:func:`~skgd.find_learning_rate` replaces trying step after step with one
short run: it trains a copy of the estimator while the step grows
geometrically at every update, from far too small to far too large, and
records the loss of each batch just before its update. The loss first
barely moves, then falls, then explodes; the suggested ``eta0`` is a tenth
of the step where the (smoothed) loss is lowest.

Here: mini-batches of 32 rows on the standardized diabetes data.
"""

import matplotlib.pyplot as plt
from sklearn.datasets import load_diabetes
from sklearn.preprocessing import StandardScaler

from skgd import GDRegressor, LossCurveDisplay, find_learning_rate

X, y = load_diabetes(return_X_y=True)
X = StandardScaler().fit_transform(X)

model = GDRegressor(
    batch_size=32, optimizer="sgd", learning_rate="constant", random_state=0
)
result = find_learning_rate(model, X, y, random_state=0)
print(result)

# %%
# The test's curve. The faint line is the loss of each batch, the bold one
# its moving average. The losses span many decades, from the blow-up at the
# end of the range down to the useful valley, so the loss axis is
# logarithmic and cut a little above the loss where the test started:
# the explosion is still visible as the curve leaving the top, and the
# valley keeps its detail.

ax = result.plot()
ax.set_title("Learning-rate range test, mini-batches of 32 rows")
plt.show()

# %%
# Training with the suggestion converges without any tuning by hand; the
# loss curve is that of the actual fit (100 epochs, mini-batches of 32).

model.set_params(eta0=result.eta0, max_iter=100, tol=None).fit(X, y)
print(f"eta0 = {result.eta0:.3g}, training R² = {model.score(X, y):.3f}")
display = LossCurveDisplay.from_estimator(model, smoothing_window=5)
display.ax_.set_title(f"Training with the suggested eta0 = {result.eta0:.3g}")
plt.show()
