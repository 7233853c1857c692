"""The L1 and elastic-net penalties: the l1_ratio parameter, and exact zeros
in every batch mode, measured against scikit-learn's SGD."""

import numpy as np
import pytest
from sklearn.linear_model import SGDClassifier, SGDRegressor

from skgd import GDClassifier, GDRegressor

RNG = np.random.RandomState(0)
X = RNG.normal(size=(60, 5))
Y_REG = X @ [1.0, -2.0, 0.0, 0.0, 0.5] + 0.1 * RNG.normal(size=60)
Y_CLF = (X[:, 0] - X[:, 1] > 0).astype(int)


@pytest.mark.parametrize("penalty", [None, "l1", "l2"])
@pytest.mark.parametrize("Est, y", [(GDRegressor, Y_REG), (GDClassifier, Y_CLF)])
def test_l1_ratio_none_accepted_without_elasticnet(Est, y, penalty):
    # As SGDRegressor / SGDClassifier: l1_ratio is unused unless the penalty
    # is the elastic net, so None is fine and gives the same model as the
    # default ratio.
    params = dict(penalty=penalty, alpha=0.01, max_iter=5, tol=None, eta0=0.01)
    with_none = Est(l1_ratio=None, **params).fit(X, y)
    with_default = Est(**params).fit(X, y)
    np.testing.assert_array_equal(with_none.coef_, with_default.coef_)
    # The peer accepts the same parameter.
    peer = SGDRegressor if Est is GDRegressor else SGDClassifier
    peer(penalty=penalty, l1_ratio=None, max_iter=5, tol=None).fit(X, y)


@pytest.mark.parametrize("Est, y", [(GDRegressor, Y_REG), (GDClassifier, Y_CLF)])
def test_l1_ratio_none_with_elasticnet_is_refused(Est, y):
    est = Est(penalty="elasticnet", l1_ratio=None)
    with pytest.raises(ValueError, match="l1_ratio must be set when penalty="):
        est.fit(X, y)
    assert not hasattr(est, "coef_")
