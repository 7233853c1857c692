"""skgd: linear models trained by gradient descent, for scikit-learn.

``GDRegressor`` and ``GDClassifier`` share one compiled solver that runs
full-batch, stochastic and mini-batch gradient descent with learning-rate
schedules (:mod:`skgd.schedules`) and update rules (momentum, Nesterov,
AdaGrad, RMSprop, Adam).
"""

# First: loads the kernel so that skgd's OpenMP runtime starts with a
# passive wait policy (see skgd/_openmp.py).
from skgd import _openmp  # noqa: F401

# isort: split
from skgd._classifier import GDClassifier
from skgd._lr_finder import LearningRateFinderResult, find_learning_rate
from skgd._plotting import LossCurveDisplay
from skgd._regressor import GDRegressor
from skgd.exceptions import DivergenceError

__all__ = [
    "GDClassifier",
    "GDRegressor",
    "DivergenceError",
    "LearningRateFinderResult",
    "LossCurveDisplay",
    "find_learning_rate",
]
__version__ = "0.1.0"
