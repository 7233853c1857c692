"""The L1 and elastic-net penalties: the l1_ratio parameter, and exact zeros
in every batch mode, measured against scikit-learn's SGD."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
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


# --- The cumulative L1 penalty of the stochastic modes -----------------------
#
# Plain SGD with one row per update, a constant step and no shuffling is the
# iteration of scikit-learn's SGDClassifier / SGDRegressor on dense data
# (which applies the cumulative L1 penalty of Tsuruoka et al., 2009): the
# coefficients must agree to rounding, zeros included.

# Three informative features among twelve, so that an L1 penalty has
# features to zero out.
X_WIDE = RNG.normal(size=(150, 12))
Y_WIDE_REG = X_WIDE[:, :3] @ [1.0, -2.0, 0.5] + 0.3 * RNG.normal(size=150)
Y_WIDE_CLF = (X_WIDE[:, 0] - X_WIDE[:, 1] + 0.5 * RNG.normal(size=150) > 0).astype(int)


def _sgd_iteration(penalty, **extra):
    # The same update rule on both sides: one row per update in the given
    # order, a constant step, the L1 part only where the penalty has one.
    return dict(
        penalty=penalty,
        alpha=0.02,
        l1_ratio=0.6,
        learning_rate="constant",
        eta0=0.01,
        shuffle=False,
        max_iter=6,
        tol=None,
        **extra,
    )


@pytest.mark.parametrize("penalty", ["l1", "elasticnet"])
@pytest.mark.parametrize(
    "Est, Peer, y, loss",
    [
        (GDRegressor, SGDRegressor, Y_WIDE_REG, "squared_error"),
        (GDRegressor, SGDRegressor, Y_WIDE_REG, "huber"),
        (GDClassifier, SGDClassifier, Y_WIDE_CLF, "hinge"),
        (GDClassifier, SGDClassifier, Y_WIDE_CLF, "log_loss"),
        (GDClassifier, SGDClassifier, Y_WIDE_CLF, "modified_huber"),
    ],
)
def test_per_sample_l1_matches_sgd(Est, Peer, y, loss, penalty):
    params = _sgd_iteration(penalty, loss=loss)
    peer = Peer(**params).fit(X_WIDE, y)
    ours = Est(batch_size=1, optimizer="sgd", **params).fit(X_WIDE, y)
    # The peer leaves exact zeros: the check below is about them too.
    assert np.sum(peer.coef_ == 0) >= 2
    np.testing.assert_array_equal(ours.coef_ == 0, peer.coef_ == 0)
    np.testing.assert_allclose(ours.coef_, peer.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.intercept_, peer.intercept_, rtol=1e-6, atol=1e-9)


def test_per_sample_l1_matches_sgd_with_sample_weight():
    # scikit-learn scales each row's update by its weight; skgd by its weight
    # over the mean weight, so weights of mean one give the same iteration.
    sw = RNG.uniform(0.2, 1.8, size=X_WIDE.shape[0])
    sw /= sw.mean()
    params = _sgd_iteration("l1", loss="hinge")
    peer = SGDClassifier(**params).fit(X_WIDE, Y_WIDE_CLF, sample_weight=sw)
    ours = GDClassifier(batch_size=1, optimizer="sgd", **params).fit(
        X_WIDE, Y_WIDE_CLF, sample_weight=sw
    )
    np.testing.assert_array_equal(ours.coef_ == 0, peer.coef_ == 0)
    np.testing.assert_allclose(ours.coef_, peer.coef_, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("batch_size", [1, 16])
@pytest.mark.parametrize(
    "Est, y", [(GDRegressor, Y_WIDE_REG), (GDClassifier, Y_WIDE_CLF)]
)
def test_stochastic_l1_leaves_exact_zeros(Est, y, batch_size):
    # Shuffled, decaying steps: the irrelevant features end exactly at zero
    # (a per-step soft threshold leaves them about 1e-4 off it), the
    # informative ones do not.
    est = Est(
        penalty="l1",
        alpha=0.05,
        batch_size=batch_size,
        optimizer="sgd",
        learning_rate="invscaling",
        eta0=0.05,
        max_iter=30,
        tol=None,
        random_state=0,
    ).fit(X_WIDE, y)
    coef = np.ravel(est.coef_)
    assert np.all(coef[3:] == 0)
    assert np.all(coef[:2] != 0)


SPARSE_X = sp.random(5000, 25, density=0.15, random_state=1, format="csr")
SPARSE_Y = RNG.randint(0, 3, size=5000)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize("average", [False, True])
@pytest.mark.parametrize("batch_size", [1, 7])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_stochastic_l1_dense_equals_csr(l1_ratio, batch_size, average, dtype, rtol):
    # The CSR path applies the penalty of the rows a feature is absent from
    # lazily, in closed form; the dense path applies it at every update.
    # With 5000 updates an epoch the lazy record also restarts midway.
    params = dict(
        penalty="elasticnet",
        l1_ratio=l1_ratio,
        alpha=0.003,
        batch_size=batch_size,
        optimizer="sgd",
        learning_rate="invscaling",
        eta0=0.1,
        max_iter=3,
        tol=None,
        average=average,
        random_state=0,
    )
    sw = RNG.uniform(0.5, 2.0, size=SPARSE_X.shape[0])
    on_csr = GDClassifier(**params).fit(
        SPARSE_X.astype(dtype), SPARSE_Y, sample_weight=sw
    )
    on_dense = GDClassifier(**params).fit(
        SPARSE_X.toarray().astype(dtype), SPARSE_Y, sample_weight=sw
    )
    assert on_csr.coef_.dtype == dtype
    if not average:
        assert np.sum(on_dense.coef_ == 0) > 10
        np.testing.assert_array_equal(on_csr.coef_ == 0, on_dense.coef_ == 0)
    scale = np.abs(on_dense.coef_).max()
    np.testing.assert_allclose(on_csr.coef_, on_dense.coef_, rtol=0, atol=rtol * scale)


@pytest.mark.parametrize("X_fit", [SPARSE_X, SPARSE_X.toarray()], ids=["csr", "dense"])
def test_stochastic_l1_resumes_exactly(X_fit):
    # What each weight has received of the cumulative penalty is part of the
    # model's state: partial_fit epochs (through a pickle) continue exactly
    # as one fit.
    params = dict(
        penalty="l1",
        alpha=0.003,
        batch_size=1,
        optimizer="sgd",
        learning_rate="constant",
        eta0=0.05,
        shuffle=False,
        tol=None,
    )
    whole = GDClassifier(max_iter=3, **params).fit(X_fit, SPARSE_Y)
    pieces = GDClassifier(**params)
    for _ in range(3):
        pieces.partial_fit(X_fit, SPARSE_Y, classes=[0, 1, 2])
        pieces = pickle.loads(pickle.dumps(pieces))
    np.testing.assert_array_equal(pieces.coef_, whole.coef_)
