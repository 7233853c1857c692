"""Pickles and skops files: exact round trips, plain contents, version
checks."""

import copy
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import skops.io as sio
from sklearn.base import clone

import skgd
from skgd import GDClassifier, GDRegressor
from skgd._persistence import FORMAT_KEY, PICKLE_FORMAT, VERSION_KEY
from skgd.exceptions import InconsistentVersionWarning

RNG = np.random.RandomState(0)
X = RNG.normal(size=(50, 4))
Y_REG = X @ [1.0, -2.0, 0.5, 0.0] + 0.3 + 0.1 * RNG.normal(size=50)
Y_CLF = np.array(["a", "b", "c"] * 17)[:50][np.argsort(X[:, 0])]
X_NEW = RNG.normal(size=(20, 4))
Y_NEW_REG = X_NEW @ [1.0, -2.0, 0.5, 0.0]
Y_NEW_CLF = np.array(["a", "b", "c", "a"] * 5)

CASES = {
    "regressor-full": (GDRegressor(), Y_REG, Y_NEW_REG),
    "regressor-adam-minibatch": (
        GDRegressor(batch_size=7, optimizer="adam", average=True, max_iter=20),
        Y_REG,
        Y_NEW_REG,
    ),
    "regressor-sgd1-l1": (
        GDRegressor(batch_size=1, penalty="l1", alpha=0.01, learning_rate="invscaling",
                    eta0=0.01, max_iter=10),
        Y_REG,
        Y_NEW_REG,
    ),
    "classifier-softmax": (GDClassifier(), Y_CLF, Y_NEW_CLF),
    "classifier-hinge-momentum": (
        GDClassifier(loss="hinge", batch_size=5, optimizer="momentum", max_iter=20,
                     learning_rate="adaptive", eta0=0.1),
        Y_CLF,
        Y_NEW_CLF,
    ),
}


def fitted(name, X_train=X):
    est, y, _ = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return clone(est).set_params(random_state=0).fit(X_train, y)


def outputs(est):
    out = [est.predict(X_NEW), est.coef_, est.intercept_]
    if isinstance(est, GDClassifier):
        out.append(est.decision_function(X_NEW))
    return out


def assert_same_model_and_resume(original, loaded, name):
    """Equal outputs bitwise, and a resumed partial_fit equal bitwise."""
    for a, b in zip(outputs(original), outputs(loaded)):
        np.testing.assert_array_equal(a, b)
    y_new = CASES[name][2]
    original.partial_fit(X_NEW, y_new)
    loaded.partial_fit(X_NEW, y_new)
    for a, b in zip(outputs(original), outputs(loaded)):
        np.testing.assert_array_equal(a, b)
    assert original.t_ == loaded.t_
    assert original.loss_curve_ == loaded.loss_curve_


@pytest.mark.parametrize("name", CASES)
def test_pickle_round_trip_is_exact(name):
    est = fitted(name)
    assert_same_model_and_resume(est, pickle.loads(pickle.dumps(est)), name)


@pytest.mark.parametrize("name", CASES)
def test_skops_round_trip_trusts_only_public_estimators(name):
    est = fitted(name)
    data = sio.dumps(est)
    untrusted = sio.get_untrusted_types(data=data)
    assert untrusted == [f"skgd.{type(est).__name__}"]
    loaded = sio.loads(data, trusted=untrusted)
    assert_same_model_and_resume(est, loaded, name)


def test_skops_round_trip_with_feature_names_and_sparse_fit():
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    est = GDRegressor(batch_size=3, max_iter=5, tol=None, random_state=0).fit(
        frame, Y_REG
    )
    data = sio.dumps(est)
    assert sio.get_untrusted_types(data=data) == ["skgd.GDRegressor"]
    loaded = sio.loads(data, trusted=["skgd.GDRegressor"])
    np.testing.assert_array_equal(loaded.feature_names_in_, est.feature_names_in_)
    np.testing.assert_array_equal(loaded.predict(frame), est.predict(frame))
    sparse_fit = GDClassifier(batch_size=1, max_iter=3, tol=None).fit(
        sp.csr_matrix(X), Y_CLF
    )
    data = sio.dumps(sparse_fit)
    assert sio.get_untrusted_types(data=data) == ["skgd.GDClassifier"]


def test_pickle_holds_plain_state_and_versions():
    est = fitted("regressor-adam-minibatch")
    state = est.__getstate__()
    assert state[FORMAT_KEY] == PICKLE_FORMAT
    assert state[VERSION_KEY] == skgd.__version__
    solver_state = state["_solver_state"]
    assert isinstance(solver_state, dict)
    for key, value in solver_state.items():
        assert value is None or type(value) in (np.ndarray, int, float, bool), key
    # Nothing from skgd's private modules is referenced by the pickle.
    assert b"skgd._" not in pickle.dumps(est)
    # The estimator itself keeps its solver state object.
    assert not isinstance(est._solver_state, dict)


def _state_with_version(est, version):
    state = est.__getstate__()
    state[VERSION_KEY] = version
    return state


def test_loading_across_versions_warns():
    est = fitted("classifier-softmax")
    new = GDClassifier.__new__(GDClassifier)
    with pytest.warns(InconsistentVersionWarning) as record:
        new.__setstate__(_state_with_version(est, "0.0.1"))
    (warning,) = [w.message for w in record]
    assert isinstance(warning, UserWarning)
    assert warning.estimator_name == "GDClassifier"
    assert warning.original_skgd_version == "0.0.1"
    assert warning.current_skgd_version == skgd.__version__
    assert "0.0.1" in str(warning) and skgd.__version__ in str(warning)
    np.testing.assert_array_equal(new.predict(X_NEW), est.predict(X_NEW))
    # The warning itself pickles (joblib sends warnings between processes).
    again = pickle.loads(pickle.dumps(warning))
    assert again.original_skgd_version == "0.0.1"


def test_same_version_loads_silently():
    est = fitted("regressor-full")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pickle.loads(pickle.dumps(est))
        copy.deepcopy(est)


def test_newer_format_is_refused_with_a_clear_message():
    est = fitted("regressor-full")
    state = est.__getstate__()
    state[FORMAT_KEY] = PICKLE_FORMAT + 1
    new = GDRegressor.__new__(GDRegressor)
    with pytest.raises(ValueError, match="newer format .* upgrade skgd"):
        new.__setstate__(state)


@pytest.mark.parametrize("name", CASES)
def test_clone_and_deepcopy_still_work(name):
    est = fitted(name)
    clone_ = clone(est)
    assert clone_.get_params() == est.get_params()
    assert not hasattr(clone_, "coef_")
    assert_same_model_and_resume(est, copy.deepcopy(est), name)


def test_unfitted_estimator_pickles():
    est = GDRegressor(alpha=0.5)
    loaded = pickle.loads(pickle.dumps(est))
    assert loaded.get_params() == est.get_params()
    loaded.fit(X, Y_REG)
