"""The learning-rate range test.

No formula gives the right learning rate; the tutorials' advice is to try
values and watch the cost.  The range test does that in one short run: it
trains a copy of the estimator with a step size that grows geometrically at
every update, from far too small to far too large, and records the loss of
each batch just before its update.  The loss first barely moves (step too
small), then falls (useful steps), then rises or explodes (step too large).
A good step sits well below the point where the loss turns.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import (
    HasMethods,
    StrOptions,
    validate_params,
)
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.validation import _num_samples, check_consistent_length

from skgd._registry import LOSSES, OPTIMIZER_PARAMETERS, OPTIMIZERS
from skgd._validation import StrictInterval, check_csr
from skgd.exceptions import DivergenceError
from skgd.schedules import Schedule

__all__ = ["LearningRateFinderResult", "find_learning_rate"]

# The suggestion is this fraction of the step at the minimum of the smoothed
# loss.
SUGGESTION_FRACTION = 0.1
# For smooth losses and non-adaptive update rules, the suggestion never
# exceeds this fraction of the largest stable step.
STABLE_FRACTION = 0.9
# A stochastic test shows progress when the smoothed loss falls below this
# fraction of its level at the end of the warm-up.
PROGRESS_FRACTION = 0.5


class _GeometricRamp(Schedule):
    r"""Step size growing geometrically: :math:`\eta_t = \eta_0 r^t`.

    The range test's schedule; not meant for training.  The step of update
    ``t`` is ``eta0 * ratio ** t``.
    """

    def __init__(self, ratio=1.1):
        self.ratio = ratio

    def _compute(self, t, eta0):
        return eta0 * np.power(float(self.ratio), t, dtype=np.float64)


class LearningRateFinderResult:
    """What :func:`find_learning_rate` measured, and its suggestion.

    Attributes
    ----------
    eta0 : float
        The suggested first step size, to pass to the estimator as ``eta0``.
    learning_rates : ndarray of shape (n_steps,)
        The step size of each update of the test, geometric from ``start``.
    losses : ndarray of shape (n_steps,)
        The smoothed (bias-corrected exponential moving average) batch loss
        recorded before each update; equal to ``raw_losses`` for full
        batches.
    raw_losses : ndarray of shape (n_steps,)
        The batch loss before each update: the estimator's training
        objective (penalty included) on that batch.
    min_loss_learning_rate : float
        The step size at the minimum of ``losses``.
    diverged : bool
        Whether the test stopped because the loss exploded (rather than
        because it reached ``stop``).
    batch_size : int
        Rows per update used by the test.
    cap : float or None
        The bound the suggestion was held under (90% of the largest stable
        step; see :func:`find_learning_rate`), or None where no bound
        applies.
    """

    def __init__(
        self,
        eta0,
        learning_rates,
        losses,
        raw_losses,
        *,
        min_loss_learning_rate,
        diverged,
        batch_size,
        cap=None,
    ):
        self.eta0 = eta0
        self.learning_rates = learning_rates
        self.losses = losses
        self.raw_losses = raw_losses
        self.min_loss_learning_rate = min_loss_learning_rate
        self.diverged = diverged
        self.batch_size = batch_size
        self.cap = cap

    def __repr__(self):
        return (
            f"{type(self).__name__}(eta0={self.eta0:.4g}, "
            f"n_steps={len(self.learning_rates)}, "
            f"min_loss_learning_rate={self.min_loss_learning_rate:.4g}, "
            f"diverged={self.diverged})"
        )

    def plot(self, ax=None):
        """Draw the loss against the step size, marking the suggestion.

        The raw batch losses are drawn faint, the smoothed ones bold (full
        batches have a single, exact curve), on a logarithmic step-size
        axis; a vertical dashed line marks the suggested ``eta0`` and a
        dotted one the step at the minimum of the smoothed loss.

        The loss axis shows the useful part of the test: it is logarithmic
        (where every loss is positive) and cut a little above the highest
        loss met from the start of the test until the smoothed loss, past
        its minimum, climbs back above its starting level. The explosion at
        the end of the range leaves the top of the axes instead of
        squashing the valley flat.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        Returns
        -------
        ax : matplotlib Axes
            The axes drawn on.
        """
        from skgd._plotting import _require_pyplot

        plt = _require_pyplot("LearningRateFinderResult.plot")
        if ax is None:
            _, ax = plt.subplots()
        if np.array_equal(self.losses, self.raw_losses):
            # Full batches: exact losses, nothing smoothed.
            ax.plot(self.learning_rates, self.losses, linewidth=2.0, label="loss")
        else:
            (smooth,) = ax.plot(
                self.learning_rates,
                self.losses,
                linewidth=2.0,
                label="smoothed loss",
            )
            ax.plot(
                self.learning_rates,
                self.raw_losses,
                color=smooth.get_color(),
                alpha=0.3,
                linewidth=0.8,
                label="batch loss",
            )
        ax.axvline(
            self.min_loss_learning_rate,
            color="gray",
            linestyle=":",
            label=f"minimum at {self.min_loss_learning_rate:.3g}",
        )
        capped = self.cap is not None and self.eta0 == self.cap
        ax.axvline(
            self.eta0,
            color="tab:red",
            linestyle="--",
            label=f"suggested eta0 = {self.eta0:.3g}"
            + (" (stability bound)" if capped else ""),
        )
        ax.set_xscale("log")
        log_loss_axis, (bottom, top) = self._loss_axis()
        if log_loss_axis:
            ax.set_yscale("log")
        ax.set_ylim(bottom, top)
        ax.set_xlabel("Learning rate (step size)")
        ax.set_ylabel("Training loss before the update")
        ax.legend()
        return ax

    def _loss_axis(self):
        """(log scale?, (bottom, top)) of the loss axis of :meth:`plot`.

        The test ends when the loss explodes, often by many orders of
        magnitude (from about 1 to 1e6 on a small regression), and an axis
        scaled to the explosion flattens the valley that matters.  The axis
        is cut to the useful part instead: the smoothed loss from the start
        of the test through its minimum, up to where it climbs back above
        its level at the start.  Losses span decades
        even there, so the axis is logarithmic wherever every loss drawn is
        positive (the perceptron's can be zero).
        """
        smooth = np.asarray(self.losses, dtype=np.float64)
        raw = np.asarray(self.raw_losses, dtype=np.float64)
        distance = np.abs(self.learning_rates - self.min_loss_learning_rate)
        i_min = int(np.argmin(distance))
        above = np.flatnonzero(smooth[i_min:] > smooth[0])
        end = i_min + (int(above[0]) if above.size else smooth.shape[0] - i_min)
        # The bold curve sets the top; the faint batch losses may leave it,
        # as single batches of a stochastic test do when it blows up.
        high = float(np.max(smooth[:end]))
        low = float(min(np.min(smooth[:end]), np.min(raw[:end])))
        log_axis = bool(low > 0.0)
        if log_axis:
            # A tenth of a decade of room below, a third of one above.
            return True, (low / 10**0.1, high * 10 ** (1 / 3))
        margin = 0.05 * (high - low) if high > low else max(abs(high), 1.0)
        return False, (low - margin, high + margin)


@validate_params(
    {
        "estimator": [HasMethods(["fit", "partial_fit"])],
        "X": ["array-like", "sparse matrix"],
        "y": ["array-like"],
        "start": [StrictInterval(Real, 0, None, closed="neither")],
        "stop": [StrictInterval(Real, 0, None, closed="neither")],
        "num": [StrictInterval(Integral, 2, None, closed="left")],
        "batch_size": [
            None,
            StrOptions({"full"}),
            StrictInterval(Integral, 1, None, closed="left"),
        ],
        "smoothing": [StrictInterval(Real, 0, 1, closed="right")],
        "diverge_factor": [StrictInterval(Real, 1, None, closed="neither")],
        "random_state": ["random_state"],
        "sample_weight": ["array-like", None],
    },
    prefer_skip_nested_validation=False,
)
def find_learning_rate(
    estimator,
    X,
    y,
    *,
    start=1e-6,
    stop=10.0,
    num=100,
    batch_size=None,
    smoothing=0.05,
    diverge_factor=4.0,
    random_state=None,
    sample_weight=None,
):
    r"""Learning-rate range test: suggest ``eta0`` for an estimator.

    Trains a clone of ``estimator`` (the estimator itself is not touched)
    for at most ``num`` updates, each on a batch of rows, with the step size
    of update :math:`k` growing geometrically,

    .. math:: \eta_k = \mathrm{start} \cdot
              (\mathrm{stop} / \mathrm{start})^{k / (\mathrm{num} - 1)},

    and records the training objective of the estimator (its loss, penalty
    included, as in ``loss_curve_``) on each batch *before* the batch's
    update. The recorded losses are smoothed by an exponential moving
    average; the test stops early once the smoothed loss exceeds
    ``diverge_factor`` times the smallest smoothed loss so far, or once
    training diverges (:class:`~skgd.DivergenceError`).

    Everything else about training stays the estimator's own: its loss,
    penalty, update rule (momentum buffers and Adam's moments carry over
    from update to update) and, by default, its batch size. Only the
    learning-rate schedule is replaced by the ramp; ``early_stopping``,
    ``average`` and ``warm_start`` are off. The step found is the *first*
    step of training, which is what ``eta0`` means in every schedule.

    **The suggestion** is a tenth of the step at which the smoothed loss is
    smallest, a rule of thumb of the range test: the loss turns up a little
    past the largest step that still converges, and a decade below that is
    both stable and fast. In detail:

    - with stochastic batches the first ``ceil(1 / smoothing) - 1`` updates
      are left out of the search for the minimum and of the stopping rule:
      their moving average holds too few batch losses to be compared;
    - with momentum, Nesterov or Adam the loss reacts to a step about
      ``m / (1 - m)`` updates late (``m`` = ``momentum`` or ``beta_1``), so
      the step is read that many updates before the minimum;
    - the suggestion never exceeds 90% of the largest stable step where
      the test alone cannot be trusted to see instability: with stochastic
      batches (a range test makes each step only once, and instabilities
      that take many updates to grow, such as those rare rows of large
      norm cause, escape it) and with momentum or Nesterov (whose
      oscillations build up over many updates). The bound applies to the
      smooth losses (all but ``"hinge"``, ``"perceptron"`` and
      ``"epsilon_insensitive"``) and comes from the estimator's own
      ``eta0="auto"``, which is 1/L for full batches and (1 - m)/L with
      momentum for stochastic ones, L bounding the curvature of the loss
      over a batch: the largest stable step is 2(1 + m)/L for full-batch
      heavy-ball momentum, 2(1 + m)/((1 + 2m) L) for full-batch Nesterov
      (4/(3L) for the accelerated rule of ``momentum="auto"``, whose
      momentum tends to 1), and 2(1 - m)/L (2/L without momentum) for
      stochastic batches, where momentum piles up gradient noise as well.
      Computing it costs one epoch of training with ``eta0="auto"``.
      Full-batch plain steps need no bound: every update of the test is
      exactly an update of training.

    The cases where the test says nothing useful are flagged with a
    ``UserWarning``:

    - the loss rises from the very first updates of a full-batch test:
      ``start`` is already too large; the suggestion is ``start / 10``;
    - the smoothed loss of a stochastic test never falls below half of its
      level at the end of the warm-up: its minimum is batch noise, either
      because ``num`` updates on small batches are too few to make
      progress or because ``start`` is too large; the suggestion is then
      the stability bound above where there is one, else a tenth of the
      last step of the test;
    - the loss is zero at the all-zero starting weights
      (``loss="perceptron"``): nothing to compare; the suggestion is
      ``start / 10``.

    Parameters
    ----------
    estimator : GDRegressor or GDClassifier
        The model to tune; cloned, never modified. Its ``learning_rate`` and
        ``eta0`` are ignored by the test.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Training data.
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        Targets.
    start : float, default=1e-6
        The step size of the first update.
    stop : float, default=10.0
        The step size of update ``num - 1``; must exceed ``start``.
    num : int, default=100
        Largest number of updates.
    batch_size : "full", int or None, default=None
        Rows per update. None uses the estimator's own ``batch_size``, so
        the test measures the kind of steps training will take: ``"full"``
        makes every update a full-batch gradient step on all the rows (the
        test then costs up to ``num`` passes over the data; pass an int to
        make it cheaper on large data), an int ``k`` takes batches of ``k``
        rows from a fresh random permutation of the rows, a new permutation
        whenever too few rows are left for a whole batch.
    smoothing : float in (0, 1], default=0.05
        Weight of the newest batch loss in the exponential moving average
        (bias-corrected for the first values); smaller values smooth more,
        1 turns smoothing off. Full batches are never smoothed: their losses
        are exact, and a moving average would only make the curve lag
        behind the steps.
    diverge_factor : float > 1, default=4.0
        Stop once the smoothed loss exceeds this multiple of its minimum so
        far.
    random_state : int, RandomState instance or None, default=None
        Seeds the order of the rows.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights; rows of weight zero are left out.

    Returns
    -------
    result : LearningRateFinderResult
        ``result.eta0`` is the suggestion; ``result.plot()`` draws the test.

    Raises
    ------
    ValueError
        If ``stop <= start``, or if training diverged at the very first
        update (``start`` is too large).

    See Also
    --------
    LossCurveDisplay : Plot the loss curve of the fit that follows.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skgd import GDRegressor, find_learning_rate
    >>> X, y = load_diabetes(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> reg = GDRegressor(batch_size=32, random_state=0)
    >>> result = find_learning_rate(reg, X, y, random_state=0)
    >>> reg = reg.set_params(eta0=result.eta0).fit(X, y)
    >>> bool(reg.score(X, y) > 0.5)
    True
    """
    if not stop > start:
        raise ValueError(
            f"stop must be larger than start; got start={start!r}, stop={stop!r}."
        )
    # The test indexes rows of X before any fit validates it: a malformed
    # CSR matrix is refused (and duplicates summed) here first.
    X = check_csr(X)
    n_samples = _num_samples(X)
    check_consistent_length(X, y)
    if sample_weight is None:
        rows = np.arange(n_samples)
        weights = None
    else:
        weights = np.asarray(sample_weight, dtype=np.float64)
        if weights.shape != (n_samples,):
            raise ValueError(
                f"sample_weight has shape {weights.shape}; expected ({n_samples},)."
            )
        rows = np.flatnonzero(weights > 0)
        if rows.shape[0] == 0:
            raise ValueError("sample_weight gives no row a positive weight.")
    n_rows = rows.shape[0]
    if batch_size is None:
        batch_size = estimator.get_params().get("batch_size", "full")
    batch = n_rows if batch_size == "full" else min(int(batch_size), n_rows)

    # Settings shared by the test and the bound on the suggestion: the
    # estimator's own loss, penalty and optimizer, nothing that holds data
    # back or changes what is published.
    common = dict(warm_start=False, early_stopping=False, average=False, verbose=0)
    fit_kwargs = {}
    if is_classifier(estimator):
        classes = np.unique(np.asarray(y))
        fit_kwargs["classes"] = classes
        class_weight = estimator.get_params().get("class_weight")
        if isinstance(class_weight, str) and class_weight == "balanced":
            # partial_fit never sees all the data, so it takes the balanced
            # weights of the whole set as a dict.
            common["class_weight"] = dict(
                zip(
                    classes,
                    compute_class_weight(
                        "balanced", classes=classes, y=np.asarray(y)[rows]
                    ),
                )
            )

    ratio = (float(stop) / float(start)) ** (1.0 / (num - 1))
    model = clone(estimator).set_params(
        eta0=float(start),
        learning_rate=_GeometricRamp(ratio=ratio),
        batch_size="full",
        **common,
    )
    # The first updates of a stochastic test give a moving average of only
    # a few batch losses, too noisy to compare: the divergence rule and the
    # search for the minimum start once the average holds about
    # 1 / smoothing of them.  Full batches give exact losses, with no noise
    # to average: smoothing them would only delay the curve.
    if batch == n_rows:
        smoothing, warmup = 1.0, 0
    else:
        warmup = int(np.ceil(1.0 / smoothing)) - 1

    rng = check_random_state(random_state)
    order = rng.permutation(rows)
    position = 0
    learning_rates, raw_losses, losses = [], [], []
    average = 0.0
    best = np.inf
    diverged = False
    for k in range(num):
        if batch == n_rows:
            chunk = rows
        else:
            if position + batch > n_rows:
                order = rng.permutation(rows)
                position = 0
            chunk = order[position : position + batch]
            position += batch
        if weights is not None:
            fit_kwargs["sample_weight"] = weights[chunk]
        try:
            model.partial_fit(
                _safe_indexing(X, chunk), _safe_indexing(y, chunk), **fit_kwargs
            )
        except DivergenceError:
            diverged = True
            break
        raw = float(model.loss_curve_[-1])
        average = (1.0 - smoothing) * average + smoothing * raw
        smoothed = average / (1.0 - (1.0 - smoothing) ** (k + 1))
        learning_rates.append(float(start) * ratio**k)
        raw_losses.append(raw)
        losses.append(smoothed)
        if k >= warmup:
            best = min(best, smoothed)
            if smoothed > diverge_factor * best:
                diverged = True
                break

    if not losses:
        raise ValueError(
            f"Training diverged at the very first update, with step size "
            f"start={start!r}; pass a smaller start."
        )
    learning_rates = np.asarray(learning_rates)
    losses = np.asarray(losses)
    raw_losses = np.asarray(raw_losses)
    first = warmup if losses.shape[0] > warmup else 0
    i_min = first + int(np.argmin(losses[first:]))
    min_loss_learning_rate = float(learning_rates[i_min])
    # With momentum the loss shows a step only some updates later: read the
    # step that many updates before the minimum.
    i_step = max(i_min - _response_delay(estimator), 0)
    suggestion = SUGGESTION_FRACTION * float(learning_rates[i_step])
    cap = _stable_step_bound(estimator, X, y, rows, weights, batch, n_rows, common)
    stochastic = batch < n_rows

    if raw_losses[0] == 0.0:
        suggestion = SUGGESTION_FRACTION * float(start)
        warnings.warn(
            "The loss is zero at the starting point (all-zero weights), as "
            "for loss='perceptron', so the range test cannot tell good steps "
            f"from bad ones; the suggestion is start / 10 = {suggestion:.3g}.",
            UserWarning,
            stacklevel=3,
        )
    elif stochastic and not losses[i_min] < PROGRESS_FRACTION * losses[first]:
        # The minimum is batch noise on a plateau, not a valley.
        if cap is not None:
            suggestion, fallback = cap, "90% of the largest stable step"
        else:
            suggestion = SUGGESTION_FRACTION * float(learning_rates[-1])
            fallback = "a tenth of the last step of the test"
        warnings.warn(
            "The smoothed loss never fell below half its starting level in "
            f"the range test: either {num} updates of {batch} "
            f"row{'s' if batch > 1 else ''} each are too few to show progress, "
            f"or start={start!r} is "
            f"already too large. The suggestion is {fallback} "
            f"({suggestion:.3g}); for a clearer test raise num or batch_size.",
            UserWarning,
            stacklevel=3,
        )
    elif i_min == first and diverged:
        suggestion = SUGGESTION_FRACTION * float(start)
        warnings.warn(
            "The loss rose from the first updates of the range test: start="
            f"{start!r} is already too large a step, and the suggestion "
            f"(start / 10 = {suggestion:.3g}) may not be safe either. Run the "
            "test again with a smaller start.",
            UserWarning,
            stacklevel=3,
        )
    if cap is not None:
        suggestion = min(suggestion, cap)
    return LearningRateFinderResult(
        suggestion,
        learning_rates,
        losses,
        raw_losses,
        min_loss_learning_rate=min_loss_learning_rate,
        diverged=diverged,
        batch_size=batch,
        cap=cap,
    )


def _response_delay(estimator):
    """Updates before a step shows in the loss: m / (1 - m), the mean age of
    the gradients in a velocity that keeps a fraction m of itself at every
    update (momentum, Nesterov, Adam's first moment); none for the rules
    without one."""
    params = estimator.get_params()
    rule = OPTIMIZERS.get(params.get("optimizer", "sgd"))
    if rule is None or rule.velocity is None:
        return 0
    m = _hyper(rule, params)[rule.velocity]
    return int(round(m / (1.0 - m)))


def _hyper(rule, params):
    """The rule's hyper-parameters from the estimator's parameters (their
    defaults where the estimator lacks one)."""
    return {
        name: OPTIMIZER_PARAMETERS[name].number(
            params.get(name, OPTIMIZER_PARAMETERS[name].default)
        )
        for name in rule.params
    }


def _stable_step_bound(estimator, X, y, rows, weights, batch, n_rows, common):
    """STABLE_FRACTION of the largest stable step, or None where the test
    needs no bound or there is none.

    For a smooth loss and a non-adaptive update rule, ``eta0="auto"`` is
    the estimator's documented safe step: 1/L for full batches, and for
    stochastic ones 1/L for plain gradient steps and (1 - m)/L with
    momentum m, where L bounds the curvature of the loss over a batch of
    this size.  For full batches the largest step that does not diverge on
    a quadratic follows: 2/L for plain steps, 2(1 + m)/L for heavy-ball
    momentum and 2(1 + m)/((1 + 2m) L) for Nesterov's (m -> 1 for the
    accelerated rule of ``momentum="auto"``).  With
    stochastic batches momentum accumulates the gradient noise as well, so
    the bound is put on the effective step eta / (1 - m): 2(1 - m)/L, that
    is twice the automatic step for every rule.
    """
    params = estimator.get_params()
    rule = OPTIMIZERS.get(params.get("optimizer", "sgd"))
    if rule is None or rule.stable_step is None:
        return None
    if rule.buffers == 0 and batch == n_rows:
        # A rule without state: each update of the test is exactly an update
        # of training.
        return None
    info = LOSSES.get(params.get("loss"))
    if info is None or info.curvature is None:
        return None
    probe = clone(estimator).set_params(
        eta0="auto",
        learning_rate="constant",
        batch_size=batch,
        max_iter=1,
        tol=None,
        **common,
    )
    fit_kwargs = {} if weights is None else {"sample_weight": weights[rows]}
    try:
        probe.fit(_safe_indexing(X, rows), _safe_indexing(y, rows), **fit_kwargs)
    except ValueError:
        # No automatic step for this data (features so large that their
        # curvature overflows): the test's own reading stands.
        return None
    auto = float(probe.eta0_)
    if batch < n_rows:
        largest = 2.0 * auto
    else:
        # A full batch's automatic step is 1/L for every rule with a stable
        # step (see _fullbatch), so the probe's step gives L itself.
        hyper = _hyper(rule, params)
        if rule.name == "nesterov" and params.get("momentum") == "auto":
            # Nesterov's accelerated rule: its momentum sequence tends to 1,
            # where the stable step is smallest.
            hyper[rule.velocity] = 1.0
        largest = rule.stable_step(1.0 / auto, hyper)
    return STABLE_FRACTION * largest
