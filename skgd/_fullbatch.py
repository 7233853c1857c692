"""Full-batch training on a gradient oracle.

The driver never sees X: it asks a :class:`~skgd._oracle.GradientOracle`
for the loss and gradient over all training rows, for products with the
weighted Gram matrix (the curvature behind ``eta0="auto"``) and for the
weighted column moments (preconditioning).  In memory the oracle runs the
compiled kernel; on Dask it reduces the same kernel over the chunks, so
everything here (preconditioning, acceleration, line search, stopping)
works the same on both.

Coordinates.  With ``precondition=True`` the driver works on
``z = (v, c)`` with ``x . w + b = sum_j v_j (x_j - m_j) / s_j + c``: ``m``
the weighted column means (centering only with an intercept, which absorbs
it) and ``s`` the weighted standard deviations (root mean squares without
an intercept).  So ``w = v / s`` and ``b = c - sum_j m_j v_j / s_j``, and
the gradient maps as ``g_v = (g_w - m g_b) / s``, ``g_c = g_b``.  The
penalty stays on ``w`` (L2 curvature ``alpha / s_j**2`` and L1 threshold
``alpha l1_ratio / s_j`` per coordinate), so the minimiser is the one of the
original problem; only the path to it changes.  The kernel never sees
centered data: sparse X is neither copied nor densified.

Update rules on the full batch:

- ``"sgd"``: the proximal gradient step ``z <- prox(z - eta g)``;
- ``"nesterov"`` with ``momentum="auto"``: the convex momentum sequence
  (FISTA with L1) and adaptive restart (O'Donoghue & Candes, 2015);
- any other rule (heavy-ball momentum, Nesterov with a fixed momentum,
  AdaGrad, RMSprop, Adam): the kernel's own per-coordinate rule
  (``_kernel.optimizer_update``, the code every batch mode uses).

Step sizes come from the schedule, or with ``learning_rate="line_search"``
from a backtracking (Armijo) search that starts from the last accepted step
and grows it after a few first-try successes in a row.

Stopping (smooth losses, ``tol`` not None): the run stops once the
estimated distance to the optimum, ``||G|| / mu``, falls below ``tol``
times the size of the model ``||z||``, where ``G`` is the proximal gradient
mapping at the current point (the gradient without L1) and ``mu`` the
smallest curvature the iterates met along their steps (secants of the
gradient), with a safety factor of 3.  Near the optimum ``||G|| / mu``
estimates the distance to it, so ``tol=1e-4`` asks for coefficients to
about 1e-4 relative (in the standardized coordinates), whatever the data's
scale.  Once the gradient is near the precision of X's dtype and the
objective stops going down, the run has converged as far as the
arithmetic allows and stops too.  Losses with a kink, AdaGrad, RMSprop,
Adam and the "adaptive" schedule keep scikit-learn's rule on the
objective's improvement.
"""

import time

import numpy as np

from skgd import _kernel
from skgd._divergence import DivergenceMonitor
from skgd._solver import (
    ADAPTIVE_AUTO_ETA0,
    ADAPTIVE_DIVISOR,
    ADAPTIVE_MIN_ETA,
    ADAPTIVE_OPTIMIZERS,
    LOSSES,
    OPTIMIZERS,
    POWER_MAX_ITER,
    POWER_RTOL,
    SolverResult,
    _average_start,
    resolve_spec,
    warn_if_not_converged,
)
from skgd.schedules import _step_sizes

__all__ = ["solve_full_batch"]

# Backtracking: the step is halved until the sufficient-decrease condition
# holds; after LINE_SEARCH_GROW_AFTER epochs in a row whose step passed at
# its first trial it grows by sqrt(2).  A step that is too cautious (a
# loose curvature bound) still recovers within a few epochs, and a step at
# its limit costs one refused trial every few epochs rather than every
# other one: doubling after each success spent about a third of all reads
# of the data on refused trials (100k x 100 logistic: 36 reads for 20
# epochs; this rule: 25 for 22).  Steps stay on the lattice eta0 * 2**(k/2),
# so rounding-level differences in the data cannot split two runs' steps.
LINE_SEARCH_SHRINK = 0.5
LINE_SEARCH_GROW = float(np.sqrt(2.0))
LINE_SEARCH_GROW_AFTER = 3
# Below this many halvings without success the trouble is not the step.
LINE_SEARCH_MAX_BACKTRACKS = 60
# Refusals after which an extrapolated point's objective, combined from two
# models' predictions, is evaluated again from the data.
LINE_SEARCH_RECHECK = 3
# Relative slack of the sufficient-decrease test: near the optimum the
# objective's change is at the level of its rounding error, and a test that
# demands an exact decrease there would shrink the step for nothing.
LINE_SEARCH_ROUNDING = 64 * np.finfo(np.float64).eps
# The secant curvatures see the directions the iterates moved along, not
# the flattest one of all: the distance they give can fall short of the
# true one by a few times, which this factor covers.
DISTANCE_SAFETY = 3.0
# The arithmetic's floor: once the gradient mapping is below the square
# root of X's dtype's rounding unit times its size at the start, and the
# objective has not gone down by more than its own rounding for this many
# epochs, no rule can make progress any more (float32 data, or a tol below
# what float64 resolves).
STALL_EPOCHS = 10
# Relative slack of "the objective did not rise" (adaptive rollback).
STALL_RTOL = 16 * np.finfo(np.float64).eps


