r"""Learning-rate schedules.

A schedule maps the update count :math:`t` (0-based: ``t = 0`` is the first
update) to a step size. Schedules are closed-form and vectorised, so a solver
can ask for the step sizes of a whole epoch in one call::

    steps = schedule(np.arange(t_start, t_start + n_updates), eta0)

Every schedule except :class:`LinearWarmup` returns exactly ``eta0`` at
``t = 0``, so a grid over ``eta0`` means the same thing whatever the schedule.

Schedules are scikit-learn estimators (they subclass
:class:`~sklearn.base.BaseEstimator`), so :func:`~sklearn.base.clone`,
``get_params`` and ``set_params`` work, including through nested parameters
such as ``learning_rate__t1`` in a :class:`~sklearn.model_selection.GridSearchCV`
grid. Following the scikit-learn convention, constructors only store their
arguments; the values are checked when the schedule is called.
"""

import math
import numbers

import numpy as np
from sklearn.base import BaseEstimator

from skgd._doc_link import DocLinkMixin

__all__ = [
    "Schedule",
    "InverseTime",
    "ExponentialDecay",
    "StepDecay",
    "CosineDecay",
    "LinearWarmup",
]


# --------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(
        value, (bool, np.bool_)
    )


def _check_real(name, value, *, low=None, high=None, low_open=False, owner=""):
    """Check that ``value`` is a finite real in ``[low, high]``.

    ``low_open=True`` makes the lower bound strict. Raise ValueError naming
    ``name`` and the allowed range otherwise.
    """
    if low is None:
        allowed = "a finite real number"
    elif high is None:
        allowed = f"a finite real number {'>' if low_open else '>='} {low}"
    else:
        allowed = (
            f"a finite real number with {low} {'<' if low_open else '<='} "
            f"{name} <= {high}"
        )
    ok = _is_real(value) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        raise ValueError(f"{owner}{name} must be {allowed}; got {value!r}.")


def _check_int(name, value, *, low, owner=""):
    """Check that ``value`` is an integer >= ``low``; raise ValueError if not."""
    if not (_is_int(value) and value >= low):
        raise ValueError(f"{owner}{name} must be an integer >= {low}; got {value!r}.")


def _check_t(t):
    """Return ``t`` as an int64 ndarray of non-negative update counts."""
    t = np.asarray(t)
    if t.dtype.kind not in "iu":
        raise ValueError(
            "t must be an integer array of update counts (0-based); "
            f"got an array of dtype {t.dtype}."
        )
    if t.size and t.min() < 0:
        raise ValueError(
            f"t must contain non-negative update counts; got min(t) = {t.min()}."
        )
    return t.astype(np.int64, copy=False)


def _check_steps(schedule, t, steps):
    """The step sizes a schedule returned, as float64, once checked: one
    finite, non-negative number per update count (a negative step would run
    gradient ascent)."""
    name = type(schedule).__name__
    t = np.asarray(t)
    try:
        values = np.asarray(steps, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"The learning-rate schedule {name} returned {steps!r}, which is not "
            "an array of numbers; it must return one step size per update "
            "count."
        ) from None
    if values.shape != t.shape:
        raise ValueError(
            f"The learning-rate schedule {name} returned an array of shape "
            f"{values.shape} for update counts of shape {t.shape}; it must "
            "return one step size per update count (same shape)."
        )
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"The learning-rate schedule {name} returned non-finite step sizes "
            f"(for example {float(values[~np.isfinite(values)].flat[0])!r}); every "
            "step size must be a finite number >= 0."
        )
    if np.any(values < 0):
        raise ValueError(
            f"The learning-rate schedule {name} returned a negative step size "
            f"({float(values.min())!r}); step sizes must be >= 0 (a negative step "
            "climbs the objective)."
        )
    return values


def _check_eta0(eta0):
    _check_real("eta0", eta0, low=0, low_open=True)
    return float(eta0)


# --------------------------------------------------------------------------
# Schedules
# --------------------------------------------------------------------------


