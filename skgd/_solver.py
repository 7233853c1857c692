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
from skgd._divergence import STEP_REASONS, DivergenceMonitor
from skgd._oracle import KernelData
from skgd._registry import (
    ADAPTIVE_DIVISOR,
    ADAPTIVE_MIN_ETA,
    LOSSES,
    OPTIMIZERS,
    SCHEDULES,
    TARGET_MULTINOMIAL,
    TARGET_ONE_VS_REST,
    TARGET_REAL,
)
from skgd.exceptions import DivergenceError
from skgd.schedules import _step_sizes

__all__ = [
    "LOSSES",
    "OPTIMIZERS",
    "TARGET_MULTINOMIAL",
    "TARGET_ONE_VS_REST",
    "TARGET_REAL",
    "SolverSpec",
    "SolverState",
    "solve",
]


# Losses, update rules and string schedules are entries of skgd/_registry.py;
# these names stay importable from here.
ADAPTIVE_OPTIMIZERS = tuple(
    name for name, rule in OPTIMIZERS.items() if rule.per_coordinate
)
# The per-coordinate rules' automatic step does not depend on the curvature.
ADAPTIVE_AUTO_ETA0 = {
    name: OPTIMIZERS[name].auto_step(float("nan"), {}) for name in ADAPTIVE_OPTIMIZERS
}
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
    # The cumulative L1 penalty of plain SGD on stochastic batches: what
    # each weight has received (float64, the shape of W) and what any weight
    # could have received (see _kernel.cumulative_clip).  None and 0 when
    # the last training ran without it.
    l1_applied: np.ndarray | None = None
    l1_total: float = 0.0
    # The accelerated full-batch rule's momentum sequence (1 after a
    # restart).
    theta: float = 1.0
    # Full-batch line search: epochs in a row whose step passed at its first
    # trial (the step grows after a few, see skgd._fullbatch).
    search_streak: int = 0

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

    def restore(self, other):
        """Become ``other`` in place: the arrays keep their identity (the
        driver hands them to the kernel), their values and every count are
        ``other``'s."""
        for name in ("W", "S1", "S2", "W_avg"):
            np.copyto(getattr(self, name), getattr(other, name))
        for name in (
            "t",
            "eta0",
            "auto_eta0",
            "eta",
            "reference",
            "shuffle_state",
            "l1_total",
            "theta",
            "search_streak",
        ):
            setattr(self, name, getattr(other, name))
        # The cumulative L1 record (plain SGD with an L1 part on stochastic
        # batches) is undone with the weights it clipped.
        if other.l1_applied is None:
            self.l1_applied = None
        elif self.l1_applied is not None and self.l1_applied.shape == (
            other.l1_applied.shape
        ):
            np.copyto(self.l1_applied, other.l1_applied)
        else:
            self.l1_applied = other.l1_applied.copy()

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
            l1_applied=None if self.l1_applied is None else self.l1_applied.copy(),
            l1_total=self.l1_total,
            theta=self.theta,
            search_streak=self.search_streak,
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
    rule = OPTIMIZERS[spec.optimizer]
    if L <= 0.0 and not rule.per_coordinate:
        # Every row is zero: any step is stable; 1 is as good as any.
        return 1.0
    return rule.auto_step(L, rule.hyper(spec))


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
    rule = OPTIMIZERS[spec.optimizer]
    if rule.stable_step is None:
        # No step bound follows from the data (the rules that move each
        # weight by about eta per update whatever the curvature).
        return float("nan")
    curvature = LOSSES[spec.loss].curvature or 1.0
    L = smoothness_with_penalty(data, sample_weight, rows, spec, curvature)
    if L <= 0.0:
        return float("inf")
    return rule.stable_step(L, rule.hyper(spec))


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



def prepare_l1_record(state, spec, *, stochastic):
    """Give ``state`` the cumulative L1 record its training needs.

    Plain SGD on stochastic batches applies its L1 part as a cumulative
    penalty, which leaves exact zeros where the per-step soft threshold
    would let gradient noise keep weights slightly off zero.  Full-batch
    training keeps the soft threshold: its proximal step is exact.  The
    record starts afresh whenever the previous training ran without it.
    """
    if spec.optimizer == "sgd" and spec.alpha * spec.l1_ratio > 0 and stochastic:
        if state.l1_applied is None or state.l1_applied.shape != state.W.shape:
            state.l1_applied = np.zeros(state.W.shape, dtype=np.float64)
            state.l1_total = 0.0
    else:
        state.l1_applied = None
        state.l1_total = 0.0