class _Coordinates:
    """The change of variables of preconditioning (identity when off)."""

    def __init__(self, oracle, fit_intercept, enabled):
        d = oracle.n_features
        self.fit_intercept = fit_intercept
        self.identity = not enabled
        first, second = oracle.column_moments()
        ws = oracle.weight_sum
        mean_square = second / ws
        self.mean_square = mean_square
        if not enabled:
            self.mean = np.zeros(d)
            self.scale = np.ones(d)
            return
        if fit_intercept:
            mean = first / ws
            # E[x^2] - E[x]^2 cancels for columns far from zero; clipped at
            # zero, and a column whose spread is within rounding of nothing
            # is constant: the intercept absorbs it, its own scale is moot.
            var = np.maximum(mean_square - mean * mean, 0.0)
            constant = var <= 1e-12 * mean_square
        else:
            mean = np.zeros(d)
            var = mean_square
            constant = var == 0.0
        scale = np.sqrt(var)
        scale[constant | ~np.isfinite(scale)] = 1.0
        self.mean = mean
        self.scale = scale

    def to_W(self, z, dtype):
        """The model in the original coordinates, in the dtype of X."""
        if self.identity:
            return z.astype(dtype)
        W = np.empty(z.shape, dtype=np.float64)
        coef = z[:, :-1] / self.scale
        W[:, :-1] = coef
        W[:, -1] = z[:, -1] - coef @ self.mean if self.fit_intercept else 0.0
        return W.astype(dtype, copy=False)

    def from_W(self, W):
        z = W.astype(np.float64)
        if not self.identity:
            z[:, -1] += z[:, :-1] @ self.mean
            z[:, :-1] *= self.scale
        return z

    def gradient(self, G, weight_sum):
        """The gradient of the mean loss in z from the oracle's sum in W."""
        G = G / weight_sum
        if not self.identity:
            G[:, :-1] -= np.outer(G[:, -1], self.mean)
            G[:, :-1] /= self.scale
        if not self.fit_intercept:
            G[:, -1] = 0.0
        return G

    def matvec(self, oracle, u):
        """The weighted Gram matrix of the z coordinates times u (one
        output), divided by the weight sum."""
        if self.identity:
            out = oracle.gram_matvec(u, self.fit_intercept)
        else:
            w = u[:-1] / self.scale
            full = np.append(w, u[-1] - w @ self.mean if self.fit_intercept else 0.0)
            out = oracle.gram_matvec(full, self.fit_intercept)
            out[:-1] -= out[-1] * self.mean
            out[:-1] /= self.scale
        if not self.fit_intercept:
            out[-1] = 0.0
        return out / oracle.weight_sum


class _Problem:
    """The objective in z: the mean loss plus the L2 term (the smooth part)
    and the L1 term, on an oracle."""

    def __init__(self, oracle, spec, coords):
        self.oracle = oracle
        self.coords = coords
        self.dtype = oracle.dtype
        self.l2 = spec.alpha * (1.0 - spec.l1_ratio)
        self.l1 = spec.alpha * spec.l1_ratio
        # Per-coordinate L1 threshold (times the step) on v = w s.
        self.l1_thresholds = (
            np.ascontiguousarray(self.l1 / coords.scale)
            if self.l1 > 0.0
            else np.empty(0)
        )
        self.passes = 0
        self._unused = None

    def smooth(self, z, with_gradient=True):
        """(f, g, W): the smooth part of the objective at z, its gradient in
        z (None without) and the model in X's dtype."""
        W = self.coords.to_W(z, self.dtype)
        loss_sum, G = self.oracle.loss_gradient(W, with_gradient)
        self.passes += 1
        return self._smooth_part(loss_sum, G, W) + (W,)

    def smooth_extrapolated(self, x_new, beta, x, W_x):
        """The smooth part at the trial point ``x_new`` and, from the same
        read of the data, its value and gradient at the next extrapolated
        point ``y = x_new + beta (x_new - x)`` (``W_x`` is ``x`` in X's
        dtype): ``(f_new, W_new, y, f_y, g_y, W_y)``.  The change of
        variables is linear, so ``y``'s model is the same combination of
        the models of ``x_new`` and ``x``."""
        W_new = self.coords.to_W(x_new, self.dtype)
        if beta == 0.0:
            y, W_y = x_new, W_new
        else:
            y = x_new + beta * (x_new - x)
            W_y = self.coords.to_W(y, self.dtype)
        loss_new, loss_y, G = self.oracle.extrapolated_loss_gradient(
            W_new, beta, W_x
        )
        self.passes += 1
        f_new, _ = self._smooth_part(loss_new, None, W_new)
        f_y, g_y = self._smooth_part(loss_y, G, W_y)
        return f_new, W_new, y, f_y, g_y, W_y

    def _smooth_part(self, loss_sum, G, W):
        """(f, g) from the oracle's loss sum and gradient sum at W (g None
        without G)."""
        ws = self.oracle.weight_sum
        coef = W[:, :-1].astype(np.float64, copy=False)
        f = loss_sum / ws
        if self.l2 > 0.0:
            f += 0.5 * self.l2 * float(np.sum(coef * coef))
        if G is None:
            return f, None
        g = self.coords.gradient(G, ws)
        if self.l2 > 0.0:
            g[:, :-1] += self.l2 * coef / self.coords.scale
        return f, g

    def nonsmooth(self, z):
        if self.l1 == 0.0:
            return 0.0
        return self.l1 * float(np.sum(np.abs(z[:, :-1]) / self.coords.scale))

    def prox_step(self, z, g, eta):
        """prox(z - eta g): the gradient step, then the soft threshold at
        eta times each coefficient's L1 weight (exact zeros)."""
        out = np.array(z, dtype=np.float64, order="C")
        if self._unused is None or self._unused.shape != out.shape:
            # Plain steps never read the optimizer state; the update
            # function still wants arrays of the model's shape.
            self._unused = np.empty_like(out)
        _kernel.optimizer_update(
            out, g, self._unused, self._unused, 0, eta, 0.0, 0.0, 0.0, 0,
            self.l1_thresholds, self.coords.fit_intercept,
        )  # fmt: skip
        return out


