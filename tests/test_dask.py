"""Dask collections on a real cluster: a ``distributed.LocalCluster`` with two
worker processes, started and stopped by this module.

References are computed without the Dask path: the same estimator fitted
in memory on the same rows (for the streamed epochs, chunk by chunk with
``partial_fit``, which visits the rows exactly as one streamed epoch does),
NumPy products of the fitted coefficients, scikit-learn's metrics and model
selection run in memory, and the in-memory gradient oracle.
"""

import inspect
import subprocess
import sys
import threading
import time
import warnings

import dask
import dask.array as da
import dask.dataframe as dd
import joblib
import numpy as np
import pandas as pd
import psutil
import pytest
import scipy.sparse as sp
from dask_ml.model_selection import IncrementalSearchCV
from dask_ml.wrappers import Incremental
from distributed import Client, LocalCluster
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, softmax
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss, r2_score
from sklearn.model_selection import GridSearchCV
from sklearn.utils.class_weight import compute_class_weight

from skgd import GDClassifier, GDRegressor
from skgd._dask import DaskOracle
from skgd._oracle import InMemoryOracle
from skgd._solver import LOSSES, TARGET_MULTINOMIAL, TARGET_ONE_VS_REST, TARGET_REAL

pytestmark = pytest.mark.slow

# Each worker's memory limit; the out-of-core test streams more than this.
# A worker holds about 240 MB with skgd and scikit-learn imported and
# grows to nearly 400 MB over this module's tests (Dask's DataFrame
# support, scikit-learn's metrics): below about 2.5 times that, the
# worker's pause threshold (80 % of the limit) stops it from running any
# task, and the tests would wait forever.
WORKER_MEMORY = 1024 * 2**20


