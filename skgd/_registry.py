r"""The registry: one entry per loss, update rule and string schedule.

Everything the package knows about a loss, an optimizer or a string
``learning_rate`` is written once, here, and read by the estimators (their
parameter checks and docstrings), the solver driver (kernel codes, automatic
and largest stable steps, which buffers to hand to the kernel), the
learning-rate finder and the documentation tests.

The kernel's codes are not numbers written here: they are the members of the
compiled enums (``cpdef enum`` in ``skgd/_losses.pxd`` and
``skgd/_kernel.pyx``), looked up by name, so a code exists in exactly one
place.

Adding an update rule takes its member of ``OptCode`` and its branch of
``optimizer_step`` in the kernel, its :class:`Optimizer` entry below, and its
test; the estimators' checks and docstrings, the solver and the finder follow
from the entry.
"""

from collections.abc import Callable
from dataclasses import dataclass
from numbers import Real

from sklearn.utils._param_validation import StrOptions

from skgd import _kernel, _losses
from skgd._validation import StrictInterval
from skgd.schedules import _constant_steps, _invscaling_steps, _optimal_steps

__all__ = [
    "LOSSES",
    "OPTIMIZERS",
    "OPTIMIZER_PARAMETERS",
    "SCHEDULES",
    "Loss",
    "Optimizer",
    "Hyperparameter",
    "StringSchedule",
    "estimator_losses",
    "fill_docstring",
]

# Target encodings understood by the kernel.
TARGET_REAL = int(_kernel.TargetKind.TARGET_REAL)
TARGET_ONE_VS_REST = int(_kernel.TargetKind.TARGET_ONE_VS_REST)
TARGET_MULTINOMIAL = int(_kernel.TargetKind.TARGET_MULTINOMIAL)


# --------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Loss:
    """A loss of one prediction, as the kernel computes it.

    Parameters
    ----------
    name : str
        The value of the estimators' ``loss`` parameter.
    code : int
        Its member of ``LossCode`` (skgd/_losses.pxd).
    curvature : float or None
        Upper bound on the second derivative of the loss in the prediction;
        None for losses with a kink (no curvature bound exists).
    margin : bool
        Whether the loss reads its target as a sign (+1 / -1, or a class
        index for the softmax) rather than a real value.
    estimators : tuple of str
        The estimators that accept it as ``loss``: ``"regressor"``,
        ``"classifier"``; empty for a loss the solver picks itself.
    probabilistic : bool
        Whether a classifier trained with it has ``predict_proba``.
    """

    name: str
    code: int
    curvature: float | None
    margin: bool
    estimators: tuple = ()
    probabilistic: bool = False


def _loss(name, member, curvature, kind, probabilistic=False):
    """An entry whose code is LossCode.<member>."""
    estimators = {
        "regression": ("regressor", "classifier"),
        "margin": ("classifier",),
        "internal": (),
    }[kind]
    return Loss(
        name=name,
        code=int(getattr(_losses.LossCode, member)),
        curvature=curvature,
        margin=kind != "regression",
        estimators=estimators,
        probabilistic=probabilistic,
    )


LOSSES = {
    entry.name: entry
    for entry in (
        _loss("squared_error", "SQUARED_ERROR", 1.0, "regression"),
        _loss("huber", "HUBER", 1.0, "regression"),
        _loss("epsilon_insensitive", "EPSILON_INSENSITIVE", None, "regression"),
        _loss(
            "squared_epsilon_insensitive",
            "SQUARED_EPSILON_INSENSITIVE",
            2.0,
            "regression",
        ),
        _loss("log_loss", "LOG_LOSS", 0.25, "margin", probabilistic=True),
        _loss("hinge", "HINGE", None, "margin"),
        _loss("squared_hinge", "SQUARED_HINGE", 2.0, "margin"),
        _loss("modified_huber", "MODIFIED_HUBER", 2.0, "margin", probabilistic=True),
        _loss("perceptron", "PERCEPTRON", None, "margin"),
        # What GDClassifier's log_loss becomes with more than two classes.
        # The Hessian of the multinomial log loss in the scores,
        # diag(p) - p p^T, has no eigenvalue above 1/2.
        _loss("multinomial", "SOFTMAX", 0.5, "internal"),
    )
}