def _curvature(problem, loss_curvature, n_outputs):
    """A Lipschitz constant of the smooth part's gradient in z: the loss
    curvature times the largest eigenvalue of the weighted Gram matrix of
    the z coordinates (power iteration from a fixed start, so the same data
    gives the same step), plus the largest L2 curvature alpha / s_j**2."""
    coords, oracle = problem.coords, problem.oracle
    n_dim = oracle.n_features + 1
    v = np.random.RandomState(0).standard_normal(n_dim)
    if not coords.fit_intercept:
        v[-1] = 0.0
    v /= np.linalg.norm(v)
    lam = 0.0
    for _ in range(POWER_MAX_ITER):
        out = coords.matvec(oracle, v)
        problem.passes += 1
        new_lam = float(v @ out)
        peak = np.max(np.abs(out))
        if not peak > 0.0:
            lam = 0.0
            break
        v = out / peak
        v /= np.linalg.norm(v)
        if abs(new_lam - lam) <= POWER_RTOL * abs(new_lam):
            lam = new_lam
            break
        lam = new_lam
    l2_curvature = float(np.max(problem.l2 / coords.scale**2, initial=0.0))
    return loss_curvature * lam + l2_curvature


def _curvature_guess(problem, loss_curvature):
    """A cheap lower estimate of the curvature, where a line search starts:
    the largest diagonal entry of the Gram matrix of the z coordinates
    (1 for standardized columns and for the intercept)."""
    coords = problem.coords
    if coords.identity:
        diag = float(np.max(coords.mean_square, initial=0.0))
    else:
        diag = 1.0
    if coords.fit_intercept:
        diag = max(diag, 1.0)
    l2_curvature = float(np.max(problem.l2 / coords.scale**2, initial=0.0))
    return loss_curvature * diag + l2_curvature


def _mapping_norm(z, z_next, eta, fit_intercept):
    """Norm of the proximal gradient mapping (z - prox(z - eta g)) / eta."""
    diff = z - z_next
    if not fit_intercept:
        diff[:, -1] = 0.0
    return float(np.linalg.norm(diff)) / eta


class _Stopping:
    """The full-batch stopping rule (see the module docstring)."""

    def __init__(self, spec, smooth, dtype):
        self.tol = spec.tol
        self.smooth = smooth
        self.n_iter_no_change = spec.n_iter_no_change
        self.mu = np.inf
        self.first_mapping = None
        # The gradient's own rounding error: below this relative size no
        # rule can make it smaller (float32 data, or a tol below it).
        self.floor = np.sqrt(np.finfo(dtype).eps)
        self.best = np.inf
        self.no_improvement = 0
        self.stalled = 0

    def secant(self, z0, g0, z1, g1):
        dz = z1 - z0
        dd = float(np.vdot(dz, dz))
        if dd > 0.0:
            mu = float(np.vdot(g1 - g0, dz)) / dd
            if mu > 0.0 and np.isfinite(mu):
                self.mu = min(self.mu, mu)

    def converged(self, objective, mapping_norm, z, monotone):
        if self.tol is None:
            return False
        if not self.smooth:
            # scikit-learn's rule: n_iter_no_change epochs without the
            # objective improving by tol.
            if objective > self.best - self.tol:
                self.no_improvement += 1
            else:
                self.no_improvement = 0
            self.best = min(self.best, objective)
            return self.no_improvement >= self.n_iter_no_change
        if self.first_mapping is None:
            self.first_mapping = mapping_norm
        if not np.isfinite(self.best) or objective < self.best - (
            STALL_RTOL * abs(self.best)
        ):
            self.stalled = 0
        else:
            self.stalled += 1
        self.best = min(self.best, objective)
        if (
            self.stalled >= STALL_EPOCHS
            and mapping_norm <= self.floor * self.first_mapping
        ):
            return True
        if mapping_norm == 0.0:
            return True
        if not np.isfinite(self.mu):
            return False
        distance = mapping_norm / self.mu
        return distance <= self.tol / DISTANCE_SAFETY * float(np.linalg.norm(z))


