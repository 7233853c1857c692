"""A tour of skgd on data that ships with scikit-learn.

Run it with ``make demo`` (or ``.venv/bin/python docs/examples/demo.py``).
Every random choice is seeded, so the output is the same on every run.

Sections:

1. regression on the diabetes data: batch, stochastic and mini-batch
   gradient descent against the normal equation;
2. the classic gradient-descent tutorial experiments on y = 4 + 3x + noise;
3. a learning rate that is too high, and ``eta0="auto"``;
4. tuning ``eta0`` and ``batch_size`` with ``GridSearchCV``;
5. classification: log loss against ``LogisticRegression``, and hinge loss.
"""

import textwrap
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LinearRegression, LogisticRegression, SGDRegressor
from sklearn.model_selection import GridSearchCV, KFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skgd
from skgd import DivergenceError, GDClassifier
from skgd.schedules import InverseTime

# The tutorials' experiments are the textbook iteration theta <- theta - eta
# grad J(theta): the plain rule, the schedule's steps as given, no
# preconditioning (the defaults train the full batch faster, see the user
# guide's "Full-batch training").
TEXTBOOK = dict(optimizer="sgd", learning_rate="constant", precondition=False)


def GDRegressor(**params):
    return skgd.GDRegressor(**{**TEXTBOOK, **params})

SEED = 0
WIDTH = 78


# ----------------------------------------------------------------------
# Printing helpers
# ----------------------------------------------------------------------


def heading(title):
    """Print a section title, underlined."""
    print()
    print(title)
    print("=" * len(title))


def note(text):
    """Print a paragraph wrapped to the page width, indented by two."""
    print(
        textwrap.fill(
            text,
            WIDTH,
            initial_indent="  ",
            subsequent_indent="  ",
            break_on_hyphens=False,
        )
    )


def table(headers, rows):
    """Print rows as a plain-text table: text left-aligned, numbers right."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [
        max(len(h), *(len(row[j]) for row in cells)) for j, h in enumerate(headers)
    ]

    def is_text(j):
        return all(not _looks_numeric(row[j]) for row in cells)

    def line(values):
        parts = [
            v.ljust(w) if is_text(j) else v.rjust(w)
            for j, (v, w) in enumerate(zip(values, widths))
        ]
        return "  " + "  ".join(parts).rstrip()

    print(line(headers))
    print(line(["-" * w for w in widths]))
    for row in cells:
        print(line(row))


def _looks_numeric(text):
    """Whether a cell holds a number (or a placeholder in a number column)."""
    try:
        float(text)
    except ValueError:
        return text in ("-", "n/a", "failed")
    return True


def fmt(value, digits=4):
    """A float with `digits` decimals, or in exponent form when tiny."""
    if value != 0 and abs(value) < 10 ** (-digits):
        return f"{value:.1e}"
    return f"{value:.{digits}f}"


# ----------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------


def diabetes_split():
    """The diabetes data, split 75/25 and standardized on the training part."""
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=SEED
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def standardized_split(loader):
    """A classification data set, split 75/25 (stratified) and standardized
    on the training part."""
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=SEED, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def tutorial_data():
    """The tutorials' data: x = 2 U(0, 1), y = 4 + 3x + N(0, 1), 100 points."""
    rng = np.random.RandomState(42)
    x = 2 * rng.rand(100, 1)
    y = 4 + 3 * x[:, 0] + rng.randn(100)
    return x, y, rng


# ----------------------------------------------------------------------
# Sections
# ----------------------------------------------------------------------


