"""Batches large enough are shared among OpenMP threads; the model must not
depend on how many threads there are (beyond summation order)."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from threadpoolctl import threadpool_limits

from skgd import GDClassifier, GDRegressor


def data(sparse):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((3000, 40))
    if sparse:
        X[rng.rand(*X.shape) < 0.8] = 0.0
    y = X @ rng.standard_normal(40) + 0.1 * rng.standard_normal(3000)
    return (sp.csr_matrix(X) if sparse else X), y


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize(
    "params",
    [
        dict(batch_size="full"),
        dict(batch_size=256, shuffle=True),
        dict(batch_size=500, optimizer="adam"),
        dict(batch_size="full", penalty="elasticnet", alpha=1e-2),
    ],
)
def test_one_thread_and_two_threads_give_the_same_regressor(sparse, params):
    X, y = data(sparse)
    kwargs = dict(max_iter=20, tol=None, random_state=0, **params)
    with threadpool_limits(limits=1, user_api="openmp"):
        one = GDRegressor(**kwargs).fit(X, y)
    with threadpool_limits(limits=2, user_api="openmp"):
        two = GDRegressor(**kwargs).fit(X, y)
    assert_allclose(two.coef_, one.coef_, rtol=1e-9, atol=1e-12)
    assert_allclose(two.intercept_, one.intercept_, rtol=1e-9, atol=1e-12)
    assert_allclose(two.loss_curve_, one.loss_curve_, rtol=1e-10)


def test_one_thread_and_two_threads_give_the_same_softmax():
    X, y = data(False)
    labels = np.digitize(y, np.quantile(y, [0.25, 0.5, 0.75]))
    kwargs = dict(max_iter=20, tol=None, batch_size=300, random_state=0)
    with threadpool_limits(limits=1, user_api="openmp"):
        one = GDClassifier(**kwargs).fit(X, labels)
    with threadpool_limits(limits=2, user_api="openmp"):
        two = GDClassifier(**kwargs).fit(X, labels)
    assert_allclose(two.coef_, one.coef_, rtol=1e-9, atol=1e-12)
