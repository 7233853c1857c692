"""What GDRegressor and GDClassifier share: parameters, validation, the call
into the solver, and the fitted attributes."""

import functools
import sys
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from skgd._array_api import check_array_api_input
from skgd._callbacks import CallbackSupportMixin, start_fit_task
from skgd._doc_link import DocLinkMixin
from skgd._persistence import dump_state, load_state
from skgd._registry import OPTIMIZER_PARAMETERS, OPTIMIZERS, SCHEDULES
from skgd._solver import (
    SolverSpec,
    SolverState,
    solve,
)
from skgd._validation import StrictInterval, check_csr
from skgd.schedules import Schedule


def keeps_state_on_error(method):
    """Leave the estimator exactly as it was when `method` raises.

    Fitting sets attributes along the way (``n_features_in_`` during data
    validation, for instance); a fit that then fails on bad input or
    divergence restores every attribute, so a previously fitted model stays
    usable.  Arrays are never modified in place, so a shallow copy suffices.
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        saved = dict(self.__dict__)
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    return wrapper


class BaseGD(DocLinkMixin, CallbackSupportMixin, BaseEstimator):
    """Shared implementation; not for direct use."""

    _parameter_constraints: dict = {
        "penalty": [StrOptions({"l2", "l1", "elasticnet"}), None],
        "alpha": [StrictInterval(Real, 0, None, closed="left")],
        # None is allowed unless penalty="elasticnet" (checked in _spec), as
        # in scikit-learn's SGD estimators.
        "l1_ratio": [StrictInterval(Real, 0, 1, closed="both"), None],
        "fit_intercept": ["boolean"],
        "max_iter": [StrictInterval(Integral, 1, None, closed="left")],
        "tol": [StrictInterval(Real, 0, None, closed="left"), None],
        "shuffle": ["boolean"],
        "verbose": ["verbose"],
        "epsilon": [StrictInterval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "learning_rate": [
            StrOptions({*SCHEDULES, "auto", "line_search"}),
            Schedule,
        ],
        "eta0": [StrictInterval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "power_t": [StrictInterval(Real, None, None, closed="neither")],
        "early_stopping": ["boolean"],
        "validation_fraction": [StrictInterval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [StrictInterval(Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "average": [StrictInterval(Integral, 0, None, closed="left"), "boolean"],
        "batch_size": [
            StrOptions({"full"}),
            StrictInterval(Integral, 1, None, closed="left"),
        ],
        "optimizer": [StrOptions({*OPTIMIZERS, "auto"})],
        **{
            name: hyper.constraints
            for name, hyper in OPTIMIZER_PARAMETERS.items()
        },
        "precondition": ["boolean"],
    }

    # Whether y must be numeric (regression) or may hold any labels.
    _y_numeric = True

    # ------------------------------------------------------------------
    # Hooks the estimators fill in
    # ------------------------------------------------------------------

    def _solver_loss(self):
        """Name of the loss in skgd._registry.LOSSES."""
        return self.loss

    def _prepare_targets(self, y, X, *, reset):
        """Encode y for the kernel: returns (Y, target_kind, n_outputs)."""
        raise NotImplementedError

    def _validation_split(self, Y, sample_weight, rng):
        """Split row indices into (train_rows, validation_rows)."""
        raise NotImplementedError

    def _validation_scorer(self, Y, sample_weight, rows):
        """A function of the validation rows' decision values, higher is
        better."""
        raise NotImplementedError

    def _coef_attributes(self, W):
        """coef_ and intercept_, as a dict, from the solver's
        (n_outputs, n_features + 1) array."""
        raise NotImplementedError

    # ------------------------------------------------------------------
    # Shared machinery
    # ------------------------------------------------------------------

    def _spec(self, target_kind):
        penalty = self.penalty
        if penalty == "elasticnet" and self.l1_ratio is None:
            raise ValueError(
                "l1_ratio must be set when penalty='elasticnet': give a number "
                "between 0 (pure L2) and 1 (pure L1), or choose penalty='l1' "
                "or 'l2'."
            )
        if penalty is None:
            alpha, l1_ratio = 0.0, 0.0
        else:
            alpha = float(self.alpha)
            l1_ratio = {"l2": 0.0, "l1": 1.0}.get(penalty)
            if l1_ratio is None:
                l1_ratio = float(self.l1_ratio)
        if self.learning_rate == "optimal" and alpha == 0.0:
            raise ValueError(
                "learning_rate='optimal' needs a positive alpha with a penalty "
                "(its step is 1 / (alpha * (t0 + t))); set alpha > 0, or choose "
                "another learning_rate."
            )
        return SolverSpec(
            loss=self._solver_loss(),
            epsilon=float(self.epsilon),
            target_kind=target_kind,
            alpha=alpha,
            l1_ratio=l1_ratio,
            fit_intercept=bool(self.fit_intercept),
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            eta0=self.eta0,
            power_t=float(self.power_t),
            optimizer=self.optimizer,
            **{
                name: hyper.value(getattr(self, name))
                for name, hyper in OPTIMIZER_PARAMETERS.items()
            },
            max_iter=int(self.max_iter),
            tol=None if self.tol is None else float(self.tol),
            n_iter_no_change=int(self.n_iter_no_change),
            shuffle=bool(self.shuffle),
            average=self.average,
            verbose=int(self.verbose),
            precondition=bool(self.precondition),
        )

    # Dense data goes C-contiguous, sparse data CSR, both in float64 or
    # float32 (other dtypes become float64); nothing is copied when X is
    # already in one of these forms.
    _X_FORMAT = dict(accept_sparse="csr", dtype=[np.float64, np.float32], order="C")

    # A CSR matrix is checked before validate_data (whose conversions would
    # read malformed index arrays) and again if validate_data made a new one
    # (from another sparse format).
    def _validate_X(self, X, *, reset):
        check_array_api_input(self, X=X)
        X = check_csr(X)
        return check_csr(validate_data(self, X, reset=reset, **self._X_FORMAT))

    def _validate_X_y(self, X, y, *, reset):
        check_array_api_input(self, X=X, y=y)
        X = check_csr(X)
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            multi_output=True,
            y_numeric=self._y_numeric,
            **self._X_FORMAT,
        )
        return check_csr(X), y

    def _sample_weight(self, sample_weight, X):
        check_array_api_input(self, sample_weight=sample_weight)
        return _check_sample_weight(
            sample_weight, X, dtype=X.dtype, ensure_non_negative=True
        )

    def _initial_state(self, X, n_outputs, coef_init, intercept_init, seed):
        n_features = X.shape[1]
        state = SolverState.new(n_outputs, n_features, X.dtype, seed)
        if coef_init is not None:
            coef = np.asarray(coef_init, dtype=X.dtype)
            expected = (n_features,) if n_outputs == 1 else (n_outputs, n_features)
            if coef.shape not in (expected, (n_outputs, n_features)):
                raise ValueError(
                    f"coef_init has shape {coef.shape}; expected {expected} for "
                    f"this data ({n_outputs} output(s), {n_features} features)."
                )
            state.W[:, :-1] = coef.reshape(n_outputs, n_features)
        if intercept_init is not None:
            intercept = np.atleast_1d(np.asarray(intercept_init, dtype=X.dtype))
            if intercept.shape not in ((n_outputs,), (1,)) or (
                intercept.shape == (1,) and n_outputs != 1
            ):
                raise ValueError(
                    f"intercept_init has shape {intercept.shape}; expected "
                    f"({n_outputs},)."
                )
            if self.fit_intercept:
                state.W[:, -1] = intercept
        if not np.all(np.isfinite(state.W)):
            raise ValueError("coef_init and intercept_init must be finite.")
        return state

    def _resumable_state(self, X, n_outputs):
        """The fitted solver state to continue from, checked against X."""
        state = self._solver_state
        if state.W.shape != (n_outputs, X.shape[1] + 1):
            raise ValueError(
                f"Cannot continue training: the model has {state.W.shape[0]} "
                f"output(s) and {state.W.shape[1] - 1} features, the data "
                f"{n_outputs} and {X.shape[1]}. Fit from scratch instead "
                "(warm_start=False)."
            )
        state = state.copy()
        if state.W.dtype != X.dtype:
            # Continue in the precision of the new data.
            for name in ("W", "S1", "S2", "W_avg"):
                setattr(state, name, getattr(state, name).astype(X.dtype))
        return state

    def _run(
        self,
        X,
        y,
        sample_weight,
        *,
        coef_init=None,
        intercept_init=None,
        incremental=False,
        classes=None,
    ):
        """Validate, train and publish; shared by fit and partial_fit."""
        if is_dask_collection(X) or is_dask_collection(y):
            return self._run_dask(
                X,
                y,
                sample_weight,
                coef_init=coef_init,
                intercept_init=intercept_init,
                incremental=incremental,
                classes=classes,
            )
        first_call = not (incremental and hasattr(self, "_solver_state"))
        X, y = self._validate_X_y(X, y, reset=first_call)
        Y, target_kind, n_outputs = self._prepare_targets(
            y, X, reset=first_call, classes=classes
        )
        sample_weight_given = sample_weight
        sample_weight = np.ascontiguousarray(self._sample_weight(sample_weight, X))
        row_weights = self._row_weights(Y)
        if not (np.isscalar(row_weights) and row_weights == 1.0):
            # A new array: the caller's sample_weight is never modified.
            sample_weight = sample_weight * row_weights
        spec = self._spec(target_kind)

        resume = hasattr(self, "_solver_state") and (
            incremental or (self.warm_start and coef_init is None)
        )
        # Private generators seeded from random_state: one shuffles the rows
        # (carried over when training resumes), one draws the validation
        # split, so that an int random_state holds out the same rows in
        # every warm-started fit.
        shuffle_seed, split_seed = check_random_state(self.random_state).randint(
            np.iinfo(np.int32).max, size=2
        )
        if resume:
            state = self._resumable_state(X, n_outputs)
        else:
            state = self._initial_state(
                X,
                n_outputs,
                coef_init,
                intercept_init,
                shuffle_seed,
            )

        metadata = {} if sample_weight_given is None else {
            "sample_weight": sample_weight_given
        }
        reporter = start_fit_task(
            self,
            max_epochs=1 if incremental else spec.max_iter,
            X=X,
            y=y,
            metadata=metadata,
        )

        train_rows = validation_rows = scorer = None
        if self.early_stopping and not incremental:
            train_rows, validation_rows = self._validation_split(
                Y, sample_weight, np.random.RandomState(split_seed)
            )
            scorer = self._validation_scorer(Y, sample_weight, validation_rows)

        result = solve(
            X,
            Y,
            sample_weight,
            state,
            spec,
            train_rows=train_rows,
            validation_rows=validation_rows,
            score_validation=scorer,
            max_epochs=1 if incremental else None,
            reporter=reporter,
            warn_convergence=not incremental,
        )

        self._publish(result, resume=resume, incremental=incremental)
        if reporter is not None:
            reporter.fit_end()
        return self

    def _run_dask(
        self, X, y, sample_weight, *, coef_init, intercept_init, incremental, classes
    ):
        """Train on Dask collections: the work runs on the cluster (see
        skgd/_dask.py); the model is published as in memory."""
        from skgd._dask import fit_dask, warn_again

        shuffle_seed, _ = check_random_state(self.random_state).randint(
            np.iinfo(np.int32).max, size=2
        )
        caught = []
        try:
            # The drivers' warnings are worded for the caller but placed for
            # the in-memory call chain: hold them and issue them again from
            # here (the user's filters still apply while they are held, so
            # "error" raises in the driver as in memory).
            with warnings.catch_warnings(record=True) as caught:
                result, resume, reporter = fit_dask(
                    self,
                    X,
                    y,
                    sample_weight,
                    incremental=incremental,
                    classes=classes,
                    coef_init=coef_init,
                    intercept_init=intercept_init,
                    shuffle_seed=shuffle_seed,
                )
        finally:
            # _run_dask <- _run <- fit <- _fit_context <- keeps_state_on_error
            # <- the caller's line.
            warn_again(caught, stacklevel=6)
        self._publish(result, resume=resume, incremental=incremental)
        if reporter is not None:
            reporter.fit_end()
        return self

    def _publish(self, result, *, resume, incremental):
        """Set the fitted attributes from a solver result."""
        keep_history = resume and hasattr(self, "loss_curve_")
        self._solver_state = result.state
        for name, value in self._coef_attributes(result.W).items():
            setattr(self, name, value)
        self.eta0_ = result.state.eta0
        self.eta_ = result.state.eta
        self.t_ = result.state.t
        previous_epochs = self.n_iter_ if keep_history else 0
        self.n_iter_ = previous_epochs + result.n_iter
        previous_curve = list(self.loss_curve_) if keep_history else []
        self.loss_curve_ = previous_curve + result.loss_curve
        self.best_loss_ = float(np.min(self.loss_curve_))
        if self.early_stopping and not incremental:
            previous_scores = (
                list(self.validation_scores_)
                if keep_history and self.validation_scores_ is not None
                else []
            )
            self.validation_scores_ = previous_scores + result.validation_scores
            self.best_validation_score_ = float(np.max(self.validation_scores_))
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _row_weights(self, Y):
        """Per-row factors multiplied into sample_weight (class weights)."""
        return 1.0

    def _decision(self, X):
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        coef = self.coef_
        W = coef.reshape(-1, X.shape[1]) if coef.ndim == 1 else coef
        return safe_sparse_dot(X, W.T.astype(X.dtype, copy=False)) + np.asarray(
            self.intercept_, dtype=X.dtype
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # Pickling: a format and skgd version, and the solver state as plain
    # arrays and numbers (see skgd/_persistence.py).
    def __getstate__(self):
        return dump_state(super().__getstate__())

    def __setstate__(self, state):
        super().__setstate__(load_state(type(self).__name__, state))


def is_dask_collection(obj):
    """Whether ``obj`` is a Dask collection, without importing Dask: if no
    module imported Dask, nothing in this process can be one."""
    if "dask" not in sys.modules:
        return False
    from dask.base import is_dask_collection as _is_dask_collection

    return _is_dask_collection(obj)


def dask_aware(method):
    """Let a prediction method take a Dask collection: it then returns a
    lazy Dask collection computed chunk by chunk on the cluster by the same
    method (skgd/_dask.py)."""

    @functools.wraps(method)
    def wrapper(self, X, *args, **kwargs):
        if is_dask_collection(X):
            from skgd._dask import predict_dask

            check_is_fitted(self)
            return predict_dask(self, method.__name__, X)
        return method(self, X, *args, **kwargs)

    return wrapper


def as_row_index(mask_or_index):
    """Row indices as a C-contiguous intp array (the kernel's type)."""
    return np.ascontiguousarray(np.asarray(mask_or_index, dtype=np.intp))

