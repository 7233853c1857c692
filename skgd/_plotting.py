"""Loss curves: see whether gradient descent converges, and how fast.

:class:`LossCurveDisplay` draws the training objective per epoch
(``loss_curve_``) of fitted skgd estimators, with the validation score of
early stopping on a second y axis, an optional moving average for noisy
stochastic runs, a log scale and a reference level such as the objective of
the exact solution.  It follows scikit-learn's Display convention:
``from_estimator`` / ``from_estimators`` build and draw, ``plot`` draws, and
the matplotlib objects are kept in the attributes ending in ``_``.

matplotlib is an optional dependency (the ``plot`` extra): it is imported
only when something is drawn.
"""

from collections.abc import Mapping

import numpy as np
from sklearn.base import is_classifier, is_regressor
from sklearn.utils.validation import check_is_fitted

__all__ = ["LossCurveDisplay"]


def _require_pyplot(caller):
    """Import and return ``matplotlib.pyplot``, or raise a clear ImportError."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} needs matplotlib: pip install 'skgd[plot]'"
        ) from exc
    return plt


def _as_curve(values, name):
    """A 1-D float array from a sequence of per-epoch values."""
    curve = np.asarray(values, dtype=np.float64)
    if curve.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D sequence of per-epoch values; got an array "
            f"of shape {curve.shape}."
        )
    if curve.shape[0] == 0:
        raise ValueError(f"{name} is empty: there is no epoch to plot.")
    return curve


def _is_scalar_sequence(values):
    """True for one curve (a sequence of numbers), False for several."""
    if isinstance(values, np.ndarray):
        return values.ndim <= 1
    values = list(values)
    return len(values) == 0 or np.ndim(values[0]) == 0


def moving_average(values, window):
    """Trailing moving average: entry k is the mean of values[k - window + 1]
    to values[k], over the values that exist (fewer at the start)."""
    values = np.asarray(values, dtype=np.float64)
    window = int(window)
    cumsum = np.concatenate([[0.0], np.cumsum(values)])
    ends = np.arange(1, values.shape[0] + 1)
    starts = np.maximum(ends - window, 0)
    return (cumsum[ends] - cumsum[starts]) / (ends - starts)


def _check_window(smoothing_window):
    if smoothing_window is None:
        return None
    if (
        isinstance(smoothing_window, (bool, np.bool_))
        or not isinstance(smoothing_window, (int, np.integer))
        or smoothing_window < 1
    ):
        raise ValueError(
            "smoothing_window must be None or an integer >= 1 (the number of "
            f"epochs averaged); got {smoothing_window!r}."
        )
    return int(smoothing_window)


def _default_score_name(estimator):
    if is_classifier(estimator):
        return "Validation accuracy"
    if is_regressor(estimator):
        return "Validation R²"
    return "Validation score"


class LossCurveDisplay:
    """Training objective per epoch, for one fit or several.

    The curve to look at when choosing a learning rate: it must go down; a
    step that is too small makes it crawl, one that is too large makes it
    oscillate or explode.  Stochastic and mini-batch runs give a noisy curve;
    ``smoothing_window`` draws its moving average in bold over the faint raw
    curve.  Where the fit used early stopping, the validation score of each
    epoch is drawn on a second y axis.

    Build it with :meth:`from_estimator` or :meth:`from_estimators` from
    fitted estimators, or directly from values, then call :meth:`plot`. All
    parameters are stored as attributes.

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,), or list of them
        The training objective per epoch (``loss_curve_`` of a fitted skgd
        estimator); a list of curves overlays several fits.
    validation_scores : array-like of shape (n_epochs,), list of them, \
            or None, default=None
        The validation score per epoch (``validation_scores_``); with several
        curves, one entry per curve (None where there is none).
    label : str, list of str or None, default=None
        Legend entry of the curve, or of each curve.
    score_name : str, default="Validation score"
        Label of the secondary y axis that shows the validation scores.

    Attributes
    ----------
    line_ : matplotlib Line2D, or list of Line2D
        The (smoothed, when ``smoothing_window`` is given) loss curve; a list
        when the display holds several curves.
    lines_ : list of matplotlib Line2D
        The loss curves, one per fit, always as a list.
    raw_lines_ : list of matplotlib Line2D or None
        The faint unsmoothed curves when ``smoothing_window`` is given, else
        None.
    validation_lines_ : list of (matplotlib Line2D or None)
        The validation-score curve of each fit, None where it has none.
    reference_line_ : matplotlib Line2D or None
        The horizontal reference line, if one was asked for.
    ax_ : matplotlib Axes
        Axes of the loss curves.
    ax_validation_ : matplotlib Axes or None
        The secondary axes (sharing the x axis) of the validation scores,
        None when no curve has validation scores.
    figure_ : matplotlib Figure
        Figure holding the axes.

    See Also
    --------
    find_learning_rate : Learning-rate range test, with its own plot.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skgd import GDRegressor, LossCurveDisplay
    >>> rng = np.random.RandomState(0)
    >>> X = 2 * rng.rand(100, 1)
    >>> y = 4 + 3 * X[:, 0] + rng.randn(100)
    >>> reg = GDRegressor(batch_size=1, eta0=0.01, random_state=0).fit(X, y)
    >>> display = LossCurveDisplay.from_estimator(reg, smoothing_window=5)
    >>> len(display.line_.get_ydata()) == reg.n_iter_
    True
    """

    def __init__(
        self,
        loss_curve,
        *,
        validation_scores=None,
        label=None,
        score_name="Validation score",
    ):
        self.loss_curve = loss_curve
        self.validation_scores = validation_scores
        self.label = label
        self.score_name = score_name

    # ------------------------------------------------------------------
    # Normalising the stored values into lists of curves
    # ------------------------------------------------------------------

    def _curves(self):
        """(curves, validation, labels, several) as equal-length lists."""
        several = not _is_scalar_sequence(self.loss_curve)
        if several:
            curves = [
                _as_curve(c, f"loss_curve[{i}]") for i, c in enumerate(self.loss_curve)
            ]
            if not curves:
                raise ValueError("loss_curve is an empty list of curves.")
        else:
            curves = [_as_curve(self.loss_curve, "loss_curve")]
        n = len(curves)

        validation = self.validation_scores
        if validation is None:
            validation = [None] * n
        elif not several:
            validation = [validation]
        else:
            validation = list(validation)
        if len(validation) != n:
            raise ValueError(
                f"validation_scores has {len(validation)} entries for {n} loss "
                "curves; give one (or None) per curve."
            )
        validation = [
            None if v is None else _as_curve(v, "validation_scores")
            for v in validation
        ]

        labels = self.label
        if labels is None:
            labels = [None] * n
        elif isinstance(labels, str):
            # One name for several curves: number them.
            labels = [labels] if n == 1 else [f"{labels} {i + 1}" for i in range(n)]
        else:
            labels = list(labels)
        if len(labels) != n:
            raise ValueError(
                f"label has {len(labels)} entries for {n} loss curves; give one "
                "per curve."
            )
        return curves, validation, labels, several

    # ------------------------------------------------------------------
    # Drawing
    # ------------------------------------------------------------------

    def plot(
        self,
        ax=None,
        *,
        smoothing_window=None,
        log_scale=False,
        reference=None,
        reference_label="reference",
        line_kwargs=None,
        validation_kwargs=None,
        reference_kwargs=None,
    ):
        """Draw the loss curve(s).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure and axes are created when None.
        smoothing_window : int or None, default=None
            Draw the trailing moving average over this many epochs in bold
            (each point is the mean of the current epoch and the
            ``smoothing_window - 1`` before it; fewer at the start) over the
            faint raw curve. Use it for stochastic and mini-batch runs,
            whose per-epoch objective is noisy.
        log_scale : bool, default=False
            Log scale for the loss axis, which shows the linear convergence
            of gradient descent as a straight line.
        reference : float or None, default=None
            A level to compare with, drawn as a horizontal dashed line: for
            instance the objective of the exact (closed-form) solution.
        reference_label : str, default="reference"
            Legend entry of the reference line.
        line_kwargs : dict or list of dict, default=None
            Keyword arguments for matplotlib's ``plot`` of the loss curves
            (one dict for all, or one per curve).
        validation_kwargs : dict, default=None
            Keyword arguments for the validation-score curves.
        reference_kwargs : dict, default=None
            Keyword arguments for the reference line (``axhline``).

        Returns
        -------
        display : LossCurveDisplay
            This display, with its matplotlib objects stored.
        """
        plt = _require_pyplot("LossCurveDisplay")
        window = _check_window(smoothing_window)
        curves, validation, labels, several = self._curves()
        n = len(curves)
        if line_kwargs is None or isinstance(line_kwargs, Mapping):
            line_kwargs = [dict(line_kwargs or {})] * n
        elif len(line_kwargs) != n:
            raise ValueError(
                f"line_kwargs has {len(line_kwargs)} entries for {n} curves."
            )

        if ax is None:
            _, ax = plt.subplots()

        lines, raw_lines, validation_lines = [], [], []
        for curve, label, kwargs in zip(curves, labels, line_kwargs):
            epochs = np.arange(1, curve.shape[0] + 1)
            if window is not None and window > 1 and label is not None:
                label = f"{label} ({window}-epoch moving average)"
            main_kwargs = {"label": label, "linewidth": 2.0 if window else 1.5}
            main_kwargs.update(kwargs)
            if window is None:
                (line,) = ax.plot(epochs, curve, **main_kwargs)
            else:
                (line,) = ax.plot(epochs, moving_average(curve, window), **main_kwargs)
                (raw,) = ax.plot(
                    epochs,
                    curve,
                    color=line.get_color(),
                    alpha=0.3,
                    linewidth=0.8,
                    zorder=line.get_zorder() - 0.1,
                )
                raw_lines.append(raw)
            lines.append(line)

        ax_validation = None
        if any(v is not None for v in validation):
            ax_validation = ax.twinx()
            score_name = self.score_name[:1].lower() + self.score_name[1:]
            ax_validation.set_ylabel(self.score_name)
            for line, scores, label in zip(lines, validation, labels):
                if scores is None:
                    validation_lines.append(None)
                    continue
                kwargs = {
                    "color": line.get_color(),
                    "linestyle": "-.",
                    "linewidth": 1.5,
                    "label": self.score_name
                    if label is None
                    else f"{label} ({score_name})",
                }
                kwargs.update(validation_kwargs or {})
                (vline,) = ax_validation.plot(
                    np.arange(1, scores.shape[0] + 1), scores, **kwargs
                )
                validation_lines.append(vline)
        else:
            validation_lines = [None] * n

        reference_line = None
        if reference is not None:
            kwargs = {
                "color": "black",
                "linestyle": "--",
                "linewidth": 1.0,
                "label": reference_label,
            }
            kwargs.update(reference_kwargs or {})
            reference_line = ax.axhline(float(reference), **kwargs)

        if log_scale:
            ax.set_yscale("log")
        ax.set_xlabel("Epoch")
        ax.set_ylabel("Training objective")

        handles = list(ax.get_lines())
        if ax_validation is not None:
            handles += ax_validation.get_lines()
        handles = [h for h in handles if not h.get_label().startswith("_")]
        if handles:
            # On the top axes, so that no curve is drawn over the legend.
            top = ax if ax_validation is None else ax_validation
            if top is not ax and ax.get_legend() is not None:
                ax.get_legend().remove()
            top.legend(handles=handles, labels=[h.get_label() for h in handles])

        self.ax_ = ax
        self.ax_validation_ = ax_validation
        self.figure_ = ax.figure
        self.lines_ = lines
        self.line_ = lines if several else lines[0]
        self.raw_lines_ = raw_lines if window is not None else None
        self.validation_lines_ = validation_lines
        self.reference_line_ = reference_line
        return self

    # ------------------------------------------------------------------
    # Construction from fitted estimators
    # ------------------------------------------------------------------

    @staticmethod
    def _values_of(estimator):
        check_is_fitted(estimator, "loss_curve_")
        scores = getattr(estimator, "validation_scores_", None)
        return list(estimator.loss_curve_), None if scores is None else list(scores)

    @classmethod
    def from_estimator(
        cls,
        estimator,
        *,
        ax=None,
        label=None,
        smoothing_window=None,
        log_scale=False,
        reference=None,
        reference_label="reference",
        line_kwargs=None,
        validation_kwargs=None,
        reference_kwargs=None,
    ):
        """Draw the loss curve of a fitted estimator.

        Parameters
        ----------
        estimator : fitted GDRegressor or GDClassifier
            Any fitted estimator with a ``loss_curve_`` attribute (and,
            optionally, ``validation_scores_``).
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        label : str, default=None
            Legend entry; the estimator's class name when None.
        smoothing_window, log_scale, reference, reference_label, \
