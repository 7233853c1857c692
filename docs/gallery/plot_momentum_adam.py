"""
Momentum, Nesterov and Adam on an ill-conditioned problem
=========================================================

Plain gradient descent is slow when the objective is a long, narrow valley:
the step must stay below :math:`2/L` for the steepest direction, and the
flattest direction, with curvature :math:`\\mu \\ll L`, then shrinks its
error by only about :math:`1 - \\mu/L` per update. Here two features have
scales 1 and 1/20, so :math:`L/\\mu` is about 400.

The update rules the tutorials name as improvements:

- heavy-ball momentum (``optimizer="momentum"``) keeps a velocity that
  builds up along the valley floor;
- Nesterov's rule (``"nesterov"``) evaluates the gradient after the
  momentum step, which damps the oscillations across the valley;
- Adam (``"adam"``) rescales each coordinate by a running estimate of its
  gradient's size, which undoes the difference of scales.
"""

import matplotlib.pyplot as plt
import numpy as np

from skgd import GDRegressor

rng = np.random.RandomState(0)
n = 200
X = rng.randn(n, 2) * np.array([1.0, 0.05])
y = X @ np.array([2.0, -30.0]) + 0.1 * rng.randn(n)

Xb = np.column_stack([X, np.ones(n)])
theta_exact = np.linalg.lstsq(Xb, y, rcond=None)[0]
objective_exact = 0.5 * np.mean((Xb @ theta_exact - y) ** 2)

epochs = 300
common = dict(
    penalty=None, learning_rate="constant", precondition=False, max_iter=epochs,
    tol=None,
)
plain = GDRegressor(optimizer="sgd", eta0="auto", **common).fit(X, y)
step = plain.eta0_  # 1/L, the safe step of plain gradient descent
print(f"1/L = {step:.4f}")
runs = {
    "plain, eta0 = 1/L": plain,
    "momentum 0.9, eta0 = 1/L": GDRegressor(
        optimizer="momentum", momentum=0.9, eta0=step, **common
    ).fit(X, y),
    "Nesterov 0.9, eta0 = 1/L": GDRegressor(
        optimizer="nesterov", momentum=0.9, eta0=step, **common
    ).fit(X, y),
    "Adam, eta0 = 1": GDRegressor(optimizer="adam", eta0=1.0, **common).fit(X, y),
}
for name, model in runs.items():
    gap = model.loss_curve_[-1] - objective_exact
    print(f"{name:>26}: objective - minimum after {epochs} epochs = {gap:.2e}")

# %%
# The distance to the minimum of the objective, per full-batch update, on a
# log scale. Plain gradient descent creeps down the valley at the rate its
# flattest direction allows. Momentum and Nesterov, with the same step, go
# more than ten times faster; momentum overshoots a little at first (the
# bumps), Nesterov's correction damps that. Adam, which rescales every
# coordinate, is not held back by the flat direction at all (its curve
# wiggles as the scaling keeps adjusting). Its step is
# not a fraction of 1/L but about how far each weight moves per update,
# so it must suit the size of the weights (a coefficient of -30 here; with
# ``eta0=0.01`` Adam would crawl like the plain rule).

fig, ax = plt.subplots(figsize=(8, 4.8))
for name, model in runs.items():
    gap = np.asarray(model.loss_curve_) - objective_exact
    ax.semilogy(np.arange(1, len(gap) + 1), np.maximum(gap, 1e-16), label=name)
ax.set_xlabel("epoch (one full-batch update)")
ax.set_ylabel("objective minus its minimum")
ax.set_title("An ill-conditioned least-squares problem (L/μ ≈ 400)")
ax.legend()
plt.show()