def estimator_losses(estimator):
    """Names of the losses ``estimator`` ("regressor" or "classifier")
    accepts: the margin losses first, each group in registry order."""
    accepted = [name for name, loss in LOSSES.items() if estimator in loss.estimators]
    return tuple(sorted(accepted, key=lambda name: not LOSSES[name].margin))


# --------------------------------------------------------------------------
# Update rules
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Hyperparameter:
    """An estimator parameter read by one or more update rules."""

    default: object
    constraints: list
    doc: str
    # The number an "auto" value stands for where the rule needs one (the
    # full-batch driver gives "auto" a meaning of its own, see _fullbatch).
    auto: float | None = None

    def value(self, given):
        """``given`` as the solver takes it: a float, or "auto"."""
        return given if isinstance(given, str) else float(given)

    def number(self, given):
        """``given`` as a number, "auto" standing for ``auto``."""
        return self.auto if isinstance(given, str) else float(given)


# The hyper-parameters of the update rules, in the order of the estimators'
# signatures.  A rule names those it reads in Optimizer.params.
OPTIMIZER_PARAMETERS = {
    "momentum": Hyperparameter(
        "auto",
        [StrictInterval(Real, 0, 1, closed="left"), StrOptions({"auto"})],
        'The momentum of ``"momentum"`` and ``"nesterov"``. ``"auto"`` is '
        "the convex momentum sequence with adaptive restart for full-batch "
        '``"nesterov"`` (FISTA with L1) and 0.9 everywhere else; a number '
        "gives the constant-momentum rules.",
        auto=0.9,
    ),
    "beta_1": Hyperparameter(
        0.9,
        [StrictInterval(Real, 0, 1, closed="left")],
        "Decay of Adam's first-moment estimate.",
    ),
    "beta_2": Hyperparameter(
        0.999,
        [StrictInterval(Real, 0, 1, closed="left")],
        "Decay of the second-moment estimate of Adam and RMSprop.",
    ),
}


@dataclass(frozen=True)
class Optimizer:
    r"""An update rule.

    Parameters
    ----------
    name : str
        The value of the estimators' ``optimizer`` parameter.
    code : int
        Its member of ``OptCode`` (skgd/_kernel.pyx).
    rule : str
        The update of one coordinate as LaTeX, with :math:`\eta` the
        scheduled step, :math:`g` the batch gradient (the documentation's
        table shows it).
    summary : str
        One line for the estimators' docstrings.
    params : tuple of str
        The keys of ``OPTIMIZER_PARAMETERS`` the rule reads.
    buffers : int
        State arrays the rule keeps, each shaped like the weights (0, 1 or
        2: the solver's ``S1`` and ``S2``).
    per_coordinate : bool
        Whether the rule rescales each coordinate by its own gradient history
        (AdaGrad, RMSprop, Adam): it moves every weight by about the step
        size per update whatever the curvature, so no step follows from the
        data's curvature.
    auto_step : callable
        ``auto_step(L, hyper)``: the step of ``eta0="auto"`` given the
        curvature bound ``L > 0`` of the batch objective and the dict of the
        rule's hyper-parameters.
    stable_step : callable or None
        ``stable_step(L, hyper)``: the largest step with which the rule does
        not diverge on a full-batch quadratic of curvature ``L``; None where
        no bound follows from the data.
    velocity : str or None
        The hyper-parameter ``m`` of a velocity that keeps a fraction ``m``
        of itself at every update (a step shows in the loss about
        ``m / (1 - m)`` updates late), or None.
    """

    name: str
    code: int
    rule: str
    summary: str
    auto_step: Callable
    stable_step: Callable | None = None
    params: tuple = ()
    buffers: int = 0
    per_coordinate: bool = False
    velocity: str | None = None

    def hyper(self, source):
        """The rule's hyper-parameters read from ``source`` (an estimator,
        a solver spec: anything with them as attributes) as floats."""
        return {
            name: OPTIMIZER_PARAMETERS[name].number(getattr(source, name))
            for name in self.params
        }


def _opt_code(member):
    return int(getattr(_kernel.OptCode, member))


def _inverse(L, hyper):
    return 1.0 / L


def _plain_stable(L, hyper):
    # The iteration map of a quadratic is a contraction exactly when
    # eta < 2 / L.
    return 2.0 / L


def _momentum_auto(L, hyper):
    # Heavy-ball and Nesterov momentum multiply the effective step by
    # 1 / (1 - momentum); scaling by (1 - momentum) keeps it at 1/L.
    return (1.0 - hyper["momentum"]) / L


