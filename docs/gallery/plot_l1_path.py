"""
L1 regularisation paths, with exact zeros
=========================================

``penalty="l1"`` adds :math:`\\alpha \\lVert w \\rVert_1` to the objective.
skgd takes a *proximal* step for it: after each gradient step, the soft
threshold :math:`S_\\tau(w) = \\operatorname{sign}(w)\\max(0, |w| - \\tau)`,
which sets small coefficients to exactly zero instead of merely shrinking
them. With the full batch it converges to the solution of scikit-learn's
``Lasso``, zeros included.

The path: fit for a decreasing sequence of ``alpha``, each fit warm-started
from the previous one, on the standardized diabetes data.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import lasso_path
from sklearn.preprocessing import StandardScaler

from skgd import GDRegressor

X, y = load_diabetes(return_X_y=True)
X = StandardScaler().fit_transform(X)
y = y - y.mean()
alphas = np.geomspace(40, 0.05, 15)

model = GDRegressor(
    penalty="l1",
    optimizer="sgd",
    learning_rate="constant",
    precondition=False,
    max_iter=3000,
    tol=1e-10,
    warm_start=True,
)
coefs = []
with warnings.catch_warnings():
    # The weakest penalties use up the 3,000 epochs; close enough here.
    warnings.simplefilter("ignore", ConvergenceWarning)
    for alpha in alphas:
        coefs.append(model.set_params(alpha=alpha).fit(X, y).coef_.copy())
coefs = np.array(coefs)
_, lasso_coefs, _ = lasso_path(X, y, alphas=alphas, tol=1e-10, max_iter=100_000)

zeros = (coefs == 0.0).sum(axis=1)
print("exact zeros per alpha, GDRegressor:", zeros.tolist())
print("exact zeros per alpha, Lasso:      ", (lasso_coefs == 0.0).sum(axis=0).tolist())
print("largest difference from Lasso:", np.abs(coefs - lasso_coefs.T).max())

# %%
# Each line is one coefficient against ``alpha`` (log scale; the penalty
# weakens to the right). skgd's path (solid) lies on ``Lasso``'s (dots).
# Coefficients enter the model one by one as ``alpha`` decreases; the lower
# panel counts the coefficients that are *exactly* 0.0 in skgd's fit: the
# same counts as ``Lasso``'s, including the coefficient that drops out
# again near the end.

fig, (top, bottom) = plt.subplots(
    2, 1, figsize=(8, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
)
lines = top.plot(alphas, coefs)
for line, lasso in zip(lines, lasso_coefs):
    top.plot(alphas, lasso, ".", color=line.get_color(), ms=4)
top.set_xscale("log")
top.invert_xaxis()
top.set_ylabel("coefficient")
top.set_title("L1 path: GDRegressor (lines) and Lasso (dots)")
bottom.step(alphas, zeros, where="mid")
bottom.set_ylabel("exact zeros")
bottom.set_xlabel("alpha")
bottom.set_ylim(-0.5, X.shape[1] + 0.5)
fig.tight_layout()
plt.show()
