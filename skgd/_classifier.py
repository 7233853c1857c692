"""GDClassifier: linear classification by gradient descent."""

from numbers import Real

import numpy as np
from scipy.special import expit, log_softmax, softmax
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from skgd._base import (
    BaseGD,
    as_row_index,
    dask_aware,
    is_dask_collection,
    keeps_state_on_error,
)
from skgd._registry import (
    LOSSES,
    TARGET_MULTINOMIAL,
    TARGET_ONE_VS_REST,
    estimator_losses,
    fill_docstring,
)
from skgd._validation import (
    StrictInterval,
    check_class_weights,
    check_validation_weights,
)

CLASSIFICATION_LOSSES = estimator_losses("classifier")
PROBABILISTIC_LOSSES = tuple(
    name for name in CLASSIFICATION_LOSSES if LOSSES[name].probabilistic
)


def _has_proba(estimator):
    """predict_proba exists only where it means something."""
    if estimator.loss not in PROBABILISTIC_LOSSES:
        raise AttributeError(
            f"probability estimates are not available for loss={estimator.loss!r}; "
            f"use one of {PROBABILISTIC_LOSSES}."
        )
    return True


class GDClassifier(ClassifierMixin, BaseGD):
    r"""Linear classification trained by gradient descent.

    Minimises the same regularised empirical risk as :class:`GDRegressor`,

    .. math::

        \frac{\sum_i s_i \, \ell(y_i, W x_i + b)}{\sum_i s_i} + \alpha R(W),

    where the loss is taken on the decision values. With ``loss="log_loss"``
    two classes give logistic regression and more classes the multinomial
    (softmax) model, trained jointly. The margin losses (``"hinge"``,
    ``"squared_hinge"``, ``"modified_huber"``, ``"perceptron"``) and the
    regression losses are one-vs-rest, with **all classes updated in the same
    pass over the data**: one read of X per epoch, however many classes.

    With ``loss="log_loss"`` and ``penalty="l2"`` the model equals
    :class:`~sklearn.linear_model.LogisticRegression` with
    ``C = 1 / (alpha * sum(sample_weight))``.

    Parameters
    ----------
    loss : %(loss_choices)s, default="log_loss"
        The loss on the decision values. The margin losses and the
        regression losses take the targets as +1 / -1 per class.
    penalty : {"l2", "l1", "elasticnet"} or None, default="l2"
        The regularisation term; L1 takes a proximal step (exact zeros).
    alpha : float, default=1e-4
        Strength of the penalty.
    l1_ratio : float or None, default=0.15
        Share of L1 in the elastic net (0 is pure L2, 1 pure L1); used with
        ``penalty="elasticnet"`` only, and may be None with any other
        penalty.
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept.
    max_iter : int, default=1000
        Largest number of epochs per call to ``fit``.
    tol : float or None, default=1e-4
        Full batch, smooth loss: stop once the estimated distance to the
        optimum is below ``tol`` times the size of the coefficients.
        Otherwise (and with ``early_stopping``): stop once the objective (or
        validation accuracy) has not improved by ``tol`` for
        ``n_iter_no_change`` epochs. None runs ``max_iter`` (see
        :class:`GDRegressor`).
    shuffle : bool, default=True
        Visit the rows in a new random order every epoch.
    verbose : int, default=0
        Print one line per epoch when positive.
    epsilon : float, default=0.1
        Parameter of the regression losses (see :class:`GDRegressor`).
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffling and the validation split.
    learning_rate : str or Schedule, default="auto"
        ``"auto"``, ``"line_search"``, ``"constant"``, ``"invscaling"``,
        ``"optimal"``, ``"adaptive"`` or a schedule from
        :mod:`skgd.schedules` (see :class:`GDRegressor`).
        With an int ``batch_size``, ``"adaptive"`` undoes an epoch that
        diverges and runs it again with the step divided by 5.
    eta0 : float or "auto", default="auto"
        The first step size; ``"auto"`` computes a safe one from the data
        (see :class:`GDRegressor`). The value used is ``eta0_``.
    power_t : float, default=0.25
        Exponent of ``"invscaling"``.
    early_stopping : bool, default=False
        Hold out a stratified ``validation_fraction`` of the data, score its
        accuracy every epoch, stop once it stops improving and keep the best
        epoch's coefficients.
    validation_fraction : float, default=0.1
        Share of the data held out with ``early_stopping``.
    n_iter_no_change : int, default=5
        Epochs without improvement before stopping.
    class_weight : dict, "balanced" or None, default=None
        Weights multiplied into ``sample_weight`` per class; ``"balanced"``
        uses ``n_samples / (n_classes * np.bincount(y))``.
    warm_start : bool, default=False
        Continue from the previous fit, optimizer state and update count
        included.
    average : bool or int, default=False
        Publish the running average of the iterates; an int starts after
        that many updates.
    batch_size : "full" or int, default="full"
        ``"full"`` for batch GD, 1 for SGD, ``k`` for mini-batches.
    optimizer : "auto" or %(optimizer_choices)s, default="auto"
        The update rule applied to each gradient; ``"auto"`` is
        ``"nesterov"`` on the full batch with a smooth loss, ``"sgd"``
        otherwise (see :class:`GDRegressor` and the user guide for each rule
        as math):

        %(optimizer_list)s
    %(optimizer_parameters)s
    precondition : bool, default=True
        Full batch: train in standardized coordinates, a change of
        variables that leaves the minimiser unchanged (see
        :class:`GDRegressor`). No effect on stochastic batches yet.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients; one row for two classes (the second class is the
        positive one).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts.
    n_iter_ : int
        Epochs run.
    t_ : int
        Updates made.
    eta0_ : float
        The first step size actually used.
    eta_ : float
        The current base step: ``eta0_`` reduced by every division of the
        ``"adaptive"`` schedule (plateaus, diverging epochs), and
        ``eta0_`` for the other schedules.
    loss_curve_ : list of float
        The training objective per epoch, penalty included.
    best_loss_ : float
        The smallest value in ``loss_curve_``.
    validation_scores_ : list of float or None
        Validation accuracy per epoch, with ``early_stopping``.
    best_validation_score_ : float or None
        The best validation accuracy.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names seen during fit, when X has string column names.

    See Also
    --------
    GDRegressor : The regressor on the same solver.
    sklearn.linear_model.SGDClassifier : Per-sample SGD in scikit-learn.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skgd import GDClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = GDClassifier(random_state=0).fit(X, y)
    >>> clf.coef_.shape
    (3, 4)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    # Pickles and skops files name the class by the module users import it
    # from, so they stay loadable whatever the private module layout.
    __module__ = "skgd"
    # The lists of losses, update rules and their hyper-parameters come from
    # the registry.
    __doc__ = fill_docstring(__doc__, "classifier")

    _y_numeric = False

    _parameter_constraints: dict = {
        **BaseGD._parameter_constraints,
        "loss": [StrOptions(set(CLASSIFICATION_LOSSES))],
        "epsilon": [StrictInterval(Real, 0, None, closed="left")],
        "class_weight": [StrOptions({"balanced"}), dict, None],
    }

    def __init__(
        self,
        loss="log_loss",
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
        class_weight=None,
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
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.average = average
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.momentum = momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.precondition = precondition

    # -- hooks for the shared machinery --------------------------------

    def _is_multinomial(self):
        return self.loss == "log_loss" and len(self.classes_) > 2

    def _solver_loss(self):
        return "multinomial" if self._is_multinomial() else self.loss

    def _prepare_targets(self, y, X, *, reset, classes=None):
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if reset:
            labels = np.unique(y) if classes is None else np.unique(classes)
            if labels.shape[0] < 2:
                raise ValueError(
                    "GDClassifier needs samples of at least 2 classes in the "
                    f"data, but the data contains only one class: {labels[0]!r}."
                )
            self.classes_ = labels
        labels = self.classes_
        codes = np.searchsorted(labels, y)
        codes = np.clip(codes, 0, labels.shape[0] - 1)
        unknown = labels[codes] != y
        if np.any(unknown):
            raise ValueError(
                f"y contains labels not in classes_ {labels.tolist()}: "
                f"{np.unique(y[unknown]).tolist()}. Pass every label with "
                "`classes=` on the first call to partial_fit."
            )
        Y = codes.astype(X.dtype).reshape(-1, 1)
        n_classes = labels.shape[0]
        if self._is_multinomial():
            return Y, TARGET_MULTINOMIAL, n_classes
        return Y, TARGET_ONE_VS_REST, 1 if n_classes == 2 else n_classes

    def _row_weights(self, Y):
        if self.class_weight is None:
            return 1.0
        codes = Y[:, 0].astype(np.intp)
        weights = compute_class_weight(
            self.class_weight, classes=self.classes_, y=self.classes_[codes]
        )
        check_class_weights(weights)
        return weights[codes].astype(Y.dtype)

    def _validation_split(self, Y, sample_weight, rng):
        codes = Y[:, 0].astype(np.intp)
        n_samples = codes.shape[0]
        n_validation = int(np.ceil(self.validation_fraction * n_samples))
        n_classes = np.unique(codes).shape[0]
        if n_samples < 2:
            raise ValueError(
                "early_stopping needs at least 2 samples: one to train on and "
                "one to validate on."
            )
        if (
            n_validation >= n_classes
            and n_samples - n_validation >= n_classes
            and (np.bincount(codes).max() >= 2)
        ):
            splitter = StratifiedShuffleSplit(
                n_splits=1, test_size=self.validation_fraction, random_state=rng
            )
        else:
            # Too few samples to put every class on both sides: hold out
            # rows at random instead of failing.
            splitter = ShuffleSplit(
                n_splits=1, test_size=max(1, n_validation), random_state=rng
            )
        train, validation = next(splitter.split(np.zeros((n_samples, 1)), codes))
        return as_row_index(np.sort(train)), as_row_index(np.sort(validation))

    def _validation_scorer(self, Y, sample_weight, rows):
        codes = Y[rows, 0].astype(np.intp)
        weights = sample_weight[rows]
        check_validation_weights(weights)

        def score(decision):
            return accuracy_score(
                codes, self._decision_to_codes(decision), sample_weight=weights
            )

        return score

    def _coef_attributes(self, W):
        return {"coef_": W[:, :-1].copy(), "intercept_": W[:, -1].copy()}

    @staticmethod
    def _decision_to_codes(decision):
        if decision.shape[1] == 1:
            return (decision[:, 0] > 0).astype(np.intp)
        return np.argmax(decision, axis=1)

    # -- public API ------------------------------------------------------

    @keeps_state_on_error
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, coef_init=None, intercept_init=None):
        """Fit the model by gradient descent.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 data is trained in float32.
        y : array-like of shape (n_samples,)
            Class labels, of any type.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights, multiplied with ``class_weight``.
        coef_init : array-like of shape (n_classes, n_features), default=None
            Starting coefficients; shape (1, n_features) for two classes.
        intercept_init : array-like of shape (n_classes,), default=None
            Starting intercepts.

        Returns
        -------
        self : GDClassifier
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
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch on the given data, continuing from the
        current model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A chunk of training data.
        y : array-like of shape (n_samples,)
            Its labels.
        classes : array-like of shape (n_classes,), default=None
            Every label the model will see; required on the first call,
            ignored after it.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        self : GDClassifier
            The updated estimator.
        """
        # _fit_context skips parameter validation once the estimator is
        # fitted; parameters may have changed since (set_params).
        self._validate_params()
        first_call = not hasattr(self, "_solver_state")
        if first_call and classes is None:
            raise ValueError(
                "classes must be passed on the first call to partial_fit "
                "(every label the model will see)."
            )
        if self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' needs the whole data set, which "
                "partial_fit never sees; pass a dict of weights computed once "
                "with sklearn.utils.class_weight.compute_class_weight."
            )
        return self._run(
            X,
            y,
            sample_weight,
            incremental=True,
            classes=classes if first_call else None,
        )

    @dask_aware
    def decision_function(self, X):
        """Decision values of the samples.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            For two classes, the score of the second class (positive means
            ``classes_[1]``); otherwise one score per class.
        """
        decision = self._decision(X)
        if decision.shape[1] == 1:
            return decision.ravel()
        return decision

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of ``predict(X)`` against ``y``.

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
            Weighted mean accuracy.
        """
        if is_dask_collection(X):
            from skgd._dask import score_dask

            check_is_fitted(self)
            return score_dask(self, X, y, sample_weight)
        return super().score(X, y, sample_weight=sample_weight)

    @dask_aware
    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels.
        """
        decision = self._decision(X)
        return self.classes_[self._decision_to_codes(decision)]

    @available_if(_has_proba)
    @dask_aware
    def predict_proba(self, X):
        """Class probabilities (``log_loss`` and ``modified_huber`` only).

        With ``log_loss`` these are the logistic (two classes) or softmax
        probabilities of the model. With ``modified_huber`` they are
        ``(clip(score, -1, 1) + 1) / 2`` per class, normalised over the
        classes (uniform where every score is at most -1).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class, in the order of ``classes_``.
        """
        check_is_fitted(self)
        decision = self._decision(X).astype(np.float64)
        if self.loss == "log_loss":
            if decision.shape[1] == 1:
                positive = expit(decision[:, 0])
                return np.column_stack([1.0 - positive, positive])
            return softmax(decision, axis=1)
        prob = (np.clip(decision, -1.0, 1.0) + 1.0) / 2.0
        if prob.shape[1] == 1:
            return np.column_stack([1.0 - prob[:, 0], prob[:, 0]])
        total = prob.sum(axis=1, keepdims=True)
        uniform = total[:, 0] == 0.0
        prob[uniform] = 1.0 / prob.shape[1]
        total[uniform] = 1.0
        return prob / total

    @available_if(_has_proba)
    @dask_aware
    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probability of each class.
        """
        if self.loss == "log_loss":
            # log(expit(d)) = -log(1 + exp(-d)) and log_softmax, in forms
            # that stay finite where a probability rounds to 0 or 1.
            decision = self._decision(X).astype(np.float64)
            if decision.shape[1] == 1:
                d = decision[:, 0]
                return np.column_stack([-np.logaddexp(0.0, d), -np.logaddexp(0.0, -d)])
            return log_softmax(decision, axis=1)
        # modified_huber gives exact zeros (scores at or below -1): their
        # logarithm is -inf.
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))