def regression_on_diabetes():
    """Batch, SGD and mini-batch GDRegressor against the normal equation.

    No penalty, so every mode minimises the least-squares objective whose
    exact minimiser LinearRegression computes.  The diabetes features are
    strongly correlated (the Gram matrix has a condition number near 440),
    which makes the last digits slow to reach for every first-order method.
    """
    X_train, X_test, y_train, y_test = diabetes_split()
    heading(
        f"1. Regression on diabetes (standardized; {len(y_train)} train, "
        f"{len(y_test)} test rows)"
    )
    exact = LinearRegression().fit(X_train, y_train)
    exact_r2 = exact.score(X_test, y_test)

    modes = [
        # The full batch stops on its own, once the estimated distance to
        # the optimum is below tol times the size of the coefficients.
        ("batch (full)", dict(batch_size="full", tol=1e-8, max_iter=10_000)),
        # A constant step never lets SGD settle: the step must decay.
        (
            "SGD (1)",
            dict(
                batch_size=1,
                learning_rate=InverseTime(t1=10_000),
                tol=None,
                max_iter=500,
            ),
        ),
        (
            "mini-batch (32)",
            dict(
                batch_size=32,
                learning_rate=InverseTime(t1=2_000),
                tol=None,
                max_iter=2_000,
            ),
        ),
    ]
    rows = []
    for name, params in modes:
        model = GDRegressor(penalty=None, random_state=SEED, **params)
        model.fit(X_train, y_train)
        rows.append(mode_row(name, model, exact, X_test, y_test, exact_r2))
    # The same full batch with skgd's own defaults (accelerated rule, step
    # search, standardized coordinates): the exact model in about 1/30 of
    # the textbook epochs.
    model = skgd.GDRegressor(penalty=None, tol=1e-8).fit(X_train, y_train)
    rows.append(mode_row("defaults (full)", model, exact, X_test, y_test, exact_r2))
    table(
        [
            "mode (batch_size)",
            "epochs",
            "updates",
            "eta0_",
            "max|coef-exact|",
            "R2",
            "LinReg R2",
        ],
        rows,
    )
    note(
        "The first three rows are the textbook iteration. Batch: constant "
        "step until the estimated distance to the optimum is below tol=1e-8 "
        "of the coefficients' size (or the objective stops going down in "
        "float64). SGD, mini-batch: step eta0 / (1 + t/t1), t1 = 10,000 and "
        "2,000 updates. eta0_ is the first step from eta0='auto': 1/L for the "
        "full batch, smaller for small batches, whose gradients are noisier. "
        "Defaults: Nesterov's rule with restart, a line search for the step "
        "(its first trial is eta0_, in standardized coordinates) and "
        "preconditioning."
    )


def mode_row(name, model, exact, X_test, y_test, exact_r2):
    """One row of the regression table: a fitted model against the exact one."""
    return [
        name,
        model.n_iter_,
        model.t_,
        fmt(model.eta0_),
        fmt(np.max(np.abs(model.coef_ - exact.coef_))),
        fmt(model.score(X_test, y_test)),
        fmt(exact_r2),
    ]


