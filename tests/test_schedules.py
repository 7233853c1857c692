"""Tests for skgd.schedules.

Every schedule is compared with an independent per-element computation in pure
Python (``math`` module, one update at a time).
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import ParameterGrid

from skgd.schedules import (
    CosineDecay,
    ExponentialDecay,
    InverseTime,
    LinearWarmup,
    Schedule,
    StepDecay,
    _step_sizes,
)

RTOL = 1e-12
T_RANGE = np.arange(0, 5001)
# Large counts, chosen so that ExponentialDecay either stays a normal float or
# underflows to exactly 0 (no subnormals, whose relative error is meaningless).
T_LARGE = np.array([9_999, 65_536, 123_457, 999_999, 7_654_321, 10**9, 2**40])
T_ALL = np.concatenate([T_RANGE, T_LARGE])
ETA0S = [1.0, 0.01, 3.7]


# --------------------------------------------------------------------------
# Pure-Python references (one element at a time, math module only)
# --------------------------------------------------------------------------


def ref_inverse_time(t, eta0, t1):
    return [eta0 / (1 + ti / t1) for ti in t.tolist()]


def ref_exponential(t, eta0, decay_rate, decay_steps, staircase):
    out = []
    for ti in t.tolist():
        exponent = math.floor(ti / decay_steps) if staircase else ti / decay_steps
        out.append(eta0 * math.pow(decay_rate, exponent))
    return out


def ref_step(t, eta0, step_size, gamma):
    out = []
    for ti in t.tolist():
        out.append(eta0 * math.pow(gamma, ti // step_size))
    return out


def ref_cosine(t, eta0, decay_steps, final_fraction):
    """The literal formula of the docstring."""
    out = []
    for ti in t.tolist():
        if ti < decay_steps:
            cos_part = 0.5 * (1 + math.cos(math.pi * ti / decay_steps))
            out.append(eta0 * (final_fraction + (1 - final_fraction) * cos_part))
        else:
            out.append(eta0 * final_fraction)
    return out


def ref_cosine_zero_final(t, eta0, decay_steps):
    """final_fraction=0 via 1 + cos(x) = 2 sin((pi - x) / 2)**2.

    Unlike the literal formula this keeps full relative accuracy close to
    ``decay_steps``, where the step size is tiny.
    """
    out = []
    for ti in t.tolist():
        if ti < decay_steps:
            out.append(
                eta0 * math.sin(math.pi * (decay_steps - ti) / (2 * decay_steps)) ** 2
            )
        else:
            out.append(0.0)
    return out


def ref_warmup(t, eta0, warmup_steps, after_ref):
    out = []
    for ti in t.tolist():
        if ti < warmup_steps:
            out.append(eta0 * (ti + 1) / warmup_steps)
        else:
            out.append(after_ref(np.array([ti - warmup_steps]), eta0)[0])
    return out


CASES = [
    (InverseTime(), lambda t, e: ref_inverse_time(t, e, 50.0)),
    (InverseTime(t1=1), lambda t, e: ref_inverse_time(t, e, 1.0)),
    (InverseTime(t1=0.37), lambda t, e: ref_inverse_time(t, e, 0.37)),
    (InverseTime(t1=12345.6), lambda t, e: ref_inverse_time(t, e, 12345.6)),
    (ExponentialDecay(), lambda t, e: ref_exponential(t, e, 0.5, 1000, False)),
    (
        ExponentialDecay(decay_rate=0.9, decay_steps=7),
        lambda t, e: ref_exponential(t, e, 0.9, 7, False),
    ),
    (
        ExponentialDecay(decay_rate=0.3, decay_steps=250, staircase=True),
        lambda t, e: ref_exponential(t, e, 0.3, 250, True),
    ),
    (
        ExponentialDecay(decay_rate=1.0, decay_steps=1),
        lambda t, e: ref_exponential(t, e, 1.0, 1, False),
    ),
    (StepDecay(), lambda t, e: ref_step(t, e, 1000, 0.1)),
    (StepDecay(step_size=1, gamma=0.999), lambda t, e: ref_step(t, e, 1, 0.999)),
    (StepDecay(step_size=333, gamma=0.5), lambda t, e: ref_step(t, e, 333, 0.5)),
    (StepDecay(step_size=10, gamma=1), lambda t, e: ref_step(t, e, 10, 1.0)),
    (CosineDecay(final_fraction=0.1), lambda t, e: ref_cosine(t, e, 1000, 0.1)),
    (
        CosineDecay(decay_steps=4999, final_fraction=0.5),
        lambda t, e: ref_cosine(t, e, 4999, 0.5),
    ),
    (
        CosineDecay(decay_steps=1, final_fraction=0.25),
        lambda t, e: ref_cosine(t, e, 1, 0.25),
    ),
    (
        CosineDecay(decay_steps=77, final_fraction=1.0),
        lambda t, e: ref_cosine(t, e, 77, 1.0),
    ),
    (CosineDecay(), lambda t, e: ref_cosine_zero_final(t, e, 1000)),
    (CosineDecay(decay_steps=3), lambda t, e: ref_cosine_zero_final(t, e, 3)),
    (
        CosineDecay(decay_steps=100_000),
        lambda t, e: ref_cosine_zero_final(t, e, 100_000),
    ),
    (LinearWarmup(), lambda t, e: ref_warmup(t, e, 100, lambda u, e: [e])),
    (
        LinearWarmup(warmup_steps=1),
        lambda t, e: ref_warmup(t, e, 1, lambda u, e: [e]),
    ),
    (
        LinearWarmup(warmup_steps=37, after=InverseTime(t1=5)),
        lambda t, e: ref_warmup(t, e, 37, lambda u, e: ref_inverse_time(u, e, 5.0)),
    ),
    (
        LinearWarmup(warmup_steps=500, after=StepDecay(step_size=100, gamma=0.5)),
        lambda t, e: ref_warmup(t, e, 500, lambda u, e: ref_step(u, e, 100, 0.5)),
    ),
    (
        LinearWarmup(warmup_steps=0, after=ExponentialDecay()),
        lambda t, e: ref_warmup(
            t, e, 0, lambda u, e: ref_exponential(u, e, 0.5, 1000, False)
        ),
    ),
]
CASE_IDS = [repr(schedule) for schedule, _ in CASES]

DECAYS = [
    InverseTime(),
    InverseTime(t1=0.5),
    ExponentialDecay(),
    ExponentialDecay(decay_rate=0.99, decay_steps=3),
    ExponentialDecay(decay_rate=0.2, decay_steps=100, staircase=True),
    StepDecay(),
    StepDecay(step_size=1, gamma=0.99),
    CosineDecay(),
    CosineDecay(decay_steps=4321, final_fraction=0.3),
    CosineDecay(decay_steps=10**6),
]
NOT_WARMUP = [
    schedule for schedule, _ in CASES if not isinstance(schedule, LinearWarmup)
]


# --------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------


@pytest.mark.parametrize("eta0", ETA0S)
@pytest.mark.parametrize("schedule, reference", CASES, ids=CASE_IDS)
def test_matches_pure_python_reference(schedule, reference, eta0):
    got = schedule(T_ALL, eta0)
    expected = np.array(reference(T_ALL, eta0), dtype=np.float64)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0)


@pytest.mark.parametrize("final_fraction", [0.0, 0.2])
def test_cosine_decay_matches_literal_formula_up_to_rounding(final_fraction):
    # The literal formula loses relative accuracy where 1 + cos(...) cancels
    # (final_fraction = 0, t close to decay_steps), so allow an absolute error
    # of a few ulps of eta0 there.
    eta0 = 0.5
    got = CosineDecay(decay_steps=1000, final_fraction=final_fraction)(T_ALL, eta0)
    expected = ref_cosine(T_ALL, eta0, 1000, final_fraction)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=4e-16 * eta0)


@pytest.mark.parametrize("eta0", ETA0S + [1e-9, 250.0])
@pytest.mark.parametrize("schedule", NOT_WARMUP, ids=repr)
def test_first_step_is_exactly_eta0(schedule, eta0):
    steps = schedule(np.array([0, 1, 2]), eta0)
    assert steps[0] == eta0
    assert schedule(np.array([0]), eta0)[0] == eta0


@settings(max_examples=200, deadline=None)
@given(
    eta0=st.floats(1e-10, 1e4),
    t1=st.floats(1e-6, 1e12),
    rate=st.floats(1e-6, 1.0),
    steps=st.integers(1, 10**9),
    fraction=st.floats(0.0, 1.0),
    staircase=st.booleans(),
)
def test_first_step_is_exactly_eta0_for_any_parameters(
    eta0, t1, rate, steps, fraction, staircase
):
    schedules = [
        InverseTime(t1=t1),
        ExponentialDecay(decay_rate=rate, decay_steps=steps, staircase=staircase),
        StepDecay(step_size=steps, gamma=rate),
        CosineDecay(decay_steps=steps, final_fraction=fraction),
    ]
    t = np.array([0, 1, 5])
    for schedule in schedules:
        assert schedule(t, eta0)[0] == eta0, schedule
    for learning_rate in ["constant", "adaptive", "invscaling", "optimal"]:
        first = _step_sizes(learning_rate, t, eta0, power_t=rate, alpha=t1)[0]
        assert first == eta0, learning_rate


@pytest.mark.parametrize("schedule", DECAYS, ids=repr)
def test_decays_are_monotone_non_increasing(schedule):
    t = np.concatenate([T_RANGE, np.arange(10**6 - 2000, 10**6 + 2000), T_LARGE])
    t = np.unique(t)
    steps = schedule(t, 0.1)
    assert np.all(np.diff(steps) <= 0)
    assert np.all(steps >= 0)


def test_decays_actually_decay():
    t = np.array([0, 10**4])
    for schedule in DECAYS:
        first, later = schedule(t, 1.0)
        assert later < first, schedule


@pytest.mark.parametrize("schedule, reference", CASES, ids=CASE_IDS)
def test_output_is_float64_with_shape_of_t(schedule, reference):
    for t in [
        np.arange(7),
        np.arange(7, dtype=np.int32),
        np.arange(7, dtype=np.uint64),
    ]:
        steps = schedule(t, 1)  # an int eta0 must not give an int array
        assert steps.dtype == np.float64
        assert steps.shape == t.shape
    empty = schedule(np.arange(0), 0.1)
    assert empty.dtype == np.float64
    assert empty.shape == (0,)


def test_integer_hyper_parameters_still_give_float_steps():
    t = np.arange(5)
    np.testing.assert_array_equal(StepDecay(step_size=2, gamma=1)(t, 2), [2.0] * 5)
    np.testing.assert_array_equal(
        ExponentialDecay(decay_rate=1, decay_steps=1)(t, 2), [2.0] * 5
    )
    np.testing.assert_allclose(InverseTime(t1=2)(t, 3), [3, 2, 1.5, 1.2, 1.0])


def test_cosine_decay_known_values():
    eta0 = 2.0
    steps = CosineDecay(decay_steps=4, final_fraction=0.5)(np.arange(7), eta0)
    # cos factor 0.5 * (1 + cos(pi t / 4)) at t = 2 is exactly 0.5.
    assert steps[2] == pytest.approx(eta0 * (0.5 + 0.5 * 0.5), rel=RTOL)
    np.testing.assert_array_equal(steps[4:], [1.0, 1.0, 1.0])
    assert CosineDecay(decay_steps=10)(np.array([10, 11, 10**12]), 1.0).tolist() == [
        0.0,
        0.0,
        0.0,
    ]


def test_step_decay_is_piecewise_constant():
    steps = StepDecay(step_size=3, gamma=0.5)(np.arange(9), 8.0)
    np.testing.assert_array_equal(steps, [8, 8, 8, 4, 4, 4, 2, 2, 2])
    staircase = ExponentialDecay(decay_rate=0.5, decay_steps=3, staircase=True)
    np.testing.assert_array_equal(staircase(np.arange(9), 8.0), steps)


# --------------------------------------------------------------------------
# Warm-up
# --------------------------------------------------------------------------


@pytest.mark.parametrize("warmup_steps", [1, 2, 3, 7, 10, 100, 999])
@pytest.mark.parametrize("eta0", [0.1, 0.3, 1.0, 7.77, 1e-5])
def test_warmup_reaches_eta0_exactly_at_last_warmup_step(warmup_steps, eta0):
    schedule = LinearWarmup(warmup_steps=warmup_steps)
    steps = schedule(np.arange(warmup_steps + 5), eta0)
    assert steps[warmup_steps - 1] == eta0
    warm = steps[:warmup_steps]
    assert np.all(np.diff(warm) > 0)
    assert warm[0] == pytest.approx(eta0 / warmup_steps, rel=RTOL)
    if warmup_steps > 1:
        assert np.all(warm[:-1] < eta0)
    np.testing.assert_array_equal(steps[warmup_steps:], eta0)


def test_warmup_first_step_is_not_eta0():
    steps = LinearWarmup(warmup_steps=4)(np.arange(3), 1.0)
    np.testing.assert_allclose(steps, [0.25, 0.5, 0.75], rtol=RTOL)


@pytest.mark.parametrize(
    "after", [InverseTime(t1=3), CosineDecay(decay_steps=50), StepDecay(7, 0.5)]
)
def test_warmup_hands_over_to_after_with_restarted_count(after):
    warmup_steps = 25
    eta0 = 0.4
    t = np.arange(2000)
    steps = LinearWarmup(warmup_steps=warmup_steps, after=after)(t, eta0)
    np.testing.assert_array_equal(
        steps[warmup_steps:], after(t[warmup_steps:] - warmup_steps, eta0)
    )
    # The first step after the warm-up is the first step of `after`: eta0.
    assert steps[warmup_steps] == eta0
    assert steps[-1] < eta0


def test_warmup_with_unsorted_and_split_counts():
    schedule = LinearWarmup(warmup_steps=10, after=InverseTime(t1=2))
    t = np.arange(40)
    whole = schedule(t, 1.0)
    np.testing.assert_array_equal(
        np.concatenate([schedule(t[:7], 1.0), schedule(t[7:], 1.0)]), whole
    )
    perm = np.random.default_rng(0).permutation(40)
    np.testing.assert_array_equal(schedule(t[perm], 1.0), whole[perm])


def test_warmup_zero_steps_is_after():
    after = ExponentialDecay(decay_rate=0.7, decay_steps=3)
    t = np.arange(100)
    np.testing.assert_array_equal(
        LinearWarmup(warmup_steps=0, after=after)(t, 0.2), after(t, 0.2)
    )
    np.testing.assert_array_equal(LinearWarmup(warmup_steps=0)(t, 0.2), 0.2)


# --------------------------------------------------------------------------
# scikit-learn estimator protocol
# --------------------------------------------------------------------------

ALL_DEFAULTS = [InverseTime, ExponentialDecay, StepDecay, CosineDecay, LinearWarmup]


@pytest.mark.parametrize("cls", ALL_DEFAULTS)
def test_is_schedule_and_estimator(cls):
    schedule = cls()
    assert isinstance(schedule, Schedule)
    assert isinstance(schedule, BaseEstimator)


@pytest.mark.parametrize("schedule, reference", CASES, ids=CASE_IDS)
def test_clone_round_trip(schedule, reference):
    cloned = clone(schedule)
    assert cloned is not schedule
    assert type(cloned) is type(schedule)
    assert repr(cloned) == repr(schedule)
    params, cloned_params = schedule.get_params(deep=False), cloned.get_params(False)
    assert params.keys() == cloned_params.keys()
    for name, value in params.items():
        if isinstance(value, Schedule):
            assert cloned_params[name] is not value
            assert cloned_params[name].get_params() == value.get_params()
        else:
            assert cloned_params[name] == value
    np.testing.assert_array_equal(cloned(T_ALL, 0.5), schedule(T_ALL, 0.5))


def test_get_params_exposes_constructor_arguments():
    assert InverseTime(t1=3.5).get_params() == {"t1": 3.5}
    assert ExponentialDecay(0.8, 20, True).get_params() == {
        "decay_rate": 0.8,
        "decay_steps": 20,
        "staircase": True,
    }
    assert StepDecay(5, 0.25).get_params() == {"step_size": 5, "gamma": 0.25}
    assert CosineDecay(9, 0.1).get_params() == {
        "decay_steps": 9,
        "final_fraction": 0.1,
    }
    assert LinearWarmup(3).get_params() == {"warmup_steps": 3, "after": None}


def test_get_params_deep_includes_nested_after():
    after = StepDecay(step_size=4, gamma=0.5)
    params = LinearWarmup(warmup_steps=9, after=after).get_params(deep=True)
    assert params["warmup_steps"] == 9
    assert params["after"] is after
    assert params["after__step_size"] == 4
    assert params["after__gamma"] == 0.5
    shallow = LinearWarmup(warmup_steps=9, after=after).get_params(deep=False)
    assert "after__gamma" not in shallow


def test_clone_then_set_nested_params():
    original = LinearWarmup(after=InverseTime(t1=3))
    cloned = clone(original)
    assert cloned.set_params(after__t1=7) is cloned
    assert cloned.after.t1 == 7
    assert cloned.get_params(deep=True)["after__t1"] == 7
    assert original.after.t1 == 3  # clone copied the nested estimator
    t = np.arange(100, 300)
    np.testing.assert_allclose(
        cloned(t, 1.0),
        ref_warmup(t, 1.0, 100, lambda u, e: ref_inverse_time(u, e, 7.0)),
        rtol=RTOL,
    )
    assert not np.allclose(cloned(t, 1.0), original(t, 1.0))


class _Model(BaseEstimator):
    """Minimal estimator holding a schedule, as the solvers do."""

    def __init__(self, learning_rate="optimal", eta0=0.1):
        self.learning_rate = learning_rate
        self.eta0 = eta0


def test_grid_search_style_nested_params():
    base = _Model(learning_rate=LinearWarmup(warmup_steps=2, after=InverseTime()))
    grid = ParameterGrid(
        {"learning_rate__after__t1": [1.0, 10.0], "learning_rate__warmup_steps": [3]}
    )
    seen = []
    for params in grid:
        model = clone(base).set_params(**params)
        schedule = model.learning_rate
        assert schedule.warmup_steps == 3
        assert schedule.after.t1 == params["learning_rate__after__t1"]
        seen.append(_step_sizes(schedule, np.arange(10), model.eta0))
    assert base.learning_rate.warmup_steps == 2
    assert base.learning_rate.after.t1 == 50.0
    assert not np.allclose(seen[0], seen[1])
    assert "learning_rate__after__t1" in base.get_params(deep=True)


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------

INVALID = [
    (InverseTime, "t1", [0, -1.0, float("nan"), float("inf"), "50", None, True]),
    (ExponentialDecay, "decay_rate", [0, -0.5, 1.5, float("nan"), "0.5", None]),
    (ExponentialDecay, "decay_steps", [0, -3, 2.5, 100.0, "10", None, True]),
    (ExponentialDecay, "staircase", [1, 0, "yes", None]),
    (StepDecay, "step_size", [0, -1, 1.5, 10.0, "10", None]),
    (StepDecay, "gamma", [0, -0.1, 1.01, float("inf"), "0.1", None]),
    (CosineDecay, "decay_steps", [0, -5, 2.5, "10", None]),
    (CosineDecay, "final_fraction", [-0.01, 1.01, float("nan"), "0", None]),
    (LinearWarmup, "warmup_steps", [-1, 2.5, "10", None]),
    (LinearWarmup, "after", ["constant", 3, InverseTime, lambda t, e: t]),
]
INVALID_CASES = [
    (cls, name, value) for cls, name, values in INVALID for value in values
]


@pytest.mark.parametrize(
    "cls, name, value",
    INVALID_CASES,
    ids=[f"{cls.__name__}-{name}-{value!r}" for cls, name, value in INVALID_CASES],
)
def test_invalid_parameters_raise_when_called(cls, name, value):
    schedule = cls(**{name: value})  # the constructor only stores
    assert schedule.get_params()[name] is value
    with pytest.raises(ValueError, match=name):
        schedule(np.arange(3), 0.1)
    with pytest.raises(ValueError, match=name):
        _step_sizes(schedule, np.arange(3), 0.1)


def test_invalid_nested_after_parameter_is_reported():
    schedule = LinearWarmup(warmup_steps=2, after=StepDecay(gamma=2.0))
    # Detected even when every update is still in the warm-up.
    with pytest.raises(ValueError, match="gamma"):
        schedule(np.arange(2), 0.1)


def test_set_params_to_invalid_value_raises_on_next_call():
    schedule = clone(LinearWarmup(after=InverseTime()))
    schedule(np.arange(3), 0.1)
    schedule.set_params(after__t1=-2)
    with pytest.raises(ValueError, match="t1"):
        schedule(np.arange(3), 0.1)


def test_error_message_says_what_is_allowed():
    with pytest.raises(ValueError, match=r"0 < decay_rate <= 1.*got 1\.5"):
        ExponentialDecay(decay_rate=1.5)(np.arange(3), 0.1)
    with pytest.raises(ValueError, match=r"integer >= 1.*got 0"):
        StepDecay(step_size=0)(np.arange(3), 0.1)


@pytest.mark.parametrize("eta0", [0, -0.1, float("nan"), float("inf"), "0.1", None])
@pytest.mark.parametrize("schedule", [InverseTime(), LinearWarmup()], ids=repr)
def test_invalid_eta0_raises(schedule, eta0):
    with pytest.raises(ValueError, match="eta0"):
        schedule(np.arange(3), eta0)


@pytest.mark.parametrize("eta0", [0, -1.0, float("nan")])
@pytest.mark.parametrize("learning_rate", ["constant", "invscaling", "optimal"])
def test_step_sizes_invalid_eta0_raises(learning_rate, eta0):
    with pytest.raises(ValueError, match="eta0"):
        _step_sizes(learning_rate, np.arange(3), eta0)


@pytest.mark.parametrize(
    "t", [np.array([0.0, 1.0]), np.array([0, -1, 2]), np.array([True, False])]
)
@pytest.mark.parametrize("learning_rate", [CosineDecay(), "invscaling"], ids=repr)
def test_invalid_t_raises(learning_rate, t):
    with pytest.raises(ValueError, match="t must"):
        _step_sizes(learning_rate, t, 0.1)


# --------------------------------------------------------------------------
# _step_sizes
# --------------------------------------------------------------------------


@pytest.mark.parametrize("learning_rate", ["constant", "adaptive"])
@pytest.mark.parametrize("eta0", ETA0S)
def test_step_sizes_constant_and_adaptive(learning_rate, eta0):
    steps = _step_sizes(learning_rate, T_ALL, eta0, power_t=0.5, alpha=0.1)
    assert steps.dtype == np.float64
    assert steps.shape == T_ALL.shape
    assert np.all(steps == eta0)


@pytest.mark.parametrize("power_t", [0.25, 0.5, 1.0, 0.0, 2, -0.1])
@pytest.mark.parametrize("eta0", ETA0S)
def test_step_sizes_invscaling(power_t, eta0):
    steps = _step_sizes("invscaling", T_ALL, eta0, power_t=power_t)
    expected = [eta0 / math.pow(ti + 1, power_t) for ti in T_ALL.tolist()]
    np.testing.assert_allclose(steps, expected, rtol=RTOL, atol=0)
    assert steps.dtype == np.float64
    assert steps[0] == eta0


def test_step_sizes_invscaling_default_power_t_is_quarter():
    t = np.array([0, 15, 80])
    np.testing.assert_allclose(
        _step_sizes("invscaling", t, 1.0), [1.0, 0.5, 1 / 3], rtol=RTOL
    )


@pytest.mark.parametrize("alpha", [1e-4, 1e-2, 1.0, 3.3])
@pytest.mark.parametrize("eta0", ETA0S)
def test_step_sizes_optimal_is_bottou(alpha, eta0):
    steps = _step_sizes("optimal", T_ALL, eta0, alpha=alpha, power_t=0.9)
    t0 = 1.0 / (alpha * eta0)
    expected = [1.0 / (alpha * (t0 + ti)) for ti in T_ALL.tolist()]
    np.testing.assert_allclose(steps, expected, rtol=RTOL, atol=0)
    assert steps.dtype == np.float64
    assert steps[0] == eta0
    assert np.all(np.diff(steps) < 0)


def test_step_sizes_optimal_default_alpha():
    t = np.array([0, 10**4, 10**6])
    # alpha=1e-4, eta0=1: t0 = 1e4, so the step halves at t = 1e4.
    np.testing.assert_allclose(
        _step_sizes("optimal", t, 1.0), [1.0, 0.5, 1 / 101], rtol=RTOL
    )


@pytest.mark.parametrize("alpha", [0, 0.0, -1e-4, float("nan"), None])
def test_step_sizes_optimal_needs_positive_alpha(alpha):
    with pytest.raises(ValueError, match=r"learning_rate='optimal' needs alpha > 0"):
        _step_sizes("optimal", np.arange(3), 0.1, alpha=alpha)


@pytest.mark.parametrize("learning_rate", ["constant", "invscaling", "adaptive"])
def test_step_sizes_other_strings_ignore_alpha(learning_rate):
    steps = _step_sizes(learning_rate, np.arange(3), 0.1, alpha=0.0)
    assert steps[0] == 0.1


@pytest.mark.parametrize("schedule, reference", CASES, ids=CASE_IDS)
def test_step_sizes_delegates_to_schedule(schedule, reference):
    steps = _step_sizes(schedule, T_ALL, 0.2, power_t=3.0, alpha=0.0)
    np.testing.assert_array_equal(steps, schedule(T_ALL, 0.2))
    np.testing.assert_allclose(steps, reference(T_ALL, 0.2), rtol=RTOL, atol=0)


@pytest.mark.parametrize(
    "learning_rate", ["Constant", "inverse", "", None, 0.1, InverseTime]
)
def test_step_sizes_unknown_learning_rate(learning_rate):
    with pytest.raises(ValueError, match="learning_rate must be"):
        _step_sizes(learning_rate, np.arange(3), 0.1)


def test_step_sizes_invalid_power_t():
    with pytest.raises(ValueError, match="power_t"):
        _step_sizes("invscaling", np.arange(3), 0.1, power_t=float("nan"))