line_kwargs, validation_kwargs, reference_kwargs
            As in :meth:`plot`.

        Returns
        -------
        display : LossCurveDisplay

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        """
        _require_pyplot("LossCurveDisplay")
        curve, scores = cls._values_of(estimator)
        display = cls(
            curve,
            validation_scores=scores,
            label=type(estimator).__name__ if label is None else label,
            score_name=_default_score_name(estimator),
        )
        return display.plot(
            ax=ax,
            smoothing_window=smoothing_window,
            log_scale=log_scale,
            reference=reference,
            reference_label=reference_label,
            line_kwargs=line_kwargs,
            validation_kwargs=validation_kwargs,
            reference_kwargs=reference_kwargs,
        )

    @classmethod
    def from_estimators(
        cls,
        estimators,
        *,
        labels=None,
        ax=None,
        smoothing_window=None,
        log_scale=False,
        reference=None,
        reference_label="reference",
        line_kwargs=None,
        validation_kwargs=None,
        reference_kwargs=None,
    ):
        """Overlay the loss curves of several fitted estimators.

        For instance one fit per learning rate, or batch GD against SGD
        against mini-batch GD, on the same axes.

        Parameters
        ----------
        estimators : list of fitted estimators, or dict of label -> estimator
            The fits to compare.
        labels : list of str, default=None
            One legend entry per estimator. By default the keys of a dict,
            else the class names (numbered when they repeat).
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        smoothing_window, log_scale, reference, reference_label, \
line_kwargs, validation_kwargs, reference_kwargs
            As in :meth:`plot`.

        Returns
        -------
        display : LossCurveDisplay
            ``lines_`` holds one line per estimator, in order.
        """
        _require_pyplot("LossCurveDisplay")
        if isinstance(estimators, Mapping):
            if labels is None:
                labels = [str(key) for key in estimators]
            estimators = list(estimators.values())
        else:
            estimators = list(estimators)
        if not estimators:
            raise ValueError("estimators is empty: pass at least one fitted model.")
        if labels is None:
            names = [type(est).__name__ for est in estimators]
            if len(set(names)) < len(names):
                names = [f"{name} {i + 1}" for i, name in enumerate(names)]
            labels = names
        labels = list(labels)
        if len(labels) != len(estimators):
            raise ValueError(
                f"labels has {len(labels)} entries for {len(estimators)} "
                "estimators; give one per estimator."
            )
        values = [cls._values_of(est) for est in estimators]
        score_names = {_default_score_name(est) for est in estimators}
        display = cls(
            [curve for curve, _ in values],
            validation_scores=[scores for _, scores in values],
            label=labels,
            score_name=score_names.pop()
            if len(score_names) == 1
            else "Validation score",
        )
        return display.plot(
            ax=ax,
            smoothing_window=smoothing_window,
            log_scale=log_scale,
            reference=reference,
            reference_label=reference_label,
            line_kwargs=line_kwargs,
            validation_kwargs=validation_kwargs,
            reference_kwargs=reference_kwargs,
        )
