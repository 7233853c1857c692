"""learning_rate="adaptive" with stochastic batches survives a step that is
too large: a diverging epoch is undone and run again with the step divided
by 5, and DivergenceError comes only once the step would fall below its
minimum.

The oracles: Ridge's closed form for where training ends, and a run started
directly at the step the rollbacks arrived at, which must match the rolled
back run bitwise (it makes the same updates from the same state, so any
state the rollback failed to restore shows as a difference)."""

import copy

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

from skgd import GDClassifier, GDRegressor
from skgd._registry import ADAPTIVE_DIVISOR, ADAPTIVE_MIN_ETA
from skgd.exceptions import DivergenceError


def _data(n=400, d=5, seed=0):
    rng = np.random.RandomState(seed)
    X = StandardScaler().fit_transform(rng.randn(n, d) @ rng.randn(d, d))
    y = X @ rng.randn(d) + 0.5 + 0.1 * rng.randn(n)
    return X, y


def _fitted_equal(a, b):
    assert_array_equal(a.coef_, b.coef_)
    assert_array_equal(a.intercept_, b.intercept_)
    assert a.t_ == b.t_
    assert a.n_iter_ == b.n_iter_
    assert a.eta_ == b.eta_
    assert a.loss_curve_ == b.loss_curve_
    for name in ("W", "S1", "S2", "W_avg"):
        assert_array_equal(
            getattr(a._solver_state, name), getattr(b._solver_state, name)
        )
    assert a._solver_state.shuffle_state == b._solver_state.shuffle_state


def test_huge_step_converges_to_ridge():
    """Started a million times above the stable step, training ends where
    a run from a good step does: at Ridge's solution, to the accuracy
    stochastic batches reach."""
    X, y = _data()
    alpha = 1e-2
    params = dict(
        learning_rate="adaptive",
        batch_size=8,
        alpha=alpha,
        max_iter=3000,
        tol=1e-6,
        n_iter_no_change=10,
        random_state=0,
    )
    huge = GDRegressor(eta0=1e3, **params).fit(X, y)
    small = GDRegressor(eta0=1e-2, **params).fit(X, y)
    assert huge.eta0_ == 1e3
    ridge = Ridge(alpha=alpha * X.shape[0]).fit(X, y)
    for model in (huge, small):
        assert_allclose(model.coef_, ridge.coef_, rtol=0, atol=5e-4)
        assert_allclose(model.intercept_, ridge.intercept_, rtol=0, atol=5e-4)
    assert_allclose(huge.coef_, small.coef_, rtol=0, atol=5e-4)


def test_huge_step_equals_a_run_from_the_step_it_settled_on():
    """The diverging epochs leave no trace: starting at the step the
    rollbacks reached gives bitwise the same model, loss curve and state."""
    X, y = _data()
    params = dict(
        learning_rate="adaptive", batch_size=8, max_iter=30, tol=None, random_state=0
    )
    rolled = GDRegressor(eta0=1e3, **params).fit(X, y)
    assert rolled.eta_ < 1e3
    direct = GDRegressor(eta0=rolled.eta_, **params).fit(X, y)
    _fitted_equal(rolled, direct)
    assert np.all(np.isfinite(rolled.loss_curve_))
    assert len(rolled.loss_curve_) == 30


@pytest.mark.parametrize(
    "optimizer, average",
    [("sgd", False), ("momentum", True), ("nesterov", False), ("adam", 5)],
)
def test_rollback_restores_the_whole_state(optimizer, average):
    """A divergence in the middle of training, after the optimizer buffers,
    the average and the shuffling have moved: the rolled back run matches
    one that took the final step directly, bitwise."""
    X, y = _data()
    trained = GDRegressor(
        learning_rate="adaptive",
        optimizer=optimizer,
        average=average,
        eta0=1e-3,
        batch_size=16,
        max_iter=3,
        tol=None,
        random_state=0,
    ).fit(X, y)
    rolled = copy.deepcopy(trained).set_params(eta0=1e4)
    rolled.partial_fit(X, y)
    assert rolled.eta_ < 1e4
    direct = copy.deepcopy(trained).set_params(eta0=rolled.eta_)
    direct.partial_fit(X, y)
    assert_array_equal(rolled.coef_, direct.coef_)
    assert_array_equal(rolled.intercept_, direct.intercept_)
    assert rolled.t_ == direct.t_ == trained.t_ + 25
    for name in ("W", "S1", "S2", "W_avg"):
        assert_array_equal(
            getattr(rolled._solver_state, name), getattr(direct._solver_state, name)
        )
    assert rolled._solver_state.shuffle_state == direct._solver_state.shuffle_state
    assert rolled.loss_curve_ == direct.loss_curve_