def solve_full_batch(
    oracle,
    state,
    spec,
    *,
    max_epochs=None,
    reporter=None,
    warn_convergence=True,
    score_validation=None,
):
    """Train in place on ``state`` with full-batch updates from ``oracle``.

    Parameters
    ----------
    oracle : GradientOracle
        The data term over the training rows (see :mod:`skgd._oracle`).
    state : SolverState
        Resumed as it is: coefficients, optimizer buffers, update count, the
        last step of a line search.
    spec : SolverSpec
    max_epochs : int, default=None
        Epochs to run; ``spec.max_iter`` by default.
    reporter : object, default=None
        ``reporter.epoch_begin(W)`` before each epoch and
        ``reporter.epoch_end(W)`` after it, which stops training by
        returning True.
    warn_convergence : bool, default=True
        Warn with ConvergenceWarning when ``max_epochs`` ends training before
        the stopping rule does (``tol`` not None).
    score_validation : callable, default=None
        ``score_validation(W)``: the validation score of the model ``W``
        (the solver's layout, X's dtype), higher is better; turns on early
        stopping on that score.

    Returns
    -------
    SolverResult
    """
    # The driver is the full batch whatever batch_size says (an integer as
    # large as the data is the full batch too).
    spec = resolve_spec(spec, full_batch=True)
    if not oracle.weight_sum > 0.0:
        raise ValueError(
            "The sample weights of the training rows sum to zero; give at "
            "least one training sample a positive weight."
        )
    loss_curvature = LOSSES[spec.loss].curvature
    smooth = loss_curvature is not None
    fit_intercept = spec.fit_intercept
    coords = _Coordinates(oracle, fit_intercept, spec.precondition)
    problem = _Problem(oracle, spec, coords)
    dtype = oracle.dtype
    line_search = spec.learning_rate == "line_search"
    accelerated = spec.optimizer == "nesterov" and spec.momentum == "auto"
    plain = spec.optimizer == "sgd"
    if line_search and not (plain or accelerated):
        raise ValueError(
            "learning_rate='line_search' works with optimizer='sgd' or "
            "optimizer='nesterov' (with momentum='auto'); got optimizer="
            f"{spec.optimizer!r}. Choose one of those, or another "
            "learning_rate."
        )
    momentum = 0.9 if spec.momentum == "auto" else float(spec.momentum)
    optimizer_code = OPTIMIZERS[spec.optimizer].code
    decoupled_decay = spec.optimizer == "adamw"

    # The first step: the user's eta0, or the automatic one.  A line search
    # starts from a cheap optimistic guess and corrects it by backtracking;
    # fixed steps take 1/L (every rule here is stable at 1/L on a smooth
    # full-batch objective, heavy-ball and Nesterov momentum included).
    if spec.eta0 != "auto":
        eta0 = float(spec.eta0)
    else:
        if state.auto_eta0 is None:
            if spec.optimizer in ADAPTIVE_OPTIMIZERS:
                state.auto_eta0 = ADAPTIVE_AUTO_ETA0[spec.optimizer]
            else:
                curvature = loss_curvature or 1.0
                if line_search:
                    L = _curvature_guess(problem, curvature)
                else:
                    L = _curvature(problem, curvature, oracle.n_outputs)
                if not np.isfinite(L):
                    raise ValueError(
                        "The features are too large for the automatic step: "
                        "their curvature overflows float64. Standardize the "
                        "features (e.g. with StandardScaler) or give eta0 "
                        "explicitly."
                    )
                state.auto_eta0 = 1.0 / L if L > 0.0 else 1.0
        eta0 = state.auto_eta0
    if state.eta is None or eta0 != state.eta0:
        state.eta = eta0
    state.eta0 = eta0
    average_start = _average_start(spec.average)

    # The starting point, and the objective scale divergence is judged by.
    x = coords.from_W(state.W)
    if not fit_intercept:
        x[:, -1] = 0.0
    if accelerated or spec.optimizer != "sgd":
        if state.S1.shape != x.shape:
            state.S1 = np.zeros(x.shape, dtype=state.S1.dtype)
    S1 = state.S1.astype(np.float64)
    S2 = state.S2.astype(np.float64)
    y = x + S1 if accelerated else x
    f_y, g_y, W_y = problem.smooth(y)
    F_y = f_y + problem.nonsmooth(y)
    if accelerated and not np.array_equal(y, x):
        F_x = problem.smooth(x, False)[0] + problem.nonsmooth(x)
    else:
        F_x = F_y
    if np.any(state.W != 0):
        zero_objective = problem.oracle.loss_gradient(
            np.zeros_like(state.W), False
        )[0] / oracle.weight_sum
    else:
        zero_objective = F_x
    if state.reference is None:
        state.reference = F_x

    cache = {}

    def objective_at(W):
        if cache.get("key") == W.tobytes():
            return cache["value"]
        loss_sum, _ = oracle.loss_gradient(W, False)
        value = loss_sum / oracle.weight_sum + _penalty(W, spec)
        cache["key"], cache["value"] = W.tobytes(), value
        return value

    largest = float(np.finfo(dtype).max)

    def decision_at(W):
        # The driver never sees the decision values.  Their typical size,
        # sqrt(sum_j w_j^2 E[x_j^2]) + |b| from the column moments, says
        # whether they overflow X's dtype (a loss like the hinge's can stay
        # finite when they do); the oracle's loss at W covers the rest.
        W64 = W.astype(np.float64)
        typical = np.sqrt(
            np.sum(W64[:, :-1] ** 2 * coords.mean_square, axis=1)
        ) + np.abs(W64[:, -1])
        if not np.all(typical < largest):
            return np.array([np.inf])
        if cache.get("key") == W.tobytes():
            return np.array([cache["value"]])
        return np.array([objective_at(W)])

    stable = {}

    def stable_step():
        if "value" not in stable:
            L = _curvature(problem, loss_curvature or 1.0, oracle.n_outputs)
            stable["value"] = _stable_step(L, spec)
        return stable["value"]

    monitor = DivergenceMonitor(
        objective_at,
        decision_at,
        stable_step,
        start_objective=F_x,
        zero_objective=zero_objective,
        reference=state.reference,
        updates_per_epoch=1,
        adaptive=spec.optimizer in ADAPTIVE_OPTIMIZERS,
        # partial_fit (one epoch per call) keeps the epoch gate for gross
        # climbs, as the epoch loop does (see skgd._solver.solve).
        gross_climb_any_length=max_epochs is None,
    )
    # The predictions, hence the objective, are computed in X's dtype: its
    # rounding unit is the level below which two values cannot be told
    # apart (the extrapolated point's predictions are combined from two
    # models' and the trial's computed directly, so they round differently).
    slack = max(LINE_SEARCH_ROUNDING, 4 * float(np.finfo(dtype).eps))
    adaptive = spec.learning_rate == "adaptive"
    # "adaptive" keeps scikit-learn's plateau rule on the objective (or the
    # validation score), which is what divides its step.  So do AdaGrad,
    # RMSprop and Adam: they rescale every coordinate by its own gradient
    # history, so their iterates do not settle at the rate the secant
    # estimate of the distance describes (near the optimum they even turn
    # rounding noise into moves of size eta).
    gradient_stopping = (
        smooth and not adaptive and spec.optimizer not in ADAPTIVE_OPTIMIZERS
    )
    stopping = _Stopping(spec, gradient_stopping, dtype)
    theta = state.theta if accelerated else 1.0
    # Whether f(y), g(y) came from combined predictions (see the search).
    y_combined = False

    epochs = spec.max_iter if max_epochs is None else max_epochs
    loss_curve, validation_scores = [], []
    best_score = -np.inf
    best_W = None
    no_improvement = 0
    converged = stopped_by_callback = False
    start_time = time.perf_counter()
    W_avg = state.W_avg
    t_start = state.t
    epoch = 0
    eta = state.eta
    W_x = coords.to_W(x, dtype)

    def published():
        if average_start >= 0 and state.t > average_start:
            return W_avg
        return W_x

    # "adaptive" keeps its current step (state.eta) between its reductions.
    schedule = "constant" if spec.learning_rate == "adaptive" else spec.learning_rate
    python_epochs = epochs
    if (
        accelerated
        and line_search
        and gradient_stopping
        and getattr(oracle, "compiled_epochs", False)
        and score_validation is None
        and not spec.verbose
        and average_start < 0
        and (reporter is None or not reporter.observed())
    ):
        # The default rule with nothing to report per epoch: the epochs run
        # in compiled code, the same steps as the loop below.
        run = _CompiledRun(oracle, problem, stopping, monitor, eta0, slack)
        epoch, converged, eta = run.epochs(
            epochs, x, y, g_y, f_y, W_x, W_y, F_x, theta, state
        )
        x, y, g_y, f_y, W_x, W_y, F_x, theta = (
            run.x, run.y, run.g_y, run.f_y, run.W_x, run.W_y, run.F_x, run.theta
        )
        loss_curve = run.loss_curve
        python_epochs = 0
    for epoch in range(1, python_epochs + 1):
        if reporter is not None:
            reporter.epoch_begin(published())
        monotone = plain or line_search
        if line_search:
            # Backtracking from the last accepted step (grown after
            # first-try successes, see LINE_SEARCH_GROW_AFTER): accept the
            # first step with
            # f(z+) <= f(y) + g.(z+ - y) + ||z+ - y||^2 / (2 eta).
            eta = state.eta
            first_try = True
            within_rounding = False
            for trial in range(LINE_SEARCH_MAX_BACKTRACKS):
                if trial == LINE_SEARCH_RECHECK and y_combined:
                    # f(y) came from predictions combined from two models,
                    # the trials' from the data: at the objective's
                    # rounding floor the two roundings alone can refuse
                    # every step.  Evaluate y directly once and go on.
                    f_y, g_y, W_y = problem.smooth(y)
                    y_combined = False
                x_new = problem.prox_step(y, g_y, eta)
                d = x_new - y
                if accelerated:
                    # The momentum of the next epoch depends on x_new only
                    # (gradient restart), so the read of the data that tests
                    # the trial also gives the gradient at the next
                    # extrapolated point: one read per trial, not two.
                    restart = float(np.vdot(y - x_new, x_new - x)) > 0.0
                    if restart:
                        theta_next, beta = 1.0, 0.0
                    else:
                        theta_next = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * theta * theta))
                        beta = (theta - 1.0) / theta_next
                    f_new, W_new, y_next, f_next, g_next, W_next = (
                        problem.smooth_extrapolated(x_new, beta, x, W_x)
                    )
                    next_combined = beta != 0.0
                else:
                    f_new, g_new, W_new = problem.smooth(x_new, with_gradient=plain)
                bound = (
                    f_y
                    + float(np.vdot(g_y, d))
                    + float(np.vdot(d, d)) / (2.0 * eta)
                )
                if np.isfinite(f_new) and f_new <= bound:
                    break
                if np.isfinite(f_new) and f_new <= bound + slack * abs(f_y):
                    # Only rounding tells the step from a good one: take it,
                    # but try a smaller one next (a step let through this
                    # way and then grown keeps the iterates oscillating at
                    # the level the objective cannot resolve).
                    within_rounding = True
                    break
                eta *= LINE_SEARCH_SHRINK
                first_try = False
            else:
                reason = "step" if np.isfinite(f_new) else "data_scale"
                raise monitor._error(epoch, eta, f_new, reason)
            state.eta = eta
            state.search_streak = state.search_streak + 1 if first_try else 0
            if within_rounding:
                # Never below a tiny share of the first step: a long run at
                # the arithmetic's limit would otherwise shrink it to zero.
                state.eta = max(eta * LINE_SEARCH_SHRINK, 1e-12 * eta0)
                state.search_streak = 0
            elif state.search_streak >= LINE_SEARCH_GROW_AFTER:
                state.eta = eta * LINE_SEARCH_GROW
                state.search_streak = 0
            F_new = f_new + problem.nonsmooth(x_new)
            objective = F_x if accelerated else F_y
        else:
            eta = float(
                _step_sizes(
                    schedule,
                    np.array([state.t], dtype=np.int64),
                    state.eta,
                    power_t=spec.power_t,
                    alpha=spec.alpha,
                )[0]
            )
            objective = F_y
            if plain or accelerated:
                x_new = problem.prox_step(y, g_y, eta)
            else:
                x_new = np.array(y, order="C")
                g_rule = g_y
                if decoupled_decay and problem.l2 > 0.0:
                    # AdamW: the L2 term decays the weights by the factor
                    # plain SGD uses, and the moments see the data
                    # gradient alone (in z the term's curvature is
                    # l2 / s_j**2).
                    decay = problem.l2 / coords.scale**2
                    g_rule = g_y.copy()
                    g_rule[:, :-1] -= decay * y[:, :-1]
                    x_new[:, :-1] *= 1.0 - eta * decay
                _kernel.optimizer_update(
                    x_new, g_rule, S1, S2, optimizer_code, eta, momentum,
                    spec.beta_1, spec.beta_2, state.t, problem.l1_thresholds,
                    fit_intercept,
                )  # fmt: skip

        loss_curve.append(objective)
        monitor.check_epoch(epoch, eta, objective, W_y)

        # Stopping measures at the point whose gradient is known.
        mapping = _mapping_norm(
            y, x_new if (plain or accelerated) else problem.prox_step(y, g_y, eta),
            eta, fit_intercept,
        )  # fmt: skip

        # Momentum for the next epoch.
        if accelerated and line_search:
            # Decided with the trial (above), which also evaluated the next
            # point, unless the objective went up.
            theta = theta_next
            if F_new > F_x + LINE_SEARCH_ROUNDING * abs(F_x):
                # Function restart keeps the objective non-increasing: the
                # step from the extrapolated point went up, so stay at x and
                # take a plain step from there next epoch.
                x_new, F_new, theta = x, F_x, 1.0
                y_next, W_new = x, W_x
                f_next, g_next, W_next = problem.smooth(x)
                next_combined = False
            y_combined = next_combined
        elif accelerated:
            restart = float(np.vdot(y - x_new, x_new - x)) > 0.0
            if restart:
                theta = 1.0
                y_next = x_new
            else:
                theta_next = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * theta * theta))
                beta = (theta - 1.0) / theta_next
                theta = theta_next
                y_next = x_new + beta * (x_new - x)
        else:
            y_next = x_new

        if line_search and plain:
            # The search already evaluated the gradient at the new point.
            f_next, g_next, W_next = f_new, g_new, W_new
        elif not (line_search and accelerated):
            f_next, g_next, W_next = problem.smooth(y_next)
        F_next = f_next + problem.nonsmooth(y_next)

        if (
            spec.learning_rate == "adaptive"
            and plain
            and not (np.isfinite(F_next) and F_next <= F_y + STALL_RTOL * abs(F_y))
        ):
            # The objective rose over the epoch: the step is too large for
            # plain gradient descent (which descends at any stable step).
            # Roll back to the epoch's start and divide the step.
            state.eta /= ADAPTIVE_DIVISOR
            if state.eta < ADAPTIVE_MIN_ETA:
                raise monitor._error(epoch, eta, F_next, "step")
            if spec.verbose:
                print(f"Epoch {epoch} rolled back; step reduced to {state.eta:.4g}")
            continue

        stopping.secant(y, g_y, y_next, g_next)
        state.t += 1
        x = x_new
        if line_search and accelerated:
            W_x = W_new
        else:
            W_x = W_next if y_next is x_new else coords.to_W(x, dtype)
        if average_start >= 0 and state.t > average_start:
            W_avg += (W_x - W_avg) / (state.t - average_start)
        if not accelerated:
            F_x = F_next
        elif line_search:
            F_x = F_new
        y, f_y, g_y, W_y, F_y = y_next, f_next, g_next, W_next, F_next

        if spec.verbose:
            print(
                f"-- Epoch {epoch}: objective {objective:.6g}, step {eta:.4g}, "
                f"updates {state.t}, elapsed {time.perf_counter() - start_time:.2f}s"
            )

        W_now = published()
        stop = False
        if score_validation is not None:
            score = float(score_validation(W_now))
            validation_scores.append(score)
            if spec.tol is not None and score < best_score + spec.tol:
                no_improvement += 1
            else:
                no_improvement = 0
            if score > best_score:
                best_score = score
                best_W = W_now.copy()
            plateau = spec.tol is not None and no_improvement >= spec.n_iter_no_change
        else:
            plateau = stopping.converged(objective, mapping, x, monotone)
        if plateau and adaptive and state.eta > ADAPTIVE_MIN_ETA:
            # scikit-learn's "adaptive": a plateau divides the step; the
            # plateau after the step fell to its minimum ends training.
            state.eta /= ADAPTIVE_DIVISOR
            no_improvement = stopping.no_improvement = 0
            if spec.verbose:
                print(f"Step size reduced to {state.eta:.4g}")
        elif plateau:
            converged = stop = True
        if reporter is not None and reporter.epoch_end(W_now):
            stop = stopped_by_callback = True
        if stop:
            break

    warn_if_not_converged(
        epochs,
        converged or stopped_by_callback or not warn_convergence or epoch == 0,
        spec,
        "increase max_iter or tol, or use the default optimizer and learning_rate.",
        # solve_full_batch <- solve <- _run <- fit <- _fit_context
        # <- keeps_state_on_error <- the caller's line.
        stacklevel=8,
    )

    # Keep what resumed training needs: the iterate, the momentum
    # displacement and sequence, the optimizer buffers.
    state.W[...] = W_x
    if accelerated:
        state.S1[...] = y - x
        state.theta = theta
    elif spec.optimizer != "sgd":
        state.S1[...] = S1
        state.S2[...] = S2
    W_out = best_W if best_W is not None else published()
    if epoch > 0 and np.isfinite(F_x) and (line_search or not accelerated):
        # The objective at the final iterate is known (the accepted step's,
        # or the last gradient point's): the final check need not read the
        # data again for it.
        cache["key"], cache["value"] = state.W.tobytes(), F_x
    if epoch > 0:
        monitor.check_final(epoch, eta, state.W, W_out, state.t - t_start)
    if best_W is not None:
        state.W[...] = best_W
    else:
        W_out = W_out.copy()
    return SolverResult(
        state=state,
        W=W_out,
        loss_curve=loss_curve,
        validation_scores=validation_scores,
        n_iter=epoch,
    )