class Schedule(DocLinkMixin, BaseEstimator):
    """Base class for learning-rate schedules.

    Subclasses store their hyper-parameters in ``__init__`` (without checking
    them), check them in ``_validate`` and compute the step sizes in
    ``_compute``. Calling a schedule validates ``t``, ``eta0`` and the
    hyper-parameters, then returns the step sizes.
    """

    def _validate(self):
        """Raise ValueError if a hyper-parameter is invalid."""

    def _compute(self, t, eta0):  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, t, eta0):
        """Step sizes of the updates ``t``.

        Parameters
        ----------
        t : ndarray of int
            Update counts, 0-based (``t = 0`` is the first update). Usually
            1-D; any shape is accepted and preserved.
        eta0 : float
            The step size at the first update; must be > 0.

        Returns
        -------
        steps : ndarray of float64, same shape as ``t``
            The step size of each update.
        """
        t = _check_t(t)
        eta0 = _check_eta0(eta0)
        self._validate()
        return _check_steps(self, t, self._compute(t, eta0))


class InverseTime(Schedule):
    r"""Inverse-time decay.

    Parameters
    ----------
    t1 : float, default=50.0
        Number of updates after which the step size has halved; must be > 0.

    Notes
    -----
    The step size of update :math:`t` (0-based) is

    .. math:: \eta_t = \frac{\eta_0}{1 + t / t_1}.

    With :math:`\eta_0 = t_0 / t_1` this is the classic
    :math:`\eta_t = t_0 / (t + t_1)`. The first step is exactly ``eta0``.
    """

    def __init__(self, t1=50.0):
        self.t1 = t1

    def _validate(self):
        _check_real("t1", self.t1, low=0, low_open=True, owner="InverseTime: ")

    def _compute(self, t, eta0):
        return eta0 / (1.0 + t / float(self.t1))


class ExponentialDecay(Schedule):
    r"""Exponential decay.

    Parameters
    ----------
    decay_rate : float, default=0.5
        Factor by which the step size is multiplied every ``decay_steps``
        updates; ``0 < decay_rate <= 1``.
    decay_steps : int, default=1000
        Number of updates over which the step size is multiplied by
        ``decay_rate``; must be >= 1.
    staircase : bool, default=False
        If True, decay in discrete steps (every ``decay_steps`` updates)
        instead of continuously.

    Notes
    -----
    The step size of update :math:`t` (0-based) is

    .. math:: \eta_t = \eta_0 \, r^{t / s}

    with :math:`r` = ``decay_rate`` and :math:`s` = ``decay_steps``; with
    ``staircase=True`` the exponent is :math:`\lfloor t / s \rfloor`. The
    first step is exactly ``eta0``.
    """

    def __init__(self, decay_rate=0.5, decay_steps=1000, staircase=False):
        self.decay_rate = decay_rate
        self.decay_steps = decay_steps
        self.staircase = staircase

    def _validate(self):
        owner = "ExponentialDecay: "
        _check_real(
            "decay_rate", self.decay_rate, low=0, high=1, low_open=True, owner=owner
        )
        _check_int("decay_steps", self.decay_steps, low=1, owner=owner)
        if not isinstance(self.staircase, (bool, np.bool_)):
            raise ValueError(
                f"{owner}staircase must be True or False; got {self.staircase!r}."
            )

    def _compute(self, t, eta0):
        if self.staircase:
            exponent = t // int(self.decay_steps)
        else:
            exponent = t / float(self.decay_steps)
        return eta0 * np.power(float(self.decay_rate), exponent, dtype=np.float64)


class StepDecay(Schedule):
    r"""Step decay: multiply the step size by ``gamma`` every ``step_size`` updates.

    Parameters
    ----------
    step_size : int, default=1000
        Number of updates between two decays; must be >= 1.
    gamma : float, default=0.1
        Multiplicative factor of each decay; ``0 < gamma <= 1``.

    Notes
    -----
    The step size of update :math:`t` (0-based) is

    .. math:: \eta_t = \eta_0 \, \gamma^{\lfloor t / s \rfloor}

    with :math:`s` = ``step_size``. The first step is exactly ``eta0``.
    """

    def __init__(self, step_size=1000, gamma=0.1):
        self.step_size = step_size
        self.gamma = gamma

    def _validate(self):
        owner = "StepDecay: "
        _check_int("step_size", self.step_size, low=1, owner=owner)
        _check_real("gamma", self.gamma, low=0, high=1, low_open=True, owner=owner)

    def _compute(self, t, eta0):
        exponent = t // int(self.step_size)
        return eta0 * np.power(float(self.gamma), exponent, dtype=np.float64)


