"""The solver driver shared by every skgd estimator.

The estimators validate their parameters and data, encode the targets and
then make one call, :func:`solve`.  The driver runs the epochs: it plans the
order of the rows (shuffled or not), asks the schedule for the step size of
every batch of the epoch at once, hands the epoch to the compiled kernel
(:mod:`skgd._kernel`), and after each epoch records the objective, checks for
divergence, scores the validation rows and applies the stopping rules.

Full-batch GD, per-sample SGD and mini-batch GD are one code path: they differ
only in ``batch_size``, which sets how the kernel cuts the epoch into batches.
"""

import time
import warnings
from dataclasses import dataclass, replace

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

from skgd import _kernel
from skgd._divergence import DivergenceMonitor
from skgd._oracle import KernelData
from skgd.schedules import _step_sizes

__all__ = ["LOSSES", "OPTIMIZERS", "SolverSpec", "SolverState", "solve"]


@dataclass(frozen=True)
class LossInfo:
    """What the driver needs to know about a loss."""

    code: int
    # Upper bound on the second derivative of the loss with respect to the
    # prediction; None for losses with a kink (no curvature bound exists).
    curvature: float | None
    # The kernel's target encoding this loss accepts for a classifier.
    margin: bool


# Codes match skgd/_losses.pxd.
LOSSES = {
    "squared_error": LossInfo(0, 1.0, False),
    "huber": LossInfo(1, 1.0, False),
    "epsilon_insensitive": LossInfo(2, None, False),
    "squared_epsilon_insensitive": LossInfo(3, 2.0, False),
    "log_loss": LossInfo(4, 0.25, True),
    "hinge": LossInfo(5, None, True),
    "squared_hinge": LossInfo(6, 2.0, True),
    "modified_huber": LossInfo(7, 2.0, True),
    "perceptron": LossInfo(8, None, True),
    # The Hessian of the multinomial log loss in the scores, diag(p) - p p^T,
    # has no eigenvalue above 1/2.
    "multinomial": LossInfo(9, 0.5, True),
}

# Codes match OptCode in skgd/_kernel.pyx.
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
ADAPTIVE_OPTIMIZERS = ("adagrad", "rmsprop", "adam")

# Target encodings understood by the kernel.
TARGET_REAL = 0
TARGET_ONE_VS_REST = 1
TARGET_MULTINOMIAL = 2

# eta0="auto" for the rules that rescale each coordinate by its own gradient
# history: they move every weight by about eta0 per update whatever the
# curvature, so a step from 1/L has no meaning for them.  AdaGrad's steps
# shrink like 1/sqrt(t) on top of that, so it starts ten times larger.
ADAPTIVE_AUTO_ETA0 = {"adagrad": 0.1, "rmsprop": 0.01, "adam": 0.01}
# The "adaptive" schedule divides the step by this after a plateau and stops
# once it falls below ADAPTIVE_MIN_ETA (scikit-learn's values).
ADAPTIVE_DIVISOR = 5.0
ADAPTIVE_MIN_ETA = 1e-6
# Rows on which the objective of the zero model, of the starting weights and
# of the final weights (which catches a blow-up in a call's last update) are
# measured.
FINAL_CHECK_ROWS = 1000
# Power iteration for the largest eigenvalue of the weighted Gram matrix.
POWER_MAX_ITER = 50
POWER_RTOL = 1e-4
# Rows used to estimate the curvature for mini-batches: the bound mixes the
# full-data curvature with the largest row norm, and a sample of this many
# rows pins the former down well enough without a pass per iteration over
# millions of rows.
CURVATURE_SAMPLE = 20_000


@dataclass
class SolverSpec:
    """Everything that says how to train, already validated."""

    loss: str
    epsilon: float = 0.1
    target_kind: int = TARGET_REAL
    alpha: float = 1e-4
    l1_ratio: float = 0.0
    fit_intercept: bool = True
    batch_size: object = "full"
    learning_rate: object = "constant"
    eta0: object = "auto"
    power_t: float = 0.25
    optimizer: str = "sgd"
    momentum: object = 0.9
    beta_1: float = 0.9
    beta_2: float = 0.999
    max_iter: int = 1000
    tol: float | None = 1e-4
    n_iter_no_change: int = 5
    shuffle: bool = True
    average: object = False
    verbose: int = 0
    precondition: bool = False


