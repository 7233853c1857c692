"""What a pickled skgd estimator holds, and the checks made on loading it.

A fitted estimator's pickle carries, besides its attributes:

- ``_skgd_pickle_format``: the layout of the state below (an int, raised
  whenever that layout changes), so a newer layout is refused with a clear
  message instead of being misread;
- ``_skgd_version``: the skgd version that wrote it; loading it under another
  version warns with :class:`~skgd.exceptions.InconsistentVersionWarning`, as
  scikit-learn does for its own estimators.

The solver's state (coefficients, optimizer buffers, update count, step
sizes, shuffling generator) is stored as a plain dict of NumPy arrays,
numbers and None, never as the private ``SolverState`` class, so that
``skops.io`` loads a fitted model trusting only skgd's public estimators.
"""

import dataclasses
import warnings

import numpy as np

from skgd._solver import SolverState
from skgd.exceptions import InconsistentVersionWarning

__all__ = ["PICKLE_FORMAT", "dump_state", "load_state"]

# Version of the layout written by dump_state.
PICKLE_FORMAT = 1

FORMAT_KEY = "_skgd_pickle_format"
VERSION_KEY = "_skgd_version"
SOLVER_KEY = "_solver_state"
# What an unversioned pickle (skgd 0.1) is reported as.
UNVERSIONED = "0.1.0 or earlier"


def _plain(value):
    """A number or array as the plain type it stands for (NumPy scalars
    become Python numbers; arrays are kept as they are)."""
    if isinstance(value, np.ndarray) or value is None:
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    return float(value)


def _solver_state_to_dict(state):
    return {
        field.name: _plain(getattr(state, field.name))
        for field in dataclasses.fields(SolverState)
    }


def _solver_state_from_dict(values):
    known = {field.name for field in dataclasses.fields(SolverState)}
    # Fields a later version added and this one does not know are dropped;
    # fields this version added since the pickle was written take their
    # defaults.
    return SolverState(**{k: v for k, v in values.items() if k in known})


def dump_state(state):
    """The pickle state of an estimator from its ``__dict__`` copy."""
    from skgd import __version__

    state = dict(state)
    solver_state = state.get(SOLVER_KEY)
    if isinstance(solver_state, SolverState):
        state[SOLVER_KEY] = _solver_state_to_dict(solver_state)
    state[FORMAT_KEY] = PICKLE_FORMAT
    state[VERSION_KEY] = __version__
    return state


def load_state(estimator_name, state):
    """The ``__dict__`` of an estimator from its pickle state, warning when
    it was written by another skgd version."""
    from skgd import __version__

    state = dict(state)
    pickle_format = state.pop(FORMAT_KEY, 0)
    original = state.pop(VERSION_KEY, UNVERSIONED)
    if pickle_format > PICKLE_FORMAT:
        raise ValueError(
            f"This {estimator_name} was saved by skgd {original} in a newer "
            f"format ({pickle_format}) than skgd {__version__} reads "
            f"({PICKLE_FORMAT}); upgrade skgd to load it."
        )
    if original != __version__:
        warnings.warn(
            InconsistentVersionWarning(
                estimator_name=estimator_name,
                current_skgd_version=__version__,
                original_skgd_version=original,
            ),
            stacklevel=3,
        )
    solver_state = state.get(SOLVER_KEY)
    if isinstance(solver_state, dict):
        state[SOLVER_KEY] = _solver_state_from_dict(solver_state)
    return state