def _heavy_ball_stable(L, hyper):
    return 2.0 * (1.0 + hyper["momentum"]) / L


def _nesterov_stable(L, hyper):
    # On a quadratic with curvature h = eta L the update has the
    # characteristic polynomial z^2 - (1 + mu)(1 - h) z + mu (1 - h), whose
    # roots stay inside the unit circle exactly for
    # h < 2 (1 + mu) / (1 + 2 mu).
    mu = hyper["momentum"]
    return 2.0 * (1.0 + mu) / ((1.0 + 2.0 * mu) * L)


def _fixed(value):
    """eta0="auto" for the rules that rescale each coordinate: they move
    every weight by about eta0 per update whatever the curvature."""

    def auto_step(L, hyper):
        return value

    return auto_step


OPTIMIZERS = {
    entry.name: entry
    for entry in (
        Optimizer(
            name="sgd",
            code=_opt_code("OPT_SGD"),
            rule=r"w \leftarrow w - \eta\, g",
            summary="plain gradient step",
            auto_step=_inverse,
            stable_step=_plain_stable,
        ),
        Optimizer(
            name="momentum",
            code=_opt_code("OPT_MOMENTUM"),
            rule=r"v \leftarrow \mu v - \eta g;\quad w \leftarrow w + v",
            summary="heavy-ball momentum",
            auto_step=_momentum_auto,
            stable_step=_heavy_ball_stable,
            params=("momentum",),
            buffers=1,
            velocity="momentum",
        ),
        Optimizer(
            name="nesterov",
            code=_opt_code("OPT_NESTEROV"),
            rule=r"v \leftarrow \mu v - \eta g;\quad w \leftarrow w + \mu v - \eta g",
            summary="Nesterov's momentum",
            auto_step=_momentum_auto,
            stable_step=_nesterov_stable,
            params=("momentum",),
            buffers=1,
            velocity="momentum",
        ),
        Optimizer(
            name="adagrad",
            code=_opt_code("OPT_ADAGRAD"),
            rule=(
                r"s \leftarrow s + g^2;\quad "
                r"w \leftarrow w - \eta\, g / (\sqrt{s} + \epsilon)"
            ),
            summary="AdaGrad",
            # AdaGrad's steps shrink like 1/sqrt(t) on top of the per-
            # coordinate scaling, so it starts ten times larger.
            auto_step=_fixed(0.1),
            buffers=1,
            per_coordinate=True,
        ),
        Optimizer(
            name="rmsprop",
            code=_opt_code("OPT_RMSPROP"),
            rule=(
                r"s \leftarrow \beta_2 s + (1-\beta_2) g^2;\quad "
                r"w \leftarrow w - \eta\, g / (\sqrt{s} + \epsilon)"
            ),
            summary="RMSprop (decay ``beta_2``)",
            auto_step=_fixed(0.01),
            params=("beta_2",),
            buffers=1,
            per_coordinate=True,
        ),
        Optimizer(
            name="adam",
            code=_opt_code("OPT_ADAM"),
            rule=(
                r"m \leftarrow \beta_1 m + (1-\beta_1) g;\ \ "
                r"v \leftarrow \beta_2 v + (1-\beta_2) g^2;\ \ "
                r"w \leftarrow w - \eta\, \dfrac{m / (1-\beta_1^{k})}"
                r"{\sqrt{v/(1-\beta_2^{k})} + \epsilon}"
            ),
            summary="Adam",
            auto_step=_fixed(0.01),
            params=("beta_1", "beta_2"),
            buffers=2,
            per_coordinate=True,
            velocity="beta_1",
        ),
        Optimizer(
            name="adamw",
            code=_opt_code("OPT_ADAMW"),
            rule=(
                r"m, v \text{ as Adam's, of } g \text{ alone};\ \ "
                r"w \leftarrow (1 - \eta\alpha(1-\rho))\, w - \eta\, "
                r"\dfrac{m / (1-\beta_1^{k})}{\sqrt{v/(1-\beta_2^{k})} + \epsilon}"
            ),
            summary=(
                "Adam with decoupled weight decay (AdamW): the L2 part of the "
                "penalty shrinks the weights directly instead of entering the "
                "moment estimates"
            ),
            auto_step=_fixed(0.01),
            params=("beta_1", "beta_2"),
            buffers=2,
            per_coordinate=True,
            velocity="beta_1",
        ),
    )
}


