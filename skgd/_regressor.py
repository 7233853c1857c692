"""GDRegressor: linear regression by gradient descent."""

from numbers import Real

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.model_selection import ShuffleSplit
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from skgd._base import (
    BaseGD,
    as_row_index,
    dask_aware,
    is_dask_collection,
    keeps_state_on_error,
)
from skgd._registry import TARGET_REAL, estimator_losses, fill_docstring
from skgd._validation import (
    StrictInterval,
    check_finite_targets,
    check_validation_weights,
)

REGRESSION_LOSSES = estimator_losses("regressor")


class GDRegressor(RegressorMixin, BaseGD):
    r"""Linear regression trained by gradient descent.

    Minimises the regularised empirical risk

    .. math::

        \frac{\sum_i s_i \, \ell(y_i, x_i^\top w + b)}{\sum_i s_i}
        + \alpha \, R(w)

    with sample weights :math:`s_i`, the loss :math:`\ell` and the penalty
    :math:`R(w) = \frac{1 - \rho}{2}\|w\|_2^2 + \rho \|w\|_1`
    (:math:`\rho` = ``l1_ratio``; 0 for ``"l2"``, 1 for ``"l1"``). This is
    the objective of :class:`~sklearn.linear_model.SGDRegressor`; with
    ``penalty="l2"`` it equals :class:`~sklearn.linear_model.Ridge` with
    ``alpha * sum(sample_weight)`` as its ``alpha``.

    One solver runs full-batch gradient descent (``batch_size="full"``, the
    default), stochastic gradient descent (``batch_size=1``) and mini-batch
    gradient descent (``batch_size=k``), with any learning-rate schedule and
    update rule.

    Parameters
    ----------
    loss : %(loss_choices)s, default="squared_error"
        ``"squared_error"`` is :math:`\frac12 (y - p)^2`; ``"huber"`` is
        quadratic within ``epsilon`` of the target and linear beyond;
        ``"epsilon_insensitive"`` ignores errors smaller than ``epsilon`` and
        is linear past it (as in support vector regression);
        ``"squared_epsilon_insensitive"`` is its square.
    penalty : {"l2", "l1", "elasticnet"} or None, default="l2"
        The regularisation term. ``"l1"`` and ``"elasticnet"`` take a
        proximal (soft-threshold) step, which sets coefficients exactly to
        zero.
    alpha : float, default=1e-4
        Strength of the penalty. Also sets the decay of
        ``learning_rate="optimal"``.
    l1_ratio : float or None, default=0.15
        Share of L1 in the elastic net (0 is pure L2, 1 pure L1); used with
        ``penalty="elasticnet"`` only, and may be None with any other
        penalty.
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept.
    max_iter : int, default=1000
        Largest number of epochs (passes over the training data) per call
        to ``fit``. With ``batch_size="full"`` an epoch is one update.
    tol : float or None, default=1e-4
        Full batch with a smooth loss: training stops once the estimated
        distance to the optimum, ``||G|| / mu`` (``G`` the proximal gradient
        mapping, ``mu`` the smallest curvature met along the iterates'
        steps, with a safety factor of 3), is below ``tol`` times the size
        of the coefficients (in standardized coordinates): scale-free, about
        ``tol`` relative accuracy of the coefficients. Stochastic batches,
        losses with a kink, AdaGrad, RMSprop, Adam,
        ``learning_rate="adaptive"`` and
        ``early_stopping``: scikit-learn's rule, stop once the objective (or
        the validation score) has failed to improve by ``tol`` for
        ``n_iter_no_change`` consecutive epochs. None trains for
        ``max_iter`` epochs.
    shuffle : bool, default=True
        Whether to visit the rows in a new random order every epoch
        (irrelevant for the full batch).
    verbose : int, default=0
        With a positive value, print one line per epoch: the objective, the
        step size, the update count and the elapsed time.
    epsilon : float, default=0.1
        The width of the insensitive zone of the epsilon-insensitive losses
        and the point where ``"huber"`` turns linear.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffling and the validation split. An int makes fits
        reproducible.
    learning_rate : str or Schedule, default="auto"
        How the step size evolves with the update count ``t``:

        - ``"auto"``: ``"line_search"`` on the full batch with a smooth
          loss and the ``"sgd"`` or accelerated ``"nesterov"`` rule,
          ``"constant"`` otherwise;
        - ``"line_search"`` (full batch only): backtracking (Armijo) from
          the last accepted step, grown by sqrt(2) after three first-try
          successes in a row; the
          objective never increases;
        - ``"constant"``: ``eta0``;
        - ``"invscaling"``: ``eta0 / (t + 1) ** power_t``;
        - ``"optimal"``: ``1 / (alpha * (t0 + t))`` with ``t0`` chosen so
          the first step is ``eta0``;
        - ``"adaptive"``: ``eta0``, divided by 5 each time
          ``n_iter_no_change`` epochs pass without improvement; training
          stops once it falls below 1e-6. With an int ``batch_size`` an
          epoch that diverges is undone (weights, optimizer state, update
          count, shuffling, average) and run again with the step divided by
          5; ``DivergenceError`` only once that would go below 1e-6; on the
          full batch an epoch whose objective rose is also rolled back and
          the step divided;
        - a schedule from :mod:`skgd.schedules`, e.g.
          ``InverseTime(t1=50)`` for ``eta0 / (1 + t / t1)``.

        In every schedule but the warm-up, ``eta0`` is the first step.
    eta0 : float or "auto", default="auto"
        The step size of the first update. ``"auto"`` computes a safe step
        from the data: ``1 / L``, where ``L`` bounds the curvature of the
        loss over a batch (the largest eigenvalue of the weighted Gram
        matrix for the full batch, the largest squared row norm for one
        sample, a mix of both for mini-batches, times the curvature of the
        loss, plus ``alpha`` for the L2 part of the penalty; in standardized
        coordinates with ``precondition``); ``(1 - momentum) / L`` with
        momentum on stochastic batches; 0.01 for RMSprop and Adam and
        0.1 for AdaGrad, whose steps shrink as gradients accumulate. The
        value used is ``eta0_``.
    power_t : float, default=0.25
        The exponent of ``learning_rate="invscaling"``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, score it (R²) after
        every epoch, stop once the score stops improving, and keep the
        coefficients of the best epoch.
    validation_fraction : float, default=0.1
        Share of the training data held out with ``early_stopping``.
    n_iter_no_change : int, default=5
        Epochs without improvement before stopping (or before the
        ``"adaptive"`` schedule reduces the step).
    warm_start : bool, default=False
        Continue from the previous fit: coefficients, intercept, optimizer
        state and update count, so two fits of 10 epochs equal one of 20.
    average : bool or int, default=False
        Publish the running average of the iterates (averaged SGD) instead
        of the last one. An int starts averaging after that many updates.
    batch_size : "full" or int, default="full"
        Rows per update: ``"full"`` for batch gradient descent, 1 for
        stochastic gradient descent, ``k`` for mini-batches of ``k`` rows.
    optimizer : "auto" or %(optimizer_choices)s, default="auto"
        The update rule applied to each gradient. ``"auto"`` is
        ``"nesterov"`` on the full batch with a smooth loss (with
        ``momentum="auto"``: the accelerated sequence with adaptive restart,
        FISTA with L1), ``"sgd"`` otherwise. Each rule as math is in the
        user guide:

        %(optimizer_list)s
    %(optimizer_parameters)s
    precondition : bool, default=True
        Full batch: train in standardized coordinates (each feature scaled
        by its weighted standard deviation and, with an intercept, centered
        through the intercept) as a change of variables that leaves the
        minimiser unchanged; ``coef_`` is in the original space and X is
        never copied. ``False`` runs the plain iteration on X as given (the
        textbook). Stochastic batches are not preconditioned yet.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        The coefficients, in the dtype of the training data.
    intercept_ : ndarray of shape (1,) or (n_targets,)
        The intercept.
    n_iter_ : int
        Epochs run (accumulated over warm starts and ``partial_fit``).
    t_ : int
        Updates made.
    eta0_ : float
        The first step size actually used (resolved from ``"auto"``).
    eta_ : float
        The current base step: ``eta0_`` reduced by every division of the
        ``"adaptive"`` schedule (plateaus, diverging epochs), and
        ``eta0_`` for the other schedules. ``partial_fit`` and
        ``warm_start`` continue from it.
    loss_curve_ : list of float
        The training objective (penalty included) per epoch: the
        sample-weighted mean of each row's loss when its batch was processed,
        which for the full batch is the objective at the start of the epoch.
    best_loss_ : float
        The smallest value in ``loss_curve_``.
    validation_scores_ : list of float or None
        R² on the held-out rows per epoch, with ``early_stopping``.
    best_validation_score_ : float or None
        The best of ``validation_scores_``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names seen during fit, when X has string column names.

    See Also
    --------
    GDClassifier : The classifier on the same solver.
    sklearn.linear_model.SGDRegressor : Per-sample SGD in scikit-learn.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from skgd import GDRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = 2 * rng.rand(100, 1)
    >>> y = 4 + 3 * X[:, 0] + rng.randn(100)
    >>> reg = GDRegressor(penalty=None, tol=None, max_iter=2000).fit(X, y)
    >>> exact = LinearRegression().fit(X, y)
    >>> bool(np.allclose(reg.coef_, exact.coef_, atol=1e-6))
    True
    """

    # Pickles and skops files name the class by the module users import it
    # from, so they stay loadable whatever the private module layout.
    __module__ = "skgd"
    # The lists of losses, update rules and their hyper-parameters come from
    # the registry.
    __doc__ = fill_docstring(__doc__, "regressor")

    _parameter_constraints: dict = {
        **BaseGD._parameter_constraints,
        "loss": [StrOptions(set(REGRESSION_LOSSES))],
        "epsilon": [StrictInterval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        loss="squared_error",
        *,
        penalty="l2",
        alpha=1e-4,
        l1_ratio=0.15,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-4,
        shuffle=True,
        verbose=0,
        epsilon=0.1,
        random_state=None,
        learning_rate="auto",
        eta0="auto",
        power_t=0.25,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        warm_start=False,
        average=False,
        batch_size="full",
        optimizer="auto",
        momentum="auto",
        beta_1=0.9,
        beta_2=0.999,
        precondition=True,
    ):
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.verbose = verbose
        self.epsilon = epsilon
        self.random_state = random_state
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.average = average
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.momentum = momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.precondition = precondition

    # -- hooks for the shared machinery --------------------------------

    def _prepare_targets(self, y, X, *, reset, classes=None):
        y = np.asarray(y)
        if reset:
            self._y_ndim = y.ndim
        elif y.ndim != self._y_ndim and not (
            y.ndim == 2 and y.shape[1] == 1 and self._y_ndim == 1
        ):
            raise ValueError(
                f"y has {y.ndim} dimension(s) but the model was trained on "
                f"{self._y_ndim}."
            )
        check_finite_targets(y, X.dtype)
        Y = np.ascontiguousarray(y.reshape(y.shape[0], -1), dtype=X.dtype)
        return Y, TARGET_REAL, Y.shape[1]

    def _validation_split(self, Y, sample_weight, rng):
        n = Y.shape[0]
        splitter = ShuffleSplit(
            n_splits=1, test_size=self.validation_fraction, random_state=rng
        )
        train, validation = next(splitter.split(np.zeros((n, 1))))
        if train.shape[0] == 0 or validation.shape[0] == 0:
            raise ValueError(
                f"early_stopping needs both a training and a validation part; "
                f"with {n} samples and validation_fraction="
                f"{self.validation_fraction} one of them is empty. Use more "
                "samples or another validation_fraction."
            )
        return as_row_index(np.sort(train)), as_row_index(np.sort(validation))

    def _validation_scorer(self, Y, sample_weight, rows):
        y_true = Y[rows]
        weights = sample_weight[rows]
        check_validation_weights(weights)

        def score(decision):
            return r2_score(y_true, decision, sample_weight=weights)

        return score

    def _coef_attributes(self, W):
        if self._y_ndim == 1:
            return {"coef_": W[0, :-1].copy(), "intercept_": W[0, -1:].copy()}
        return {"coef_": W[:, :-1].copy(), "intercept_": W[:, -1].copy()}

    # -- public API ------------------------------------------------------

    @keeps_state_on_error
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, coef_init=None, intercept_init=None):
        """Fit the model by gradient descent.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 data is trained in float32.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; with the full batch, an integer weight is
            exactly the same as repeating the row.
        coef_init : array-like of shape (n_features,) or \
                (n_targets, n_features), default=None
            Starting coefficients (zeros by default).
        intercept_init : array-like of shape (1,) or (n_targets,), \
                default=None
            Starting intercept (zero by default).

        Returns
        -------
        self : GDRegressor
            The fitted estimator.
        """
        return self._run(
            X,
            y,
            sample_weight,
            coef_init=coef_init,
            intercept_init=intercept_init,
        )

    @keeps_state_on_error
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train for one epoch on the given data, continuing from the
        current model.

        The optimizer state and the update count carry over between calls,
        so with ``batch_size="full"`` ten calls on the same data give exactly
        the model of ``fit`` with ``max_iter=10, tol=None``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A chunk of training data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Its targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        self : GDRegressor
            The updated estimator.
        """
        # _fit_context skips parameter validation once the estimator is
        # fitted; parameters may have changed since (set_params).
        self._validate_params()
        return self._run(X, y, sample_weight, incremental=True)

    def score(self, X, y, sample_weight=None):
        """Coefficient of determination R² of ``predict(X)``.

        On Dask collections the sums behind the score are computed on the
        cluster, chunk by chunk; only a few numbers per chunk reach the
        client.

        Parameters
        ----------
        X : {array-like, sparse matrix, Dask array or DataFrame} of shape \
                (n_samples, n_features)
            Samples.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True targets (a Dask array or Series with Dask X).
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            R² of the predictions (averaged uniformly over targets).
        """
        if is_dask_collection(X):
            from skgd._dask import score_dask

            check_is_fitted(self)
            return score_dask(self, X, y, sample_weight)
        return super().score(X, y, sample_weight=sample_weight)

    @dask_aware
    def predict(self, X):
        """Predict with the linear model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predicted values.
        """
        decision = self._decision(X)
        if self._y_ndim == 1:
            return decision.ravel()
        return decision

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