@dataclass
class SolverState:
    """The model and everything needed to resume training exactly.

    ``W`` holds the coefficients with the intercept as its last column; the
    optimizer buffers ``S1``/``S2`` and the running average ``W_avg`` have the
    same shape.  ``t`` counts updates, ``eta`` is the current base step of the
    "adaptive" schedule, ``eta0`` the first step in use, ``auto_eta0`` the
    automatic step once computed (kept, so resumed training continues with
    the step it started from).
    """

    W: np.ndarray
    S1: np.ndarray
    S2: np.ndarray
    W_avg: np.ndarray
    t: int = 0
    eta0: float | None = None
    auto_eta0: float | None = None
    eta: float | None = None
    # The objective scale that divergence is measured against.
    reference: float | None = None
    # State of the generator that shuffles the rows (see _kernel.shuffle_rows).
    shuffle_state: int = 0
    # The accelerated full-batch rule's momentum sequence (1 after a
    # restart).
    theta: float = 1.0

    @classmethod
    def new(cls, n_outputs, n_features, dtype, seed):
        shape = (n_outputs, n_features + 1)
        return cls(
            W=np.zeros(shape, dtype=dtype),
            S1=np.zeros(shape, dtype=dtype),
            S2=np.zeros(shape, dtype=dtype),
            W_avg=np.zeros(shape, dtype=dtype),
            shuffle_state=int(seed),
        )

    def copy(self):
        return SolverState(
            W=self.W.copy(),
            S1=self.S1.copy(),
            S2=self.S2.copy(),
            W_avg=self.W_avg.copy(),
            t=self.t,
            eta0=self.eta0,
            auto_eta0=self.auto_eta0,
            eta=self.eta,
            reference=self.reference,
            shuffle_state=self.shuffle_state,
            theta=self.theta,
        )


@dataclass
class SolverResult:
    """What a call to :func:`solve` produced."""

    state: SolverState
    # The coefficients to publish: the best validation epoch's under early
    # stopping, the running average under averaging, else the last iterate.
    W: np.ndarray
    loss_curve: list
    validation_scores: list
    n_iter: int


def penalty_value(W, alpha, l1_ratio):
    """alpha * ((1 - l1_ratio) / 2 ||w||^2 + l1_ratio ||w||_1), intercept
    (the last column) excluded."""
    if alpha == 0.0:
        return 0.0
    coef = W[:, :-1].astype(np.float64, copy=False)
    value = 0.0
    if l1_ratio < 1.0:
        value += (1.0 - l1_ratio) * 0.5 * float(np.sum(coef * coef))
    if l1_ratio > 0.0:
        value += l1_ratio * float(np.sum(np.abs(coef)))
    return alpha * value


def objective(data, Y, sample_weight, W, rows, spec):
    """Sample-weighted mean loss over `rows` plus the penalty, at W."""
    loss_sum, _ = _kernel.loss_and_gradient(
        *data.args,
        Y,
        spec.target_kind,
        sample_weight,
        W,
        rows,
        LOSSES[spec.loss].code,
        spec.epsilon,
        False,
    )
    return loss_sum / float(np.sum(sample_weight[rows])) + penalty_value(
        W, spec.alpha, spec.l1_ratio
    )


def _largest_gram_eigenvalue(data, sample_weight, rows, fit_intercept):
    """Largest eigenvalue of sum_i s_i z_i z_i^T / sum_i s_i (z_i = [x_i, 1])
    by power iteration from a fixed start, so that the same data always gives
    the same step."""
    n_dim = data.n_features + 1
    v = np.random.RandomState(0).standard_normal(n_dim)
    v /= np.linalg.norm(v)
    out = np.empty(n_dim)
    weight = float(np.sum(sample_weight[rows]))
    lam = 0.0
    for _ in range(POWER_MAX_ITER):
        _kernel.gram_matvec(*data.args, sample_weight, rows, fit_intercept, v, out)
        out /= weight
        new_lam = float(v @ out)
        # Normalise through the largest entry first: the plain norm squares
        # the entries and over- or underflows for features far from 1.
        peak = np.max(np.abs(out))
        if peak == 0.0:
            return 0.0
        v = out / peak
        v /= np.linalg.norm(v)
        if abs(new_lam - lam) <= POWER_RTOL * abs(new_lam):
            return new_lam
        lam = new_lam
    return lam


