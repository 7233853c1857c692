"""Exceptions and warnings raised by skgd."""

__all__ = ["DivergenceError"]


class DivergenceError(ValueError):
    """Training diverged: the objective became non-finite or exploded.

    Raised instead of returning NaN or astronomically large coefficients.
    The message names the epoch, the step size in use and the largest step
    that is stable for this data, and says how to fix it. A ``ValueError``,
    so model selection tools that catch failing fits (``GridSearchCV`` with
    ``error_score``) treat a diverging candidate like any other failure.

    Attributes
    ----------
    epoch : int
        The epoch (1-based) at whose end divergence was detected.
    eta : float
        The step size of the last update of that epoch.
    largest_stable_step : float
        The largest step the update rule takes on this data without
        diverging (2/L for plain gradient descent on a smooth loss with
        gradient Lipschitz constant L); NaN for the adaptive rules (AdaGrad,
        RMSprop, Adam), whose steps do not scale with the curvature.
    objective : float
        The training objective when divergence was detected.
    """

    def __init__(self, epoch, eta, largest_stable_step, objective):
        self.epoch = epoch
        self.eta = eta
        self.largest_stable_step = largest_stable_step
        self.objective = objective
        if largest_stable_step == largest_stable_step:  # not NaN
            bound = (
                f"The largest stable step for this data is about "
                f"{largest_stable_step:.4g}. "
            )
        else:
            bound = (
                "This update rule moves each weight by about the step size per "
                "update, so no stable step follows from the data; try a step ten "
                "times smaller. "
            )
        super().__init__(
            f"Training diverged at epoch {epoch}: the objective reached "
            f"{objective:.3g} with step size {eta:.4g}. {bound}Use a smaller "
            "eta0 (or eta0='auto' for a safe step computed from the data), a "
            "decaying learning_rate, or standardize the features."
        )

    def __reduce__(self):
        # Rebuild from the attributes, so the error survives pickling (joblib
        # sends a failing fit's exception back from worker processes).
        return (
            type(self),
            (self.epoch, self.eta, self.largest_stable_step, self.objective),
        )
