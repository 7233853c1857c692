"""Exceptions and warnings raised by skgd."""

__all__ = ["DivergenceError", "InconsistentVersionWarning"]

# Why training was judged to have failed (DivergenceError.reason).
REASONS = ("step", "weights_overflow", "climb", "data_scale")


class DivergenceError(ValueError):
    """Training diverged: the objective became non-finite, exploded or ended
    clearly above where it started.

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
    reason : str
        ``"step"``: the objective became non-finite or exploded (the step is
        too large); ``"weights_overflow"``: the coefficients overflowed to
        inf or NaN; ``"climb"``: training ended with an objective clearly
        above its starting value (a step too large for a loss with bounded
        gradients, which grows linearly rather than exploding);
        ``"data_scale"``: the coefficients are finite but the decision
        values overflow in the dtype of X (the features are too large).
    start_objective : float
        The training objective where the call started (NaN if unknown).
    """

    def __init__(
        self,
        epoch,
        eta,
        largest_stable_step,
        objective,
        reason="step",
        start_objective=float("nan"),
        detail="",
    ):
        self.epoch = epoch
        self.eta = eta
        self.largest_stable_step = largest_stable_step
        self.objective = objective
        self.reason = reason
        self.start_objective = start_objective
        self.detail = detail
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
        advice = (
            "Use a smaller eta0 (or eta0='auto' for a safe step computed from "
            "the data), a decaying learning_rate, or standardize the features (e.g. "
            "with StandardScaler)."
        )
        if reason == "weights_overflow":
            what = (
                f"the coefficients overflowed (inf or NaN) with step size "
                f"{eta:.4g}"
            )
        elif reason == "climb":
            what = (
                f"the objective ended at {objective:.4g}, clearly above its "
                f"starting value {start_objective:.4g}, with step size "
                f"{eta:.4g}"
            )
        elif reason == "data_scale":
            what = (
                "the decision values of the trained model overflow in the "
                f"dtype of X{detail}"
            )
            advice = (
                "The data scale is too large for its dtype: standardize the "
                "features (e.g. with StandardScaler), or pass X as float64."
            )
            bound = ""
        else:
            what = f"the objective reached {objective:.3g} with step size {eta:.4g}"
        super().__init__(f"Training diverged at epoch {epoch}: {what}. {bound}{advice}")

    def __reduce__(self):
        # Rebuild from the attributes, so the error survives pickling (joblib
        # sends a failing fit's exception back from worker processes).
        return (
            type(self),
            (
                self.epoch,
                self.eta,
                self.largest_stable_step,
                self.objective,
                self.reason,
                self.start_objective,
                self.detail,
            ),
        )


class InconsistentVersionWarning(UserWarning):
    """An estimator was unpickled under another skgd version than the one
    that saved it.

    The model may then behave differently or fail; refit it under the
    current version, or load it with the version that wrote it.  Turn the
    warning into an error with ``warnings.simplefilter("error",
    InconsistentVersionWarning)``.

    Parameters
    ----------
    estimator_name : str
        Class name of the estimator.
    current_skgd_version : str
        The skgd version loading the pickle.
    original_skgd_version : str
        The skgd version that saved it.

    Attributes
    ----------
    estimator_name : str
    current_skgd_version : str
    original_skgd_version : str
    """

    def __init__(self, *, estimator_name, current_skgd_version, original_skgd_version):
        self.estimator_name = estimator_name
        self.current_skgd_version = current_skgd_version
        self.original_skgd_version = original_skgd_version
        super().__init__(str(self))

    def __str__(self):
        return (
            f"Trying to unpickle estimator {self.estimator_name} saved by skgd "
            f"{self.original_skgd_version} when using skgd "
            f"{self.current_skgd_version}. This might lead to breaking code or "
            "invalid results; refit the model with the current version, or "
            "load it with the version that saved it."
        )

    def __reduce__(self):
        return (
            _rebuild_version_warning,
            (
                self.estimator_name,
                self.current_skgd_version,
                self.original_skgd_version,
            ),
        )


def _rebuild_version_warning(name, current, original):
    return InconsistentVersionWarning(
        estimator_name=name,
        current_skgd_version=current,
        original_skgd_version=original,
    )
