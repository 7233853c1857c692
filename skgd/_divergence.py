"""Detecting failed training: divergence, overflow and climbing objectives.

A :class:`DivergenceMonitor` is made once per call of a training driver,
with the objective at the starting weights already measured.  The driver
calls :meth:`~DivergenceMonitor.check_epoch` after every epoch and
:meth:`~DivergenceMonitor.check_final` before it publishes a model; both
raise :class:`~skgd.exceptions.DivergenceError` with the reason the run is
judged to have failed, so that bad data (non-finite or overflowing values)
is never blamed on the step size and a step that is too large is never
mistaken for bad data.

The rules:

- Before training (in the constructor): the objective of the all-zero model
  must be finite (else the targets or weights overflow: a data error) and so
  must the objective at the starting weights (else the initial coefficients
  are too large).  Both raise a plain ``ValueError``: nothing has trained.
- Each epoch: non-finite coefficients are an overflow of the weights; a
  non-finite objective, or one ``EXPLOSION_FACTOR`` above the larger of the
  starting objective, the zero model's and 1, is a step that is too large.
  Geometric blow-ups cross that bound within a few epochs.
- At the end: the same test on the exactly measured objective at the final
  weights (the epoch objectives are measured as the epoch goes, so a blow-up
  in the last update shows only here); the decision values of the published
  model on the check rows must be finite in the dtype of X (else the data
  scale overflows); and the objective must not end clearly above where the
  call started.  That last rule catches the linear blow-ups of losses with
  bounded gradients (log_loss, hinge, huber...), whose objective grows by
  about eta * |x| per update and never explodes.  It judges a call after a
  few epochs' worth of updates (early updates of stochastic, momentum and
  adaptive rules may rise), except for a gross climb, which no number of
  updates excuses.
"""

import numpy as np

from skgd.exceptions import DivergenceError

__all__ = ["STEP_REASONS", "DivergenceMonitor"]

# The reasons that blame the step size (a smaller step may succeed), as
# opposed to the data ("data_scale", and the plain ValueErrors raised before
# training).
STEP_REASONS = ("step", "weights_overflow", "climb")
# An objective this many times above the largest of the starting objective,
# the objective of the all-zero model and 1 counts as divergence (the floor
# of 1 keeps losses that vanish at zero, like the perceptron's, from turning
# any positive objective into "divergence").  Adaptive rules can overshoot by
# a few orders of magnitude on their first steps and then recover; a
# genuinely diverging run grows geometrically and crosses this bound a few
# epochs later.
EXPLOSION_FACTOR = 1e6
# A run climbs when its final objective exceeds the starting objective by
# more than CLIMB_MARGIN times the larger of the starting objective and the
# zero model's objective: worse than starting over from zero by a clear
# margin, which noise of a stochastic step never produces at a stable step.
CLIMB_MARGIN = 1.0
# Stochastic, momentum and adaptive rules legitimately go up on their first
# updates (a momentum buffer filling, Adam's first steps of size eta in every
# coordinate); the climb rule judges a call only after this many epochs'
# worth of updates, and at least ADAPTIVE_MIN_UPDATES for adaptive rules.
CLIMB_MIN_EPOCHS = 5
ADAPTIVE_MIN_UPDATES = 100
# A published model this far above the start (in units of the larger of the
# starting and the zero model's objective) is refused however few updates
# made it: no transient of a usable step leaves a model several times worse
# than predicting zero, and a call of one or two epochs at a step far too
# large for a loss with bounded gradients ends right there.
GROSS_CLIMB_MARGIN = 5.0