def smoothness(data, sample_weight, rows, spec, curvature):
    """A Lipschitz constant of the gradient of the batch loss used by SGD.

    For batches of b rows drawn from n, the expected smoothness of the
    mini-batch gradient is bounded by
        L_b = (n - b) / (b (n - 1)) L_max + n (b - 1) / (b (n - 1)) L_full,
    with L_full the curvature of the mean loss (largest eigenvalue of the
    weighted Gram matrix times the loss curvature) and L_max the largest
    single-row curvature (its weighted squared norm).  b = n gives L_full,
    b = 1 gives L_max.
    """
    n = rows.shape[0]
    b = n if spec.batch_size == "full" else min(int(spec.batch_size), n)
    mean_w = float(np.sum(sample_weight[rows])) / n
    if b < n or n == 1:
        norms = _kernel.row_sq_norms(*data.args, rows)
        if spec.fit_intercept:
            norms += 1.0
        L_max = curvature * float(np.max(norms * sample_weight[rows] / mean_w))
    else:
        L_max = 0.0
    if b == 1 or n == 1:
        return L_max
    sample = rows
    if b < n and n > CURVATURE_SAMPLE:
        sample = np.sort(
            np.random.RandomState(0).choice(rows, CURVATURE_SAMPLE, replace=False)
        )
    L_full = curvature * _largest_gram_eigenvalue(
        data, sample_weight, sample, spec.fit_intercept
    )
    if b == n:
        return L_full
    return (n - b) / (b * (n - 1)) * L_max + n * (b - 1) / (b * (n - 1)) * L_full


def smoothness_with_penalty(data, sample_weight, rows, spec, curvature):
    """The data term's smoothness plus the curvature alpha (1 - l1_ratio) of
    the L2 part of the penalty, which every update applies in full."""
    L = smoothness(data, sample_weight, rows, spec, curvature)
    return L + spec.alpha * (1.0 - spec.l1_ratio)


def _auto_eta0(L, spec):
    if spec.optimizer in ADAPTIVE_OPTIMIZERS:
        return ADAPTIVE_AUTO_ETA0[spec.optimizer]
    if L <= 0.0:
        # Every row is zero: any step is stable; 1 is as good as any.
        return 1.0
    # Heavy-ball and Nesterov momentum multiply the effective step by
    # 1 / (1 - momentum); scaling by (1 - momentum) keeps it at 1/L.
    if spec.optimizer in ("momentum", "nesterov"):
        return (1.0 - spec.momentum) / L
    return 1.0 / L


def resolve_eta0(data, sample_weight, rows, spec):
    """The first step size: the user's eta0, or the automatic one.

    For smooth losses the automatic step is 1/L (see :func:`smoothness`), the
    classic step that makes every full-batch iteration decrease the
    objective.  Losses with a kink have no curvature bound; they get the same
    row-norm scale with unit curvature."""
    if spec.eta0 != "auto":
        return float(spec.eta0)
    curvature = LOSSES[spec.loss].curvature
    L = smoothness_with_penalty(data, sample_weight, rows, spec, curvature or 1.0)
    if not np.isfinite(L):
        raise ValueError(
            "The features are too large for the automatic step: their "
            "curvature overflows float64. Standardize the features (e.g. with "
            "StandardScaler) or give eta0 explicitly."
        )
    return _auto_eta0(L, spec)


def largest_stable_step(data, sample_weight, rows, spec):
    """The largest step the update rule can take on this data without
    diverging: 2/L for plain gradient descent on a smooth loss (the iteration
    map of a quadratic is a contraction exactly when eta < 2/L), and the
    corresponding bounds of the momentum rules."""
    if spec.optimizer in ADAPTIVE_OPTIMIZERS:
        # These rules move each weight by about eta per update whatever the
        # curvature: no step bound follows from the data.
        return float("nan")
    curvature = LOSSES[spec.loss].curvature or 1.0
    L = smoothness_with_penalty(data, sample_weight, rows, spec, curvature)
    if L <= 0.0:
        return float("inf")
    mu = spec.momentum
    if spec.optimizer == "momentum":
        return 2.0 * (1.0 + mu) / L
    if spec.optimizer == "nesterov":
        # On a quadratic with curvature h = eta L the update has the
        # characteristic polynomial z^2 - (1 + mu)(1 - h) z + mu (1 - h),
        # whose roots stay inside the unit circle exactly for
        # h < 2 (1 + mu) / (1 + 2 mu).
        return 2.0 * (1.0 + mu) / ((1.0 + 2.0 * mu) * L)
    return 2.0 / L


