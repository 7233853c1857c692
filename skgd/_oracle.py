"""Gradient oracles: the data term of the objective over all training rows.

The full-batch driver never touches X itself.  It asks an oracle for the
sample-weighted loss sum and its gradient at a model ``W`` (shape
``(n_outputs, n_features + 1)``, the intercept in the last column), for
products with the weighted Gram matrix (the curvature behind
``eta0="auto"``) and for the weighted column moments (preconditioning).
In memory the oracle runs the compiled kernel over the rows; on Dask it is a
map-reduce of the same kernel over the chunks (``skgd._dask``).  Everything
an oracle returns is a *sum* over rows, in float64, so partial sums from
chunks add up to the in-memory result.
"""

import numpy as np
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

from skgd import _kernel

__all__ = ["GradientOracle", "InMemoryOracle", "KernelData"]


class KernelData:
    """X as the kernel takes it: dense C-contiguous, or CSR arrays.

    Nothing is copied for C-contiguous float arrays and CSR matrices whose
    index arrays share one integer type; the estimators convert any other
    layout once before they get here.
    """

    def __init__(self, X):
        import scipy.sparse as sp

        self.dtype = X.dtype
        self.n_features = X.shape[1]
        empty_index = np.empty(0, dtype=np.int32)
        if sp.issparse(X):
            indices, indptr = X.indices, X.indptr
            if indices.dtype != indptr.dtype or indices.dtype not in (
                np.int32,
                np.int64,
            ):
                indices = indices.astype(np.int64)
                indptr = indptr.astype(np.int64)
            self.sparse = True
            self.args = (
                np.empty((0, self.n_features), dtype=self.dtype),
                X.data,
                indices,
                indptr,
                True,
            )
        else:
            self.sparse = False
            self.args = (
                X,
                np.empty(0, dtype=self.dtype),
                empty_index,
                empty_index,
                False,
            )


class GradientOracle:
    """What the full-batch driver asks of the data.

    Attributes
    ----------
    n_features : int
    n_outputs : int
        Rows of ``W``.
    dtype : numpy.dtype
        The dtype of X (and of the model the driver keeps).
    weight_sum : float
        Sum of the sample weights of the training rows.
    """

    n_features: int
    n_outputs: int
    dtype: np.dtype
    weight_sum: float

    def loss_gradient(self, W, with_gradient=True):
        """``(loss_sum, G)``: the sample-weighted loss sum over the rows at
        ``W`` and, if ``with_gradient``, its gradient (float64, the shape of
        ``W``; ``None`` otherwise)."""
        raise NotImplementedError

    def gram_matvec(self, v, fit_intercept):
        """``sum_i s_i z_i (z_i . v)`` with ``z_i = [x_i, 1]`` (``[x_i, 0]``
        without an intercept); ``v`` and the result have length
        ``n_features + 1``, float64."""
        raise NotImplementedError

    def column_moments(self):
        """``(sum_i s_i x_i, sum_i s_i x_i**2)``, each of length
        ``n_features``, float64."""
        raise NotImplementedError


class InMemoryOracle(GradientOracle):
    """The oracle of data held in this process, on the compiled kernel.

    Parameters
    ----------
    X : ndarray or CSR matrix
    Y : ndarray of shape (n_samples, n_columns)
        Targets encoded as ``target_kind`` says.
    sample_weight : ndarray of shape (n_samples,)
    n_outputs : int
    loss_code : int
        The kernel's code of the loss.
    epsilon : float
    target_kind : int
    rows : ndarray of intp, default=None
        The training rows (all rows by default); selected, never copied.
    """

    def __init__(
        self,
        X,
        Y,
        sample_weight,
        *,
        n_outputs,
        loss_code,
        epsilon,
        target_kind,
        rows=None,
    ):
        self.data = X if isinstance(X, KernelData) else KernelData(X)
        self.Y = Y
        self.sample_weight = sample_weight
        self.n_features = self.data.n_features
        self.n_outputs = int(n_outputs)
        self.dtype = self.data.dtype
        self.loss_code = int(loss_code)
        self.epsilon = float(epsilon)
        self.target_kind = int(target_kind)
        if rows is None:
            rows = np.arange(Y.shape[0], dtype=np.intp)
        self.rows = rows
        self.weight_sum = float(np.sum(sample_weight[rows]))
        # As many threads as scikit-learn's OpenMP code would use (respects
        # OMP_NUM_THREADS, threadpoolctl limits and the CPUs available).
        self.n_threads = _openmp_effective_n_threads()

    def loss_gradient(self, W, with_gradient=True):
        W = np.ascontiguousarray(W, dtype=self.dtype)
        loss_sum, G = _kernel.full_loss_gradient(
            *self.data.args,
            self.Y,
            self.target_kind,
            self.sample_weight,
            W,
            self.rows,
            self.loss_code,
            self.epsilon,
            with_gradient,
            self.n_threads,
        )
        return float(loss_sum), G

    def gram_matvec(self, v, fit_intercept):
        out = np.empty(self.n_features + 1)
        _kernel.gram_matvec(
            *self.data.args,
            self.sample_weight,
            self.rows,
            fit_intercept,
            np.ascontiguousarray(v, dtype=np.float64),
            out,
        )
        return out

    def column_moments(self):
        return _kernel.column_moments(
            *self.data.args, self.sample_weight, self.rows, self.n_features
        )
