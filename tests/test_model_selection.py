"""skgd estimators inside scikit-learn's model-selection tools.

GridSearchCV tunes eta0 and batch_size like any other parameter, survives a
diverging candidate (its score is NaN, with a FitFailedWarning), finds a model
as good as the closed-form one, and reaches the parameters of a schedule
object through nested names.  clone and cross_val_score behave as for any
scikit-learn estimator.
"""

import re

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    StratifiedKFold,
    cross_val_score,
    train_test_split,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import skgd
from skgd.exceptions import DivergenceError
from skgd.schedules import InverseTime

# Stochastic candidates may stop at max_iter; the searches do not care.
pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore:One or more of the test scores:UserWarning"),
]

BATCH_SIZES = ["full", 1, 32]

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


def scaled(estimator):
    return Pipeline([("scale", StandardScaler()), ("gd", estimator)])


def diverged_candidates(search, bad_eta0):
    return np.array(search.cv_results_["param_gd__eta0"]) == bad_eta0


def assert_fit_failures(record, n_failed, n_total):
    """The FitFailedWarning counts the diverging fits and names the error."""
    messages = [str(w.message) for w in record if w.category is FitFailedWarning]
    assert len(messages) == 1
    assert f"{n_failed} fits failed out of a total of {n_total}" in messages[0]
    assert "DivergenceError" in messages[0]
    assert re.search(r"diverged at epoch \d+", messages[0])


def test_grid_search_regressor_eta0_and_batch_size():
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    bad_eta0 = 100.0
    search = GridSearchCV(
        scaled(GDRegressor(random_state=0)),
        {"gd__eta0": [0.01, 0.1, bad_eta0], "gd__batch_size": BATCH_SIZES},
        n_jobs=2,
        error_score=np.nan,
    )
    with pytest.warns(FitFailedWarning) as record:
        search.fit(X_train, y_train)
    assert_fit_failures(record, n_failed=3 * 5, n_total=9 * 5)

    scores = search.cv_results_["mean_test_score"]
    diverged = diverged_candidates(search, bad_eta0)
    assert diverged.sum() == len(BATCH_SIZES)
    assert np.all(np.isnan(scores[diverged]))
    assert np.all(np.isfinite(scores[~diverged]))
    for split in range(5):
        split_scores = search.cv_results_[f"split{split}_test_score"]
        assert np.all(np.isnan(split_scores[diverged]))
    assert search.best_params_["gd__eta0"] != bad_eta0

    # The refitted best model predicts as well as least squares.
    exact = scaled(LinearRegression()).fit(X_train, y_train)
    assert abs(search.score(X_test, y_test) - exact.score(X_test, y_test)) < 0.02
    assert search.best_score_ > 0.45


def test_grid_search_classifier_eta0_and_batch_size():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, random_state=0, stratify=y
    )
    bad_eta0 = 1e6
    search = GridSearchCV(
        scaled(GDClassifier(max_iter=200, random_state=0)),
        {"gd__eta0": [0.01, 0.1, bad_eta0], "gd__batch_size": BATCH_SIZES},
        cv=3,
        n_jobs=2,
        error_score=np.nan,
    )
    with pytest.warns(FitFailedWarning) as record:
        search.fit(X_train, y_train)
    assert_fit_failures(record, n_failed=3 * 3, n_total=9 * 3)

    scores = search.cv_results_["mean_test_score"]
    diverged = diverged_candidates(search, bad_eta0)
    assert np.all(np.isnan(scores[diverged]))
    assert np.all(np.isfinite(scores[~diverged]))
    assert search.best_params_["gd__eta0"] != bad_eta0

    reference = scaled(LogisticRegression(max_iter=5000)).fit(X_train, y_train)
    accuracy = search.score(X_test, y_test)
    assert accuracy > 0.93
    assert abs(accuracy - reference.score(X_test, y_test)) < 0.03