def tutorial_experiments():
    """The tutorial experiments: batch GD and SGD against the normal
    equation on y = 4 + 3x + noise, and the tiny example with a wrong
    printed answer."""
    heading("2. The tutorial experiments: y = 4 + 3x + N(0, 1), 100 points")
    x, y, rng = tutorial_data()
    ones_x = np.column_stack([np.ones_like(x[:, 0]), x[:, 0]])
    theta_exact = np.linalg.lstsq(ones_x, y, rcond=None)[0]
    note(
        "skgd's squared error is r^2/2, half the tutorials' MSE, so its gradient "
        "is half theirs: a tutorial step eta is eta0 = 2 * eta in skgd."
    )
    start = rng.randn(2)  # the tutorial starts batch GD from a random theta
    rows = [["normal equation", "-", "-", fmt(theta_exact[0]), fmt(theta_exact[1])]]
    largest_stable = None
    for eta in (0.1, 0.02, 0.5):
        name = f"batch GD, eta={eta} (eta0={round(2 * eta, 3)})"
        model = GDRegressor(penalty=None, eta0=2 * eta, tol=None, max_iter=1000)
        try:
            model.fit(x, y, coef_init=start[1:], intercept_init=start[:1])
        except DivergenceError as err:
            largest_stable = err.largest_stable_step
            rows.append([name, err.epoch, "-", "diverged", "-"])
            continue
        rows.append(
            [
                name,
                model.n_iter_,
                model.t_,
                fmt(model.intercept_[0]),
                fmt(model.coef_[0]),
            ]
        )
    # eta_t = t0 / (t + t1) = (t0 / t1) / (1 + t / t1): InverseTime(t1) with
    # a first step of t0 / t1 = 0.1, i.e. eta0 = 0.2 in skgd's scale.
    sgd = GDRegressor(
        penalty=None,
        batch_size=1,
        eta0=2 * 5 / 50,
        learning_rate=InverseTime(t1=50),
        tol=None,
        max_iter=50,
        random_state=SEED,
    ).fit(x, y)
    rows.append(
        [
            "SGD, t0/(t+t1), t0=5, t1=50",
            sgd.n_iter_,
            sgd.t_,
            fmt(sgd.intercept_[0]),
            fmt(sgd.coef_[0]),
        ]
    )
    reference = SGDRegressor(penalty=None, eta0=0.1, random_state=SEED).fit(x, y)
    rows.append(
        [
            "sklearn SGDRegressor, eta0=0.1",
            reference.n_iter_,
            int(reference.t_ - 1),
            fmt(reference.intercept_[0]),
            fmt(reference.coef_[0]),
        ]
    )
    table(["method", "epochs", "updates", "theta_0", "theta_1"], rows)
    if largest_stable is not None:
        note(
            "eta0=1.0 is above this data's largest stable step, "
            f"{largest_stable:.3g}: DivergenceError at the epoch shown, "
            "never huge numbers."
        )

    print()
    X_tiny = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    y_tiny = np.array([1.0, 2.0, 3.0])
    tiny = GDRegressor(
        penalty=None, fit_intercept=False, eta0=0.02, tol=None, max_iter=1000
    ).fit(X_tiny, y_tiny)
    minimum_norm = np.linalg.pinv(X_tiny) @ y_tiny
    note(
        "Tiny example: X = [[1,1],[2,2],[3,3]], y = [1,2,3], no intercept, "
        "theta from 0, eta = 0.01 (eta0 = 0.02), 1000 iterations:"
    )
    table(
        ["method", "theta_1", "theta_2"],
        [
            ["GDRegressor", fmt(tiny.coef_[0]), fmt(tiny.coef_[1])],
            ["minimum-norm solution", fmt(minimum_norm[0]), fmt(minimum_norm[1])],
        ],
    )
    note(
        "The printed [0.999, 0.999] cannot be a solution, since any exact fit "
        "has theta_1 + theta_2 = 1; from 0, gradient descent converges to the "
        "minimum-norm solution [0.5, 0.5]."
    )


def learning_rate_too_high():
    """A step above the largest stable one raises DivergenceError, whose
    message says what went wrong; eta0="auto" picks a safe step."""
    heading("3. A learning rate that is too high")
    X_train, X_test, y_train, y_test = diabetes_split()
    try:
        GDRegressor(penalty=None, eta0=1.5).fit(X_train, y_train)
    except DivergenceError as err:
        note("GDRegressor(eta0=1.5) on standardized diabetes raises DivergenceError:")
        print(
            textwrap.fill(
                str(err), WIDTH, initial_indent="    > ", subsequent_indent="    > "
            )
        )
        note(
            f"Its attributes: epoch={err.epoch}, eta={err.eta:g}, "
            f"largest_stable_step={err.largest_stable_step:.4g}."
        )
    else:
        print("  (unexpected: eta0=1.5 did not diverge)")
    model = GDRegressor(penalty=None, eta0="auto", max_iter=5000).fit(X_train, y_train)
    note(
        f"GDRegressor(eta0='auto') trains fine: eta0_ = {model.eta0_:.4g} (1/L), "
        f"{model.n_iter_} epochs, test R2 = {model.score(X_test, y_test):.4f}."
    )