def kernel_epoch(
    data,
    Y,
    sample_weight,
    sw_mean,
    state,
    spec,
    order,
    batch_size,
    steps,
    average_start,
    n_threads,
):
    """One epoch of the compiled kernel over the rows in ``order``, in place
    on ``state`` (weights, optimizer buffers, running average, update count,
    cumulative L1 record); returns the kernel's EpochResult."""
    rule = OPTIMIZERS[spec.optimizer]
    empty = np.empty((0, state.W.shape[1]), dtype=state.W.dtype)
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
        LOSSES[spec.loss].code,
        spec.epsilon,
        rule.code,
        spec.momentum,
        spec.beta_1,
        spec.beta_2,
        state.S1 if rule.buffers >= 1 else empty,
        state.S2 if rule.buffers >= 2 else empty,
        state.t,
        spec.alpha,
        spec.l1_ratio,
        state.W_avg if average_start >= 0 else empty,
        average_start,
        n_threads,
        state.l1_applied,
        state.l1_total,
    )
    state.t += result.n_updates
    state.l1_total = result.l1_total
    return result


def warn_if_not_converged(epochs, finished, spec, advice, stacklevel):
    """The ConvergenceWarning of a run that used up ``max_iter`` epochs.

    ``finished`` is true when the run has nothing to warn about (it
    converged, a callback stopped it, or it ran no epoch); a run without a
    stopping rule (``tol=None``) never warns.  ``stacklevel`` counts from the
    caller of this function.
    """
    if finished or spec.tol is None:
        return
    warnings.warn(
        f"Maximum number of epochs ({epochs}) reached before the stopping "
        f"criterion was met; {advice}",
        ConvergenceWarning,
        stacklevel=stacklevel + 1,
    )


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
    rule = OPTIMIZERS[spec.optimizer]
    prepare_l1_record(state, spec, stochastic=batch_size < n_train)

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
        adaptive=rule.per_coordinate,
        gross_climb_any_length=max_epochs is None,
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
    schedule = SCHEDULES.get(spec.learning_rate) if isinstance(
        spec.learning_rate, str
    ) else None
    constant_steps = schedule is not None and schedule.constant
    reduces_on_plateau = schedule is not None and schedule.reduces_on_plateau
    # With stochastic batches the "adaptive" schedule survives a step that
    # is too large: an epoch that diverges is undone (from a copy of the
    # whole state taken when it began) and run again with a smaller step.
    epoch_start = (
        state.copy() if reduces_on_plateau and spec.batch_size != "full" else None
    )
    retry = False
    while epoch < epochs:
        epoch += 1
        if epoch_start is not None:
            epoch_start.restore(state)
        if reporter is not None and not retry:
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
        result = kernel_epoch(
            data,
            Y,
            sample_weight,
            sw_mean,
            state,
            spec,
            order,
            batch_size,
            steps,
            average_start,
            n_threads,
        )
        # The data term is each row's loss when its batch was processed: for
        # the full batch that is exactly the objective at the weights the
        # epoch started from, for stochastic batches the usual running
        # estimate.
        obj = result.loss_sum / weight_sum + penalty
        loss_curve.append(obj)
        try:
            monitor.check_epoch(
                epoch, float(steps[-1]), obj, state.W, climb=epoch_start is not None
            )
        except DivergenceError as error:
            if epoch_start is None or error.reason not in STEP_REASONS:
                raise
            if state.eta / ADAPTIVE_DIVISOR < ADAPTIVE_MIN_ETA:
                # Not even the smallest step the schedule allows is stable.
                raise
            state.restore(epoch_start)
            state.eta /= ADAPTIVE_DIVISOR
            loss_curve.pop()
            epoch -= 1
            retry = True
            if spec.verbose:
                print(
                    f"Epoch {epoch + 1} diverged; undone, step size reduced "
                    f"to {state.eta:.4g}"
                )
            continue
        retry = False

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
            if reduces_on_plateau and state.eta > ADAPTIVE_MIN_ETA:
                state.eta /= ADAPTIVE_DIVISOR
                no_improvement = 0
                if spec.verbose:
                    print(f"Step size reduced to {state.eta:.4g}")
            elif spec.tol is not None:
                converged = True
                stop = True
        if stop:
            break

    warn_if_not_converged(
        epochs,
        converged or stopped_by_callback or not warn_convergence or epoch == 0,
        spec,
        "increase max_iter, raise eta0 or tol, or scale the data.",
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
        if state.l1_applied is not None:
            # Nothing is owed by the restored weights.
            state.l1_applied[...] = 0.0
            state.l1_total = 0.0
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
