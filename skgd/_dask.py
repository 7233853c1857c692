"""Dask collections: training and prediction on the cluster.

This module is imported only when an estimator receives a Dask array or
DataFrame (``skgd._base.is_dask_collection`` looks at ``sys.modules`` first,
so an in-memory fit never imports Dask).

What runs where:

- Everything that reads X runs on the workers, chunk by chunk: the checks
  and the target encoding of a chunk, the compiled kernel, predictions and
  the sums behind ``score``.  The client holds the model (a few arrays of
  ``n_outputs x (n_features + 1)``) and small per-chunk summaries.
- Stochastic batches stream: an epoch visits the row chunks in a shuffled
  order, shuffles the rows within each chunk, and the model travels from
  one chunk's task to the next as a small task result, so every chunk's
  task runs on the worker that holds (or produces) the chunk.  The chunks
  are requested a few at a time, so data that does not fit in the cluster's
  memory streams through it.
- Full batch: :class:`DaskOracle` reduces the in-memory oracle's sums over
  the chunks; the driver that uses it runs on the client.
"""


import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    _check_sample_weight,
    check_array,
)

from skgd import _kernel
from skgd._callbacks import start_fit_task
from skgd._oracle import GradientOracle, InMemoryOracle, KernelData
from skgd._solver import (
    ADAPTIVE_DIVISOR,
    ADAPTIVE_MIN_ETA,
    LOSSES,
    TARGET_REAL,
    SolverResult,
    _average_start,
    _published,
    kernel_epoch,
    penalty_value,
    prepare_l1_record,
    resolve_eta0,
    resolve_spec,
    warn_if_not_converged,
)
from skgd._validation import check_csr
from skgd.exceptions import DivergenceError
from skgd.schedules import _step_sizes

__all__ = ["DaskOracle", "fit_dask", "predict_dask", "score_dask", "warn_again"]

# Chunks requested from the cluster per round trip of a streamed epoch.  The
# model visits them one after the other; asking for a few at once lets the
# next chunks load (or be generated) while the current one trains, and
# bounds how many chunks of a larger-than-memory collection are held at once.
STREAM_WINDOW = 4
# An epoch objective this many times above the larger of the first epoch's
# objective and 1 is a step that is too large (the in-memory monitor's
# factor).
EXPLOSION_FACTOR = 1e6


def _is_dataframe(obj):
    import dask.dataframe as dd

    return isinstance(obj, dd.DataFrame)


def _is_frame_like(obj):
    import dask.dataframe as dd

    return isinstance(obj, (dd.DataFrame, dd.Series))


# What scikit-learn's callback API keeps on an estimator during a fit: the
# callbacks and their contexts stay on the client (a progress bar cannot
# travel to a worker), so the copies of the estimator the tasks carry leave
# them out.
CALLBACK_ATTRIBUTES = frozenset(
    {
        "_skl_callbacks",
        "_callback_fit_ctx",
        "_skl_callbacks_to_teardown",
        "_propagated_callbacks",
    }
)


def for_tasks(estimator):
    """A shallow copy of ``estimator`` for the tasks: its fitted state and
    target encoding, without its callbacks."""
    if not CALLBACK_ATTRIBUTES.intersection(estimator.__dict__):
        return estimator
    copy = object.__new__(type(estimator))
    copy.__dict__.update(
        (k, v) for k, v in estimator.__dict__.items() if k not in CALLBACK_ATTRIBUTES
    )
    return copy


