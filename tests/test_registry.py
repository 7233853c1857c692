"""The registry (skgd/_registry.py) is the one source of what the package
knows about losses, update rules and string schedules: its entries match the
kernel's codes, its curvature bounds and step formulas hold on data, and the
estimators and the documentation list exactly its entries."""

import inspect
import re
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from numpydoc.docscrape import ClassDoc

from skgd import GDClassifier, GDRegressor, _kernel, _losses
from skgd._registry import (
    LOSSES,
    OPTIMIZER_PARAMETERS,
    OPTIMIZERS,
    SCHEDULES,
    TARGET_ONE_VS_REST,
    TARGET_REAL,
    estimator_losses,
)
from skgd._solver import KernelData
from skgd.exceptions import DivergenceError

ROOT = Path(__file__).resolve().parents[1]
USER_GUIDE = ROOT / "docs" / "user_guide.md"
README = ROOT / "README.md"
ESTIMATORS = {"regressor": GDRegressor, "classifier": GDClassifier}


# --------------------------------------------------------------------------
# Kernel codes
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "table, enum",
    [(LOSSES, _losses.LossCode), (OPTIMIZERS, _kernel.OptCode)],
    ids=["losses", "optimizers"],
)
def test_every_kernel_code_has_exactly_one_entry(table, enum):
    codes = [entry.code for entry in table.values()]
    assert sorted(codes) == sorted(int(member) for member in enum)
    assert len(set(codes)) == len(codes)


def test_target_kinds_are_the_kernel_enum():
    assert TARGET_REAL == _kernel.TargetKind.TARGET_REAL
    assert TARGET_ONE_VS_REST == _kernel.TargetKind.TARGET_ONE_VS_REST


# --------------------------------------------------------------------------
# Losses: the curvature bound is the supremum of the second derivative
# --------------------------------------------------------------------------


def _kernel_derivative(loss, predictions, target):
    """dloss/dp of `loss` at each prediction, from the kernel: one row with
    the single feature 1 and no intercept, so the gradient in the weight is
    the derivative in the prediction."""
    X = np.ones((1, 1))
    margin = LOSSES[loss].margin
    kind = TARGET_ONE_VS_REST if margin else TARGET_REAL
    # Class index 1 is the +1 target of a single one-vs-rest output.
    Y = np.array([[1.0 if margin else target]])
    data = KernelData(X)
    out = []
    for p in predictions:
        W = np.array([[p, 0.0]])
        _, grad = _kernel.loss_and_gradient(
            *data.args,
            Y,
            kind,
            np.ones(1),
            W,
            np.zeros(1, dtype=np.intp),
            LOSSES[loss].code,
            0.1,
            True,
        )
        out.append(grad[0, 0])
    return np.array(out)


@pytest.mark.parametrize(
    "loss",
    [name for name, entry in LOSSES.items() if entry.code != _losses.LossCode.SOFTMAX],
)
def test_curvature_bound_is_the_largest_second_derivative(loss):
    p = np.linspace(-4.0, 4.0, 8001)
    d = _kernel_derivative(loss, p, target=0.3)
    second = np.diff(d) / np.diff(p)
    curvature = LOSSES[loss].curvature
    if curvature is None:
        # A kink: the derivative jumps somewhere.
        assert np.max(np.abs(np.diff(d))) > 0.5
        return
    assert np.max(second) <= curvature * (1 + 1e-6)
    assert np.max(second) >= curvature * 0.999


def test_softmax_curvature_bound():
    """The Hessian of -log softmax(p)[k] is diag(s) - s s^T: its largest
    eigenvalue over many score vectors stays below the bound and nears it."""
    rng = np.random.RandomState(0)
    largest = 0.0
    for scale in (0.0, 0.5, 3.0):
        for _ in range(200):
            s = np.exp(rng.randn(2) * scale)
            s /= s.sum()
            largest = max(largest, np.linalg.eigvalsh(np.diag(s) - np.outer(s, s))[-1])
    assert largest <= LOSSES["multinomial"].curvature
    assert largest >= 0.999 * LOSSES["multinomial"].curvature


# --------------------------------------------------------------------------
# Update rules: the step formulas hold on data
# --------------------------------------------------------------------------