def test_partial_fit_keeps_the_reduced_step():
    X, y = _data()
    params = dict(learning_rate="adaptive", batch_size=4, random_state=0)
    rolled = GDRegressor(eta0=1e3, **params)
    rolled.partial_fit(X, y)
    reduced = rolled.eta_
    assert reduced < 1e3
    # The next call starts from the reduced step, with no new divergence.
    rolled.partial_fit(X, y)
    assert rolled.eta_ == reduced
    direct = GDRegressor(eta0=reduced, **params)
    direct.partial_fit(X, y)
    direct.partial_fit(X, y)
    _fitted_equal(rolled, direct)


def test_classifier_rolls_back_too():
    X, y = _data()
    labels = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    params = dict(learning_rate="adaptive", batch_size=8, max_iter=10, tol=None)
    rolled = GDClassifier(eta0=1e4, optimizer="adam", random_state=0, **params)
    rolled.fit(X, labels)
    assert rolled.eta_ < 1e4
    direct = GDClassifier(eta0=rolled.eta_, optimizer="adam", random_state=0, **params)
    _fitted_equal(rolled, direct.fit(X, labels))


def test_error_once_the_step_would_fall_below_the_minimum():
    """Features of scale 1e5 make every step above 1e-6 diverge: each is
    tried, from eta0 down, and the error names the last one."""
    X, y = _data()
    X = X * 1e5
    model = GDRegressor(
        learning_rate="adaptive", eta0=1.0, batch_size=8, max_iter=20, tol=None
    )
    with pytest.raises(DivergenceError) as info:
        model.fit(X, y)
    error = info.value
    assert error.reason in ("step", "weights_overflow")
    # The smallest power of 1/5 of eta0 that is still at least the minimum.
    last = 1.0
    while last / ADAPTIVE_DIVISOR >= ADAPTIVE_MIN_ETA:
        last /= ADAPTIVE_DIVISOR
    assert error.eta == pytest.approx(last, rel=1e-12)
    assert error.epoch == 1
    # Nothing was published.
    assert not hasattr(model, "coef_")


def test_the_other_schedules_still_raise():
    X, y = _data()
    with pytest.raises(DivergenceError):
        GDRegressor(eta0=1e3, batch_size=8, max_iter=5, tol=None).fit(X, y)


def test_bad_data_is_not_retried():
    """Targets whose squares overflow are the data's fault: an error at
    once, whatever the schedule."""
    X, y = _data()
    with pytest.raises(ValueError, match="all-zero model is not finite"):
        GDRegressor(learning_rate="adaptive", batch_size=8).fit(X, y * 1e200)


@pytest.mark.parametrize("batch_size", [1, 8])
def test_rollback_undoes_the_cumulative_l1_record(batch_size):
    """Plain SGD with an L1 part keeps a record of the penalty each weight
    has received (the cumulative penalty); a rolled back epoch must undo it
    with the weights, or the run would clip by penalty it never took."""
    X, y = _data()
    params = dict(
        learning_rate="adaptive",
        batch_size=batch_size,
        penalty="elasticnet",
        l1_ratio=0.5,
        alpha=1e-2,
        max_iter=20,
        tol=None,
        random_state=0,
    )
    rolled = GDRegressor(eta0=1e3, **params).fit(X, y)
    assert rolled.eta_ < 1e3
    direct = GDRegressor(eta0=rolled.eta_, **params).fit(X, y)
    _fitted_equal(rolled, direct)
    assert_array_equal(
        rolled._solver_state.l1_applied, direct._solver_state.l1_applied
    )
    assert rolled._solver_state.l1_total == direct._solver_state.l1_total