def warn_again(caught, stacklevel):
    """Issue the warnings recorded during a Dask fit again.

    A :class:`~sklearn.exceptions.ConvergenceWarning` is about the whole fit:
    it is placed ``stacklevel`` frames above the caller of this function (the
    line that called ``fit``), where the in-memory fit places it; the
    drivers' own ``stacklevel`` counts the frames of the in-memory call
    chain.  Any other warning keeps the place it was raised at.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    for record in caught:
        if issubclass(record.category, ConvergenceWarning):
            warnings.warn(record.message, record.category, stacklevel=stacklevel + 1)
        else:
            warnings.warn_explicit(
                record.message,
                record.category,
                record.filename,
                record.lineno,
                source=record.source,
            )


# ----------------------------------------------------------------------
# Aligning X, y and sample_weight chunk by chunk
# ----------------------------------------------------------------------


def _as_2d_array(X):
    """X as a Dask array with one block per row chunk."""
    import dask.array as da

    if not isinstance(X, da.Array):
        raise TypeError(
            f"Expected a Dask array or DataFrame for X, got {type(X).__name__}."
        )
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-D Dask array for X, got {X.ndim} dimension(s); "
            "reshape it to (n_samples, n_features)."
        )
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError(
            "The Dask array X has unknown chunk sizes; call "
            "X.compute_chunk_sizes() (or to_dask_array(lengths=True) on a "
            "DataFrame) first."
        )
    if len(X.chunks[1]) > 1:
        # The kernel reads whole rows: one block spans every column.
        X = X.rechunk({1: -1})
    return X


def _aligned(a, row_chunks, name):
    """``a`` (NumPy, Dask array or Dask Series) cut into ``row_chunks``."""
    import dask.array as da

    if _is_frame_like(a):
        a = a.to_dask_array(lengths=True)
    elif not isinstance(a, da.Array):
        a = da.from_array(np.asarray(a), chunks=(row_chunks,) + np.shape(a)[1:])
    if a.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D or 2-D, got {a.ndim} dimensions.")
    n = int(sum(row_chunks))
    if a.shape[0] != n:
        raise ValueError(
            f"X has {n} samples but {name} has {a.shape[0]}; they must have "
            "the same number of rows."
        )
    spec = {0: row_chunks}
    if a.ndim == 2:
        spec[1] = -1
    if a.chunks[0] != tuple(row_chunks) or (a.ndim == 2 and len(a.chunks[1]) > 1):
        a = a.rechunk(spec)
    blocks = a.to_delayed(optimize_graph=False)
    return list(blocks.ravel())


def row_blocks(X, *others, names=()):
    """Delayed row blocks of X and of each of ``others`` (None stays None),
    aligned so that block k of each holds the same rows.

    The blocks are taken without graph optimisation: with it, dask 2025.1
    hands a persisted chunk's key instead of the chunk to the task.

    A Dask DataFrame keeps its partitions (pandas DataFrames reach the
    workers, so feature names are checked there); a Dask Series beside it
    must have the same partitions; any array beside it is cut at the
    partition lengths.
    """
    if _is_dataframe(X):
        x_blocks = list(X.to_delayed(optimize_graph=False))
        lengths = None
        out = []
        for a, name in zip(others, names):
            if a is None:
                out.append([None] * len(x_blocks))
            elif _is_frame_like(a):
                if a.npartitions != X.npartitions:
                    raise ValueError(
                        f"X has {X.npartitions} partitions but {name} has "
                        f"{a.npartitions}; take both from the same Dask "
                        "DataFrame, or pass arrays."
                    )
                out.append(list(a.to_delayed(optimize_graph=False)))
            else:
                if lengths is None:
                    # Counting rows reads the partitions on the cluster; only
                    # their lengths come back.
                    lengths = tuple(int(n) for n in X.map_partitions(len).compute())
                out.append(_aligned(a, lengths, name))
        return x_blocks, out
    X = _as_2d_array(X)
    x_blocks = list(X.to_delayed(optimize_graph=False).ravel())
    out = [
        [None] * len(x_blocks) if a is None else _aligned(a, X.chunks[0], name)
        for a, name in zip(others, names)
    ]
    return x_blocks, out


def dask_meta(X):
    """A one-row in-memory stand-in of X (its columns, names and dtype)."""
    if _is_dataframe(X):
        import pandas as pd

        meta = X._meta
        return pd.DataFrame(
            np.zeros((1, meta.shape[1])), columns=meta.columns
        ).astype(meta.dtypes.to_dict())
    X = _as_2d_array(X)
    meta = X._meta
    if sp.issparse(meta):
        return sp.csr_matrix((1, X.shape[1]), dtype=X.dtype)
    return np.zeros((1, X.shape[1]), dtype=X.dtype)


def train_dtype(X):
    """The precision training runs in: float32 stays float32, every other
    dtype trains in float64 (as in memory)."""
    if _is_dataframe(X):
        dtypes = set(X._meta.dtypes)
        if dtypes and all(d == np.float32 for d in dtypes):
            return np.dtype(np.float32)
        return np.dtype(np.float64)
    return np.dtype(X.dtype if X.dtype in (np.float32, np.float64) else np.float64)


# ----------------------------------------------------------------------
# Work done on the workers
# ----------------------------------------------------------------------


def _chunk_X(x, dtype):
    """A chunk of X as the kernel takes it, checked like in-memory input."""
    if sp.issparse(x):
        x = check_csr(sp.csr_matrix(x))
    x = check_array(x, accept_sparse="csr", dtype=dtype, order="C")
    return check_csr(x)


def prepare_chunk(encoder, x, y, sw, dtype, class_weights):
    """Check and encode one chunk: ``(X, Y, sample_weight)`` for the kernel.

    ``encoder`` is the estimator (its targets' encoding is fixed before the
    chunks are read); ``class_weights`` the weight of each class code, or
    None.
    """
    X = _chunk_X(x, dtype)
    Y, _, _ = encoder._prepare_targets(np.asarray(y), X, reset=False)
    sample_weight = np.ascontiguousarray(
        _check_sample_weight(
            None if sw is None else np.asarray(sw),
            X,
            dtype=X.dtype,
            ensure_non_negative=True,
        )
    )
    if class_weights is not None:
        sample_weight = sample_weight * class_weights[Y[:, 0].astype(np.intp)].astype(
            X.dtype
        )
    return X, Y, sample_weight


def _target_summary(y, sw, classify):
    """Rows and weight sums of one chunk; per label for a classifier."""
    y = np.asarray(y)
    n = y.shape[0]
    sw = np.ones(n) if sw is None else np.asarray(sw, dtype=np.float64)
    if classify:
        labels, codes = np.unique(y, return_inverse=True)
        codes = codes.ravel()
        return (
            n,
            labels,
            np.bincount(codes, minlength=labels.shape[0]),
            np.bincount(codes, weights=sw, minlength=labels.shape[0]),
        )
    return n, float(np.sum(sw))


def _train_chunk(carry, encoder, spec, x, y, sw, dtype, class_weights, sw_mean):
    """One chunk of a streamed epoch, on the worker that holds the chunk.

    ``carry`` is ``(state, loss_sum, weight_sum)`` after the previous chunk;
    the same, updated, is returned.  The rows of the chunk are shuffled with
    the state's generator and cut into batches of ``spec.batch_size``; the
    last batch of a chunk may be smaller.
    """
    state, loss_sum, weight_sum = carry
    X, Y, sample_weight = prepare_chunk(encoder, x, y, sw, dtype, class_weights)
    n = X.shape[0]
    if n == 0:
        return carry
    # Tasks may be retried: never modify an input.
    state = state.copy()
    data = KernelData(X)
    rows = np.arange(n, dtype=np.intp)
    if spec.eta0 != "auto":
        eta0 = float(spec.eta0)
    else:
        if state.auto_eta0 is None:
            # Measured on the first chunk trained: the curvature of the whole
            # collection would cost a pass over it before training starts.
            state.auto_eta0 = resolve_eta0(data, sample_weight, rows, spec)
        eta0 = state.auto_eta0
    if state.eta is None or eta0 != state.eta0:
        state.eta = eta0
    state.eta0 = eta0
    batch_size = max(1, min(int(spec.batch_size), n))
    n_batches = -(-n // batch_size)
    order = rows
    if spec.shuffle and batch_size < n:
        state.shuffle_state = _kernel.shuffle_rows(
            order, np.empty(0, dtype=np.intp), state.shuffle_state
        )
    constant_steps = spec.learning_rate in ("constant", "adaptive")
    steps = np.ascontiguousarray(
        _step_sizes(
            spec.learning_rate,
            np.arange(
                state.t, state.t + (1 if constant_steps else n_batches), dtype=np.int64
            ),
            state.eta,
            power_t=spec.power_t,
            alpha=spec.alpha,
        ),
        dtype=np.float64,
    )
    prepare_l1_record(state, spec, stochastic=True)
    result = kernel_epoch(
        data,
        Y,
        sample_weight,
        sw_mean,
        state,
        spec,
        order,
        batch_size,
        steps,
        _average_start(spec.average),
        1,
    )
    return (
        state,
        loss_sum + result.loss_sum,
        weight_sum + float(np.sum(sample_weight, dtype=np.float64)),
    )


# ----------------------------------------------------------------------
# Fitting
# ----------------------------------------------------------------------


class DaskTrainingData:
    """X, y and sample_weight of a fit, as aligned delayed row blocks, with
    what the client needs to know about them (computed on the cluster)."""

    def __init__(self, estimator, X, y, sample_weight, *, reset, classes=None):
        import dask

        if sample_weight is not None and np.ndim(sample_weight) == 0:
            raise ValueError(
                "With Dask input, give sample_weight as an array of one weight "
                "per row (NumPy or Dask), or None."
            )
        self.dtype = train_dtype(X)
        if not _is_dataframe(X) and X.dtype != self.dtype:
            X = X.astype(self.dtype)
        meta = dask_meta(X)
        if reset:
            _check_feature_names(estimator, meta, reset=True)
            estimator.n_features_in_ = int(meta.shape[1])
        else:
            _check_feature_names(estimator, meta, reset=False)
            _check_n_features(estimator, meta, reset=False)
        self.n_features = int(meta.shape[1])
        self.x_blocks, (self.y_blocks, self.sw_blocks) = row_blocks(
            X, y, sample_weight, names=("y", "sample_weight")
        )
        self.n_chunks = len(self.x_blocks)
        classify = not estimator._y_numeric
        self.class_weights = None
        if not classify:
            y_ndim = int(np.ndim(y))
            if reset:
                estimator._y_ndim = y_ndim
            elif y_ndim != estimator._y_ndim and not (
                y_ndim == 2 and estimator._y_ndim == 1
            ):
                raise ValueError(
                    f"y has {y_ndim} dimension(s) but the model was trained on "
                    f"{estimator._y_ndim}."
                )
        # A Dask array's row count is in its chunks (row_blocks refused
        # unknown ones); a DataFrame's needs counting.
        if not classify and sample_weight is None and not _is_dataframe(X):
            # Nothing to learn from the targets before training: no pass.
            self.n_samples = int(X.shape[0])
            self.weight_sum = float(self.n_samples)
        else:
            # One pass over y (and the weights) on the cluster: rows, weight
            # sums and, for a classifier, the labels and their counts.
            summaries = dask.compute(
                *[
                    dask.delayed(_target_summary, pure=True)(yb, sb, classify)
                    for yb, sb in zip(self.y_blocks, self.sw_blocks)
                ]
            )
            self.n_samples = int(sum(s[0] for s in summaries))
            if classify:
                self._classes(estimator, summaries, reset=reset, classes=classes)
            else:
                self.weight_sum = float(sum(s[1] for s in summaries))
        if self.n_samples == 0:
            raise ValueError("Found a Dask collection with 0 samples; need at least 1.")
        if not self.weight_sum > 0.0:
            raise ValueError(
                "The sample weights sum to zero; give at least one sample a "
                "positive weight."
            )
        self.sw_mean = self.weight_sum / self.n_samples

    def _classes(self, estimator, summaries, *, reset, classes):
        from sklearn.utils.class_weight import compute_class_weight

        from skgd._validation import check_class_weights

        seen = np.unique(np.concatenate([s[1] for s in summaries]))
        counts = np.zeros(seen.shape[0])
        weights = np.zeros(seen.shape[0])
        for _, labels, c, w in summaries:
            where = np.searchsorted(seen, labels)
            np.add.at(counts, where, c)
            np.add.at(weights, where, w)
        if reset:
            labels = seen if classes is None else np.unique(classes)
            if labels.shape[0] < 2:
                raise ValueError(
                    "GDClassifier needs samples of at least 2 classes in the "
                    f"data, but the data contains only one class: {labels[0]!r}."
                )
            estimator.classes_ = labels
        labels = estimator.classes_
        unknown = np.setdiff1d(seen, labels)
        if unknown.shape[0]:
            raise ValueError(
                f"y contains labels not in classes_ {labels.tolist()}: "
                f"{unknown.tolist()}. Pass every label with `classes=` on the "
                "first call to partial_fit."
            )
        position = np.searchsorted(labels, seen)
        class_count = np.zeros(labels.shape[0])
        class_weight_sum = np.zeros(labels.shape[0])
        class_count[position] = counts
        class_weight_sum[position] = weights
        cw = estimator.class_weight
        if cw is None:
            self.weight_sum = float(class_weight_sum.sum())
            return
        if cw == "balanced":
            # scikit-learn's n_samples / (n_classes * count), from the counts
            # the cluster returned.
            present = class_count > 0
            factors = np.ones(labels.shape[0])
            factors[present] = class_count.sum() / (
                present.sum() * class_count[present]
            )
        else:
            factors = compute_class_weight(cw, classes=labels, y=labels)
        check_class_weights(factors)
        self.class_weights = np.asarray(factors, dtype=np.float64)
        self.weight_sum = float(class_weight_sum @ self.class_weights)


def stream_fit(
    estimator, data, state, spec, *, max_epochs=None, warn_convergence, reporter=None
):
    """Streamed stochastic training on the cluster; a :class:`SolverResult`.

    Each epoch visits the chunks in an order drawn from the state's
    generator; within a chunk the kernel shuffles the rows and runs its
    batches (see :func:`_train_chunk`).  Stopping rules (``tol``,
    ``n_iter_no_change``, the "adaptive" schedule) act on the epoch
    objective as in memory.  ``reporter`` (see
    :class:`~skgd._callbacks.EpochReporter`) hears of every epoch, and stops
    training when it asks to, as in memory.
    """

    import dask

    # The "auto" choices of stochastic batches (plain steps, constant
    # schedule, momentum 0.9).
    spec = resolve_spec(spec, full_batch=False)
    epochs = spec.max_iter if max_epochs is None else max_epochs
    average_start = _average_start(spec.average)
    train = dask.delayed(_train_chunk, pure=False)
    loss_curve = []
    best_loss = np.inf
    no_improvement = 0
    converged = stopped_by_callback = False
    first_objective = None
    epoch = 0
    for epoch in range(1, epochs + 1):
        if reporter is not None:
            reporter.epoch_begin(_published(state, average_start))
        if spec.shuffle and data.n_chunks > 1:
            chunk_order = np.random.RandomState(
                state.shuffle_state % (2**32)
            ).permutation(data.n_chunks)
        else:
            chunk_order = np.arange(data.n_chunks)
        penalty = penalty_value(state.W, spec.alpha, spec.l1_ratio)
        carry = (state, 0.0, 0.0)
        for start in range(0, data.n_chunks, STREAM_WINDOW):
            step = carry
            for k in chunk_order[start : start + STREAM_WINDOW]:
                step = train(
                    step,
                    estimator,
                    spec,
                    data.x_blocks[k],
                    data.y_blocks[k],
                    data.sw_blocks[k],
                    data.dtype,
                    data.class_weights,
                    data.sw_mean,
                )
            (carry,) = dask.compute(step)
        state, loss_sum, weight_sum = carry
        if spec.shuffle and data.n_chunks > 1:
            # Draw the next epoch's chunk order from a new seed even when no
            # chunk shuffled its rows.
            state.shuffle_state = (state.shuffle_state * 6364136223846793005 + 1) % (
                2**63
            )
        obj = loss_sum / weight_sum + penalty
        loss_curve.append(obj)
        _check_divergence(epoch, state, obj, first_objective, spec)
        if first_objective is None:
            first_objective = obj
        if spec.verbose:
            print(f"-- Epoch {epoch}: objective {obj:.6g}, updates {state.t}")
        improved = not (spec.tol is not None and obj > best_loss - spec.tol)
        best_loss = min(best_loss, obj)
        no_improvement = 0 if improved else no_improvement + 1
        stop = False
        if reporter is not None and reporter.epoch_end(
            _published(state, average_start)
        ):
            stop = stopped_by_callback = True
        if no_improvement >= spec.n_iter_no_change:
            if spec.learning_rate == "adaptive" and state.eta > ADAPTIVE_MIN_ETA:
                state.eta /= ADAPTIVE_DIVISOR
                no_improvement = 0
            elif spec.tol is not None:
                converged = stop = True
        if stop:
            break
    warn_if_not_converged(
        epochs,
        converged or stopped_by_callback or not warn_convergence or epoch == 0,
        spec,
        "increase max_iter, raise eta0 or tol, or scale the data.",
        # Placed at the caller's line by warn_again, from _run_dask.
        stacklevel=2,
    )
    return SolverResult(
        state=state,
        W=_published(state, average_start).copy(),
        loss_curve=loss_curve,
        validation_scores=[],
        n_iter=epoch,
    )


def _check_divergence(epoch, state, obj, first_objective, spec):
    """Refuse overflowing weights and an exploding epoch objective."""
    eta = float(state.eta)
    # 2/L for plain steps from eta0="auto" (1/L of the first chunk); no bound
    # is known otherwise without another pass over the data.
    stable = (
        2.0 * state.auto_eta0
        if spec.optimizer == "sgd" and state.auto_eta0 is not None
        else float("nan")
    )
    if not np.all(np.isfinite(state.W)):
        raise DivergenceError(epoch, eta, stable, obj, reason="weights_overflow")
    scale = max(1.0, abs(first_objective) if first_objective is not None else 1.0)
    if not np.isfinite(obj) or obj > EXPLOSION_FACTOR * scale:
        raise DivergenceError(epoch, eta, stable, obj, reason="step")


def fit_dask(
    estimator,
    X,
    y,
    sample_weight,
    *,
    incremental,
    classes,
    coef_init,
    intercept_init,
    shuffle_seed,
):
    """Train ``estimator`` on Dask input; returns ``(result, resume,
    reporter)`` for the estimator to publish (``reporter`` is the fit's
    :class:`~skgd._callbacks.EpochReporter`, or None)."""
    if y is None:
        raise ValueError("y is required: pass the targets as a Dask array or Series.")
    if estimator.early_stopping and not incremental:
        raise ValueError(
            "early_stopping=True is not available with Dask input: the "
            "validation split would have to be held apart from the streamed "
            "chunks. Fit with early_stopping=False and score a held-out Dask "
            "collection with .score(), or stop with tol and n_iter_no_change."
        )
    first_call = not (incremental and hasattr(estimator, "_solver_state"))
    data = DaskTrainingData(
        estimator, X, y, sample_weight, reset=first_call, classes=classes
    )
    meta = np.zeros((1, data.n_features), dtype=data.dtype)
    if estimator._y_numeric:
        target_kind = TARGET_REAL
        n_outputs = 1 if estimator._y_ndim == 1 else int(y.shape[1])
    else:
        _, target_kind, n_outputs = estimator._prepare_targets(
            estimator.classes_[:1], meta, reset=False
        )
    spec = estimator._spec(target_kind)
    resume = hasattr(estimator, "_solver_state") and (
        incremental or (estimator.warm_start and coef_init is None)
    )
    if resume:
        state = estimator._resumable_state(meta, n_outputs)
    else:
        state = estimator._initial_state(
            meta, n_outputs, coef_init, intercept_init, shuffle_seed
        )
    max_epochs = 1 if incremental else None
    # Callbacks hear of the fit and its epochs on the client, as in memory;
    # they are handed the Dask collections the fit was given.
    reporter = start_fit_task(
        estimator,
        max_epochs=1 if incremental else spec.max_iter,
        X=X,
        y=y,
        metadata={} if sample_weight is None else {"sample_weight": sample_weight},
    )
    encoder = for_tasks(estimator)
    # A batch as large as the data is the full batch, as in memory.
    if spec.batch_size == "full" or int(spec.batch_size) >= data.n_samples:
        result = full_batch_fit(
            encoder,
            data,
            state,
            spec,
            max_epochs=max_epochs,
            reporter=reporter,
            warn_convergence=not incremental,
        )
    else:
        result = stream_fit(
            encoder,
            data,
            state,
            spec,
            max_epochs=max_epochs,
            reporter=reporter,
            warn_convergence=not incremental,
        )
    return result, resume, reporter


def full_batch_fit(
    estimator, data, state, spec, *, max_epochs, warn_convergence, reporter=None
):
    """Full-batch training: the in-memory driver on the map-reduce oracle.

    Every question the driver asks (loss and gradient, Gram products for
    ``eta0="auto"``, column moments for preconditioning and for its
    divergence check) is answered by :class:`DaskOracle`, so the iterates
    are those of the in-memory fit; only the order in which the chunks'
    float64 sums are added differs.
    """
    from skgd._fullbatch import solve_full_batch

    spec = resolve_spec(spec, full_batch=True)
    oracle = DaskOracle.from_training_data(
        estimator, data, spec, n_outputs=state.W.shape[0]
    )
    return solve_full_batch(
        oracle,
        state,
        spec,
        max_epochs=max_epochs,
        reporter=reporter,
        warn_convergence=warn_convergence,
    )


# ----------------------------------------------------------------------
# The full-batch oracle
# ----------------------------------------------------------------------


def _chunk_oracle(encoder, x, y, sw, dtype, class_weights, n_outputs, spec):
    X, Y, sample_weight = prepare_chunk(encoder, x, y, sw, dtype, class_weights)
    return InMemoryOracle(
        X,
        Y,
        sample_weight,
        n_outputs=n_outputs,
        loss_code=LOSSES[spec.loss].code,
        epsilon=spec.epsilon,
        target_kind=spec.target_kind,
    )


def _call(oracle, name, args):
    return getattr(oracle, name)(*args)


def _add(a, b):
    """Sum of two oracle answers: floats, arrays or tuples of them."""
    if isinstance(a, tuple):
        return tuple(_add(p, q) for p, q in zip(a, b))
    if a is None:
        return None
    return a + b


def _add_all(*parts):
    """Sum of oracle answers, added in the order given."""
    total = parts[0]
    for part in parts[1:]:
        total = _add(total, part)
    return total


# The chunks' answers are summed on the client, in chunk order, when all of
# them together take at most this many bytes: one round trip to the
# cluster, where a tree of additions on the workers costs one more round
# trip per level (on a LocalCluster each level costs about 20 ms, more than
# the arithmetic of a 200k-row chunk at 20 features).  Larger answers (many
# chunks of a wide model) are first added on the workers, as many per task
# as fit in this budget, so the client never holds more than it.
CLIENT_SUM_BYTES = 64 * 2**20


def _reduce_on_cluster(parts, part_bytes):
    """Compute the sum of delayed ``parts`` (each about ``part_bytes``)."""
    import dask

    fan_in = max(2, int(CLIENT_SUM_BYTES // max(part_bytes, 1)))
    add = dask.delayed(_add_all, pure=False)
    while len(parts) > fan_in:
        parts = [add(*parts[i:i + fan_in]) for i in range(0, len(parts), fan_in)]
    return _add_all(*dask.compute(*parts))


class DaskOracle(GradientOracle):
    """The full-batch oracle of Dask data: the in-memory oracle on every
    chunk, its sums added up over the cluster.

    The chunks are checked, encoded and kept on the workers (persisted) once,
    each as an :class:`~skgd._oracle.InMemoryOracle`; each question is then
    one map over the chunks whose answers (a few arrays of
    ``n_outputs x (n_features + 1)`` per chunk) are all that reaches the
    client, which adds them in chunk order.

    The extrapolated form keeps state on the workers: every chunk's oracle
    keeps its rows' predictions at the last two models it evaluated, as it
    does in memory, so every line-search trial is one read of each chunk.
    The chunks' oracles belong to this oracle alone (their task keys are
    unique), so no other fit's trials overwrite those predictions; a chunk
    that has lost them (moved to another worker, spilled, recomputed) reads
    its rows once more for the base model, and the sums stay exact.

    Parameters
    ----------
    oracles : list of Delayed
        One delayed :class:`~skgd._oracle.InMemoryOracle` per chunk.
    n_features, n_outputs : int
    dtype : numpy.dtype
    weight_sum : float
    persist : bool, default=True
        Keep the chunks' oracles in the cluster's memory.  Without it each
        question reads (or generates) the chunks again.
    """

    def __init__(self, oracles, *, n_features, n_outputs, dtype, weight_sum,
                 persist=True):
        import dask

        if persist:
            oracles = list(dask.persist(*oracles))
        self.oracles = oracles
        self.n_features = int(n_features)
        self.n_outputs = int(n_outputs)
        self.dtype = np.dtype(dtype)
        self.weight_sum = float(weight_sum)

    @classmethod
    def from_training_data(cls, estimator, data, spec, n_outputs, persist=True):
        import dask

        # pure=False: keys unique to this fit, so the chunks' kept
        # predictions (see the class docstring) are this fit's alone.
        make = dask.delayed(_chunk_oracle, pure=False)
        oracles = [
            make(estimator, x, y, s, data.dtype, data.class_weights, n_outputs, spec)
            for x, y, s in zip(data.x_blocks, data.y_blocks, data.sw_blocks)
        ]
        return cls(
            oracles,
            n_features=data.n_features,
            n_outputs=n_outputs,
            dtype=data.dtype,
            weight_sum=data.weight_sum,
            persist=persist,
        )

    def _reduce(self, name, *args, size):
        import dask

        call = dask.delayed(_call, pure=False)
        parts = [call(oracle, name, args) for oracle in self.oracles]
        return _reduce_on_cluster(parts, 8 * (size + 3))

    def loss_gradient(self, W, with_gradient=True):
        W = np.ascontiguousarray(W, dtype=self.dtype)
        loss_sum, G = self._reduce(
            "loss_gradient", W, with_gradient, size=W.size
        )
        return float(loss_sum), G

    def extrapolated_loss_gradient(self, W, beta, W_base):
        """The in-memory oracle's extrapolated form on every chunk (each
        chunk combines its kept predictions of ``W_base`` with those of
        ``W``), summed over the chunks."""
        W = np.ascontiguousarray(W, dtype=self.dtype)
        W_base = np.ascontiguousarray(W_base, dtype=self.dtype)
        loss_W, loss_Y, G = self._reduce(
            "extrapolated_loss_gradient", W, beta, W_base, size=W.size
        )
        return float(loss_W), float(loss_Y), G

    def gram_matvec(self, v, fit_intercept):
        v = np.ascontiguousarray(v, dtype=np.float64)
        return self._reduce("gram_matvec", v, fit_intercept, size=v.size)

    def column_moments(self):
        return self._reduce("column_moments", size=2 * self.n_features)


# ----------------------------------------------------------------------
# Prediction and scoring
# ----------------------------------------------------------------------


def _apply(estimator, method, x):
    return getattr(estimator, method)(x)


def _apply_series(df, estimator, method):
    import pandas as pd

    return pd.Series(getattr(estimator, method)(df), index=df.index)


def _apply_frame(df, estimator, method):
    import pandas as pd

    out = getattr(estimator, method)(df)
    return pd.DataFrame(out, index=df.index)


def predict_dask(estimator, method, X):
    """``estimator.<method>`` over the chunks of X, lazily.

    A Dask array gives a Dask array; a Dask DataFrame gives a Dask Series for
    one value per row and a Dask array for several (one column per class or
    target), as scikit-learn's methods give NumPy arrays in memory.
    """
    import dask.array as da

    meta = dask_meta(X)
    sample = getattr(estimator, method)(meta)
    estimator = for_tasks(estimator)
    if _is_dataframe(X):
        import pandas as pd

        if sample.ndim == 1:
            return X.map_partitions(
                _apply_series,
                estimator,
                method,
                meta=pd.Series(sample[:0], dtype=sample.dtype),
            )
        frame = X.map_partitions(
            _apply_frame,
            estimator,
            method,
            meta=pd.DataFrame(sample[:0]),
        )
        return frame.to_dask_array()
    X = _as_2d_array(X)
    if sample.ndim == 1:
        return da.map_blocks(
            _apply,
            estimator,
            method,
            X,
            drop_axis=1,
            dtype=sample.dtype,
            meta=sample[:0],
        )
    return da.map_blocks(
        _apply,
        estimator,
        method,
        X,
        chunks=(X.chunks[0], (sample.shape[1],)),
        dtype=sample.dtype,
        meta=sample[:0],
    )


def _score_parts(estimator, x, y, sw, classify):
    """Per-chunk sums behind ``score``, in float64."""
    prediction = estimator.predict(x)
    y = np.asarray(y)
    n = y.shape[0]
    w = np.ones(n) if sw is None else np.asarray(sw, dtype=np.float64)
    if classify:
        return float(w.sum()), float(w @ (prediction == y))
    y = y.reshape(n, -1).astype(np.float64)
    prediction = np.asarray(prediction, dtype=np.float64).reshape(n, -1)
    weight = float(w.sum())
    mean = (w @ y) / weight if weight > 0 else np.zeros(y.shape[1])
    spread = w @ (y - mean) ** 2
    residual = w @ (y - prediction) ** 2
    return weight, mean, spread, residual


def _merge_moments(a, b):
    """Chan et al.'s pairwise merge of weighted means and squared spreads."""
    wa, ma, sa, ra = a
    wb, mb, sb, rb = b
    w = wa + wb
    if w == 0:
        return a
    delta = mb - ma
    return w, ma + delta * (wb / w), sa + sb + delta**2 * (wa * wb / w), ra + rb


def score_dask(estimator, X, y, sample_weight=None):
    """Accuracy (classifier) or R² (regressor), with the sums computed on the
    cluster and only a few numbers per chunk brought back."""
    import dask

    classify = not estimator._y_numeric
    estimator = for_tasks(estimator)
    x_blocks, (y_blocks, sw_blocks) = row_blocks(
        X, y, sample_weight, names=("y", "sample_weight")
    )
    part = dask.delayed(_score_parts, pure=True)
    parts = dask.compute(
        *[
            part(estimator, x, yb, sb, classify)
            for x, yb, sb in zip(x_blocks, y_blocks, sw_blocks)
        ]
    )
    if classify:
        weight = sum(p[0] for p in parts)
        return float(sum(p[1] for p in parts) / weight)
    total = parts[0]
    for p in parts[1:]:
        total = _merge_moments(total, p)
    _, _, spread, residual = total
    # scikit-learn's r2_score: a constant target scores 1 when predicted
    # exactly and 0 otherwise; outputs are averaged uniformly.
    scores = np.where(
        spread > 0,
        1.0 - residual / np.where(spread > 0, spread, 1.0),
        np.where(residual == 0, 1.0, 0.0),
    )
    return float(np.mean(scores))
