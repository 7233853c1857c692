"""scikit-learn's callback API (``sklearn.callback``) on both estimators.

A fit is one task with one subtask per epoch.  The models handed to the
hooks are checked against a plain NumPy run of full-batch gradient descent
(rows in order, constant step), and the scores ScoringMonitor logs against
scikit-learn's own metrics.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skgd import GDClassifier, GDRegressor

callback = pytest.importorskip("sklearn.callback")
pytest.importorskip("rich")
pytest.importorskip("pandas")
ProgressBar = callback.ProgressBar
ScoringMonitor = callback.ScoringMonitor

ETA = 0.05
ALPHA = 1e-3


# --------------------------------------------------------------------------
# Data and reference
# --------------------------------------------------------------------------


def regression_data():
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return X, (y - y.mean()) / y.std()


def classification_data():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def reference_iterates(X, y, n_epochs, *, classifier):
    """[(coef, intercept)] after 0, 1, ..., n_epochs full-batch steps of
    w <- (1 - eta alpha) w - eta grad, b <- b - eta grad_b, for the mean
    squared error / 2 (regressor) or the mean logistic loss on +-1 labels
    (classifier, positive class 1)."""
    n, d = X.shape
    w, b = np.zeros(d), 0.0
    t = np.where(y == 1, 1.0, -1.0)
    out = [(w.copy(), b)]
    for _ in range(n_epochs):
        p = X @ w + b
        deriv = -t * expit(-t * p) if classifier else p - y
        w = (1 - ETA * ALPHA) * w - ETA * (X.T @ deriv) / n
        b = b - ETA * deriv.mean()
        out.append((w.copy(), b))
    return out


def make_estimator(classifier, **params):
    # The plain rule with the given step, without preconditioning: the
    # epochs these tests count and compare are the textbook iteration's.
    params = {
        "eta0": ETA, "alpha": ALPHA, "optimizer": "sgd",
        "learning_rate": "constant", "precondition": False, **params,
    }  # fmt: skip
    return GDClassifier(**params) if classifier else GDRegressor(**params)


def data_for(classifier):
    return classification_data() if classifier else regression_data()


# The default full-batch training, for the tests of stopping by tol.
DEFAULT_RULES = dict(optimizer="auto", learning_rate="auto", precondition=True)

CASES = pytest.mark.parametrize("classifier", [False, True], ids=["reg", "clf"])


class Recorder:
    """A FitCallback that records every hook call and, for the epochs, the
    decision values of the model it is handed."""

    def __init__(self, X=None, stop_after=None):
        self.X_eval = X
        self.stop_after = stop_after
        self.calls = []

    def setup(self, estimator, context):
        self.calls.append(("setup", context.task_name))

    def teardown(self, estimator, context):
        self.calls.append(("teardown", context.task_name))

    def _record(self, hook, estimator, context, fitted_estimator):
        decision = None
        if fitted_estimator is not None and self.X_eval is not None:
            if hasattr(fitted_estimator, "decision_function"):
                decision = fitted_estimator.decision_function(self.X_eval)
            else:
                decision = fitted_estimator.predict(self.X_eval)
        self.calls.append(
            (
                hook,
                context.task_name,
                context.task_id,
                estimator.__class__.__name__,
                decision,
            )
        )

    def on_fit_task_begin(
        self, estimator, context, *, X=None, y=None, metadata=None,
        fitted_estimator=None,
    ):  # fmt: skip
        self._record("begin", estimator, context, fitted_estimator)

    def on_fit_task_end(
        self, estimator, context, *, X=None, y=None, metadata=None,
        fitted_estimator=None,
    ):  # fmt: skip
        self._record("end", estimator, context, fitted_estimator)
        return (
            self.stop_after is not None
            and context.task_name == "epoch"
            and context.task_id + 1 == self.stop_after
        )

    def epochs(self, hook, estimator_name=None):
        return [
            c
            for c in self.calls
            if c[0] == hook
            and c[1] == "epoch"
            and (estimator_name is None or c[3] == estimator_name)
        ]


class PropagatedRecorder(Recorder):
    """The same recorder, handed down from a meta-estimator to its steps."""

    max_propagation_depth = None


def test_recorders_follow_the_protocol():
    assert isinstance(Recorder(), callback.FitCallback)
    assert isinstance(PropagatedRecorder(), callback.AutoPropagatedCallback)


# --------------------------------------------------------------------------
# ProgressBar
# --------------------------------------------------------------------------


@CASES
def test_progress_bar_runs_through_fit(classifier):
    X, y = data_for(classifier)
    plain = make_estimator(classifier, max_iter=30, tol=None).fit(X, y)
    est = make_estimator(classifier, max_iter=30, tol=None)
    assert est.set_callbacks(ProgressBar()) is est
    est.fit(X, y)
    assert est.n_iter_ == 30
    # Reporting progress changes nothing in the model.
    assert_array_equal(est.coef_, plain.coef_)
    assert_array_equal(est.intercept_, plain.intercept_)
    # The callback stays attached: a second fit runs through it as well.
    est.fit(X, y)
    assert_array_equal(est.coef_, plain.coef_)


@CASES
def test_progress_bar_with_default_stopping_and_partial_fit(classifier):
    X, y = data_for(classifier)
    est = make_estimator(classifier, eta0="auto", tol=1e-3, **DEFAULT_RULES)
    est.set_callbacks(ProgressBar()).fit(X, y)
    assert 1 <= est.n_iter_ < est.max_iter
    kwargs = {"classes": np.unique(y)} if classifier else {}
    fresh = make_estimator(classifier).set_callbacks(ProgressBar())
    fresh.partial_fit(X, y, **kwargs)
    fresh.partial_fit(X, y)
    assert fresh.t_ == 2


def test_progress_bar_through_a_pipeline():
    X, y = load_diabetes(return_X_y=True)
    y = (y - y.mean()) / y.std()
    X = X * 10.0 + 3.0
    plain = make_pipeline(StandardScaler(), GDRegressor(max_iter=25, tol=None))
    plain.fit(X, y)
    pipe = make_pipeline(StandardScaler(), GDRegressor(max_iter=25, tol=None))
    recorder = PropagatedRecorder()
    pipe.set_callbacks(ProgressBar(max_propagation_depth=None), recorder)
    pipe.fit(X, y)
    assert_array_equal(pipe.predict(X), plain.predict(X))
    final = pipe[-1]
    assert final.n_iter_ == 25
    # The regressor's epochs appear as subtasks of the pipeline's run.
    begins = recorder.epochs("begin", "GDRegressor")
    ends = recorder.epochs("end", "GDRegressor")
    assert len(begins) == len(ends) == final.n_iter_
    assert [c[2] for c in ends] == list(range(final.n_iter_))
    # Setup and teardown once, by the outermost estimator.
    assert [c for c in recorder.calls if c[0] in ("setup", "teardown")] == [
        ("setup", "fit"),
        ("teardown", "fit"),
    ]


# --------------------------------------------------------------------------
# The task structure, seen by a recording callback
# --------------------------------------------------------------------------


@CASES
def test_one_subtask_per_epoch(classifier):
    X, y = data_for(classifier)
    recorder = Recorder()
    est = make_estimator(
        classifier, eta0="auto", tol=1e-3, max_iter=500, **DEFAULT_RULES
    )
    est.set_callbacks(recorder).fit(X, y)
    n_iter = est.n_iter_
    # Stopped by tol, so the count is the epochs run, not max_iter.
    assert 1 < n_iter < 500
    begins, ends = recorder.epochs("begin"), recorder.epochs("end")
    assert len(begins) == len(ends) == n_iter
    assert [c[2] for c in begins] == list(range(n_iter))
    assert [c[2] for c in ends] == list(range(n_iter))
    kinds = [c[:2] for c in recorder.calls]
    assert kinds[:2] == [("setup", "fit"), ("begin", "fit")]
    assert kinds[-2:] == [("end", "fit"), ("teardown", "fit")]
    # Epochs nest inside the fit task, each begun before it ends.
    middle = kinds[2:-2]
    assert middle == [("begin", "epoch"), ("end", "epoch")] * n_iter


@CASES
def test_partial_fit_is_one_epoch_task(classifier):
    X, y = data_for(classifier)
    recorder = Recorder()
    est = make_estimator(classifier).set_callbacks(recorder)
    kwargs = {"classes": np.unique(y)} if classifier else {}
    est.partial_fit(X, y, **kwargs)
    est.partial_fit(X, y)
    assert len(recorder.epochs("end")) == 2
    assert [c[:2] for c in recorder.calls if c[0] == "setup"] == [("setup", "fit")] * 2


@CASES
def test_fitted_estimator_holds_the_model_of_its_epoch(classifier):
    X, y = data_for(classifier)
    n_epochs = 8
    recorder = Recorder(X=X)
    est = make_estimator(classifier, max_iter=n_epochs, tol=None)
    est.set_callbacks(recorder).fit(X, y)
    iterates = reference_iterates(X, y, n_epochs, classifier=classifier)
    begins, ends = recorder.epochs("begin"), recorder.epochs("end")
    assert len(begins) == len(ends) == n_epochs
    for e in range(n_epochs):
        # Begin of epoch e: the model after e updates; end: after e + 1.
        for calls, k in ((begins, e), (ends, e + 1)):
            w, b = iterates[k]
            assert_allclose(calls[e][4], X @ w + b, rtol=1e-10, atol=1e-12)
    # The estimator being fitted is not touched by the snapshots.
    w, b = iterates[-1]
    assert_allclose(np.ravel(est.coef_), w, rtol=1e-10, atol=1e-12)
    assert_allclose(np.ravel(est.intercept_), [b], rtol=1e-10, atol=1e-12)


@CASES
@pytest.mark.parametrize("stop_after", [1, 4])
def test_callback_returning_true_stops_after_that_epoch(classifier, stop_after):
    X, y = data_for(classifier)
    recorder = Recorder(stop_after=stop_after)
    est = make_estimator(classifier, max_iter=50, tol=None)
    est.set_callbacks(recorder).fit(X, y)
    assert est.n_iter_ == stop_after
    assert est.t_ == stop_after
    assert len(est.loss_curve_) == stop_after
    assert len(recorder.epochs("end")) == stop_after
    w, b = reference_iterates(X, y, stop_after, classifier=classifier)[-1]
    assert_allclose(np.ravel(est.coef_), w, rtol=1e-10, atol=1e-12)
    assert_allclose(np.ravel(est.intercept_), [b], rtol=1e-10, atol=1e-12)


@CASES
def test_stop_by_callback_is_not_reported_as_max_iter_reached(classifier):
    # Training stopped on request at epoch 3 of 1000: a warning that the
    # maximum number of epochs was reached would be false.
    X, y = data_for(classifier)
    est = make_estimator(classifier, max_iter=1000, tol=1e-4)
    est.set_callbacks(Recorder(stop_after=3))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X, y)
    assert est.n_iter_ == 3


# --------------------------------------------------------------------------
# ScoringMonitor
# --------------------------------------------------------------------------


@CASES
def test_scoring_monitor_logs_one_score_per_epoch(classifier):
    X, y = data_for(classifier)
    scoring = "accuracy" if classifier else "r2"
    metric = accuracy_score if classifier else r2_score
    monitor = ScoringMonitor(scoring=scoring)
    n_epochs = 12
    est = make_estimator(classifier, max_iter=n_epochs, tol=None)
    est.set_callbacks(monitor).fit(X, y)
    rows = [r for r in monitor.get_logs().data if r["task_name"] == "epoch"]
    assert len(rows) == est.n_iter_ == n_epochs
    assert [r["task_id"] for r in rows] == list(range(n_epochs))
    scores = [r[scoring] for r in rows]
    # The score of each epoch's model on the training data.
    iterates = reference_iterates(X, y, n_epochs, classifier=classifier)
    for e, (w, b) in enumerate(iterates[1:]):
        decision = X @ w + b
        pred = (decision > 0).astype(int) if classifier else decision
        assert scores[e] == pytest.approx(metric(y, pred), rel=1e-10)
    # The last epoch's score is that of the returned model.
    assert scores[-1] == pytest.approx(metric(y, est.predict(X)), rel=1e-12)
    if not classifier:
        assert np.all(np.diff(scores) > 0)


def test_scoring_monitor_with_early_convergence_and_a_dataframe():
    X, y = regression_data()
    monitor = ScoringMonitor(scoring="r2")
    est = GDRegressor(tol=1e-3).set_callbacks(monitor).fit(X, y)
    frame = monitor.get_logs().data_as_pandas
    epochs = frame[frame["task_name"] == "epoch"]
    assert len(epochs) == est.n_iter_ < est.max_iter
    assert epochs["r2"].iloc[-1] == pytest.approx(
        r2_score(y, est.predict(X)), rel=1e-12
    )


def test_scoring_monitor_one_run_per_fit():
    X, y = regression_data()
    monitor = ScoringMonitor(scoring="r2")
    est = GDRegressor(max_iter=5, tol=None).set_callbacks(monitor)
    est.fit(X, y)
    est.set_params(max_iter=7).fit(X, y)
    runs = monitor.get_logs(select="all")
    assert len(runs) == 2
    counts = [sum(r["task_name"] == "epoch" for r in run.data) for run in runs]
    assert counts == [5, 7]