class DivergenceMonitor:
    """Judge a training run; raise :class:`DivergenceError` when it fails.

    Parameters
    ----------
    objective_at : callable
        ``objective_at(W)``: the exact training objective at ``W`` on the
        check rows (float).
    decision_at : callable
        ``decision_at(W)``: the decision values at ``W`` on the check rows,
        computed in the dtype of X.
    stable_step : callable
        ``stable_step()``: the largest stable step for the message (computed
        only when an error is raised).
    start_objective : float
        ``objective_at`` at the weights the call starts from.
    zero_objective : float
        ``objective_at`` at the all-zero model.
    reference : float
        Objective scale divergence is measured against, kept across calls
        (the starting objective of the first call).
    updates_per_epoch : int
        Updates in one epoch (1 for full batch).
    adaptive : bool
        Whether the update rule is AdaGrad, RMSprop or Adam.
    detect_climb : bool, default=True
        Whether :meth:`check_final` applies the climb rule.
    gross_climb_any_length : bool, default=True
        Whether a gross climb (GROSS_CLIMB_MARGIN) is refused however few
        updates the call made.  Incremental calls (``partial_fit``) keep the
        epoch gate: a loop of one-epoch calls, such as the learning-rate
        finder's, must see a diverging run rise before the explosion bound
        stops it.
    """

    def __init__(
        self,
        objective_at,
        decision_at,
        stable_step,
        *,
        start_objective,
        zero_objective,
        reference,
        updates_per_epoch,
        adaptive,
        detect_climb=True,
        gross_climb_any_length=True,
    ):
        if not np.isfinite(zero_objective):
            raise ValueError(
                "The training objective of the all-zero model is not finite "
                f"({zero_objective}): the targets or sample weights are too "
                "large for the floating-point range (their squares or sums "
                "overflow). Scale the targets (e.g. TransformedTargetRegressor "
                "with StandardScaler) or the sample weights."
            )
        if not np.isfinite(start_objective):
            raise ValueError(
                "The training objective at the initial coefficients is not "
                f"finite ({start_objective}): coef_init / intercept_init (or "
                "the model training resumes from) are too large for this "
                "data. Start from smaller coefficients or from zero."
            )
        self.objective_at = objective_at
        self.decision_at = decision_at
        self.stable_step = stable_step
        self.start_objective = float(start_objective)
        self.zero_objective = float(zero_objective)
        self.bound = EXPLOSION_FACTOR * max(reference, zero_objective, 1.0)
        self.updates_per_epoch = int(updates_per_epoch)
        self.adaptive = bool(adaptive)
        self.detect_climb = detect_climb
        self.gross_climb_any_length = bool(gross_climb_any_length)

    def _error(self, epoch, eta, objective, reason, detail=""):
        return DivergenceError(
            epoch=epoch,
            eta=float(eta),
            largest_stable_step=self.stable_step(),
            objective=float(objective),
            reason=reason,
            start_objective=self.start_objective,
            detail=detail,
        )

    def check_epoch(self, epoch, eta, objective, W, *, climb=False):
        """Raise if the epoch that just ended left non-finite coefficients
        or a non-finite or exploded objective.

        With ``climb=True`` an epoch whose objective (for stochastic batches
        the running mean of its batch losses) is clearly above the call's
        start, by the margin of the climb rule and with no warm-up, fails
        too: a driver that undoes such an epoch and runs it again with a
        smaller step thus catches the linear blow-ups of the losses with
        bounded gradients in the epoch where they happen, not at the end of
        the call.
        """
        if not np.all(np.isfinite(W)):
            raise self._error(epoch, eta, objective, "weights_overflow")
        if not np.isfinite(objective) or objective > self.bound:
            raise self._error(epoch, eta, objective, "step")
        if climb and self._above_start(objective):
            raise self._error(epoch, eta, objective, "climb")

    def check_final(self, epoch, eta, W, W_published, n_updates):
        """Raise unless the model about to be published is sound.

        Parameters
        ----------
        epoch : int
            Epochs run in this call.
        eta : float
            The last step size.
        W : ndarray
            The final iterate.
        W_published : ndarray
            The coefficients to publish (best epoch, running average or
            ``W`` itself).
        n_updates : int
            Updates made in this call.
        """
        final = self.objective_at(W)
        self.check_epoch(epoch, eta, final, W)
        published = final if W_published is W else self.objective_at(W_published)
        self.check_epoch(epoch, eta, published, W_published)
        decision = self.decision_at(W_published)
        if not np.all(np.isfinite(decision)):
            peak = np.max(np.abs(W_published))
            raise self._error(
                epoch,
                eta,
                published,
                "data_scale",
                detail=(
                    f" ({decision.dtype}, coefficients up to {peak:.3g}), so "
                    "predictions would be inf or NaN"
                ),
            )
        if self.detect_climb and self._climbed(published, n_updates):
            raise self._error(epoch, eta, published, "climb")

    def _climbed(self, objective, n_updates):
        scale = self._scale()
        if scale is None:
            return False
        gross = objective > self.start_objective + GROSS_CLIMB_MARGIN * scale
        # The adaptive rules' first steps move every weight by up to about
        # 30 times eta (RMSprop without bias correction) and may overshoot
        # far on unscaled data before they settle: they keep the gate.
        if gross and self.gross_climb_any_length and not self.adaptive:
            return True
        needed = CLIMB_MIN_EPOCHS * self.updates_per_epoch
        if self.adaptive:
            needed = max(needed, ADAPTIVE_MIN_UPDATES)
        if n_updates < needed:
            return False
        return self._above_start(objective)

    def _above_start(self, objective):
        scale = self._scale()
        if scale is None:
            return False
        return objective > self.start_objective + CLIMB_MARGIN * scale

    def _scale(self):
        """The objective scale climbs are measured against, or None."""
        scale = max(self.start_objective, self.zero_objective)
        if not scale > 0.0:
            # Zero loss at the start and at zero (the perceptron from zero
            # weights): every step raises the objective, and the loss is
            # positively homogeneous, so its size alone means nothing.
            return None
        return scale
