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

    def extrapolated_loss_gradient(self, W, beta, W_base):
        """``(loss_W, loss_Y, G_Y)``: the loss sum at the trial model ``W``,
        and the loss sum and its gradient at the extrapolated model
        ``Y = W + beta (W - W_base)`` (the accelerated line search's trial
        point and the point of its next gradient).  This generic form asks
        for the two separately; an oracle that keeps the rows' predictions
        answers in one read of the data."""
        if beta == 0.0:
            loss_sum, G = self.loss_gradient(W)
            return loss_sum, loss_sum, G
        loss_W, _ = self.loss_gradient(W, False)
        W64 = np.asarray(W, dtype=np.float64)
        Y = W64 + beta * (W64 - np.asarray(W_base, dtype=np.float64))
        loss_Y, G = self.loss_gradient(Y.astype(self.dtype))
        return loss_W, loss_Y, G

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
        # The rows' predictions at the last two models of the extrapolated
        # form, keyed by the model's bytes: (n_samples, n_outputs) float64
        # each, allocated on first use.
        self._margins = [None, None]
        self._margin_keys = [None, None]

    def __sizeof__(self):
        # What the object holds, X's arrays included: a scheduler that
        # sizes objects with sys.getsizeof (Dask does) would otherwise take
        # a chunk's oracle for a few bytes and move it between workers as
        # if it cost nothing.
        arrays = (
            *self.data.args[:4], self.Y, self.sample_weight, self.rows,
            *(m for m in self._margins if m is not None),
        )
        return object.__sizeof__(self) + sum(a.nbytes for a in arrays)

    # The full-batch driver may run its default rule's epochs in compiled
    # code on this oracle's data (skgd._fullbatch._CompiledRun).
    compiled_epochs = True

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

    def extrapolated_loss_gradient(self, W, beta, W_base):
        """One read of the rows: the predictions at ``W`` are kept, and those
        of the extrapolated model are combined from them and the kept ones
        of ``W_base`` (computed first, in an extra read, if ``W_base`` is
        not one of the last two models seen here)."""
        W = np.ascontiguousarray(W, dtype=self.dtype)
        base = None
        base_slot = -1
        if beta != 0.0:
            base_slot = self._margin_slot(
                np.ascontiguousarray(W_base, dtype=self.dtype)
            )
            base = self._margins[base_slot]
        slot = 1 if base_slot == 0 else 0
        loss_W, loss_Y, G = self._extrapolated_pass(W, slot, base, beta)
        return float(loss_W), float(loss_Y), G

    def _margin_slot(self, W):
        key = W.tobytes()
        for slot in (0, 1):
            if self._margin_keys[slot] == key:
                return slot
        self._extrapolated_pass(W, 0, None, 0.0)
        return 0

    def extrapolated_pass(self, W, base_margins, beta):
        """The extrapolated form without kept state (for callers that keep
        the predictions themselves, such as the chunks of a Dask oracle):
        ``(loss_W, loss_Y, G_Y, margins_W)`` with ``base_margins`` the
        predictions of the base model (None for beta = 0)."""
        W = np.ascontiguousarray(W, dtype=self.dtype)
        margins = np.empty((self.Y.shape[0], self.n_outputs))
        loss_W, loss_Y, G = self._kernel_pass(W, margins, base_margins, beta)
        return float(loss_W), float(loss_Y), G, margins

    def _extrapolated_pass(self, W, slot, base, beta):
        if self._margins[slot] is None:
            self._margins[slot] = np.empty((self.Y.shape[0], self.n_outputs))
        # The slot is overwritten: forget its key until the pass is done.
        self._margin_keys[slot] = None
        result = self._kernel_pass(W, self._margins[slot], base, beta)
        self._margin_keys[slot] = W.tobytes()
        return result

    def _kernel_pass(self, W, margins, base, beta):
        return _kernel.extrapolated_loss_gradient(
            *self.data.args,
            self.Y,
            self.target_kind,
            self.sample_weight,
            W,
            self.rows,
            self.loss_code,
            self.epsilon,
            margins,
            base if beta != 0.0 else None,
            beta,
            self.n_threads,
        )

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
            *self.data.args, self.sample_weight, self.rows, self.n_features,
            self.n_threads,
        )
