"""
The tutorial answer that cannot be right: the minimum-norm solution
===================================================================

One tutorial fits :math:`X = [[1, 1], [2, 2], [3, 3]]`, :math:`y = [1, 2, 3]`
without an intercept, starting from :math:`\\theta = 0`, with
:math:`\\eta = 0.01` for 1,000 iterations, and prints
:math:`\\theta \\approx [0.999, 0.999]`.

That cannot be the answer. The two columns are equal, so every exact fit
has :math:`\\theta_1 + \\theta_2 = 1`, and :math:`[0.999, 0.999]` predicts
about twice the targets. The least-squares problem has a whole line of
minimisers, and gradient descent started at zero moves only along the rows
of :math:`X` (every gradient :math:`X^\\top r` is a multiple of
:math:`[1, 1]`), so it converges to the point of that line closest to the
origin: the *minimum-norm* solution :math:`[0.5, 0.5]`, which is also what
the pseudo-inverse gives.
"""

import matplotlib.pyplot as plt
import numpy as np

from skgd import GDRegressor

X = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
y = np.array([1.0, 2.0, 3.0])


def path_from(start, epochs):
    """Full-batch GD with the tutorial's step (eta0 = 2 * 0.01), one epoch
    at a time, keeping every iterate."""
    model = GDRegressor(
        penalty=None,
        fit_intercept=False,
        optimizer="sgd",
        learning_rate="constant",
        precondition=False,
        eta0=0.02,
        max_iter=1,
        tol=None,
        warm_start=True,
    )
    model.fit(X, y, coef_init=np.asarray(start, dtype=float))
    path = [np.asarray(start, dtype=float), model.coef_.copy()]
    for _ in range(epochs - 1):
        path.append(model.fit(X, y).coef_.copy())
    return model, np.array(path)


model, path = path_from([0.0, 0.0], epochs=1000)
print("gradient descent from 0:", model.coef_.round(6))
print("pseudo-inverse:         ", (np.linalg.pinv(X) @ y).round(6))
print("prediction of [0.999, 0.999]:", X @ np.array([0.999, 0.999]))

# %%
# From another start, gradient descent finds another exact fit: the point
# of the solution line nearest to where it started (the start's component
# along :math:`[1, -1]` is never touched). The contours are those of the
# objective; the thick line holds all the exact fits.

other, other_path = path_from([1.0, -0.6], epochs=200)
print("gradient descent from [1, -0.6]:", other.coef_.round(6))

g = np.linspace(-0.8, 1.3, 200)
T1, T2 = np.meshgrid(g, g)
J = 0.5 * np.mean((T1[..., None] * X[:, 0] + T2[..., None] * X[:, 1] - y) ** 2, axis=-1)
fig, ax = plt.subplots(figsize=(6, 5.5))
ax.contour(T1, T2, np.log10(J + 1e-3), levels=15, cmap="Greys", linewidths=0.7)
ax.plot(g, 1 - g, color="tab:green", lw=3, label=r"exact fits: $\theta_1+\theta_2=1$")
ax.plot(*path.T, ".-", color="tab:blue", ms=3, label="GD from 0")
ax.plot(*other_path.T, ".-", color="tab:purple", ms=3, label="GD from [1, -0.6]")
ax.plot(0.5, 0.5, "o", color="tab:blue", ms=9, label="minimum norm [0.5, 0.5]")
ax.plot(
    0.999, 0.999, "x", color="tab:red", ms=10, mew=3, label="printed [0.999, 0.999]"
)
ax.set_xlabel(r"$\theta_1$")
ax.set_ylabel(r"$\theta_2$")
ax.set_xlim(g[0], g[-1])
ax.set_ylim(g[0], g[-1])
ax.set_aspect("equal")
ax.legend(loc="lower left", fontsize=8)
ax.set_title("Gradient descent on two equal columns")
plt.show()