class CosineDecay(Schedule):
    r"""Cosine decay from ``eta0`` to ``final_fraction * eta0``.

    Parameters
    ----------
    decay_steps : int, default=1000
        Number of updates over which the step size decays; must be >= 1.
        From update ``decay_steps`` on, the step size stays at
        ``final_fraction * eta0``.
    final_fraction : float, default=0.0
        Final step size as a fraction of ``eta0``;
        ``0 <= final_fraction <= 1``.

    Notes
    -----
    With :math:`s` = ``decay_steps`` and :math:`f` = ``final_fraction``, the
    step size of update :math:`t` (0-based) is

    .. math::

        \eta_t = \begin{cases}
            \eta_0 \left(f + (1 - f) \, \frac{1}{2}
                \left(1 + \cos \frac{\pi t}{s}\right)\right)
                & \text{if } t < s, \\
            \eta_0 \, f & \text{if } t \ge s.
        \end{cases}

    The first step is exactly ``eta0``. The factor
    :math:`\frac{1}{2}(1 + \cos(\pi t / s))` is evaluated as
    :math:`\cos^2(\pi t / 2s)` for :math:`t \le s / 2` and as
    :math:`\sin^2(\pi (s - t) / 2s)` beyond, which keeps full relative
    accuracy near the end of the decay, where it is tiny.
    """

    def __init__(self, decay_steps=1000, final_fraction=0.0):
        self.decay_steps = decay_steps
        self.final_fraction = final_fraction

    def _validate(self):
        owner = "CosineDecay: "
        _check_int("decay_steps", self.decay_steps, low=1, owner=owner)
        _check_real("final_fraction", self.final_fraction, low=0, high=1, owner=owner)

    def _compute(self, t, eta0):
        s = int(self.decay_steps)
        f = float(self.final_fraction)
        tc = np.minimum(t, s)  # the schedule is flat from t = s on
        half_angle = 0.5 * np.pi / s
        # 0.5 * (1 + cos(pi t / s)) == cos(pi t / 2s)**2 == sin(pi (s - t) / 2s)**2
        factor = np.where(
            2 * tc <= s,
            np.cos(half_angle * tc) ** 2,
            np.sin(half_angle * (s - tc)) ** 2,
        )
        return eta0 * (f + (1.0 - f) * factor)


class LinearWarmup(Schedule):
    r"""Linear warm-up, then a constant step or another schedule.

    This is the one schedule whose first step is *not* ``eta0``: the step
    size grows linearly from ``eta0 / warmup_steps`` and reaches ``eta0`` at
    the last warm-up update, ``t = warmup_steps - 1``.

    Parameters
    ----------
    warmup_steps : int, default=100
        Number of warm-up updates; must be >= 0 (0 means no warm-up).
    after : Schedule or None, default=None
        Schedule used once the warm-up is over, evaluated with its own update
        count restarting at 0, so its first step is ``eta0``. None means a
        constant step size ``eta0``. Being an estimator, its parameters are
        reachable as ``after__<name>`` through ``get_params``/``set_params``.

    Notes
    -----
    With :math:`w` = ``warmup_steps``, the step size of update :math:`t`
    (0-based) is

    .. math::

        \eta_t = \begin{cases}
            \eta_0 \, \frac{t + 1}{w} & \text{if } t < w, \\
            \mathrm{after}(t - w, \eta_0) & \text{if } t \ge w,
        \end{cases}

    where :math:`\mathrm{after}(t, \eta_0) = \eta_0` when ``after`` is None.
    """

    def __init__(self, warmup_steps=100, after=None):
        self.warmup_steps = warmup_steps
        self.after = after

    def _validate(self):
        owner = "LinearWarmup: "
        _check_int("warmup_steps", self.warmup_steps, low=0, owner=owner)
        if self.after is not None:
            if not isinstance(self.after, Schedule):
                raise ValueError(
                    f"{owner}after must be None or a Schedule instance (e.g. "
                    f"InverseTime()); got {self.after!r}."
                )
            try:
                self.after._validate()
            except ValueError as exc:
                raise ValueError(
                    f"{owner}invalid `after` schedule (parameters after__*): {exc}"
                ) from exc

    def _compute(self, t, eta0):
        w = int(self.warmup_steps)
        steps = np.empty(t.shape, dtype=np.float64)
        warm = t < w
        # (t + 1) / w first, so that the last warm-up step is exactly eta0.
        steps[warm] = eta0 * ((t[warm] + 1) / w)
        rest = ~warm
        if self.after is None:
            steps[rest] = eta0
        else:
            steps[rest] = self.after(t[rest] - w, eta0)
        return steps


