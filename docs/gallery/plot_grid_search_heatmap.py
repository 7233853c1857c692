"""
Tuning the step and the batch size with GridSearchCV
====================================================

``eta0`` and ``batch_size`` are ordinary constructor parameters, so
``GridSearchCV`` tunes them like any other, here inside a pipeline with
``StandardScaler`` on the diabetes data. Every fit gets the same small
budget of 30 epochs, so the grid shows which combinations make good use of
it.

Some steps are too large for some batch sizes: those fits raise
:class:`~skgd.DivergenceError`, a ``ValueError``, and ``error_score=np.nan``
turns them into a missing score instead of stopping the search.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skgd import GDRegressor

X, y = load_diabetes(return_X_y=True)
eta0s = [0.001, 0.01, 0.1, 0.3, 1.0]
batch_sizes = [1, 8, 32, "full"]
search = GridSearchCV(
    make_pipeline(
        StandardScaler(),
        GDRegressor(
            optimizer="sgd",
            learning_rate="constant",
            precondition=False,
            max_iter=30,
            tol=None,
            random_state=0,
        ),
    ),
    {"gdregressor__eta0": eta0s, "gdregressor__batch_size": batch_sizes},
    cv=3,
    error_score=np.nan,
)
with warnings.catch_warnings():
    # The diverging candidates warn once each; their NaN is what we show.
    warnings.simplefilter("ignore", FitFailedWarning)
    warnings.simplefilter("ignore", UserWarning)
    search.fit(X, y)
print("best:", search.best_params_, "R² =", round(search.best_score_, 3))

# %%
# Mean cross-validated R² of each combination (grey cells diverged).
# Small batches make many updates per epoch, so they get far with small
# steps but need them: single rows already diverge at ``eta0=0.3``, and at
# 0.1 their noise costs accuracy. The full batch makes one update per
# epoch, so 30 epochs at ``eta0=0.01`` leave it far from converged
# (negative R², worse than predicting the mean), while it is still stable
# at 0.3, below its limit of :math:`2/L`. Everything diverges at 1 on this
# data.

scores = np.full((len(batch_sizes), len(eta0s)), np.nan)
for params, score in zip(
    search.cv_results_["params"], search.cv_results_["mean_test_score"]
):
    i = batch_sizes.index(params["gdregressor__batch_size"])
    j = eta0s.index(params["gdregressor__eta0"])
    scores[i, j] = score

fig, ax = plt.subplots(figsize=(7, 4))
cmap = plt.get_cmap("viridis").copy()
cmap.set_bad("lightgray")
image = ax.imshow(np.clip(scores, 0, None), cmap=cmap, vmin=0, aspect="auto")
for i in range(len(batch_sizes)):
    for j in range(len(eta0s)):
        text = "diverged" if np.isnan(scores[i, j]) else f"{scores[i, j]:.2f}"
        ax.text(
            j,
            i,
            text,
            ha="center",
            va="center",
            color="white" if scores[i, j] <= 0.3 else "black",
        )
ax.set_xticks(range(len(eta0s)), [str(e) for e in eta0s])
ax.set_yticks(range(len(batch_sizes)), [str(b) for b in batch_sizes])
ax.set_xlabel("eta0")
ax.set_ylabel("batch_size")
fig.colorbar(image, label="mean CV R² (negative shown as 0)")
ax.set_title("GridSearchCV over eta0 × batch_size, 30 epochs each")
plt.show()