def resolve_spec(spec, full_batch=None):
    """The spec with its "auto" choices made for its batch mode.

    Full batch (``batch_size="full"``, or a batch as large as the data):
    ``optimizer="auto"`` is Nesterov's accelerated rule with adaptive
    restart and ``learning_rate="auto"`` the line search when the rule is
    plain or accelerated and the loss smooth, else the constant step.
    Losses with a kink keep plain constant steps.  Stochastic batches:
    ``"sgd"`` with the constant step, today's behaviour.  ``momentum="auto"``
    is the convex momentum sequence of the accelerated full-batch rule, and
    0.9 everywhere else.
    """
    if full_batch is None:
        full_batch = spec.batch_size == "full"
    smooth = LOSSES[spec.loss].curvature is not None
    optimizer = spec.optimizer
    if optimizer == "auto":
        optimizer = "nesterov" if (full_batch and smooth) else "sgd"
    momentum = spec.momentum
    accelerated = full_batch and optimizer == "nesterov" and momentum == "auto"
    if momentum == "auto" and not accelerated:
        momentum = 0.9
    learning_rate = spec.learning_rate
    if isinstance(learning_rate, str) and learning_rate == "auto":
        searchable = full_batch and smooth and (optimizer == "sgd" or accelerated)
        learning_rate = "line_search" if searchable else "constant"
    if (
        isinstance(learning_rate, str)
        and learning_rate == "line_search"
        and not full_batch
    ):
        raise ValueError(
            "learning_rate='line_search' searches the step on the full-batch "
            f"objective; it does not apply to batch_size={spec.batch_size!r}. "
            "Use batch_size='full', or a schedule such as 'constant' or "
            "'adaptive' for stochastic batches."
        )
    if (
        optimizer == spec.optimizer
        and momentum == spec.momentum
        and learning_rate is spec.learning_rate
    ):
        return spec
    return replace(
        spec, optimizer=optimizer, momentum=momentum, learning_rate=learning_rate
    )


def _average_start(average):
    """Update count from which the running average is taken, or -1."""
    if isinstance(average, (bool, np.bool_)):
        return 0 if average else -1
    return int(average) if average > 0 else -1


def _published(state, average_start):
    """The coefficients a model would publish now: the running average once
    averaging has started, else the current iterate."""
    if average_start >= 0 and state.t > average_start:
        return state.W_avg
    return state.W