class _CompiledRun:
    """solve_full_batch's loop for the default rule (Nesterov with restart
    and line search, gradient-mapping stopping) in compiled code
    (``_kernel.accelerated_search_epochs``), for an in-memory oracle and no
    per-epoch hook."""

    def __init__(self, oracle, problem, stopping, monitor, eta0, slack):
        self.oracle = oracle
        self.problem = problem
        self.stopping = stopping
        self.monitor = monitor
        self.eta0 = eta0
        self.slack = slack

    def epochs(self, max_epochs, x, y, g_y, f_y, W_x, W_y, F_x, theta, state):
        oracle, problem, stopping = self.oracle, self.problem, self.stopping
        coords = problem.coords
        s = np.zeros(_kernel.N_LOOP_SCALARS)
        s[_kernel.S_F_Y] = f_y
        s[_kernel.S_F_X] = F_x
        s[_kernel.S_THETA] = theta
        s[_kernel.S_ETA] = state.eta
        s[_kernel.S_T] = state.t
        s[_kernel.S_MU] = stopping.mu
        s[_kernel.S_FIRST_MAPPING] = (
            np.nan if stopping.first_mapping is None else stopping.first_mapping
        )
        s[_kernel.S_BEST] = stopping.best
        s[_kernel.S_STALLED] = stopping.stalled
        s[_kernel.S_STREAK] = state.search_streak
        x = np.array(x, dtype=np.float64, order="C")
        y = np.array(y, dtype=np.float64, order="C")
        g_y = np.array(g_y, dtype=np.float64, order="C")
        W_x = np.array(W_x, order="C")
        W_y = np.array(W_y, order="C")
        curve = np.empty(max(max_epochs, 1))
        tol = -1.0 if stopping.tol is None else float(stopping.tol)
        status, epochs = _kernel.accelerated_search_epochs(
            *oracle.data.args, oracle.Y, oracle.target_kind,
            oracle.sample_weight, oracle.rows, oracle.loss_code,
            oracle.epsilon, oracle.n_threads, oracle.weight_sum,
            np.ascontiguousarray(coords.scale, dtype=np.float64),
            np.ascontiguousarray(coords.mean, dtype=np.float64),
            coords.identity, coords.fit_intercept, problem.l2, problem.l1,
            problem.l1_thresholds, x, y, g_y, W_x, W_y, s, curve, max_epochs,
            tol, DISTANCE_SAFETY, stopping.floor, self.slack, self.eta0,
            self.monitor.bound, LINE_SEARCH_MAX_BACKTRACKS, LINE_SEARCH_RECHECK,
            STALL_EPOCHS, STALL_RTOL, LINE_SEARCH_ROUNDING, LINE_SEARCH_GROW,
            LINE_SEARCH_GROW_AFTER,
        )  # fmt: skip
        eta = float(s[_kernel.S_LAST_ETA])
        self.loss_curve = [float(v) for v in curve[:epochs]]
        if status == _kernel.LOOP_SEARCH_FAILED:
            value = float(s[_kernel.S_LAST_VALUE])
            reason = "step" if np.isfinite(value) else "data_scale"
            raise self.monitor._error(epochs, eta, value, reason)
        if status == _kernel.LOOP_UNSOUND_EPOCH:
            # Raises with the monitor's own message.
            self.monitor.check_epoch(epochs, eta, float(s[_kernel.S_LAST_VALUE]), W_y)
        self.x, self.y, self.g_y, self.W_x, self.W_y = x, y, g_y, W_x, W_y
        self.f_y = float(s[_kernel.S_F_Y])
        self.F_x = float(s[_kernel.S_F_X])
        self.theta = float(s[_kernel.S_THETA])
        state.eta = float(s[_kernel.S_ETA])
        state.t = int(s[_kernel.S_T])
        state.search_streak = int(s[_kernel.S_STREAK])
        stopping.mu = float(s[_kernel.S_MU])
        first = float(s[_kernel.S_FIRST_MAPPING])
        stopping.first_mapping = None if np.isnan(first) else first
        stopping.best = float(s[_kernel.S_BEST])
        stopping.stalled = int(s[_kernel.S_STALLED])
        problem.passes += epochs
        return epochs, status == _kernel.LOOP_CONVERGED, eta


def _penalty(W, spec):
    if spec.alpha == 0.0:
        return 0.0
    coef = W[:, :-1].astype(np.float64, copy=False)
    value = 0.0
    if spec.l1_ratio < 1.0:
        value += (1.0 - spec.l1_ratio) * 0.5 * float(np.sum(coef * coef))
    if spec.l1_ratio > 0.0:
        value += spec.l1_ratio * float(np.sum(np.abs(coef)))
    return spec.alpha * value


def _stable_step(L, spec):
    """The largest stable fixed step for the rule on curvature L (see
    skgd._solver.largest_stable_step)."""
    rule = OPTIMIZERS[spec.optimizer]
    if rule.stable_step is None:
        return float("nan")
    if L <= 0.0:
        return float("inf")
    if spec.optimizer == "nesterov" and spec.momentum == "auto":
        # The accelerated sequence's steps are those of plain gradient
        # descent at the extrapolated point.
        return 2.0 / L
    return rule.stable_step(L, rule.hyper(spec))
