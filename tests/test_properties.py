"""Properties that hold for any data: full-batch invariances, dtype
preservation, and no silent NaN or crash on arbitrary finite input."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import skgd
from skgd import DivergenceError

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]
PENALTIES = [None, "l2", "l1", "elasticnet"]
moderate = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=64)

# These tests exercise the textbook iteration (the plain rule or the named
# one, the given steps, a fixed momentum, no preconditioning), where a step
# size is what is being tested; the defaults search the step on the full
# batch (see tests/test_fullbatch.py).
TEXTBOOK = dict(
    optimizer="sgd", learning_rate="constant", momentum=0.9, precondition=False
)


def GDRegressor(**params):
    return skgd.GDRegressor(**{**TEXTBOOK, **params})


def GDClassifier(**params):
    return skgd.GDClassifier(**{**TEXTBOOK, **params})


@st.composite
def regression_problem(
    draw, min_rows=2, max_rows=25, max_features=4, elements=moderate
):
    n = draw(st.integers(min_rows, max_rows))
    d = draw(st.integers(1, max_features))
    X = draw(arrays(np.float64, (n, d), elements=elements))
    y = draw(arrays(np.float64, (n,), elements=elements))
    return X, y


def safe_eta0(X, sample_weight=None):
    """A step with eta * L <= 1 for the squared loss on this data: L (largest
    eigenvalue of the weighted Gram matrix of [x, 1]) is at most its trace,
    the weighted mean of ||x||^2 + 1."""
    sw = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    mean_sq = np.sum(sw * (np.sum(X**2, axis=1) + 1.0)) / np.sum(sw)
    return float(0.5 / mean_sq)


def fit_both(make, first, second):
    """Fit two estimators on two equivalent versions of the data.  Either
    both succeed, or both report divergence at the same epoch (equivalent
    data gives equivalent runs, the failing ones included)."""
    results = []
    for args, kwargs in (first, second):
        try:
            results.append(make().fit(*args, **kwargs))
        except DivergenceError as error:
            results.append(error)
    a, b = results
    if isinstance(a, DivergenceError) or isinstance(b, DivergenceError):
        assert type(a) is type(b), (a, b)
        assert a.epoch == b.epoch
        return None
    return a, b


def model_params(est):
    return np.concatenate([np.ravel(est.coef_), np.ravel(est.intercept_)])


def assert_same_model(a, b, rtol, X, y):
    """Equal up to rounding.  Sums over rows in another order differ by
    rounding relative to the size of their terms, not of their result (which
    may cancel to zero), hence an absolute tolerance on the natural scale of
    the coefficients, |y| / |x|, as well."""
    pa, pb = model_params(a), model_params(b)
    scale = max(
        float(np.max(np.abs(pa))),
        float(np.max(np.abs(pb))),
        float(np.max(np.abs(y))) / max(float(np.max(np.abs(X))), 1.0),
        1e-300,
    )
    np.testing.assert_allclose(pa, pb, rtol=rtol, atol=rtol * scale)
    # Objectives below ~1e-290 are subnormal after a few products.
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=rtol, atol=1e-290)


config = st.fixed_dictionaries(
    {
        "optimizer": st.sampled_from(OPTIMIZERS),
        "penalty": st.sampled_from(PENALTIES),
        "alpha": st.sampled_from([1e-4, 0.01, 0.3]),
        "fit_intercept": st.booleans(),
        "loss": st.sampled_from(["squared_error", "huber"]),
    }
)


# --------------------------------------------------------------------------
# Full-batch invariances
# --------------------------------------------------------------------------


@SETTINGS
@given(problem=regression_problem(), params=config, data=st.data())
def test_row_permutation_does_not_change_the_full_batch_model(problem, params, data):
    X, y = problem
    n = X.shape[0]
    perm = np.array(data.draw(st.permutations(range(n))))
    sw = data.draw(st.none() | arrays(np.float64, (n,), elements=st.floats(0.1, 10.0)))
    eta0 = safe_eta0(X, sw)
    est = dict(eta0=eta0, max_iter=10, tol=None, batch_size="full", **params)
    fitted = fit_both(
        lambda: GDRegressor(**est),
        ((X, y), dict(sample_weight=sw)),
        ((X[perm], y[perm]), dict(sample_weight=None if sw is None else sw[perm])),
    )
    if fitted is not None:
        assert_same_model(*fitted, rtol=1e-9, X=X, y=y)


@SETTINGS
@given(problem=regression_problem(max_rows=15), params=config, data=st.data())
def test_integer_weights_equal_repeated_rows(problem, params, data):
    X, y = problem
    n = X.shape[0]
    counts = data.draw(arrays(np.int64, (n,), elements=st.integers(0, 3)))
    assume(counts.sum() > 0)
    eta0 = safe_eta0(X, counts.astype(float))
    est = dict(eta0=eta0, max_iter=10, tol=None, batch_size="full", **params)
    fitted = fit_both(
        lambda: GDRegressor(**est),
        ((X, y), dict(sample_weight=counts.astype(float))),
        ((np.repeat(X, counts, axis=0), np.repeat(y, counts)), {}),
    )
    if fitted is not None:
        assert_same_model(*fitted, rtol=1e-8, X=X, y=y)


@SETTINGS
@given(
    problem=regression_problem(),
    params=config,
    factor=st.sampled_from([1e-3, 0.5, 3.0, 7.0, 1e4]),
    batch_size=st.sampled_from(["full", 1, 3]),
    data=st.data(),
)
def test_scaling_all_sample_weights_changes_nothing(
    problem, params, factor, batch_size, data
):
    X, y = problem
    sw = data.draw(arrays(np.float64, (X.shape[0],), elements=st.floats(0.1, 10.0)))
    eta0 = safe_eta0(X, sw) / (1.0 if batch_size == "full" else 5.0)
    est = dict(eta0=eta0, max_iter=5, tol=None, batch_size=batch_size,
               shuffle=False, **params)  # fmt: skip
    fitted = fit_both(
        lambda: GDRegressor(**est),
        ((X, y), dict(sample_weight=sw)),
        ((X, y), dict(sample_weight=factor * sw)),
    )
    if fitted is not None:
        assert_same_model(*fitted, rtol=1e-9, X=X, y=y)


@SETTINGS
@given(
    problem=regression_problem(),
    dtype=st.sampled_from([np.float32, np.float64]),
    sparse=st.booleans(),
    batch_size=st.sampled_from(["full", 1, 4]),
    classify=st.booleans(),
)
def test_dtype_is_preserved(problem, dtype, sparse, batch_size, classify):
    X, y = problem
    Xt = X.astype(dtype)
    if sparse:
        Xt = sp.csr_matrix(Xt)
    eta0 = safe_eta0(X) / 10
    if classify:
        labels = y > np.median(y)
        assume(labels.any() and not labels.all())
        est = GDClassifier(eta0=eta0, max_iter=3, tol=None, batch_size=batch_size)
        est.fit(Xt, labels)
        assert est.decision_function(Xt).dtype == dtype
    else:
        est = GDRegressor(eta0=eta0, max_iter=3, tol=None, batch_size=batch_size)
        est.fit(Xt, y)
        assert est.predict(Xt).dtype == dtype
    assert est.coef_.dtype == dtype
    assert est.intercept_.dtype == dtype


# --------------------------------------------------------------------------
# Arbitrary finite input: a finite model or a ValueError, nothing else
# --------------------------------------------------------------------------

any_finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
wide = st.one_of(
    any_finite,
    st.floats(-1e-300, 1e-300, allow_nan=False),
    st.sampled_from([0.0, 1.0, -1.0, 1e150, -1e150, 1e308, -1e308, 5e-324]),
)


def check_finite_or_value_error(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            est = fit()
        except ValueError:
            return None
    assert np.all(np.isfinite(est.coef_)), est.coef_
    assert np.all(np.isfinite(est.intercept_)), est.intercept_
    assert np.all(np.isfinite(est.loss_curve_)), est.loss_curve_
    return est


fit_config = st.fixed_dictionaries(
    {
        "optimizer": st.sampled_from(OPTIMIZERS),
        "penalty": st.sampled_from(PENALTIES),
        "batch_size": st.sampled_from(["full", 1, 3]),
        "eta0": st.sampled_from(["auto", 1e-3, 1.0, 1e3]),
        "max_iter": st.integers(1, 6),
        "tol": st.sampled_from([None, 1e-4]),
    }
)


@SETTINGS
@given(
    problem=regression_problem(min_rows=1, max_rows=12, elements=wide),
    params=fit_config,
    loss=st.sampled_from(
        ["squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive"]
    ),
    data=st.data(),
)
def test_regressor_finite_or_value_error(problem, params, loss, data):
    X, y = problem
    sw = data.draw(
        st.none()
        | arrays(
            np.float64,
            (X.shape[0],),
            elements=st.floats(0, 1e300) | st.sampled_from([0.0, 1.0]),
        )
    )
    check_finite_or_value_error(
        lambda: GDRegressor(loss=loss, random_state=0, **params).fit(
            X, y, sample_weight=sw
        )
    )


@SETTINGS
@given(
    problem=regression_problem(min_rows=2, max_rows=12, elements=wide),
    params=fit_config,
    loss=st.sampled_from(
        ["log_loss", "hinge", "squared_hinge", "modified_huber", "perceptron"]
    ),
    n_classes=st.sampled_from([2, 3]),
)
def test_classifier_finite_or_value_error(problem, params, loss, n_classes):
    X, y = problem
    labels = np.arange(X.shape[0]) % n_classes
    est = check_finite_or_value_error(
        lambda: GDClassifier(loss=loss, random_state=0, **params).fit(X, labels)
    )
    if est is not None and hasattr(est, "predict_proba"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            proba = est.predict_proba(X)
            decision = est.decision_function(X).reshape(len(X), -1)
        # Decision values may overflow for huge X, but a probability is
        # never NaN where the decision is finite.
        assert not np.any(np.isnan(proba[np.all(np.isfinite(decision), axis=1)]))


@SETTINGS
@given(
    problem=regression_problem(min_rows=1, max_rows=10, elements=wide),
    params=fit_config,
)
def test_partial_fit_finite_or_value_error(problem, params):
    X, y = problem
    est = GDRegressor(random_state=0, **params)
    for _ in range(3):
        if check_finite_or_value_error(lambda: est.partial_fit(X, y)) is None:
            break


@pytest.mark.parametrize("batch_size", ["full", 1])
@pytest.mark.parametrize("scale", [1e150, 1e200, 1e300])
def test_huge_features_do_not_return_nan(scale, batch_size):
    rng = np.random.RandomState(0)
    X = scale * rng.normal(size=(20, 3))
    y = rng.normal(size=20)
    check_finite_or_value_error(
        lambda: GDRegressor(batch_size=batch_size, max_iter=5).fit(X, y)
    )


@pytest.mark.parametrize("exponent", [-100, -60, -3, 3, 60, 100])
@pytest.mark.parametrize("batch_size", ["full", 5])
def test_automatic_step_is_scale_equivariant(exponent, batch_size):
    # Without intercept and penalty, scaling X by c scales the curvature by
    # c^2, so eta0="auto" must scale by 1/c^2 and every iterate by 1/c: the
    # model on c X is the model on X divided by c, for any representable c
    # whose squared features stay finite.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=30)
    c = 10.0**exponent
    params = dict(penalty=None, fit_intercept=False, max_iter=20, tol=None,
                  batch_size=batch_size, shuffle=False)  # fmt: skip
    base = GDRegressor(**params).fit(X, y)
    scaled = GDRegressor(**params).fit(c * X, y)
    np.testing.assert_allclose(scaled.eta0_ * c * c, base.eta0_, rtol=1e-6)
    np.testing.assert_allclose(scaled.coef_ * c, base.coef_, rtol=1e-6)