def solve(
    X,
    Y,
    sample_weight,
    state,
    spec,
    *,
    train_rows=None,
    validation_rows=None,
    score_validation=None,
    max_epochs=None,
    reporter=None,
    warn_convergence=True,
):
    """Train in place on ``state`` and return a :class:`SolverResult`.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features) or CSR matrix
        Training data in the dtype of ``state.W``.
    Y : ndarray of shape (n_samples, n_columns)
        Targets encoded as ``spec.target_kind`` says, same dtype as X.
    sample_weight : ndarray of shape (n_samples,)
    state : SolverState
        Resumed as it is: coefficients, optimizer buffers, update count.
    spec : SolverSpec
    train_rows, validation_rows : ndarray of intp, default=None
        Rows used for training and for scoring (early stopping); all rows are
        training rows by default.  Rows are selected, never copied.
    score_validation : callable, default=None
        ``score_validation(decision)`` with the decision values of the
        validation rows at the end of each epoch; higher is better.
    max_epochs : int, default=None
        Epochs to run; ``spec.max_iter`` by default.
    reporter : object, default=None
        Progress reporting (see :class:`skgd._callbacks.EpochReporter`):
        ``reporter.epoch_begin(W)`` before each epoch and
        ``reporter.epoch_end(W)`` after it, which stops training by
        returning True.
    warn_convergence : bool, default=True
        Warn with ConvergenceWarning when ``max_epochs`` ends training before
        the stopping rule does (``tol`` not None).
    """
    data = KernelData(X)
    n_samples = X.shape[0]
    all_rows = train_rows is None
    if all_rows:
        train_rows = np.arange(n_samples, dtype=np.intp)
    n_train = train_rows.shape[0]
    full_batch = spec.batch_size == "full" or int(spec.batch_size) >= n_train
    spec = resolve_spec(spec, full_batch)
    if full_batch:
        return _solve_full_batch_in_memory(
            data,
            Y,
            sample_weight,
            state,
            spec,
            train_rows=train_rows,
            validation_rows=validation_rows,
            score_validation=score_validation,
            max_epochs=max_epochs,
            reporter=reporter,
            warn_convergence=warn_convergence,
        )
    weight_sum = float(
        np.sum(sample_weight if all_rows else sample_weight[train_rows])
    )
    if not weight_sum > 0.0:
        raise ValueError(
            "The sample weights of the training rows sum to zero; give at "
            "least one training sample a positive weight."
        )
    sw_mean = weight_sum / n_train
    batch_size = n_train if spec.batch_size == "full" else int(spec.batch_size)
    batch_size = max(1, min(batch_size, n_train))
    n_batches = -(-n_train // batch_size)
    shuffle = spec.shuffle and batch_size < n_train
    loss_info = LOSSES[spec.loss]
    alpha = spec.alpha
    # As many threads as scikit-learn's OpenMP code would use (respects
    # OMP_NUM_THREADS, threadpoolctl limits and the CPUs available).
    n_threads = _openmp_effective_n_threads()

    # A numeric eta0 always applies, so set_params(eta0=...) between
    # partial_fit calls or warm-started fits takes effect; "auto" keeps the
    # step it resolved on the first call (the data's curvature), so resumed
    # training continues exactly.
    if spec.eta0 != "auto":
        eta0 = float(spec.eta0)
    else:
        if state.auto_eta0 is None:
            state.auto_eta0 = resolve_eta0(data, sample_weight, train_rows, spec)
        eta0 = state.auto_eta0
    if state.eta is None or eta0 != state.eta0:
        # The "adaptive" schedule restarts from a new first step.
        state.eta = eta0
    state.eta0 = eta0
    average_start = _average_start(spec.average)
    empty = np.empty((0, state.W.shape[1]), dtype=state.W.dtype)
    S1 = state.S1 if spec.optimizer != "sgd" else empty
    S2 = state.S2 if spec.optimizer == "adam" else empty
    W_avg = state.W_avg if average_start >= 0 else empty

    # Scale of the objective that a diverging run leaves far behind: the
    # larger of where training first started and where the all-zero model
    # sits, kept across partial_fit calls and warm starts.
    # Measured on a sample of rows (all of them when there are few), so that
    # the check costs next to nothing beside an epoch.
    check_rows = train_rows
    if n_train > FINAL_CHECK_ROWS:
        check_rows = np.ascontiguousarray(train_rows[:: n_train // FINAL_CHECK_ROWS])
    zero_objective = objective(
        data, Y, sample_weight, np.zeros_like(state.W), check_rows, spec
    )
    start_objective = objective(data, Y, sample_weight, state.W, check_rows, spec)
    if state.reference is None:
        state.reference = start_objective

    def decision_at(W):
        decision = np.empty((check_rows.shape[0], W.shape[0]), X.dtype)
        _kernel.decision_rows(*data.args, W, check_rows, decision)
        return decision

    monitor = DivergenceMonitor(
        lambda W: objective(data, Y, sample_weight, W, check_rows, spec),
        decision_at,
        lambda: largest_stable_step(data, sample_weight, train_rows, spec),
        start_objective=start_objective,
        zero_objective=zero_objective,
        reference=state.reference,
        updates_per_epoch=n_batches,
        adaptive=spec.optimizer in ADAPTIVE_OPTIMIZERS,
    )
    t_start = state.t

    epochs = spec.max_iter if max_epochs is None else max_epochs
    loss_curve, validation_scores = [], []
    best_loss = np.inf
    best_score = -np.inf
    best_W = None
    no_improvement = 0
    converged = stopped_by_callback = False
    start_time = time.perf_counter()
    epoch = 0
    # Rows made here are shuffled in place (every other use of the training
    # rows is indifferent to their order): no second array as long as X.
    order = train_rows.copy() if shuffle and not all_rows else train_rows
    shuffle_from = np.empty(0, dtype=np.intp) if all_rows else train_rows
    constant_steps = spec.learning_rate in ("constant", "adaptive")
    for epoch in range(1, epochs + 1):
        if reporter is not None:
            reporter.epoch_begin(_published(state, average_start))
        if shuffle:
            state.shuffle_state = _kernel.shuffle_rows(
                order, shuffle_from, state.shuffle_state
            )
        steps = None  # the previous epoch's, released before the next
        steps = np.ascontiguousarray(
            _step_sizes(
                spec.learning_rate,
                np.arange(
                    state.t,
                    state.t + (1 if constant_steps else n_batches),
                    dtype=np.int64,
                ),
                state.eta,
                power_t=spec.power_t,
                alpha=alpha,
            ),
            dtype=np.float64,
        )
        penalty = penalty_value(state.W, alpha, spec.l1_ratio)
        result = _kernel.run_epoch(
            *data.args,
            Y,
            spec.target_kind,
            sample_weight,
            sw_mean,
            state.W,
            spec.fit_intercept,
            order,
            batch_size,
            steps,
            loss_info.code,
            spec.epsilon,
            OPTIMIZERS.index(spec.optimizer),
            spec.momentum,
            spec.beta_1,
            spec.beta_2,
            S1,
            S2,
            state.t,
            alpha,
            spec.l1_ratio,
            W_avg,
            average_start,
            n_threads,
        )
        state.t += result.n_updates
        # The data term is each row's loss when its batch was processed: for
        # the full batch that is exactly the objective at the weights the
        # epoch started from, for stochastic batches the usual running
        # estimate.
        obj = result.loss_sum / weight_sum + penalty
        loss_curve.append(obj)
        monitor.check_epoch(epoch, float(steps[-1]), obj, state.W)

        if spec.verbose:
            print(
                f"-- Epoch {epoch}: objective {obj:.6g}, step {steps[-1]:.4g}, "
                f"updates {state.t}, elapsed {time.perf_counter() - start_time:.2f}s"
            )

        W_now = _published(state, average_start)
        improved = True
        if score_validation is not None:
            decision = np.empty((validation_rows.shape[0], state.W.shape[0]), X.dtype)
            _kernel.decision_rows(*data.args, W_now, validation_rows, decision)
            score = float(score_validation(decision))
            validation_scores.append(score)
            if spec.tol is not None and score < best_score + spec.tol:
                improved = False
            if score > best_score:
                best_score = score
                best_W = W_now.copy()
        elif spec.tol is not None and obj > best_loss - spec.tol:
            improved = False
        best_loss = min(best_loss, obj)
        no_improvement = 0 if improved else no_improvement + 1

        stop = False
        if reporter is not None and reporter.epoch_end(W_now):
            stop = stopped_by_callback = True
        if no_improvement >= spec.n_iter_no_change:
            if spec.learning_rate == "adaptive" and state.eta > ADAPTIVE_MIN_ETA:
                state.eta /= ADAPTIVE_DIVISOR
                no_improvement = 0
                if spec.verbose:
                    print(f"Step size reduced to {state.eta:.4g}")
            elif spec.tol is not None:
                converged = True
                stop = True
        if stop:
            break

    if (
        not (converged or stopped_by_callback)
        and warn_convergence
        and spec.tol is not None
        and epoch > 0
    ):
        warnings.warn(
            f"Maximum number of epochs ({epochs}) reached before the stopping "
            "criterion was met; increase max_iter, raise eta0 or tol, or scale "
            "the data.",
            ConvergenceWarning,
            # solve <- _run <- fit <- _fit_context <- keeps_state_on_error
            # <- the caller's line.
            stacklevel=6,
        )

    if best_W is not None:
        # Early stopping publishes the best epoch; resumed training
        # (warm_start, partial_fit) continues from that model too.
        W_out = best_W
    else:
        W_out = _published(state, average_start)
    # The objective of an epoch is measured as the epoch goes, so the last
    # update of a call is never judged by it; the monitor measures the final
    # and the published weights exactly on the check rows (the whole data
    # when it is small) and refuses overflowing predictions and climbs.
    if epoch > 0:
        monitor.check_final(
            epoch, float(steps[-1]), state.W, W_out, state.t - t_start
        )
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


def _solve_full_batch_in_memory(
    data,
    Y,
    sample_weight,
    state,
    spec,
    *,
    train_rows,
    validation_rows,
    score_validation,
    max_epochs,
    reporter,
    warn_convergence,
):
    """The full batch: the in-memory gradient oracle of the training rows
    and the full-batch driver (skgd._fullbatch)."""
    from skgd._fullbatch import solve_full_batch
    from skgd._oracle import InMemoryOracle

    oracle = InMemoryOracle(
        data,
        Y,
        sample_weight,
        n_outputs=state.W.shape[0],
        loss_code=LOSSES[spec.loss].code,
        epsilon=spec.epsilon,
        target_kind=spec.target_kind,
        rows=train_rows,
    )
    score_W = None
    if score_validation is not None:

        def score_W(W):
            decision = np.empty((validation_rows.shape[0], W.shape[0]), data.dtype)
            _kernel.decision_rows(*data.args, W, validation_rows, decision)
            return score_validation(decision)

    return solve_full_batch(
        oracle,
        state,
        spec,
        max_epochs=max_epochs,
        reporter=reporter,
        warn_convergence=warn_convergence,
        score_validation=score_W,
    )
