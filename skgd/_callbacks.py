"""Progress reporting through scikit-learn's callback API (``sklearn.callback``,
scikit-learn 1.9 and later).

A fit is one task whose subtasks are its epochs, so ``ProgressBar`` advances
once per epoch and ``ScoringMonitor`` scores the model as it stands at the
end of every epoch.  With an older scikit-learn the estimators simply have no
``set_callbacks``.
"""

try:
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # scikit-learn < 1.9

    class CallbackSupportMixin:
        """Stand-in for scikit-learn versions without the callback API."""


__all__ = ["CallbackSupportMixin", "EpochReporter", "start_fit_task"]


def start_fit_task(estimator, *, max_epochs, X, y, metadata):
    """Open the fit's task (one subtask per epoch) and report its start.

    Returns an :class:`EpochReporter`, or None when the installed
    scikit-learn has no callback API.
    """
    init = getattr(estimator, "_init_callback_context", None)
    if init is None:
        return None
    context = init(task_name="fit", max_subtasks=max_epochs)
    context.call_on_fit_task_begin(estimator=estimator, X=X, y=y, metadata=metadata)
    return EpochReporter(estimator, context, X, y, metadata)


class EpochReporter:
    """Reports each epoch of a fit as a subtask of its fit task."""

    def __init__(self, estimator, context, X, y, metadata):
        self.estimator = estimator
        self.context = context
        self.X = X
        self.y = y
        self.metadata = metadata
        self._epoch_context = None

    def _hook_kwargs(self, W):
        estimator = self.estimator
        return dict(
            estimator=estimator,
            X=self.X,
            y=self.y,
            metadata=self.metadata,
            # Evaluated only when a callback asks for the fitted model: the
            # coefficients as the estimator would publish them right now.
            reconstruction_attributes=lambda: estimator._coef_attributes(W.copy()),
        )

    def observed(self):
        """Whether any callback is registered: without one, the epochs need
        not be reported one by one."""
        return bool(getattr(self.estimator, "_skl_callbacks", None)) or hasattr(
            self.estimator, "_parent_callback_ctx"
        )

    def epoch_begin(self, W):
        self._epoch_context = self.context.subcontext(task_name="epoch")
        self._epoch_context.call_on_fit_task_begin(**self._hook_kwargs(W))

    def epoch_end(self, W):
        """Report the end of the epoch; True when a callback asks to stop."""
        return bool(self._epoch_context.call_on_fit_task_end(**self._hook_kwargs(W)))

    def fit_end(self):
        self.context.call_on_fit_task_end(
            estimator=self.estimator,
            X=self.X,
            y=self.y,
            metadata=self.metadata,
            reconstruction_attributes={},
        )