def test_grid_search_reaches_schedule_parameters():
    """gd__learning_rate__t1 sets t1 of the InverseTime inside the pipeline."""
    X, y = load_diabetes(return_X_y=True)
    schedule = InverseTime()
    estimator = GDRegressor(
        learning_rate=schedule,
        eta0=0.01,
        batch_size=1,
        max_iter=20,
        tol=None,
        penalty=None,
        random_state=0,
    )
    t1_values = [0.01, 100.0, 1e5]
    search = GridSearchCV(
        scaled(estimator), {"gd__learning_rate__t1": t1_values}, cv=3, n_jobs=2
    )
    search.fit(X, y)

    # The user's schedule object is cloned, never modified.
    assert schedule.t1 == InverseTime().t1
    assert estimator.learning_rate is schedule

    scores = dict(
        zip(
            search.cv_results_["param_gd__learning_rate__t1"],
            search.cv_results_["mean_test_score"],
        )
    )
    assert set(scores) == set(t1_values)
    # Decay too fast (t1 = 0.01: the step falls 100-fold after one update) and
    # training freezes long before the intercept reaches the mean of y.
    assert scores[0.01] < 0.0
    assert scores[0.01] < min(scores[100.0], scores[1e5]) - 0.3
    best_t1 = search.best_params_["gd__learning_rate__t1"]
    assert best_t1 != 0.01
    best_gd = search.best_estimator_.named_steps["gd"]
    assert best_gd.learning_rate.t1 == best_t1

    # The refit is exactly a fit with that schedule (same seed).
    manual = scaled(
        clone(estimator).set_params(learning_rate=InverseTime(t1=best_t1))
    ).fit(X, y)
    assert_allclose(best_gd.coef_, manual.named_steps["gd"].coef_, rtol=1e-12)
    assert_allclose(best_gd.intercept_, manual.named_steps["gd"].intercept_, rtol=1e-12)


@pytest.mark.parametrize(
    "estimator",
    [
        GDRegressor(
            loss="huber",
            penalty="elasticnet",
            alpha=0.01,
            l1_ratio=0.3,
            eta0=0.05,
            learning_rate=InverseTime(t1=7.0),
            batch_size=16,
            optimizer="adam",
            beta_1=0.8,
            early_stopping=True,
            random_state=3,
        ),
        GDClassifier(
            loss="modified_huber",
            class_weight={0: 2.0, 1: 0.5},
            batch_size=1,
            optimizer="nesterov",
            momentum=0.7,
            average=10,
            max_iter=17,
            tol=None,
        ),
    ],
    ids=["GDRegressor", "GDClassifier"],
)
def test_clone_keeps_parameters(estimator):
    copy = clone(estimator)
    assert copy is not estimator
    params, copied = estimator.get_params(deep=True), copy.get_params(deep=True)
    assert set(params) == set(copied)
    for name, value in params.items():
        if name == "learning_rate" and not isinstance(value, str):
            # The schedule is cloned too: a new object with equal parameters.
            assert copied[name] is not value
            assert copied[name].get_params() == value.get_params()
        else:
            assert copied[name] == value, name
    if isinstance(estimator.learning_rate, InverseTime):
        assert copied["learning_rate__t1"] == 7.0


def test_clone_of_fitted_estimator_is_unfitted():
    X, y = load_diabetes(return_X_y=True)
    fitted = GDRegressor(max_iter=5, tol=None).fit(X, y)
    copy = clone(fitted)
    assert not hasattr(copy, "coef_")
    assert copy.get_params() == fitted.get_params()


def test_cross_val_score_matches_least_squares():
    """Full batch is deterministic: cross_val_score equals the scores of
    fresh fits on each fold, and those equal LinearRegression's."""
    X, y = load_diabetes(return_X_y=True)
    cv = KFold(n_splits=5, shuffle=True, random_state=0)
    # Correlated features (condition number about 500 after scaling) need
    # many full-batch steps of 1/L to converge to machine precision.
    model = scaled(GDRegressor(penalty=None, tol=None, max_iter=10_000))
    scores = cross_val_score(model, X, y, cv=cv, n_jobs=2)

    manual = [
        clone(model).fit(X[train], y[train]).score(X[test], y[test])
        for train, test in cv.split(X)
    ]
    assert_allclose(scores, manual, rtol=1e-12)
    exact = cross_val_score(scaled(LinearRegression()), X, y, cv=cv)
    assert_allclose(scores, exact, rtol=1e-6)


def test_cross_val_score_classifier_with_string_labels():
    X, y = load_iris(return_X_y=True)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    scores = cross_val_score(
        scaled(GDClassifier(alpha=1e-3, tol=None, max_iter=1000)), X, labels, cv=cv
    )
    assert scores.shape == (5,)
    reference = cross_val_score(
        scaled(LogisticRegression(C=10.0, max_iter=5000)), X, labels, cv=cv
    )
    assert scores.mean() > 0.9
    assert abs(scores.mean() - reference.mean()) < 0.05


def test_diverging_candidate_raises_without_error_score():
    """With error_score='raise' the DivergenceError reaches the caller."""
    X, y = load_diabetes(return_X_y=True)
    search = GridSearchCV(
        scaled(GDRegressor()), {"gd__eta0": [100.0]}, cv=2, error_score="raise"
    )
    with pytest.raises(DivergenceError, match="diverged at epoch"):
        search.fit(X, y)


def test_convergence_warning_is_not_an_error():
    """A candidate stopped by max_iter still gets a score."""
    X, y = load_diabetes(return_X_y=True)
    with pytest.warns(ConvergenceWarning):
        scores = cross_val_score(scaled(GDRegressor(max_iter=3)), X, y, cv=3)
    assert np.all(np.isfinite(scores))