# --------------------------------------------------------------------------
# Solver entry point
# --------------------------------------------------------------------------


def _step_sizes(learning_rate, t, eta0, *, power_t=0.25, alpha=1e-4):
    """Step sizes for updates t (1-D int array) under `learning_rate`.

    Parameters
    ----------
    learning_rate : Schedule or str
        A :class:`Schedule` instance or the name of a string schedule
        (an entry of ``skgd._registry.SCHEDULES``).
    t : ndarray of int
        Update counts, 0-based.
    eta0 : float
        Current base step size (> 0). For ``"adaptive"`` the solver divides
        it by 5 itself whenever progress stalls; this function only sees the
        current value.
    power_t : float, default=0.25
        Exponent of ``"invscaling"``.
    alpha : float, default=1e-4
        Regularisation strength, used by ``"optimal"`` (must be > 0 there).

    Returns
    -------
    steps : ndarray of float64, same shape as ``t``

    Notes
    -----
    - ``"constant"``, ``"adaptive"``: ``eta0``.
    - ``"invscaling"``: ``eta0 / (t + 1) ** power_t``.
    - ``"optimal"``: Bottou's ``1 / (alpha * (t0 + t))`` with
      ``t0 = 1 / (alpha * eta0)``, evaluated as
      ``eta0 / (1 + alpha * eta0 * t)`` so that the first step is ``eta0``.

    Every rule gives exactly ``eta0`` at ``t = 0``.
    """
    if isinstance(learning_rate, Schedule):
        # Checked again here: a subclass may override __call__ itself.
        return _check_steps(learning_rate, t, learning_rate(t, eta0))
    # The string schedules are entries of the registry, which imports this
    # module: read it when called, not when imported.
    from skgd._registry import SCHEDULES

    entry = SCHEDULES.get(learning_rate) if isinstance(learning_rate, str) else None
    if entry is None:
        raise ValueError(
            "learning_rate must be a Schedule instance or one of "
            f"{', '.join(repr(s) for s in SCHEDULES)}; "
            f"got {learning_rate!r}."
        )
    t = _check_t(t)
    eta0 = _check_eta0(eta0)
    given = {"power_t": power_t, "alpha": alpha}
    return entry.steps(t, eta0, **{name: given[name] for name in entry.params})


# The closed forms of the string schedules (entries of skgd._registry's
# SCHEDULES); t is a checked int array, eta0 a checked positive float.


def _constant_steps(t, eta0):
    """``eta0`` at every update."""
    return np.full(t.shape, eta0, dtype=np.float64)


def _invscaling_steps(t, eta0, power_t):
    """``eta0 / (t + 1) ** power_t``."""
    _check_real("power_t", power_t, owner="learning_rate='invscaling': ")
    return eta0 / np.power(t + 1.0, float(power_t))


def _optimal_steps(t, eta0, alpha):
    """Bottou's ``1 / (alpha * (t0 + t))`` with ``t0 = 1 / (alpha * eta0)``,
    evaluated as ``eta0 / (1 + alpha * eta0 * t)`` so that the first step is
    ``eta0``."""
    if not (_is_real(alpha) and math.isfinite(alpha) and alpha > 0):
        raise ValueError(
            "learning_rate='optimal' needs alpha > 0 (its step size is "
            f"1 / (alpha * (t0 + t))); got alpha={alpha!r}. Use another "
            "learning_rate or a positive alpha."
        )
    alpha = float(alpha)
    return eta0 / (1.0 + (alpha * eta0) * t)
