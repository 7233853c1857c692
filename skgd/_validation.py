"""Checks on input data that scikit-learn's ``validate_data`` does not make.

The compiled kernel reads CSR matrices through their raw arrays, without
bounds checks (that is what makes it fast): a column index out of range or an
``indptr`` that runs past the end would read or write memory outside the
arrays.  :func:`check_csr` therefore verifies the structure of every CSR
matrix before the kernel sees it, in O(nnz) time and without copying a
well-formed matrix.

The module also holds the checks on the scale of targets and weights that
keep bad data from being reported as a divergence of training.
"""

from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils._param_validation import Interval

__all__ = [
    "check_class_weights",
    "check_csr",
    "check_finite_targets",
    "check_validation_weights",
    "StrictInterval",
]


def _fail(what):
    raise ValueError(
        f"Malformed sparse matrix: {what}. Build it with "
        "scipy.sparse.csr_matrix((data, indices, indptr), shape=...) from "
        "consistent arrays, or pass a dense array."
    )


def _check_csr_structure(X):
    """Raise ValueError unless the CSR arrays of X describe a valid matrix.

    Every test is a vectorised pass over indptr (n_rows + 1 entries) or
    indices (nnz entries); nothing is copied besides O(n_rows) differences.
    """
    n_rows, n_features = X.shape
    indptr, indices, data = X.indptr, X.indices, X.data
    for name, array in (("indptr", indptr), ("indices", indices), ("data", data)):
        if array.ndim != 1:
            _fail(f"{name} must be 1-D, got {array.ndim} dimensions")
    for name, array in (("indptr", indptr), ("indices", indices)):
        if array.dtype.kind not in "iu":
            _fail(f"{name} must hold integers, got dtype {array.dtype}")
    if indptr.shape[0] != n_rows + 1:
        _fail(
            f"indptr has {indptr.shape[0]} entries; a matrix with {n_rows} rows "
            f"needs n_rows + 1 = {n_rows + 1}"
        )
    if indptr[0] != 0:
        _fail(f"indptr[0] is {indptr[0]}, it must be 0")
    nnz = indices.shape[0]
    if data.shape[0] != nnz:
        _fail(f"indices has {nnz} entries but data has {data.shape[0]}")
    if indptr[-1] != nnz:
        _fail(
            f"indptr[-1] is {indptr[-1]} but there are {nnz} stored entries "
            "(len(indices) and len(data))"
        )
    if n_rows > 0 and np.any(indptr[1:] < indptr[:-1]):
        row = int(np.flatnonzero(indptr[1:] < indptr[:-1])[0])
        _fail(
            f"indptr decreases at row {row} (indptr[{row}] = {indptr[row]} > "
            f"indptr[{row + 1}] = {indptr[row + 1]}); it must be non-decreasing"
        )
    if nnz:
        low, high = indices.min(), indices.max()
        if low < 0:
            _fail(f"a column index is negative ({low})")
        if high >= n_features:
            _fail(
                f"column index {high} is out of range for a matrix with "
                f"{n_features} columns (indices must lie in [0, {n_features}))"
            )


def _is_canonical(X):
    """Whether the column indices of every row are strictly increasing (no
    duplicates, sorted), by one pass over the indices.

    scipy's ``has_canonical_format`` flag is cached and goes stale when a
    caller assigns to ``indices`` directly, so it is not trusted here.
    """
    indices, indptr = X.indices, X.indptr
    nnz = indices.shape[0]
    if nnz < 2:
        return True
    # step[k] compares entries k and k + 1; it may only fail to increase
    # where entry k + 1 starts a new row.
    increasing = indices[1:] > indices[:-1]
    if increasing.all():
        return True
    starts = indptr[1:-1]
    starts = starts[(starts > 0) & (starts < nnz)]
    increasing[starts - 1] = True
    return bool(increasing.all())


def check_csr(X):
    """Return X once its structure is verified; duplicates summed.

    Parameters
    ----------
    X : scipy CSR matrix or array

    Returns
    -------
    X : the same object when it is dense or a canonical CSR matrix; else a
        new CSR matrix with sorted indices and duplicate entries summed.

    Raises
    ------
    ValueError
        Naming what is wrong with indptr, indices or data.
    """
    if not sp.issparse(X) or X.format != "csr":
        return X
    _check_csr_structure(X)
    if _is_canonical(X):
        return X
    # Duplicate (row, column) entries mean their sum, as in every scipy
    # operation; the kernel would instead count them twice in the row norms
    # behind eta0="auto" and in the sparse updates.  Summing them is the only
    # copy made, on a fresh matrix so no stale flag of the caller's can skip
    # the work.
    summed = sp.csr_matrix(
        (X.data.copy(), X.indices.copy(), X.indptr.copy()), shape=X.shape
    )
    summed.sum_duplicates()
    return summed


def check_finite_targets(y, dtype):
    """Raise ValueError if regression targets are non-finite or overflow in
    ``dtype`` (the precision training runs in)."""
    y64 = np.asarray(y, dtype=np.float64)
    if not np.all(np.isfinite(y64)):
        raise ValueError(
            "y contains NaN or infinity (None in an object array becomes NaN); "
            "remove or impute those targets."
        )
    if dtype != np.float64 and y64.size:
        largest = float(np.max(np.abs(y64)))
        if largest > float(np.finfo(dtype).max):
            raise ValueError(
                f"y holds values up to {largest:.3g}, beyond the range of "
                f"{np.dtype(dtype).name} (the dtype of X); scale the targets or "
                "pass X as float64."
            )


def check_class_weights(weights):
    """Raise ValueError if class weights (one per class) are negative or not
    finite, as sample_weight is checked."""
    weights = np.asarray(weights, dtype=np.float64)
    if not np.all(np.isfinite(weights)):
        raise ValueError(f"class_weight must be finite; got {weights.tolist()}.")
    if np.any(weights < 0):
        raise ValueError(
            "Negative values in class_weight are not allowed (as for "
            f"sample_weight); got {weights.tolist()}."
        )


def check_validation_weights(weights):
    """Refuse a validation split whose rows all have zero weight, as
    scikit-learn's SGD estimators do: such a split scores nothing."""
    if not np.any(np.asarray(weights) > 0):
        raise ValueError(
            "The sample weights for validation set are all zero, consider "
            "using a different random state (or a larger validation_fraction)."
        )


class StrictInterval(Interval):
    """scikit-learn's ``Interval`` for parameters that are numbers, not
    flags: ``True`` and ``False`` are refused (``bool`` is an ``Integral`` in
    Python, so ``Interval`` takes ``eta0=True`` as 1), and so are infinite
    values, which no numeric parameter of skgd means."""

    def is_satisfied_by(self, val):
        if isinstance(val, (bool, np.bool_)):
            return False
        if isinstance(val, Real) and not np.isfinite(val):
            return False
        return super().is_satisfied_by(val)

    def __str__(self):
        text = super().__str__()
        return text.replace("a float", "a finite float", 1)