# --------------------------------------------------------------------------
# String schedules
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class StringSchedule:
    r"""A ``learning_rate`` given by name.

    Parameters
    ----------
    name : str
        The value of ``learning_rate``.
    steps : callable or None
        ``steps(t, eta0, **params)``: the step sizes of the update counts
        ``t`` (an int array, 0-based) in closed form, ``eta0`` at ``t = 0``;
        None for a step that the driver searches itself rather than one
        that is a function of ``t``.
    params : tuple of str
        The estimator parameters ``steps`` reads (besides ``eta0``).
    formula : str
        :math:`\eta_t` as LaTeX, for the documentation.
    constant : bool
        Whether every update of an epoch takes the same step (the driver
        then hands the kernel one value).
    reduces_on_plateau : bool
        Whether the driver divides the step by ``ADAPTIVE_DIVISOR`` when
        training stalls (and when an epoch of a stochastic batch mode
        diverges) instead of stopping.
    """

    name: str
    steps: Callable
    formula: str
    params: tuple = ()
    constant: bool = False
    reduces_on_plateau: bool = False


SCHEDULES = {
    entry.name: entry
    for entry in (
        StringSchedule(
            name="constant",
            steps=_constant_steps,
            formula=r"\eta_0",
            constant=True,
        ),
        StringSchedule(
            name="invscaling",
            steps=_invscaling_steps,
            formula=r"\eta_0 / (t+1)^{\texttt{power\_t}}",
            params=("power_t",),
        ),
        StringSchedule(
            name="optimal",
            steps=_optimal_steps,
            formula=r"\eta_0 / (1 + \alpha\,\eta_0\, t)",
            params=("alpha",),
        ),
        StringSchedule(
            name="adaptive",
            steps=_constant_steps,
            formula=r"\eta_0",
            constant=True,
            reduces_on_plateau=True,
        ),
    )
}

# The "adaptive" schedule divides the step by this after a plateau (and
# after a diverging stochastic epoch) and stops once it falls below
# ADAPTIVE_MIN_ETA (scikit-learn's values).
ADAPTIVE_DIVISOR = 5.0
ADAPTIVE_MIN_ETA = 1e-6


# --------------------------------------------------------------------------
# Docstrings
# --------------------------------------------------------------------------


def _kind(hyper):
    return "float" if hyper.auto is None else 'float or "auto"'


def _choices(names):
    return "{" + ", ".join(f'"{name}"' for name in names) + "}"


def fill_docstring(doc, estimator):
    """Write the registry's lists into an estimator's docstring.

    ``%(loss_choices)s`` becomes the set of losses ``estimator``
    ("regressor" or "classifier") accepts, ``%(optimizer_choices)s`` the set
    of update rules, ``%(optimizer_list)s`` one line per rule and
    ``%(optimizer_parameters)s`` the entries of the rules' hyper-parameters
    (both at the indentation of a parameter's description and name in a
    numpydoc class docstring).
    """
    rules = "\n".join(
        f'{" " * 8}- ``"{rule.name}"``: {rule.summary}.' for rule in OPTIMIZERS.values()
    )
    parameters = "\n".join(
        f"{' ' * 4}{name} : {_kind(hyper)}, default={hyper.default!r}\n"
        f"{' ' * 8}{hyper.doc}"
        for name, hyper in OPTIMIZER_PARAMETERS.items()
    )
    return (
        doc.replace("%(loss_choices)s", _choices(estimator_losses(estimator)))
        .replace("%(optimizer_choices)s", _choices(OPTIMIZERS))
        .replace("%(optimizer_list)s", rules.lstrip())
        .replace("%(optimizer_parameters)s", parameters.lstrip())
    )


def _check_codes():
    """Every kernel code has exactly one entry (a new enum member without an
    entry, or two entries on one code, fails at import)."""
    for table, enum in ((LOSSES, _losses.LossCode), (OPTIMIZERS, _kernel.OptCode)):
        codes = sorted(entry.code for entry in table.values())
        members = sorted(int(member) for member in enum)
        if codes != members:  # pragma: no cover - a developer error
            raise ImportError(
                f"the registry's codes {codes} do not match the kernel's "
                f"{enum.__name__} {members}"
            )


_check_codes()