def _quadratic(n=200, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.randn(n, 1) * 2.0
    y = 1.5 * x[:, 0] + 0.1 * rng.randn(n)
    # Full batch, squared error, no intercept or penalty: L = mean(x^2).
    return x, y, float(np.mean(x[:, 0] ** 2)), float(x[:, 0] @ y / (x[:, 0] @ x[:, 0]))


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_auto_step_follows_the_formula(name):
    x, y, L, _ = _quadratic()
    rule = OPTIMIZERS[name]
    model = GDRegressor(
        optimizer=name,
        penalty=None,
        fit_intercept=False,
        max_iter=1,
        tol=None,
        learning_rate="constant",
        momentum=0.9,
        precondition=False,
    ).fit(x, y)
    formula = rule.auto_step(L, rule.hyper(model))
    if rule.per_coordinate:
        assert_allclose(model.eta0_, formula, rtol=1e-6)
    else:
        # Every rule that follows the curvature scales as 1 / L; on the full
        # batch each of them is stable at 1 / L itself, which the full-batch
        # driver takes (the registry's formula serves stochastic batches).
        assert_allclose(formula * L, rule.auto_step(1.0, rule.hyper(model)))
        assert_allclose(model.eta0_, 1.0 / L, rtol=1e-6)


@pytest.mark.parametrize(
    "name", [name for name, rule in OPTIMIZERS.items() if rule.stable_step is not None]
)
def test_largest_stable_step_is_the_threshold(name):
    """Full-batch training on a quadratic converges to least squares just
    below the rule's largest stable step and diverges just above it."""
    x, y, L, exact = _quadratic()
    rule = OPTIMIZERS[name]
    # The textbook iteration with a fixed step (and a fixed momentum).
    params = dict(
        optimizer=name,
        penalty=None,
        fit_intercept=False,
        tol=None,
        learning_rate="constant",
        momentum=0.9,
        precondition=False,
    )
    stable = rule.stable_step(L, rule.hyper(GDRegressor(**params)))
    below = GDRegressor(eta0=0.9 * stable, max_iter=600, **params).fit(x, y)
    assert_allclose(below.coef_, [exact], rtol=1e-6)
    with pytest.raises(DivergenceError) as info:
        GDRegressor(eta0=1.2 * stable, max_iter=600, **params).fit(x, y)
    assert_allclose(info.value.largest_stable_step, stable, rtol=1e-6)


# --------------------------------------------------------------------------
# The estimators read the registry
# --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(ESTIMATORS))
def test_parameter_checks_accept_exactly_the_entries(kind):
    constraints = ESTIMATORS[kind]._parameter_constraints
    assert constraints["loss"][0].options == set(estimator_losses(kind))
    # "auto" chooses among the rules; "line_search" searches the step
    # instead of scheduling it (full batch only).
    assert constraints["optimizer"][0].options == {*OPTIMIZERS, "auto"}
    assert constraints["learning_rate"][0].options == {
        *SCHEDULES,
        "auto",
        "line_search",
    }
    for name in OPTIMIZER_PARAMETERS:
        assert constraints[name] is OPTIMIZER_PARAMETERS[name].constraints


@pytest.mark.parametrize("kind", list(ESTIMATORS))
def test_signature_has_every_hyperparameter_with_its_default(kind):
    signature = inspect.signature(ESTIMATORS[kind])
    for name, hyper in OPTIMIZER_PARAMETERS.items():
        assert signature.parameters[name].default == hyper.default
    # Every parameter a rule reads exists.
    for rule in OPTIMIZERS.values():
        assert set(rule.params) <= set(OPTIMIZER_PARAMETERS)
        assert rule.velocity is None or rule.velocity in rule.params


def test_losses_by_estimator():
    assert set(estimator_losses("regressor")) < set(estimator_losses("classifier"))
    # The softmax is chosen by the classifier itself, never by name.
    assert "multinomial" not in estimator_losses("classifier")
    for name in estimator_losses("classifier"):
        fitted = GDClassifier(loss=name, max_iter=2, tol=None).fit(
            [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]
        )
        assert hasattr(fitted, "predict_proba") == LOSSES[name].probabilistic


@pytest.mark.parametrize("kind", list(ESTIMATORS))
def test_docstring_lists_every_entry(kind):
    doc = ClassDoc(ESTIMATORS[kind])
    params = {p.name: p for p in doc["Parameters"]}
    for name in ("loss", "optimizer"):
        listed = set(re.findall(r'"(\w+)"', params[name].type.split("default")[0]))
        expected = (
            set(estimator_losses(kind)) if name == "loss" else {*OPTIMIZERS, "auto"}
        )
        assert listed == expected
    description = "\n".join(params["optimizer"].desc)
    for rule in OPTIMIZERS.values():
        assert f'``"{rule.name}"``: {rule.summary}' in description
    for name, hyper in OPTIMIZER_PARAMETERS.items():
        kind_of_value = "float" if hyper.auto is None else 'float or "auto"'
        assert params[name].type == f"{kind_of_value}, default={hyper.default!r}"
        assert " ".join(params[name].desc) == hyper.doc
    assert "%(" not in ESTIMATORS[kind].__doc__


# --------------------------------------------------------------------------
# The user guide lists exactly the entries
# --------------------------------------------------------------------------


def _table_rows(section):
    """{first cell: second cell} of the first table under '## section'."""
    text = USER_GUIDE.read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in body.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 2 and not set(cells[0]) <= {"-"}:
            rows[cells[0]] = cells[1]
    return rows


def test_user_guide_optimizer_table_is_the_registry():
    rows = _table_rows("Optimizers")
    rows.pop("`optimizer`")
    expected = {f'`"{rule.name}"`': f"${rule.rule}$" for rule in OPTIMIZERS.values()}
    assert rows == expected


def test_user_guide_schedule_table_lists_every_string_schedule():
    rows = _table_rows("Schedules")
    listed = {m.group(1) for cell in rows for m in [re.match(r'`"(\w+)"', cell)] if m}
    assert listed == set(SCHEDULES)
    for name, entry in SCHEDULES.items():
        cell = next(v for k, v in rows.items() if k.startswith(f'`"{name}"`'))
        assert f"${entry.formula}" in cell


def test_readme_parameter_table_lists_every_rule():
    lines = README.read_text().splitlines()
    row = next(line for line in lines if line.startswith("| `optimizer`"))
    assert set(re.findall(r'`"(\w+)"`', row.split("|")[3])) == {*OPTIMIZERS, "auto"}