def tuning_with_grid_search():
    """GridSearchCV over eta0 and batch_size of a Pipeline; the diverging
    candidate fails cleanly and scores NaN."""
    heading("4. Tuning eta0 and batch_size with GridSearchCV (5-fold, n_jobs=2)")
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=SEED
    )
    # Every candidate gets the same budget, 200 epochs (tol=None), so the
    # grid compares what each setting reaches in that budget.
    pipe = make_pipeline(
        StandardScaler(),
        GDRegressor(penalty=None, tol=None, max_iter=200, random_state=SEED),
    )
    grid = GridSearchCV(
        pipe,
        {
            "gdregressor__eta0": [0.003, 0.03, "auto", 3.0],
            "gdregressor__batch_size": ["full", 1, 32],
        },
        cv=KFold(5, shuffle=True, random_state=SEED),
        error_score=np.nan,
        n_jobs=2,
    )
    with warnings.catch_warnings():
        # eta0=3.0 diverges on purpose: its fits fail and score NaN, which
        # GridSearchCV reports with two warnings we expect here.
        warnings.simplefilter("ignore", FitFailedWarning)
        warnings.filterwarnings("ignore", message="One or more of the test scores")
        grid.fit(X_train, y_train)

    results = grid.cv_results_
    order = np.argsort(results["rank_test_score"], kind="stable")
    scores = results["mean_test_score"]
    shown = [i for i in order[:5]] + [i for i in order if np.isnan(scores[i])]
    rows = []
    for i in shown:
        params = results["params"][i]
        failed = np.isnan(scores[i])
        rows.append(
            [
                "failed" if failed else results["rank_test_score"][i],
                params["gdregressor__batch_size"],
                params["gdregressor__eta0"],
                "diverged" if failed else fmt(scores[i]),
                "-" if failed else fmt(results["std_test_score"][i]),
            ]
        )
    table(["rank", "batch_size", "eta0", "mean CV R2", "std"], rows)
    n_hidden = len(order) - len(shown)
    best = grid.best_params_
    note(
        f"Best: batch_size={best['gdregressor__batch_size']!r}, "
        f"eta0={best['gdregressor__eta0']!r} (test R2 "
        f"{grid.score(X_test, y_test):.4f}); {n_hidden} candidates not shown."
    )


def classification():
    """GDClassifier (log loss) against LogisticRegression with the same
    regularisation, and a hinge-loss classifier trained by SGD."""
    heading("5. Classification (standardized; alpha=0.01, C = 1 / (alpha * n_train))")
    alpha = 0.01
    rows = []
    datasets = (("breast cancer", load_breast_cancer), ("digits", load_digits))
    for name, loader in datasets:
        X_train, X_test, y_train, y_test = standardized_split(loader)

        gd = GDClassifier(alpha=alpha, tol=1e-9, max_iter=10_000)
        gd.fit(X_train, y_train)
        C = 1.0 / (alpha * X_train.shape[0])
        lr = LogisticRegression(C=C, tol=1e-10, max_iter=10_000)
        lr.fit(X_train, y_train)
        gap = np.max(np.abs(gd.predict_proba(X_test) - lr.predict_proba(X_test)))
        kind = "logistic" if len(gd.classes_) == 2 else "softmax"
        rows.append(
            [
                name,
                f"GDClassifier log_loss ({kind})",
                fmt(gd.score(X_test, y_test)),
                fmt(gap),
                gd.n_iter_,
            ]
        )
        rows.append(
            [
                "",
                f"LogisticRegression C={C:.4f}",
                fmt(lr.score(X_test, y_test)),
                "-",
                int(np.max(lr.n_iter_)),
            ]
        )

    X_train, X_test, y_train, y_test = standardized_split(load_digits)
    hinge = GDClassifier(loss="hinge", batch_size=1, random_state=SEED)
    hinge.fit(X_train, y_train)
    rows.append(
        [
            "digits",
            "GDClassifier hinge, SGD, one-vs-rest",
            fmt(hinge.score(X_test, y_test)),
            "n/a",
            hinge.n_iter_,
        ]
    )
    table(["data", "model", "accuracy", "max|p-p_LR|", "epochs"], rows)
    note(
        "max|p-p_LR| is the largest difference of a predicted probability "
        "between the two models on the test rows. The hinge model updates "
        f"all {len(hinge.classes_)} one-vs-rest classifiers in one pass per "
        f"epoch ({hinge.t_} updates in all)."
    )


def main():
    """Run every section in turn."""
    print("skgd demo: linear models trained by gradient descent")
    regression_on_diabetes()
    tutorial_experiments()
    learning_rate_too_high()
    tuning_with_grid_search()
    classification()


if __name__ == "__main__":
    main()