@pytest.fixture(scope="module")
def client():
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        memory_limit=WORKER_MEMORY,
        dashboard_address=None,
    )
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def classification(n=4000, d=6, n_classes=2, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    scores = X @ rng.randn(d, n_classes) + 0.5 * rng.randn(n, n_classes)
    y = np.argmax(scores, axis=1) if n_classes > 2 else (scores[:, 0] > 0).astype(int)
    return X, y


def regression(n=4000, d=6, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    y = X @ rng.randn(d) + 2.0 + 0.3 * rng.randn(n)
    return X, y


def chunks_of(a, size):
    return [a[i : i + size] for i in range(0, a.shape[0], size)]


# ----------------------------------------------------------------------
# Import on demand
# ----------------------------------------------------------------------


def test_in_memory_use_imports_no_dask():
    code = (
        "import sys, numpy as np\n"
        "import skgd\n"
        "X = np.random.RandomState(0).randn(50, 3)\n"
        "skgd.GDClassifier().fit(X, X[:, 0] > 0).predict(X)\n"
        "skgd.GDRegressor(batch_size=8).fit(X, X[:, 1]).score(X, X[:, 1])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('dask', 'distributed', 'dask_ml')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


# ----------------------------------------------------------------------
# Prediction and scoring
# ----------------------------------------------------------------------


def test_predictions_are_lazy_and_match_numpy(client):
    X, y = classification(n_classes=3)
    model = GDClassifier(max_iter=30, tol=None).fit(X, y)
    dX = da.from_array(X, chunks=(700, 3))  # split columns too
    scores = X @ model.coef_.T + model.intercept_

    outputs = {
        "decision_function": scores,
        "predict": model.classes_[np.argmax(scores, axis=1)],
        "predict_proba": softmax(scores, axis=1),
        "predict_log_proba": np.log(softmax(scores, axis=1)),
    }
    for method, expected in outputs.items():
        lazy = getattr(model, method)(dX)
        assert isinstance(lazy, da.Array), method
        assert lazy.chunks[0] == dX.chunks[0]
        assert_allclose(lazy.compute(), expected, rtol=1e-10, atol=1e-12)


def test_dataframe_in_gives_series_or_array_out(client):
    X, y = classification()
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    model = GDClassifier(max_iter=30, tol=None).fit(frame, y)
    dframe = dd.from_pandas(frame, npartitions=3)

    labels = model.predict(dframe)
    assert isinstance(labels, dd.Series)
    assert_array_equal(labels.compute().to_numpy(), model.predict(frame))
    decision = model.decision_function(dframe)
    assert isinstance(decision, dd.Series)
    assert_allclose(
        decision.compute().to_numpy(), X @ model.coef_[0] + model.intercept_[0]
    )
    proba = model.predict_proba(dframe)
    assert isinstance(proba, da.Array)
    positive = expit(X @ model.coef_[0] + model.intercept_[0])
    assert_allclose(proba.compute(), np.column_stack([1 - positive, positive]))


def test_score_is_computed_on_the_cluster(client):
    X, y = classification(n_classes=3)
    weights = np.random.RandomState(1).uniform(0.1, 2.0, X.shape[0])
    classifier = GDClassifier(max_iter=20, tol=None).fit(X, y)
    dX = da.from_array(X, chunks=900)
    assert classifier.score(dX, da.from_array(y, chunks=900)) == pytest.approx(
        accuracy_score(y, classifier.predict(X)), rel=1e-12
    )
    assert classifier.score(dX, y, sample_weight=weights) == pytest.approx(
        accuracy_score(y, classifier.predict(X), sample_weight=weights), rel=1e-12
    )

    Xr, yr = regression()
    Y2 = np.column_stack([yr, 3.0 * yr + 1e4])  # a large mean: a stable merge
    regressor = GDRegressor(max_iter=50, tol=None).fit(Xr, Y2)
    dXr = da.from_array(Xr, chunks=700)
    assert regressor.score(
        dXr, da.from_array(Y2, chunks=(700, 1)), sample_weight=weights
    ) == pytest.approx(
        r2_score(Y2, regressor.predict(Xr), sample_weight=weights), rel=1e-10
    )


# ----------------------------------------------------------------------
# Streamed stochastic training
# ----------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_streamed_epoch_visits_chunks_like_partial_fit(client, optimizer):
    # Without shuffling, one streamed epoch trains on the chunks in order,
    # each in batches of its own: exactly in-memory partial_fit chunk by
    # chunk.
    X, y = regression(n=3000)
    params = dict(batch_size=32, shuffle=False, optimizer=optimizer, tol=None)
    streamed = GDRegressor(max_iter=1, **params).fit(
        da.from_array(X, chunks=700), da.from_array(y, chunks=700)
    )
    reference = GDRegressor(**params)
    for Xc, yc in zip(chunks_of(X, 700), chunks_of(y, 700)):
        reference.partial_fit(Xc, yc)
    assert_allclose(streamed.coef_, reference.coef_, rtol=1e-12, atol=1e-14)
    assert_allclose(streamed.intercept_, reference.intercept_, rtol=1e-12)
    assert streamed.t_ == reference.t_ == sum(-(-n // 32) for n in (700,) * 4 + (200,))


@pytest.mark.parametrize("kind", ["float32", "csr"])
def test_streamed_float32_and_csr_chunks(client, kind):
    X, y = classification(n=2000)
    if kind == "float32":
        X = X.astype(np.float32)
        dX = da.from_array(X, chunks=500)
        chunks = chunks_of(X, 500)
    else:
        X[np.random.RandomState(1).rand(*X.shape) < 0.7] = 0.0
        dX = da.from_array(X, chunks=500).map_blocks(
            sp.csr_matrix, dtype=X.dtype, meta=sp.csr_matrix((0, 0))
        )
        chunks = [sp.csr_matrix(c) for c in chunks_of(X, 500)]
    params = dict(batch_size=16, shuffle=False, tol=None, random_state=0)
    streamed = GDClassifier(max_iter=1, **params).fit(dX, da.from_array(y, chunks=500))
    reference = GDClassifier(**params)
    for Xc, yc in zip(chunks, chunks_of(y, 500)):
        reference.partial_fit(Xc, yc, classes=[0, 1])
    assert streamed.coef_.dtype == X.dtype
    assert_allclose(streamed.coef_, reference.coef_, rtol=1e-12)
    scores = np.asarray(X @ streamed.coef_[0] + streamed.intercept_[0]).ravel()
    assert_allclose(
        streamed.decision_function(dX).compute(), scores, rtol=1e-5, atol=1e-5
    )


def test_single_chunk_stream_equals_in_memory_fit(client):
    # One chunk: the same row shuffles, the same automatic step, the same
    # batches as in memory, epoch after epoch.
    X, y = classification(n_classes=3, n=1500)
    weights = np.random.RandomState(2).uniform(0.5, 2.0, X.shape[0])
    params = dict(batch_size=16, max_iter=4, tol=None, random_state=3)
    streamed = GDClassifier(**params).fit(
        da.from_array(X, chunks=-1),
        da.from_array(y, chunks=-1),
        sample_weight=da.from_array(weights, chunks=-1),
    )
    in_memory = GDClassifier(**params).fit(X, y, sample_weight=weights)
    assert_allclose(streamed.coef_, in_memory.coef_, rtol=1e-12, atol=1e-14)
    assert_allclose(streamed.loss_curve_, in_memory.loss_curve_, rtol=1e-12)
    assert streamed.eta0_ == in_memory.eta0_


def test_streamed_fit_learns_like_in_memory(client):
    X, y = classification(n=20000, d=10)
    # Persisted: the chunks already live on the workers.
    dX, dy = dask.persist(da.from_array(X, chunks=2500), da.from_array(y, chunks=2500))
    model = GDClassifier(batch_size=64, max_iter=5, tol=None, random_state=0)
    model.fit(dX, dy)
    best = LogisticRegression().fit(X, y).score(X, y)
    assert model.score(dX, dy) > best - 0.01
    assert model.n_iter_ == 5 and len(model.loss_curve_) == 5
    # A shuffled chunk order and row order: reproducible from random_state.
    again = GDClassifier(batch_size=64, max_iter=5, tol=None, random_state=0)
    assert_array_equal(again.fit(dX, dy).coef_, model.coef_)


def test_partial_fit_on_dask_is_one_epoch_over_its_chunks(client):
    X, y = classification(n=3000)
    dX = da.from_array(X, chunks=1000)
    dy = da.from_array(y, chunks=1000)
    model = GDClassifier(batch_size=100, random_state=0)
    model.partial_fit(dX, dy, classes=[0, 1])
    assert model.n_iter_ == 1 and model.t_ == 30
    model.partial_fit(dX, dy)
    assert model.n_iter_ == 2 and model.t_ == 60


def test_balanced_class_weight_counts_on_the_cluster(client):
    X, y = classification(n=1200, n_classes=3)
    y[y == 0] = 1  # unbalanced: class 0 only in the original argmax ties
    y[:100] = 0
    expected = dict(
        zip([0, 1, 2], compute_class_weight("balanced", classes=np.arange(3), y=y))
    )
    params = dict(batch_size=20, max_iter=2, tol=None, random_state=0)
    streamed = GDClassifier(class_weight="balanced", **params).fit(
        da.from_array(X, chunks=-1), da.from_array(y, chunks=-1)
    )
    in_memory = GDClassifier(class_weight=expected, **params).fit(X, y)
    assert_allclose(streamed.coef_, in_memory.coef_, rtol=1e-12, atol=1e-14)


def test_dataframe_fit_keeps_feature_names(client):
    X, y = regression(n=2000)
    frame = pd.DataFrame(X, columns=list("abcdef"))
    dframe = dd.from_pandas(frame, npartitions=4)
    dy = dd.from_pandas(pd.Series(y), npartitions=4)
    model = GDRegressor(batch_size=32, max_iter=3, tol=None).fit(dframe, dy)
    assert list(model.feature_names_in_) == list("abcdef")
    assert model.n_features_in_ == 6
    assert model.score(dframe, dy) > 0.95


def test_bad_dask_input_errors_and_keeps_the_model(client):
    X, y = regression(n=1000)
    model = GDRegressor(batch_size=10, max_iter=2, tol=None).fit(X, y)
    coef = model.coef_.copy()
    dX = da.from_array(X, chunks=250)
    with pytest.raises(ValueError, match="same number of rows"):
        model.fit(dX, da.from_array(y[:-1], chunks=250))
    bad = X.copy()
    bad[600, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.fit(da.from_array(bad, chunks=250), da.from_array(y, chunks=250))
    with pytest.raises(ValueError, match="early_stopping"):
        GDRegressor(batch_size=10, early_stopping=True).fit(dX, y)
    assert_array_equal(model.coef_, coef)


def _full_batch_problem(case):
    """In-memory data, its Dask counterpart in chunks of 400 rows (the last
    one shorter), the estimator class and sample weights."""
    rng = np.random.RandomState(4)
    weights = rng.uniform(0.2, 2.0, 1500)
    if case == "regressor":
        X, y = regression(n=1500)
        estimator = GDRegressor
    else:
        X, y = classification(n=1500, n_classes=3 if case == "multinomial" else 2)
        estimator = GDClassifier
    if case == "float32":
        X = X.astype(np.float32)
    dX = da.from_array(X, chunks=400)
    if case == "csr":
        X[rng.rand(*X.shape) < 0.6] = 0.0
        dX = da.from_array(X, chunks=400).map_blocks(
            sp.csr_matrix, dtype=X.dtype, meta=sp.csr_matrix((0, 0))
        )
        X = sp.csr_matrix(X)
    dy = da.from_array(y, chunks=400)
    dw = da.from_array(weights, chunks=400)
    return estimator, (X, y, weights), (dX, dy, dw)


def _log_objective(model, X, y, sample_weight, alpha):
    """The classifier's objective in float64: the weighted mean log loss
    plus alpha / 2 ||coef||^2."""
    proba = model.predict_proba(X.astype(np.float64))
    coef = np.asarray(model.coef_, dtype=np.float64)
    penalty = 0.5 * alpha * float(np.sum(coef**2))
    return log_loss(y, proba, sample_weight=sample_weight) + penalty


def _assert_same_fit(on_dask, in_memory, rtol, data=None):
    # The same driver asks the same questions of the data; only the order
    # of the float64 additions of the chunks' sums differs, so the iterates
    # agree to rounding, not bitwise.
    assert on_dask.coef_.dtype == in_memory.coef_.dtype
    scale = np.abs(in_memory.coef_).max()
    if on_dask.coef_.dtype == np.float32:
        # float32 gradients are summed in float32, in blocks in memory and
        # by chunk on Dask, so the two runs part at float32's rounding: the
        # epochs before the objective nears its float32 floor agree to
        # float32 precision, then the line search's decisions differ and
        # each run stops where its own rule says (tol, or the floor of the
        # float32 gradient).  Both must then be optimal to float32's
        # resolution of the objective.  How far apart that leaves their
        # coefficients depends on the conditioning and on the CPU's rounding
        # (up to 7e-4 relative on this data), so the objective, not the
        # coefficients, is compared, against scikit-learn's float64
        # solution of the same problem.
        n = min(on_dask.n_iter_, in_memory.n_iter_, 8)
        assert_allclose(on_dask.loss_curve_[:n], in_memory.loss_curve_[:n], rtol=rtol)
        X, y, w = data
        alpha = in_memory.alpha
        reference = LogisticRegression(
            C=1.0 / (alpha * w.sum()), tol=1e-12, max_iter=10_000
        ).fit(X.astype(np.float64), y, sample_weight=w)
        f_star = _log_objective(reference, X, y, w, alpha)
        for model in (in_memory, on_dask):
            gap = (_log_objective(model, X, y, w, alpha) - f_star) / f_star
            assert gap <= 16 * np.finfo(np.float32).eps
        return
    assert_allclose(on_dask.coef_, in_memory.coef_, rtol=rtol, atol=rtol * scale)
    assert_allclose(
        on_dask.intercept_, in_memory.intercept_, rtol=rtol, atol=rtol * scale
    )
    assert on_dask.n_iter_ == in_memory.n_iter_
    assert on_dask.t_ == in_memory.t_
    assert on_dask.eta0_ == pytest.approx(in_memory.eta0_, rel=rtol)
    assert_allclose(on_dask.loss_curve_, in_memory.loss_curve_, rtol=rtol)


@pytest.mark.parametrize(
    "case", ["regressor", "binary", "multinomial", "float32", "csr"]
)
def test_default_full_batch_on_dask_equals_in_memory(client, case):
    # Defaults: preconditioning, Nesterov with restart, line search, the
    # gradient-mapping stopping rule.
    estimator, (X, y, w), (dX, dy, dw) = _full_batch_problem(case)
    in_memory = estimator(random_state=0).fit(X, y, sample_weight=w)
    on_dask = estimator(random_state=0).fit(dX, dy, sample_weight=dw)
    # float32 models keep float32 iterates: equal to float32's precision.
    _assert_same_fit(
        on_dask, in_memory, 1e-5 if case == "float32" else 1e-10, data=(X, y, w)
    )
    assert in_memory.n_iter_ < in_memory.max_iter  # converged, not cut off


FULL_BATCH_RULES = {
    # The textbook iteration: plain steps of 1/L on the raw features (the
    # power iteration on the cluster), a fixed number of epochs.
    "textbook": dict(
        optimizer="sgd", learning_rate="constant", precondition=False,
        max_iter=40, tol=None,
    ),
    # Plain steps with the backtracking search, preconditioned.
    "line_search": dict(optimizer="sgd", learning_rate="line_search"),
    # The kernel's per-coordinate rules on the full batch.
    "adam": dict(optimizer="adam", max_iter=30, tol=None),
}  # fmt: skip


@pytest.mark.parametrize("rule", list(FULL_BATCH_RULES))
@pytest.mark.parametrize("case", ["regressor", "multinomial"])
def test_full_batch_rules_on_dask_equal_in_memory(client, case, rule):
    estimator, (X, y, w), (dX, dy, dw) = _full_batch_problem(case)
    params = dict(FULL_BATCH_RULES[rule], random_state=0)
    in_memory = estimator(**params).fit(X, y, sample_weight=w)
    on_dask = estimator(**params).fit(dX, dy, sample_weight=dw)
    _assert_same_fit(on_dask, in_memory, 1e-10)


def test_full_batch_partial_fit_and_warm_start_on_dask(client):
    # One full-batch epoch per partial_fit call, resumed from the kept
    # state (momentum sequence, last accepted step), as in memory.
    estimator, (X, y, w), (dX, dy, dw) = _full_batch_problem("binary")
    in_memory = estimator(random_state=0)
    on_dask = estimator(random_state=0)
    for _ in range(3):
        in_memory.partial_fit(X, y, sample_weight=w, classes=[0, 1])
        on_dask.partial_fit(dX, dy, sample_weight=dw, classes=[0, 1])
    _assert_same_fit(on_dask, in_memory, 1e-10)
    assert on_dask.n_iter_ == 3


def test_batch_as_large_as_the_data_is_the_full_batch_on_dask(client):
    estimator, (X, y, w), (dX, dy, dw) = _full_batch_problem("regressor")
    full = estimator(random_state=0).fit(X, y, sample_weight=w)
    on_dask = estimator(batch_size=X.shape[0], random_state=0).fit(
        dX, dy, sample_weight=dw
    )
    _assert_same_fit(on_dask, full, 1e-10)


def test_streamed_defaults_on_dask(client):
    # optimizer, learning_rate and momentum "auto" resolve to the
    # stochastic choices (plain constant steps) when chunks stream.
    X, y = regression(n=2000)
    params = dict(batch_size=32, shuffle=False, max_iter=1, tol=None)
    streamed = GDRegressor(**params).fit(
        da.from_array(X, chunks=500), da.from_array(y, chunks=500)
    )
    reference = GDRegressor(
        optimizer="sgd", learning_rate="constant", momentum=0.9, **params
    )
    for Xc, yc in zip(chunks_of(X, 500), chunks_of(y, 500)):
        reference.partial_fit(Xc, yc)
    assert_allclose(streamed.coef_, reference.coef_, rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------------
# Warnings and callbacks: as in memory
# ----------------------------------------------------------------------


def _fit_cut_off(estimator, params, dX, dy):
    """Fit on Dask data with a max_iter too small to converge; the
    warnings it issued."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator(**params).fit(dX, dy)  # the line the warning must name
    return [w for w in caught if issubclass(w.category, ConvergenceWarning)]


@pytest.mark.parametrize("batch_size", ["full", 50])
def test_convergence_warning_names_the_line_that_called_fit(client, batch_size):
    X, y = regression(n=1000)
    dX, dy = da.from_array(X, chunks=250), da.from_array(y, chunks=250)
    params = dict(batch_size=batch_size, max_iter=2, tol=1e-12, random_state=0)
    fit_line = inspect.getsource(_fit_cut_off).splitlines().index(
        "        estimator(**params).fit(dX, dy)  # the line the warning must name"
    ) + _fit_cut_off.__code__.co_firstlineno
    (warning,) = _fit_cut_off(GDRegressor, params, dX, dy)
    assert "Maximum number of epochs (2)" in str(warning.message)
    assert warning.filename == __file__
    assert warning.lineno == fit_line
    # The user's filters still decide: "error" raises from fit.
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning):
            GDRegressor(**params).fit(dX, dy)


class EpochRecorder:
    """A FitCallback recording each task's begin and end with the model
    (coefficients and intercept) it is handed."""

    def __init__(self, stop_after=None):
        self.stop_after = stop_after
        self.calls = []

    def setup(self, estimator, context):
        self.calls.append(("setup", context.task_name, None, None))

    def teardown(self, estimator, context):
        self.calls.append(("teardown", context.task_name, None, None))

    def _record(self, hook, context, fitted_estimator):
        model = None
        if fitted_estimator is not None:
            model = np.append(
                np.ravel(fitted_estimator.coef_), fitted_estimator.intercept_
            )
        self.calls.append((hook, context.task_name, context.task_id, model))

    def on_fit_task_begin(
        self, estimator, context, *, X=None, y=None, metadata=None,
        fitted_estimator=None,
    ):  # fmt: skip
        self._record("begin", context, fitted_estimator)

    def on_fit_task_end(
        self, estimator, context, *, X=None, y=None, metadata=None,
        fitted_estimator=None,
    ):  # fmt: skip
        self._record("end", context, fitted_estimator)
        return (
            self.stop_after is not None
            and context.task_name == "epoch"
            and context.task_id + 1 == self.stop_after
        )


def _assert_same_reports(on_dask, in_memory, rtol):
    assert [c[:3] for c in on_dask.calls] == [c[:3] for c in in_memory.calls]
    epochs = [(a, b) for a, b in zip(on_dask.calls, in_memory.calls) if a[1] == "epoch"]
    assert epochs
    for a, b in epochs:
        scale = np.abs(b[3]).max()
        assert_allclose(a[3], b[3], rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("stop_after", [None, 3])
@pytest.mark.parametrize("case", ["full batch", "streamed"])
def test_callbacks_hear_dask_epochs_as_in_memory(client, case, stop_after):
    # The Dask fits follow the in-memory iterates (full batch: the same
    # driver; one chunk streamed: the same shuffles and batches), so the
    # callbacks must hear the same tasks with the same models.
    callback_api = pytest.importorskip("sklearn.callback")  # scikit-learn >= 1.9
    assert isinstance(EpochRecorder(), callback_api.FitCallback)
    X, y = classification(n=1200)
    if case == "full batch":
        params = dict(random_state=0, max_iter=200)
        chunks = 400
    else:
        params = dict(batch_size=16, max_iter=6, tol=None, random_state=3)
        chunks = -1
    dX, dy = da.from_array(X, chunks=chunks), da.from_array(y, chunks=chunks)
    in_memory, on_dask = EpochRecorder(stop_after), EpochRecorder(stop_after)
    reference = GDClassifier(**params).set_callbacks(in_memory).fit(X, y)
    model = GDClassifier(**params).set_callbacks(on_dask).fit(dX, dy)
    assert model.n_iter_ == reference.n_iter_ > 1
    if stop_after is not None:
        assert model.n_iter_ == stop_after
    _assert_same_reports(on_dask, in_memory, 1e-10)
    # The fitted model is the last epoch's, and it still predicts lazily
    # with its callbacks attached.
    assert_allclose(
        np.append(model.coef_.ravel(), model.intercept_),
        on_dask.calls[-3][3],
        rtol=1e-12,
    )
    assert_array_equal(model.predict(dX).compute(), model.predict(X))
    # partial_fit: one epoch task per call.
    recorder = EpochRecorder()
    GDClassifier(**params).set_callbacks(recorder).partial_fit(dX, dy, classes=[0, 1])
    assert [c[:3] for c in recorder.calls if c[1] == "epoch"] == [
        ("begin", "epoch", 0),
        ("end", "epoch", 0),
    ]


def test_scoring_monitor_scores_dask_epochs_as_in_memory(client):
    # The callbacks are handed the Dask collections: the monitor's scorer
    # computes each epoch's accuracy on the cluster, equal to the in-memory
    # monitor's (the full-batch iterates agree to rounding).
    callback_api = pytest.importorskip("sklearn.callback")  # scikit-learn >= 1.9
    pytest.importorskip("pandas")
    X, y = classification(n=1200)
    dX, dy = da.from_array(X, chunks=400), da.from_array(y, chunks=400)
    logs = []
    for data in ((X, y), (dX, dy)):
        monitor = callback_api.ScoringMonitor(scoring="accuracy")
        model = GDClassifier(max_iter=6, tol=None, random_state=0)
        model.set_callbacks(monitor).fit(*data)
        rows = monitor.get_logs().data
        logs.append([(r["task_name"], r["task_id"], r["accuracy"]) for r in rows])
    in_memory, on_dask = logs
    assert [r for r in in_memory if r[0] == "epoch"][-1][1] == 5
    assert on_dask == in_memory


# ----------------------------------------------------------------------
# dask-ml and joblib
# ----------------------------------------------------------------------


def test_dask_ml_incremental_matches_partial_fit(client):
    X, y = classification(n=4000)
    dX = da.from_array(X, chunks=1000)
    dy = da.from_array(y, chunks=1000)
    wrapped = Incremental(
        GDClassifier(batch_size=32, random_state=0), shuffle_blocks=False
    )
    wrapped.fit(dX, dy, classes=[0, 1])
    reference = GDClassifier(batch_size=32, random_state=0)
    for Xc, yc in zip(chunks_of(X, 1000), chunks_of(y, 1000)):
        reference.partial_fit(Xc, yc, classes=[0, 1])
    assert_allclose(wrapped.estimator_.coef_, reference.coef_, rtol=1e-12)
    assert wrapped.score(dX, dy) == pytest.approx(reference.score(X, y))


def test_dask_ml_incremental_search(client):
    X, y = classification(n=6000)
    dX = da.from_array(X, chunks=1000)
    dy = da.from_array(y, chunks=1000)
    search = IncrementalSearchCV(
        GDClassifier(batch_size=32, tol=None, random_state=0),
        {"eta0": [1e-4, 1e-2, 0.1], "alpha": [1e-4, 1e-2]},
        n_initial_parameters=4,
        max_iter=3,
        decay_rate=None,
        random_state=0,
    )
    search.fit(dX, dy, classes=[0, 1])
    best = LogisticRegression().fit(X, y).score(X, y)
    assert search.best_score_ > best - 0.05
    assert set(search.best_params_) == {"eta0", "alpha"}


def test_grid_search_on_joblib_dask_backend(client):
    X, y = classification(n=1500)
    grid = {"eta0": [0.01, 0.1, 1.0], "batch_size": [16, "full"]}
    base = GDClassifier(max_iter=20, tol=None, random_state=0)
    in_process = GridSearchCV(base, grid, cv=3).fit(X, y)
    with joblib.parallel_backend("dask"):
        on_cluster = GridSearchCV(base, grid, cv=3).fit(X, y)
    assert_allclose(
        on_cluster.cv_results_["mean_test_score"],
        in_process.cv_results_["mean_test_score"],
        rtol=1e-12,
    )
    assert on_cluster.best_params_ == in_process.best_params_


# ----------------------------------------------------------------------
# Data larger than a worker's memory
# ----------------------------------------------------------------------


def _generated_rows(block_info=None, *, n_features):
    """Rows of one chunk, drawn from a seed that only its position sets."""
    (start, stop), _ = block_info[None]["array-location"]
    rng = np.random.RandomState(start)
    return rng.randn(stop - start, n_features)


def test_out_of_core_fit_streams_and_bounds_client_memory(client):
    n_features, rows_per_chunk, n_chunks = 64, 25_000, 88  # 12.8 MB each, 1.1 GB
    X = da.map_blocks(
        _generated_rows,
        n_features=n_features,
        chunks=((rows_per_chunk,) * n_chunks, (n_features,)),
        dtype=np.float64,
        meta=np.empty((0, 0)),
    )
    assert X.nbytes > WORKER_MEMORY  # and no chunk ever lives in the client
    w = np.linspace(-1.0, 1.0, n_features)
    y = X @ w + 0.5

    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = baseline
    done = threading.Event()

    def watch():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        model = GDRegressor(batch_size=256, max_iter=1, tol=None, random_state=0)
        model.fit(X, y)
    finally:
        done.set()
        watcher.join()
    assert (peak - baseline) < 0.25 * X.nbytes
    assert_allclose(model.coef_, w, atol=0.02)
    assert model.intercept_[0] == pytest.approx(0.5, abs=0.02)


# ----------------------------------------------------------------------
# The gradient oracle
# ----------------------------------------------------------------------


def _oracle_pair(X, Y, weights, n_outputs, loss, target_kind, chunk):
    code = LOSSES[loss].code
    in_memory = InMemoryOracle(
        X, Y, weights, n_outputs=n_outputs, loss_code=code, epsilon=0.1,
        target_kind=target_kind,
    )
    parts = []
    for start in range(0, X.shape[0], chunk):
        stop = start + chunk
        parts.append(
            dask.delayed(InMemoryOracle)(
                X[start:stop], Y[start:stop], weights[start:stop],
                n_outputs=n_outputs, loss_code=code, epsilon=0.1,
                target_kind=target_kind,
            )
        )
    on_cluster = DaskOracle(
        parts,
        n_features=X.shape[1],
        n_outputs=n_outputs,
        dtype=X.dtype,
        weight_sum=float(weights.sum()),
    )
    return in_memory, on_cluster


@pytest.mark.parametrize(
    "case", ["squared_error", "log_loss", "multinomial", "float32", "csr"]
)
def test_dask_oracle_equals_in_memory_oracle(client, case):
    rng = np.random.RandomState(0)
    n, d = 1003, 7
    X = rng.randn(n, d)
    weights = rng.uniform(0.1, 3.0, n)
    n_outputs, loss, kind = 1, "squared_error", TARGET_REAL
    Y = rng.randn(n, 1)
    if case in ("log_loss", "csr"):
        loss, kind, Y = "log_loss", TARGET_ONE_VS_REST, rng.randint(0, 2, (n, 1))
    elif case == "multinomial":
        n_outputs, loss, kind = 3, "multinomial", TARGET_MULTINOMIAL
        Y = rng.randint(0, 3, (n, 1))
    dtype = np.float32 if case == "float32" else np.float64
    X, Y, weights = X.astype(dtype), Y.astype(dtype), weights.astype(dtype)
    if case == "csr":
        X[rng.rand(n, d) < 0.6] = 0.0
        X = sp.csr_matrix(X)
    in_memory, on_cluster = _oracle_pair(X, Y, weights, n_outputs, loss, kind, 250)
    assert len(on_cluster.oracles) == 5
    W = rng.randn(n_outputs, d + 1).astype(dtype)

    loss_a, grad_a = in_memory.loss_gradient(W)
    loss_b, grad_b = on_cluster.loss_gradient(W)
    # The kernel sums a float32 gradient in float32 (as the epochs do), so
    # chunk sums and one pass over all rows differ by float32 rounding.
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert loss_b == pytest.approx(loss_a, rel=1e-12)
    assert_allclose(grad_b, grad_a, rtol=rtol, atol=rtol * np.abs(grad_a).max())
    assert on_cluster.loss_gradient(W, with_gradient=False)[1] is None
    v = rng.randn(d + 1)
    for fit_intercept in (True, False):
        expected = in_memory.gram_matvec(v, fit_intercept)
        assert_allclose(
            on_cluster.gram_matvec(v, fit_intercept), expected, rtol=1e-12,
            atol=1e-12 * np.abs(expected).max(),
        )
    for got, expected in zip(on_cluster.column_moments(), in_memory.column_moments()):
        assert_allclose(got, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())
    assert on_cluster.weight_sum == pytest.approx(in_memory.weight_sum, rel=1e-12)


@pytest.mark.parametrize("case", ["log_loss", "multinomial", "csr"])
@pytest.mark.parametrize("persist", [True, False])
def test_dask_oracle_extrapolated_form_equals_in_memory(client, case, persist):
    # A line search's sequence of trials: plain, extrapolated from the last
    # model, extrapolated from an older one (no longer kept), and the same
    # trial twice.  The chunks keep their predictions on the workers; without
    # persist every question rebuilds the chunks, which must then read their
    # rows again for the base model and still give the same sums.
    rng = np.random.RandomState(1)
    n, d = 1003, 6
    X = rng.randn(n, d)
    weights = rng.uniform(0.1, 3.0, n)
    n_outputs, loss, kind = 1, "log_loss", TARGET_ONE_VS_REST
    Y = rng.randint(0, 2, (n, 1)).astype(float)
    if case == "multinomial":
        n_outputs, loss, kind = 3, "multinomial", TARGET_MULTINOMIAL
        Y = rng.randint(0, 3, (n, 1)).astype(float)
    if case == "csr":
        X[rng.rand(n, d) < 0.6] = 0.0
        X = sp.csr_matrix(X)
    in_memory, on_cluster = _oracle_pair(X, Y, weights, n_outputs, loss, kind, 300)
    if not persist:
        on_cluster = DaskOracle(
            on_cluster.oracles, n_features=d, n_outputs=n_outputs,
            dtype=X.dtype, weight_sum=on_cluster.weight_sum, persist=False,
        )
    models = [rng.randn(n_outputs, d + 1) for _ in range(4)]
    trials = [
        (models[0], 0.0, models[0]),
        (models[1], 0.7, models[0]),
        (models[2], 0.4, models[1]),
        (models[3], 0.9, models[0]),
        (models[3], 0.9, models[0]),
    ]
    for W, beta, W_base in trials:
        fresh = InMemoryOracle(
            X, Y, weights, n_outputs=n_outputs, loss_code=LOSSES[loss].code,
            epsilon=0.1, target_kind=kind,
        )
        followed = in_memory.extrapolated_loss_gradient(W, beta, W_base)
        for reference in (fresh.extrapolated_loss_gradient(W, beta, W_base), followed):
            got = on_cluster.extrapolated_loss_gradient(W, beta, W_base)
            assert got[0] == pytest.approx(reference[0], rel=1e-12)
            assert got[1] == pytest.approx(reference[1], rel=1e-12)
            assert_allclose(
                got[2], reference[2], rtol=1e-12,
                atol=1e-12 * np.abs(reference[2]).max(),
            )
