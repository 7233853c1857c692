"""scikit-learn's array API dispatch (needs SCIPY_ARRAY_API=1, as `make test`
sets): NumPy input keeps working, arrays of other namespaces get a clear
error."""

import array_api_strict
import numpy as np
import pytest
import scipy.sparse as sp
import sklearn

from skgd import GDClassifier, GDRegressor, find_learning_rate

RNG = np.random.RandomState(0)
X = RNG.normal(size=(30, 3))
Y_REG = X @ [1.0, -1.0, 2.0]
Y_CLF = np.array([0, 1, 2] * 10)

MESSAGE = r"array API dispatch.*array_api_strict.*Convert the inputs to NumPy"


def strict(a):
    return array_api_strict.asarray(a)


@pytest.fixture
def dispatch():
    with sklearn.config_context(array_api_dispatch=True):
        yield


@pytest.mark.parametrize(
    "Est, y, params",
    [
        (GDRegressor, Y_REG, {}),
        (GDRegressor, Y_REG, {"batch_size": 1}),
        (GDClassifier, Y_CLF, {}),
        (GDClassifier, Y_CLF, {"loss": "hinge", "batch_size": 4}),
    ],
)
def test_numpy_input_works_under_dispatch(dispatch, Est, y, params):
    with sklearn.config_context(array_api_dispatch=False):
        expected = Est(random_state=0, **params).fit(X, y)
    est = Est(random_state=0, **params).fit(X, y)
    np.testing.assert_array_equal(est.coef_, expected.coef_)
    np.testing.assert_array_equal(est.predict(X), expected.predict(X))
    est.partial_fit(X, y)
    assert np.isfinite(est.score(X, y))
    # Sparse input too.
    est.fit(sp.csr_matrix(X), y).predict(sp.csr_matrix(X))


@pytest.mark.parametrize("Est, y", [(GDRegressor, Y_REG), (GDClassifier, Y_CLF)])
@pytest.mark.parametrize("which", ["X", "y", "sample_weight"])
def test_foreign_arrays_in_fit_are_refused_clearly(dispatch, Est, y, which):
    args = {"X": X, "y": y, "sample_weight": np.ones(30)}
    args[which] = strict(args[which])
    est = Est()
    for method in (est.fit, est.partial_fit):
        kwargs = {"classes": np.unique(Y_CLF)} if (
            method == est.partial_fit and Est is GDClassifier
        ) else {}
        with pytest.raises(TypeError, match=MESSAGE) as info:
            method(args["X"], args["y"], sample_weight=args["sample_weight"], **kwargs)
        assert which in str(info.value)
    assert not hasattr(est, "coef_")


@pytest.mark.parametrize("Est, y", [(GDRegressor, Y_REG), (GDClassifier, Y_CLF)])
def test_foreign_arrays_at_predict_are_refused_clearly(dispatch, Est, y):
    est = Est().fit(X, y)
    coef = est.coef_.copy()
    methods = ["predict", "score"]
    if Est is GDClassifier:
        methods += ["decision_function", "predict_proba", "predict_log_proba"]
    for name in methods:
        args = (strict(X), y) if name == "score" else (strict(X),)
        with pytest.raises(TypeError, match=MESSAGE):
            getattr(est, name)(*args)
    np.testing.assert_array_equal(est.coef_, coef)


def test_learning_rate_finder_refuses_foreign_arrays(dispatch):
    with pytest.raises(TypeError, match=MESSAGE):
        find_learning_rate(GDRegressor(), strict(X), Y_REG)


def test_without_dispatch_foreign_arrays_are_converted():
    # As every scikit-learn estimator: without dispatch, an array API array
    # is an array-like, converted to NumPy.
    expected = GDRegressor().fit(X, Y_REG)
    est = GDRegressor().fit(strict(X), strict(Y_REG))
    np.testing.assert_allclose(est.coef_, expected.coef_, rtol=1e-12)
