# The compiled epoch kernel shared by every estimator in skgd.
#
# One call runs one epoch: the rows listed in `order` are cut into
# consecutive batches of `batch_size` rows; for each batch the kernel computes
# the predictions of every output, the loss and its derivative, accumulates the
# gradient, and applies one optimizer step plus the penalty.  Full-batch GD,
# per-sample SGD and mini-batch GD are this same loop with different batch
# sizes.  No Python runs between updates: the driver hands over the step size
# of every batch up front.
#
# Layout of the model: W has shape (n_outputs, n_features + 1); column
# n_features holds the intercept, so the optimizer state (same shape) covers
# it too.  The intercept is never penalised.
#
# The gradient of a batch B is  sum_{i in B} s_i dloss_i x_i / (|B| * s_mean),
# with s the sample weights and s_mean their mean over the training rows.
# For the full batch this is the exact weighted-mean gradient; for a batch of
# one row it is an unbiased estimate of it that respects the weight of the row.

from libc.math cimport fabs, pow, sqrt
from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memset

from cython.parallel cimport prange

cimport cython
from cython cimport floating

from skgd._losses cimport (
    LossCode,
    point_loss,
    softmax_loss,
    SOFTMAX,
)

import numpy as np

ctypedef fused index_t:
    int
    long long

cdef extern from *:
    """
    /* Ask the memory system for the next row before it is needed: a shuffled
       order defeats the hardware prefetcher, so each row would otherwise
       start with a cache miss. */
    static inline void skgd_prefetch(const void *p) {
    #if defined(__GNUC__) || defined(__clang__)
        __builtin_prefetch(p, 0, 3);
    #endif
    }
    /* The first and the last cache line of [begin, end): a sparse row of
       about ten values spans two or three lines, and a line left to a demand
       load is a full miss in a shuffled order.  Longer rows are read in
       order, which the hardware prefetcher follows by itself. */
    static inline void skgd_prefetch_ends(const void *begin, const void *end) {
    #if defined(__GNUC__) || defined(__clang__)
        __builtin_prefetch(begin, 0, 3);
        __builtin_prefetch((const char *)end - 1, 0, 3);
    #endif
    }
    """
    void skgd_prefetch(const void *p) noexcept nogil
    void skgd_prefetch_ends(const void *begin, const void *end) noexcept nogil


# Optimizer codes, in the order of skgd._solver.OPTIMIZERS.
cdef enum OptCode:
    OPT_SGD = 0
    OPT_MOMENTUM = 1
    OPT_NESTEROV = 2
    OPT_ADAGRAD = 3
    OPT_RMSPROP = 4
    OPT_ADAM = 5

# Target encodings: real-valued targets, one column per output; a class index
# expanded to +-1 per output (one-vs-rest, or a single binary output); a class
# index for the multinomial (softmax) loss.
cdef enum TargetKind:
    TARGET_REAL = 0
    TARGET_ONE_VS_REST = 1
    TARGET_MULTINOMIAL = 2

# Denominator guard of the adaptive optimizers (AdaGrad, RMSprop, Adam).
cdef double ADAPTIVE_EPS = 1e-8
# Rows are requested from memory this many rows before they are used: one
# row of work (a dot and an axpy over ~100 features) is shorter than a
# memory round trip, so a single row of look-ahead would leave most of the
# latency exposed in a shuffled order.
cdef Py_ssize_t PREFETCH_AHEAD = 4
# Rows a batch needs before its gradient is shared among threads: below
# this, starting and joining the threads costs more than it saves.
cdef Py_ssize_t PARALLEL_MIN_ROWS = 128
# The lazy sparse update keeps weights as (scale, offset) products; once the
# accumulated scale gets this small every weight is brought up to date and
# the scale restarts at 1, long before it could underflow.
cdef double LAZY_RESCALE_BELOW = 1e-100
# A lazily kept running mean (U + A V) / B cancels digits in proportion to
# how far the scale has fallen since A started growing: restarting the
# scale at this size keeps that loss near 1e-10 relative.
cdef double AVERAGE_RESCALE_BELOW = 1e-6


cdef inline floating dense_dot(const floating* w, const floating* x,
                               Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j
    cdef floating s = 0
    for j in range(n):
        s += w[j] * x[j]
    return s


cdef inline floating sparse_dot(const floating* w, const floating* v,
                                const index_t* idx,
                                Py_ssize_t nnz) noexcept nogil:
    cdef Py_ssize_t q
    cdef floating s = 0
    for q in range(nnz):
        s += w[idx[q]] * v[q]
    return s


cdef inline void dense_axpy(floating* g, floating c, const floating* x,
                            Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(n):
        g[j] += c * x[j]


cdef inline floating soft_threshold(floating w, floating thr) noexcept nogil:
    if w > thr:
        return w - thr
    if w < -thr:
        return w + thr
    return 0


cdef inline double row_loss(
    int loss, double eps, int target_kind, int K,
    const floating* y_row, double* P, double* Dv,
) noexcept nogil:
    """Loss of one row given its predictions P (K values); writes dloss/dp
    into Dv."""
    cdef int k, label
    cdef double total = 0.0, yk
    if target_kind == TARGET_MULTINOMIAL:
        return softmax_loss(P, K, <int>y_row[0], Dv)
    if target_kind == TARGET_ONE_VS_REST:
        label = <int>y_row[0]
        for k in range(K):
            if K == 1:
                yk = 1.0 if label == 1 else -1.0
            else:
                yk = 1.0 if label == k else -1.0
            total += point_loss(loss, P[k], yk, eps, &Dv[k])
        return total
    for k in range(K):
        total += point_loss(loss, P[k], y_row[k], eps, &Dv[k])
    return total


cdef inline floating optimizer_step(
    int optimizer, floating w, double g, floating* s1, floating* s2,
    double eta, double mu, double beta1, double beta2,
    double bias1, double bias2, double* eff,
) noexcept nogil:
    """One coordinate of an update rule; returns the new weight.

    momentum  v <- mu v - eta g;          w <- w + v
    nesterov  v <- mu v - eta g;          w <- w + mu v - eta g
    adagrad   s <- s + g^2;               w <- w - eta g / (sqrt(s) + eps)
    rmsprop   s <- b2 s + (1 - b2) g^2;   w <- w - eta g / (sqrt(s) + eps)
    adam      m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
              w <- w - eta (m / bias1) / (sqrt(v / bias2) + eps)
    where bias1 = 1 - b1^t and bias2 = 1 - b2^t for the t-th update.

    eff receives the rule's effective step on this coordinate, the factor
    the L1 soft threshold must use for the iteration to stop exactly at a
    Lasso solution: at a fixed point of w <- S(w - eff g, eff alpha rho)
    the gradient satisfies g = -alpha rho sign(w).  That is eta / (1 - mu)
    for both momentum rules (their velocity settles at -eta g / (1 - mu))
    and eta over the root of the second-moment estimate for the adaptive
    rules.
    """
    cdef double v, m, s
    if optimizer == OPT_SGD:
        eff[0] = eta
        return <floating>(w - eta * g)
    elif optimizer == OPT_MOMENTUM:
        v = mu * s1[0] - eta * g
        s1[0] = <floating>v
        eff[0] = eta / (1.0 - mu)
        return <floating>(w + v)
    elif optimizer == OPT_NESTEROV:
        v = mu * s1[0] - eta * g
        s1[0] = <floating>v
        eff[0] = eta / (1.0 - mu)
        return <floating>(w + mu * v - eta * g)
    elif optimizer == OPT_ADAGRAD:
        s = s1[0] + g * g
        s1[0] = <floating>s
        eff[0] = eta / (sqrt(s) + ADAPTIVE_EPS)
        return <floating>(w - eff[0] * g)
    elif optimizer == OPT_RMSPROP:
        s = beta2 * s1[0] + (1.0 - beta2) * g * g
        s1[0] = <floating>s
        eff[0] = eta / (sqrt(s) + ADAPTIVE_EPS)
        return <floating>(w - eff[0] * g)
    else:
        m = beta1 * s1[0] + (1.0 - beta1) * g
        v = beta2 * s2[0] + (1.0 - beta2) * g * g
        s1[0] = <floating>m
        s2[0] = <floating>v
        eff[0] = eta / (sqrt(v / bias2) + ADAPTIVE_EPS)
        return <floating>(w - eff[0] * (m / bias1))


cdef void apply_gradient(
    floating* W, floating* G, floating* S1, floating* S2,
    int K, Py_ssize_t n_features, bint fit_intercept,
    int optimizer, double eta, double alpha, double l1_ratio,
    double mu, double beta1, double beta2, double bias1, double bias2,
) noexcept nogil:
    """One optimizer step on every coordinate from the batch gradient G,
    then the penalty; G is zeroed for the next batch.

    Plain SGD takes the proximal step w <- S(a w - eta g, thr), with
    a = 1 - eta alpha (1 - l1_ratio) the L2 shrink and S the soft threshold
    at thr = eta alpha l1_ratio, which sets weights exactly to zero.  The other
    rules treat the L2 term as part of the gradient and finish with the soft
    threshold at their own effective step (see optimizer_step)."""
    cdef Py_ssize_t D = n_features + 1, j, base
    cdef int k
    cdef floating a = <floating>(1.0 - eta * alpha * (1.0 - l1_ratio))
    cdef floating thr = <floating>(eta * alpha * l1_ratio)
    cdef floating feta = <floating>eta
    cdef double l2 = alpha * (1.0 - l1_ratio)
    cdef double l1 = alpha * l1_ratio
    cdef double eff = 0.0
    cdef floating* Wk
    cdef floating* Gk
    for k in range(K):
        base = k * D
        Wk = W + base
        Gk = G + base
        if optimizer == OPT_SGD:
            for j in range(n_features):
                Wk[j] = a * Wk[j] - feta * Gk[j]
            if thr > 0:
                for j in range(n_features):
                    Wk[j] = soft_threshold(Wk[j], thr)
        else:
            for j in range(n_features):
                Wk[j] = optimizer_step(
                    optimizer, Wk[j], Gk[j] + l2 * Wk[j], S1 + base + j,
                    S2 + base + j, eta, mu, beta1, beta2, bias1, bias2, &eff)
                if l1 > 0:
                    Wk[j] = soft_threshold(Wk[j], <floating>(eff * l1))
        if fit_intercept:
            Wk[n_features] = optimizer_step(
                optimizer, Wk[n_features], Gk[n_features],
                S1 + base + n_features, S2 + base + n_features,
                eta, mu, beta1, beta2, bias1, bias2, &eff)
        memset(Gk, 0, D * sizeof(floating))


cdef struct LazyRecord:
    # The cumulative shrink A and threshold C at the step where this
    # feature's weights were last brought up to date.
    double A
    double C


cdef inline void lazy_catch_up(
    floating* W, int K, Py_ssize_t D, Py_ssize_t j,
    double A_now, double C_now, LazyRecord* records,
) noexcept nogil:
    """Bring weight column j up to date through the penalty-only steps it
    missed.  A run of steps w <- S(a_s w, c_s) composes in closed form: with
    A = prod a_s and C = sum c_s / A_{s+1}, |w| goes to
    A_now * max(0, |w| / A_last - (C_now - C_last)), sign unchanged."""
    cdef int k
    cdef double w, u
    cdef double A_last = records[j].A
    cdef double ratio = A_now / A_last
    cdef double shift = C_now - records[j].C
    if ratio != 1.0 or shift != 0.0:
        for k in range(K):
            w = W[k * D + j]
            u = fabs(w) / A_last - shift
            if u <= 0:
                W[k * D + j] = 0
            elif w > 0:
                W[k * D + j] = <floating>(A_now * u)
            else:
                W[k * D + j] = <floating>(-A_now * u)
    records[j].A = A_now
    records[j].C = C_now


cdef inline void scale_weights(floating* W, int K, Py_ssize_t D,
                               Py_ssize_t n_features, double factor) noexcept nogil:
    """Fold a pending scale factor into the coefficients (not the
    intercepts)."""
    cdef int k
    cdef Py_ssize_t j
    cdef floating f = <floating>factor
    if factor == 1.0:
        return
    for k in range(K):
        for j in range(n_features):
            W[k * D + j] *= f


cdef inline void finish_intercept(floating* W, floating* G, int K, Py_ssize_t D,
                                  Py_ssize_t n_features, bint fit_intercept,
                                  double eta) noexcept nogil:
    """Plain gradient step on the intercepts; clears their gradient."""
    cdef int k
    for k in range(K):
        if fit_intercept:
            W[k * D + n_features] -= <floating>(eta * G[k * D + n_features])
        G[k * D + n_features] = 0


cdef double accumulate_rows(
    const floating* Xp, const floating* Xv, const index_t* Xi,
    const index_t* Xptr, bint sparse, Py_ssize_t n_features,
    const floating* Yp, Py_ssize_t y_cols, int target_kind,
    const floating* swp, const Py_ssize_t* orderp, Py_ssize_t n_rows,
    Py_ssize_t start, Py_ssize_t stop, double scale,
    const floating* W, int K, int loss, double epsilon,
    floating* G, double* P, double* Dv,
) noexcept nogil:
    """Add the gradient of rows order[start:stop] at W into G (K, D) and
    return their sample-weighted loss sum: each row is read once for the
    predictions of every output and the gradient of every output."""
    cdef Py_ssize_t D = n_features + 1, r, i, q, next_row, row_start = 0, nnz = 0
    cdef int k
    cdef double total = 0.0, row_w
    cdef floating ck
    cdef const floating* x = NULL
    for r in range(start, stop):
        i = orderp[r]
        if sparse and r + 2 * PREFETCH_AHEAD < n_rows:
            # The row's extent must arrive before its data can be
            # requested: fetch it twice as far ahead.
            skgd_prefetch(Xptr + orderp[r + 2 * PREFETCH_AHEAD])
        if r + PREFETCH_AHEAD < n_rows:
            next_row = orderp[r + PREFETCH_AHEAD]
            skgd_prefetch(Yp + next_row * y_cols)
            skgd_prefetch(swp + next_row)
            if sparse:
                if Xv != NULL:
                    skgd_prefetch_ends(Xv + Xptr[next_row], Xv + Xptr[next_row + 1])
                    skgd_prefetch_ends(Xi + Xptr[next_row], Xi + Xptr[next_row + 1])
            else:
                q = 0
                while q < n_features:
                    skgd_prefetch(Xp + next_row * n_features + q)
                    q += 64 // sizeof(floating)
        if sparse:
            row_start = Xptr[i]
            nnz = Xptr[i + 1] - row_start
            for k in range(K):
                P[k] = sparse_dot(W + k * D, Xv + row_start, Xi + row_start,
                                  nnz) + W[k * D + n_features]
        else:
            x = Xp + i * n_features
            for k in range(K):
                P[k] = dense_dot(W + k * D, x, n_features) + W[k * D + n_features]
        row_w = swp[i]
        total += row_w * row_loss(loss, epsilon, target_kind, K,
                                  Yp + i * y_cols, P, Dv)
        for k in range(K):
            ck = <floating>(row_w * scale * Dv[k])
            if ck == 0:
                continue
            if sparse:
                for q in range(row_start, row_start + nnz):
                    G[k * D + Xi[q]] += ck * Xv[q]
            else:
                dense_axpy(G + k * D, ck, x, n_features)
            G[k * D + n_features] += ck
    return total


cdef double accumulate_rows_parallel(
    const floating* Xp, const floating* Xv, const index_t* Xi,
    const index_t* Xptr, bint sparse, Py_ssize_t n_features,
    const floating* Yp, Py_ssize_t y_cols, int target_kind,
    const floating* swp, const Py_ssize_t* orderp, Py_ssize_t n_rows,
    Py_ssize_t start, Py_ssize_t stop, double scale,
    const floating* W, int K, int loss, double epsilon,
    floating* G, floating* G_threads, double* work, int n_threads,
) noexcept nogil:
    """accumulate_rows with the rows cut into one contiguous share per
    thread, each summing into its own gradient buffer; the buffers are then
    added into G in a fixed order, so the result does not depend on which
    thread finishes first."""
    cdef Py_ssize_t D = n_features + 1, size = K * D, j
    cdef Py_ssize_t share = (stop - start + n_threads - 1) // n_threads
    cdef Py_ssize_t g_stride = thread_stride(size, sizeof(floating))
    cdef Py_ssize_t w_stride = thread_stride(2 * K + 1, sizeof(double))
    cdef Py_ssize_t lo, hi
    cdef int tid
    cdef double total = 0.0
    for tid in prange(n_threads, num_threads=n_threads, schedule="static"):
        lo = start + tid * share
        hi = lo + share
        if hi > stop:
            hi = stop
        work[tid * w_stride] = 0.0
        if lo < hi:
            work[tid * w_stride] = accumulate_rows(
                Xp, Xv, Xi, Xptr, sparse, n_features, Yp, y_cols, target_kind,
                swp, orderp, n_rows, lo, hi, scale, W, K, loss, epsilon,
                G_threads + tid * g_stride, work + tid * w_stride + 1,
                work + tid * w_stride + 1 + K)
    for tid in range(n_threads):
        total += work[tid * w_stride]
        for j in range(size):
            G[j] += G_threads[tid * g_stride + j]
            G_threads[tid * g_stride + j] = 0
    return total


cdef inline Py_ssize_t thread_stride(Py_ssize_t count, size_t item) noexcept nogil:
    """Per-thread buffer length, rounded up to whole 64-byte cache lines:
    two threads writing into one line would invalidate it for each other on
    every row."""
    cdef Py_ssize_t per_line = 64 // item
    return ((count + per_line - 1) // per_line) * per_line


cdef double sparse_sgd_rows(
    const floating* Xv, const index_t* Xi, const index_t* Xptr,
    Py_ssize_t n_features, const floating* Yp, Py_ssize_t y_cols,
    int target_kind, const floating* swp, const Py_ssize_t* orderp,
    Py_ssize_t n_rows, const double* stepp, bint constant_step, double scale,
    floating* W, int K, bint fit_intercept, int loss, double epsilon,
    double l2, double* wscale_io, double* P, double* Dv,
    long long t_start, floating* Wavg, long long average_start, double* U,
) noexcept nogil:
    """Per-sample plain SGD over CSR rows in visiting order, with an L2
    penalty at most: every row is one update, W = wscale * V.

    The general epoch loop could run this case too, but per-sample SGD on
    sparse rows does so little arithmetic per row (a dot product and an
    update over ten-odd values) that the bookkeeping around it would cost as
    much again; this loop keeps only what a row needs, and a model with one
    output (binary classification, one regression target) keeps its
    prediction and derivative in registers.  It is called once per epoch,
    so its speed does not depend on the compiler inlining it.

    The shrink 1 - eta l2 of each step goes into the model-wide scale, and
    the row's gradient step lands on V divided by the new scale.  Once the
    scale would drop below LAZY_RESCALE_BELOW (AVERAGE_RESCALE_BELOW when
    averaging), or to zero or below for a step with eta l2 >= 1, it is
    folded into V and restarts at 1 before the gradient step, which leaves W
    unchanged.

    Averaging (Wavg not NULL) is lazy too: the running mean of the
    coefficients is held as (U + A V) / B with U a float64 buffer (K, D)
    and A, B scalars.  The mean's update avg <- (1 - mu) avg + mu s V with
    mu = 1 / (updates averaged) then costs B <- B / (1 - mu),
    A <- A + mu s B, plus U <- U - A_old dV on the columns the row changed
    (V <- V + dV), instead of a pass over every weight.  The intercepts are
    averaged directly."""
    cdef Py_ssize_t D = n_features + 1, r, i, q, j, row_start, row_end, next_row
    cdef Py_ssize_t far = 2 * PREFETCH_AHEAD
    cdef int k
    cdef bint single = K == 1 and target_kind != TARGET_MULTINOMIAL
    cdef bint averaging = Wavg != NULL, averaged_step
    cdef double wscale = wscale_io[0], new_scale, eta, row_w, c, f, dv
    cdef double p1, y1, d1 = 0.0
    cdef double loss_sum = 0.0
    cdef double avg_A = 0.0, avg_B = 1.0, navg = 0.0
    cdef double rescale_below = (AVERAGE_RESCALE_BELOW if averaging
                                 else LAZY_RESCALE_BELOW)
    cdef long long t = t_start
    cdef floating* Wk
    if averaging:
        # The mean so far is U itself (A = 0, B = 1).
        for k in range(K):
            for j in range(n_features):
                U[k * D + j] = Wavg[k * D + j]
    if n_rows == 0:
        return 0.0
    eta = stepp[0]
    for r in range(n_rows):
        i = orderp[r]
        if r + far < n_rows:
            # The row's extent must arrive before its data can be
            # requested: fetch it twice as far ahead.
            skgd_prefetch(Xptr + orderp[r + far])
        if r + PREFETCH_AHEAD < n_rows:
            next_row = orderp[r + PREFETCH_AHEAD]
            skgd_prefetch(Yp + next_row * y_cols)
            skgd_prefetch(swp + next_row)
            if Xv != NULL:
                skgd_prefetch_ends(Xv + Xptr[next_row], Xv + Xptr[next_row + 1])
                skgd_prefetch_ends(Xi + Xptr[next_row], Xi + Xptr[next_row + 1])
        row_start = Xptr[i]
        row_end = Xptr[i + 1]
        row_w = swp[i]
        if not constant_step:
            eta = stepp[r]
        new_scale = wscale * (1.0 - eta * l2)
        if single:
            p1 = (wscale * sparse_dot(W, Xv + row_start, Xi + row_start,
                                      row_end - row_start)
                  + W[n_features])
            if target_kind == TARGET_ONE_VS_REST:
                y1 = 1.0 if Yp[i * y_cols] == 1 else -1.0
            else:
                y1 = Yp[i * y_cols]
            loss_sum += row_w * point_loss(loss, p1, y1, epsilon, &d1)
        else:
            for k in range(K):
                P[k] = (wscale * sparse_dot(W + k * D, Xv + row_start,
                                            Xi + row_start, row_end - row_start)
                        + W[k * D + n_features])
            loss_sum += row_w * row_loss(loss, epsilon, target_kind, K,
                                         Yp + i * y_cols, P, Dv)

        if new_scale < rescale_below:
            if averaging and avg_A != 0:
                # The mean is written in terms of V: settle its A V part
                # before V changes scale.
                for k in range(K):
                    for j in range(n_features):
                        U[k * D + j] += avg_A * W[k * D + j]
                avg_A = 0.0
            scale_weights(W, K, D, n_features, new_scale)
            new_scale = 1.0
        t += 1
        averaged_step = averaging and t > average_start
        # The one-output case repeats the loop body without the loop over
        # outputs: reading its derivative through Dv cost about a tenth of
        # the epoch.
        if single:
            c = eta * row_w * scale * d1
            if c != 0:
                f = c / new_scale
                if averaged_step and avg_A != 0:
                    for q in range(row_start, row_end):
                        dv = f * Xv[q]
                        W[Xi[q]] -= <floating>dv
                        U[Xi[q]] += avg_A * dv
                else:
                    for q in range(row_start, row_end):
                        W[Xi[q]] -= <floating>(f * Xv[q])
                if fit_intercept:
                    W[n_features] -= <floating>c
        else:
            for k in range(K):
                c = eta * row_w * scale * Dv[k]
                if c == 0:
                    continue
                Wk = W + k * D
                f = c / new_scale
                if averaged_step and avg_A != 0:
                    for q in range(row_start, row_end):
                        dv = f * Xv[q]
                        Wk[Xi[q]] -= <floating>dv
                        U[k * D + Xi[q]] += avg_A * dv
                else:
                    for q in range(row_start, row_end):
                        Wk[Xi[q]] -= <floating>(f * Xv[q])
                if fit_intercept:
                    Wk[n_features] -= <floating>c
        wscale = new_scale
        if averaged_step:
            navg = <double>(t - average_start)
            if navg == 1.0:
                # The mean starts at this update's weights.
                for k in range(K):
                    for j in range(n_features):
                        U[k * D + j] = 0.0
                avg_A = wscale
                avg_B = 1.0
            else:
                avg_B /= 1.0 - 1.0 / navg
                avg_A += wscale * avg_B / navg
            for k in range(K):
                Wavg[k * D + n_features] += <floating>(
                    (W[k * D + n_features] - Wavg[k * D + n_features]) / navg)
    if averaging:
        for k in range(K):
            for j in range(n_features):
                Wavg[k * D + j] = <floating>(
                    (U[k * D + j] + avg_A * W[k * D + j]) / avg_B)
    wscale_io[0] = wscale
    return loss_sum


@cython.final
cdef class EpochResult:
    """What one epoch reports back to the driver."""
    cdef public double loss_sum
    cdef public long long n_updates

    def __init__(self, double loss_sum, long long n_updates):
        self.loss_sum = loss_sum
        self.n_updates = n_updates


def run_epoch(
    const floating[:, ::1] X,
    const floating[::1] X_data,
    const index_t[::1] X_indices,
    const index_t[::1] X_indptr,
    bint sparse,
    const floating[:, ::1] Y,
    int target_kind,
    const floating[::1] sample_weight,
    double sw_mean,
    floating[:, ::1] W,
    bint fit_intercept,
    const Py_ssize_t[::1] order,
    Py_ssize_t batch_size,
    const double[::1] steps,
    int loss,
    double epsilon,
    int optimizer,
    double momentum,
    double beta1,
    double beta2,
    floating[:, ::1] S1,
    floating[:, ::1] S2,
    long long t_start,
    double alpha,
    double l1_ratio,
    floating[:, ::1] W_avg,
    long long average_start,
    int n_threads=1,
):
    """Run one epoch in place on W (and the optimizer state S1, S2, and the
    running average W_avg when average_start >= 0).

    Parameters are the model and data exactly as the driver prepared them:
    X dense C-contiguous (n, d) or CSR (X_data, X_indices, X_indptr) with the
    same dtype as W; `order` the training rows in visiting order; `steps` the
    step size of each batch. Batches of at least PARALLEL_MIN_ROWS rows of
    the eager path are shared among `n_threads` threads. Returns an
    EpochResult with the sample-weighted sum of each row's loss at the moment
    its batch was processed.
    """
    cdef Py_ssize_t n_rows = order.shape[0]
    cdef Py_ssize_t n_features = W.shape[1] - 1
    cdef Py_ssize_t D = W.shape[1]
    cdef int K = W.shape[0]
    cdef Py_ssize_t n_batches = (n_rows + batch_size - 1) // batch_size
    cdef Py_ssize_t y_cols = Y.shape[1]
    # One step per batch, or a single step for a constant schedule (which
    # then costs no array as long as the epoch).
    cdef bint constant_step = steps.shape[0] == 1
    if steps.shape[0] < n_batches and not constant_step:
        raise ValueError("steps must hold one step size per batch")

    cdef bint averaging = average_start >= 0
    # Plain SGD on sparse rows touches only the features present in the
    # batch; the penalty of every other feature is applied lazily.  Without
    # an L1 part the penalty is a pure shrink, kept as one scale factor for
    # the whole model (W = scale * V).  With L1, each feature records where
    # it was last brought up to date (see lazy_catch_up).  Averaging needs
    # every weight every step, so here it keeps the eager update.
    cdef bint lazy = sparse and optimizer == OPT_SGD and not averaging
    cdef bint lazy_scaled = lazy and alpha * l1_ratio == 0.0
    cdef bint lazy_l1 = lazy and not lazy_scaled
    # With one row per update and no L1 part, sparse rows have a loop of
    # their own, which keeps the running average lazily as well
    # (sparse_sgd_rows).  Averaged sparse SGD with L1 or mini-batches pays
    # a pass over every weight per update.
    cdef bint rowwise_sparse = (sparse and optimizer == OPT_SGD
                                and alpha * l1_ratio == 0.0 and batch_size == 1)
    # Only the lazy batches of the general loop track the columns they touch.
    cdef bint track_touched = lazy and not rowwise_sparse
    # Dense per-sample SGD fuses gradient and update into one sweep over the
    # row while it is still in cache.
    cdef bint fused = (not sparse) and optimizer == OPT_SGD and batch_size == 1

    cdef floating* Wp = &W[0, 0]
    cdef floating* S1p = &S1[0, 0] if S1.shape[0] > 0 else NULL
    cdef floating* S2p = &S2[0, 0] if S2.shape[0] > 0 else NULL
    cdef floating* Wavg_p = &W_avg[0, 0] if W_avg.shape[0] > 0 else NULL
    cdef const floating* Xp = &X[0, 0] if (not sparse and X.shape[0] > 0) else NULL
    cdef const floating* Xv = NULL
    cdef const index_t* Xi = NULL
    cdef const index_t* Xptr = NULL
    if sparse:
        Xptr = &X_indptr[0]
        if X_data.shape[0] > 0:
            Xv = &X_data[0]
            Xi = &X_indices[0]
    cdef const floating* Yp = &Y[0, 0]
    cdef const floating* swp = &sample_weight[0]
    cdef const Py_ssize_t* orderp = &order[0] if n_rows > 0 else NULL
    cdef const double* stepp = &steps[0] if n_batches > 0 else NULL

    cdef floating* G = NULL
    cdef floating* G_threads = NULL
    cdef double* work = NULL
    cdef double* P = NULL
    cdef double* Dv = NULL
    cdef floating* C = NULL
    cdef LazyRecord* records = NULL
    cdef long long* stamp = NULL
    cdef Py_ssize_t* touched = NULL
    cdef double* U = NULL

    cdef Py_ssize_t b, r, i, j, q, start, stop, nnz, row_start = 0, n_touched, kD
    cdef Py_ssize_t next_row
    cdef int k
    cdef long long t = t_start
    cdef double eta, scale, row_w, loss_sum = 0.0, bias1 = 1.0, bias2 = 1.0
    cdef double A_now = 1.0, C_now = 0.0, a_step, thr_step, navg
    cdef double wscale = 1.0, new_scale, f
    cdef double full_scale = 1.0 / (batch_size * sw_mean)
    cdef bint degenerate
    cdef floating a, thr, ck, w
    cdef const floating* x = NULL
    cdef bint error = False

    with nogil:
        G = <floating*>malloc(K * D * sizeof(floating))
        P = <double*>malloc(K * sizeof(double))
        Dv = <double*>malloc(K * sizeof(double))
        C = <floating*>malloc(K * sizeof(floating))
        if n_threads > 1:
            G_threads = <floating*>calloc(
                n_threads * thread_stride(K * D, sizeof(floating)), sizeof(floating))
            work = <double*>malloc(
                n_threads * thread_stride(2 * K + 1, sizeof(double)) * sizeof(double))
            if G_threads == NULL or work == NULL:
                n_threads = 1
        if track_touched:
            stamp = <long long*>malloc(D * sizeof(long long))
            touched = <Py_ssize_t*>malloc(D * sizeof(Py_ssize_t))
        if lazy_l1:
            records = <LazyRecord*>malloc(D * sizeof(LazyRecord))
        if rowwise_sparse and averaging:
            U = <double*>malloc(K * D * sizeof(double))
        if (G == NULL or P == NULL or Dv == NULL or C == NULL
                or (track_touched and (stamp == NULL or touched == NULL))
                or (lazy_l1 and records == NULL)
                or (rowwise_sparse and averaging and U == NULL)):
            error = True
        else:
            memset(G, 0, K * D * sizeof(floating))
            if track_touched:
                for j in range(D):
                    stamp[j] = -1
            if lazy_l1:
                for j in range(D):
                    records[j].A = 1.0
                    records[j].C = 0.0

            if rowwise_sparse:
                loss_sum = sparse_sgd_rows(
                    Xv, Xi, Xptr, n_features, Yp, y_cols, target_kind, swp,
                    orderp, n_rows, stepp, constant_step, full_scale, Wp, K,
                    fit_intercept, loss, epsilon, alpha * (1.0 - l1_ratio),
                    &wscale, P, Dv, t, Wavg_p if averaging else NULL,
                    average_start, U)
                t += n_rows
            else:
                for b in range(n_batches):
                    start = b * batch_size
                    stop = start + batch_size
                    if stop > n_rows:
                        stop = n_rows
                    eta = stepp[0] if constant_step else stepp[b]
                    scale = full_scale if stop - start == batch_size else (
                        1.0 / ((stop - start) * sw_mean))
                    if optimizer == OPT_ADAM:
                        bias1 = 1.0 - pow(beta1, <double>(t + 1))
                        bias2 = 1.0 - pow(beta2, <double>(t + 1))
                    a_step = 1.0 - eta * alpha * (1.0 - l1_ratio)
                    thr_step = eta * alpha * l1_ratio
                    a = <floating>a_step
                    thr = <floating>thr_step

                    # Before the lazy representation's scale could underflow,
                    # bring every weight up to date and restart it at 1.  A
                    # shrink this strong (eta * alpha close to or above 1) has
                    # no lazy form at all: that step then runs eagerly.
                    degenerate = lazy and a_step < LAZY_RESCALE_BELOW
                    if lazy_scaled and wscale * a_step < LAZY_RESCALE_BELOW:
                        scale_weights(Wp, K, D, n_features, wscale)
                        wscale = 1.0
                    if lazy_l1 and A_now * a_step < LAZY_RESCALE_BELOW:
                        for j in range(n_features):
                            lazy_catch_up(Wp, K, D, j, A_now, C_now, records)
                        A_now = 1.0
                        C_now = 0.0
                        for j in range(n_features):
                            records[j].A = 1.0
                            records[j].C = 0.0
                    n_touched = 0

                    if not (fused or lazy):
                        # The eager path: the whole batch's gradient into G,
                        # shared among threads when the batch is large enough
                        # to pay for them.
                        if n_threads > 1 and stop - start >= PARALLEL_MIN_ROWS:
                            loss_sum += accumulate_rows_parallel(
                                Xp, Xv, Xi, Xptr, sparse, n_features, Yp, y_cols,
                                target_kind, swp, orderp, n_rows, start, stop, scale,
                                Wp, K, loss, epsilon, G, G_threads, work, n_threads)
                        else:
                            loss_sum += accumulate_rows(
                                Xp, Xv, Xi, Xptr, sparse, n_features, Yp, y_cols,
                                target_kind, swp, orderp, n_rows, start, stop, scale,
                                Wp, K, loss, epsilon, G, P, Dv)

                    # Per-row paths: the fused dense update and the lazy sparse ones.
                    # Their prefetching repeats accumulate_rows' on purpose: moved
                    # into a shared inline function it slowed per-sample SGD
                    # about twofold (the compiler did not inline it here).
                    if fused or lazy:
                        for r in range(start, stop):
                            i = orderp[r]
                            if sparse and r + 2 * PREFETCH_AHEAD < n_rows:
                                # The row's extent must arrive before its data can
                                # be requested: fetch it twice as far ahead.
                                skgd_prefetch(Xptr + orderp[r + 2 * PREFETCH_AHEAD])
                            if r + PREFETCH_AHEAD < n_rows:
                                next_row = orderp[r + PREFETCH_AHEAD]
                                skgd_prefetch(Yp + next_row * y_cols)
                                skgd_prefetch(swp + next_row)
                                if sparse:
                                    if Xv != NULL:
                                        skgd_prefetch_ends(Xv + Xptr[next_row],
                                                           Xv + Xptr[next_row + 1])
                                        skgd_prefetch_ends(Xi + Xptr[next_row],
                                                           Xi + Xptr[next_row + 1])
                                else:
                                    q = 0
                                    while q < n_features:
                                        skgd_prefetch(Xp + next_row * n_features + q)
                                        q += 64 // sizeof(floating)
                            # Predictions of every output from one read of the row.
                            if sparse:
                                row_start = Xptr[i]
                                nnz = Xptr[i + 1] - row_start
                                if lazy_l1:
                                    for q in range(row_start, row_start + nnz):
                                        j = Xi[q]
                                        if stamp[j] != b:
                                            stamp[j] = b
                                            lazy_catch_up(Wp, K, D, j, A_now, C_now,
                                                          records)
                                            touched[n_touched] = j
                                            n_touched += 1
                                elif lazy_scaled:
                                    for q in range(row_start, row_start + nnz):
                                        j = Xi[q]
                                        if stamp[j] != b:
                                            stamp[j] = b
                                            touched[n_touched] = j
                                            n_touched += 1
                                for k in range(K):
                                    P[k] = (wscale * sparse_dot(
                                                Wp + k * D, Xv + row_start,
                                                Xi + row_start, nnz)
                                            + Wp[k * D + n_features])
                            else:
                                x = Xp + i * n_features
                                for k in range(K):
                                    P[k] = (dense_dot(Wp + k * D, x, n_features)
                                            + Wp[k * D + n_features])

                            row_w = swp[i]
                            loss_sum += row_w * row_loss(loss, epsilon, target_kind, K,
                                                         Yp + i * y_cols, P, Dv)
                            for k in range(K):
                                C[k] = <floating>(row_w * scale * Dv[k])

                            if fused:
                                # w <- S(a w - eta c x, thr), intercept unpenalised.
                                for k in range(K):
                                    kD = k * D
                                    ck = <floating>(eta) * C[k]
                                    for j in range(n_features):
                                        Wp[kD + j] = a * Wp[kD + j] - ck * x[j]
                                    if thr > 0:
                                        for j in range(n_features):
                                            Wp[kD + j] = soft_threshold(Wp[kD + j], thr)
                                    if fit_intercept:
                                        Wp[kD + n_features] -= ck
                                continue
                            # Lazy sparse rows: the batch gradient of the columns
                            # they touch.
                            for k in range(K):
                                kD = k * D
                                ck = C[k]
                                if ck == 0:
                                    continue
                                for q in range(row_start, row_start + nnz):
                                    G[kD + Xi[q]] += ck * Xv[q]
                                G[kD + n_features] += ck

                    if fused:
                        pass
                    elif degenerate:
                        # Everything is up to date (scale and records restarted
                        # above), so the step applies to the weights themselves.
                        apply_gradient(Wp, G, S1p, S2p, K, n_features,
                                       fit_intercept, optimizer, eta, alpha,
                                       l1_ratio, momentum, beta1, beta2,
                                       bias1, bias2)
                    elif lazy_scaled:
                        new_scale = wscale * a_step
                        for q in range(n_touched):
                            j = touched[q]
                            for k in range(K):
                                kD = k * D
                                Wp[kD + j] -= <floating>(eta * G[kD + j] / new_scale)
                                G[kD + j] = 0
                        wscale = new_scale
                        finish_intercept(Wp, G, K, D, n_features, fit_intercept, eta)
                    elif lazy_l1:
                        # Touched columns take the full proximal step now; every
                        # other column owes this step's shrink and threshold,
                        # recorded in (A_now, C_now).
                        A_now *= a_step
                        C_now += thr_step / A_now
                        for q in range(n_touched):
                            j = touched[q]
                            for k in range(K):
                                kD = k * D
                                w = a * Wp[kD + j] - <floating>eta * G[kD + j]
                                if thr > 0:
                                    w = soft_threshold(w, thr)
                                Wp[kD + j] = w
                                G[kD + j] = 0
                            records[j].A = A_now
                            records[j].C = C_now
                        finish_intercept(Wp, G, K, D, n_features, fit_intercept, eta)
                    else:
                        apply_gradient(Wp, G, S1p, S2p, K, n_features,
                                       fit_intercept, optimizer, eta, alpha,
                                       l1_ratio, momentum, beta1, beta2,
                                       bias1, bias2)
                    t += 1
                    if averaging and t > average_start:
                        # Running mean of the iterates since update average_start.
                        navg = <double>(t - average_start)
                        for j in range(K * D):
                            Wavg_p[j] += <floating>((Wp[j] - Wavg_p[j]) / navg)

            if lazy_scaled or rowwise_sparse:
                scale_weights(Wp, K, D, n_features, wscale)
            if lazy_l1:
                for j in range(n_features):
                    lazy_catch_up(Wp, K, D, j, A_now, C_now, records)

        free(G)
        free(G_threads)
        free(work)
        free(P)
        free(Dv)
        free(C)
        free(records)
        free(stamp)
        free(touched)
        free(U)
    if error:
        raise MemoryError()
    return EpochResult(loss_sum, t - t_start)


def loss_and_gradient(
    const floating[:, ::1] X,
    const floating[::1] X_data,
    const index_t[::1] X_indices,
    const index_t[::1] X_indptr,
    bint sparse,
    const floating[:, ::1] Y,
    int target_kind,
    const floating[::1] sample_weight,
    const floating[:, ::1] W,
    const Py_ssize_t[::1] rows,
    int loss,
    double epsilon,
    bint with_gradient,
):
    """Sample-weighted loss sum over `rows` at W, and (with_gradient) the
    gradient of that sum with respect to W, shape (n_outputs, n_features + 1),
    in float64.  Used for the objective, the learning-rate finder and the
    finite-difference tests of every loss."""
    cdef Py_ssize_t n_features = W.shape[1] - 1
    cdef Py_ssize_t D = W.shape[1]
    cdef int K = W.shape[0]
    cdef Py_ssize_t y_cols = Y.shape[1]
    cdef Py_ssize_t r, i, q, row_start = 0, nnz = 0, j
    cdef int k
    cdef double total = 0.0, c
    cdef double[::1] P = np.empty(K)
    cdef double[::1] Dv = np.empty(K)
    cdef double[:, ::1] G = np.zeros((K if with_gradient else 0, D))
    cdef const floating* x = NULL
    with nogil:
        for r in range(rows.shape[0]):
            i = rows[r]
            if sparse:
                row_start = X_indptr[i]
                nnz = X_indptr[i + 1] - row_start
                for k in range(K):
                    P[k] = W[k, n_features]
                    for q in range(row_start, row_start + nnz):
                        P[k] += W[k, X_indices[q]] * X_data[q]
            else:
                x = &X[i, 0] if n_features > 0 else NULL
                for k in range(K):
                    P[k] = W[k, n_features]
                    for j in range(n_features):
                        P[k] += W[k, j] * x[j]
            total += sample_weight[i] * row_loss(loss, epsilon, target_kind, K,
                                                 &Y[i, 0], &P[0], &Dv[0])
            if with_gradient:
                for k in range(K):
                    c = sample_weight[i] * Dv[k]
                    if sparse:
                        for q in range(row_start, row_start + nnz):
                            G[k, X_indices[q]] += c * X_data[q]
                    else:
                        for j in range(n_features):
                            G[k, j] += c * x[j]
                    G[k, n_features] += c
    return total, np.asarray(G)


def decision_rows(
    const floating[:, ::1] X,
    const floating[::1] X_data,
    const index_t[::1] X_indices,
    const index_t[::1] X_indptr,
    bint sparse,
    const floating[:, ::1] W,
    const Py_ssize_t[::1] rows,
    floating[:, ::1] out,
):
    """Decision values of the listed rows into out (len(rows), n_outputs),
    without gathering the rows into a copy of X."""
    cdef Py_ssize_t n_features = W.shape[1] - 1
    cdef int K = W.shape[0]
    cdef Py_ssize_t r, i, q, row_start, nnz
    cdef int k
    cdef floating s
    with nogil:
        for r in range(rows.shape[0]):
            i = rows[r]
            for k in range(K):
                if sparse:
                    row_start = X_indptr[i]
                    nnz = X_indptr[i + 1] - row_start
                    s = 0
                    for q in range(row_start, row_start + nnz):
                        s += W[k, X_indices[q]] * X_data[q]
                else:
                    s = dense_dot(&W[k, 0], &X[i, 0], n_features) if n_features > 0 else 0
                out[r, k] = s + W[k, n_features]


def gram_matvec(
    const floating[:, ::1] X,
    const floating[::1] X_data,
    const index_t[::1] X_indices,
    const index_t[::1] X_indptr,
    bint sparse,
    const floating[::1] sample_weight,
    const Py_ssize_t[::1] rows,
    bint fit_intercept,
    const double[::1] v,
    double[::1] out,
):
    """out = sum_i s_i z_i (z_i . v) over the listed rows, where z_i is row i
    with a trailing 1 for the intercept (0 without one): one pass over the
    rows, used by the power iteration that finds the curvature of the data."""
    cdef Py_ssize_t n_features = v.shape[0] - 1
    cdef Py_ssize_t r, i, j, q, row_start, nnz
    cdef double s, ones = 1.0 if fit_intercept else 0.0
    with nogil:
        for j in range(n_features + 1):
            out[j] = 0.0
        for r in range(rows.shape[0]):
            i = rows[r]
            s = ones * v[n_features]
            if sparse:
                row_start = X_indptr[i]
                nnz = X_indptr[i + 1] - row_start
                for q in range(row_start, row_start + nnz):
                    s += X_data[q] * v[X_indices[q]]
                s *= sample_weight[i]
                for q in range(row_start, row_start + nnz):
                    out[X_indices[q]] += s * X_data[q]
            else:
                for j in range(n_features):
                    s += X[i, j] * v[j]
                s *= sample_weight[i]
                for j in range(n_features):
                    out[j] += s * X[i, j]
            out[n_features] += s * ones


def row_sq_norms(
    const floating[:, ::1] X,
    const floating[::1] X_data,
    const index_t[::1] X_indices,
    const index_t[::1] X_indptr,
    bint sparse,
    const Py_ssize_t[::1] rows,
):
    """Squared Euclidean norm of each listed row, in float64."""
    cdef Py_ssize_t r, i, j, q
    cdef double s
    cdef double[::1] out = np.empty(rows.shape[0])
    with nogil:
        for r in range(rows.shape[0]):
            i = rows[r]
            s = 0.0
            if sparse:
                for q in range(X_indptr[i], X_indptr[i + 1]):
                    s += X_data[q] * X_data[q]
            else:
                for j in range(X.shape[1]):
                    s += X[i, j] * X[i, j]
            out[r] = s
    return np.asarray(out)


cdef inline uint64_t splitmix64(uint64_t* state) noexcept nogil:
    """One output of the splitmix64 generator (a 64-bit counter passed
    through a bijective mixer): fast, and statistically fine for choosing a
    visiting order."""
    cdef uint64_t z
    state[0] += 0x9E3779B97F4A7C15ULL
    z = state[0]
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


def shuffle_rows(Py_ssize_t[::1] order, const Py_ssize_t[::1] rows, uint64_t state):
    """Write a random permutation of `rows` into `order` (Fisher-Yates), or
    of 0..n-1 when `rows` is empty, and return the generator's new state.
    Each epoch's order depends only on the generator state, so resumed
    training replays exactly the orders of an uninterrupted run.  A
    per-epoch shuffle through NumPy costs a sizeable share of an SGD epoch on
    sparse data; this one is a single cheap pass."""
    cdef Py_ssize_t i, j, n = order.shape[0]
    cdef Py_ssize_t tmp
    cdef double unit = 1.0 / 9007199254740992.0  # 2**-53
    with nogil:
        if rows.shape[0] == 0:
            for i in range(n):
                order[i] = i
        else:
            for i in range(n):
                order[i] = rows[i]
        i = n - 1
        while i > 0:
            # A uniform double in [0, 1) from the top 53 bits; the bias of
            # scaling it to i + 1 choices is below 2**-53 * n.
            j = <Py_ssize_t>((splitmix64(&state) >> 11) * unit * (i + 1))
            tmp = order[i]
            order[i] = order[j]
            order[j] = tmp
            i -= 1
    return state


# ---------------------------------------------------------------------------
# The full-batch gradient oracle and what the full-batch driver needs besides
# ---------------------------------------------------------------------------


# Multiply-adds (rows x coefficients) a full pass needs before the oracle
# shares it among threads.
cdef Py_ssize_t ORACLE_PARALLEL_MIN_WORK = 1 << 18


cdef double sum_row_losses(
    const floating* Xp, const floating* Xv, const index_t* Xi,
    const index_t* Xptr, bint sparse, Py_ssize_t n_features,
    const floating* Yp, Py_ssize_t y_cols, int target_kind,
    const floating* swp, const Py_ssize_t* rowsp,
    Py_ssize_t start, Py_ssize_t stop,
    const floating* W, int K, int loss, double epsilon,
    double* P, double* Dv,
) noexcept nogil:
    """Sample-weighted loss sum of rows[start:stop] at W, without the
    gradient: the loss-only evaluations of a line search read each row once
    for its predictions and write nothing else."""
    cdef Py_ssize_t D = n_features + 1, r, i, row_start, nnz
    cdef int k
    cdef double total = 0.0
    for r in range(start, stop):
        i = rowsp[r]
        if sparse:
            row_start = Xptr[i]
            nnz = Xptr[i + 1] - row_start
            for k in range(K):
                P[k] = sparse_dot(W + k * D, Xv + row_start, Xi + row_start,
                                  nnz) + W[k * D + n_features]
        else:
            for k in range(K):
                P[k] = dense_dot(W + k * D, Xp + i * n_features,
                                 n_features) + W[k * D + n_features]
        total += swp[i] * row_loss(loss, epsilon, target_kind, K,
                                   Yp + i * y_cols, P, Dv)
    return total


def full_loss_gradient(
    const floating[:, ::1] X,
    const floating[::1] X_data,
    const index_t[::1] X_indices,
    const index_t[::1] X_indptr,
    bint sparse,
    const floating[:, ::1] Y,
    int target_kind,
    const floating[::1] sample_weight,
    const floating[:, ::1] W,
    const Py_ssize_t[::1] rows,
    int loss,
    double epsilon,
    bint with_gradient,
    int n_threads=1,
):
    """Sample-weighted loss sum over `rows` at W and, with_gradient, the
    gradient of that sum (float64, the shape of W; None otherwise).

    The gradient is accumulated exactly as a full batch of run_epoch
    accumulates it (accumulate_rows, shared among `n_threads` threads once
    there are PARALLEL_MIN_ROWS rows, per-thread sums added in a fixed
    order, once the pass is large enough to pay for threads), so the
    full-batch driver and the epoch kernel see the same numbers."""
    cdef Py_ssize_t n_rows = rows.shape[0]
    cdef Py_ssize_t n_features = W.shape[1] - 1
    cdef Py_ssize_t D = W.shape[1]
    cdef int K = W.shape[0]
    cdef Py_ssize_t y_cols = Y.shape[1]
    cdef Py_ssize_t j, share, lo, hi
    cdef int tid
    cdef const floating* Xp = &X[0, 0] if (not sparse and X.shape[0] > 0) else NULL
    cdef const floating* Xv = NULL
    cdef const index_t* Xi = NULL
    cdef const index_t* Xptr = NULL
    if sparse:
        Xptr = &X_indptr[0]
        if X_data.shape[0] > 0:
            Xv = &X_data[0]
            Xi = &X_indices[0]
    cdef const floating* Yp = &Y[0, 0] if Y.shape[0] > 0 else NULL
    cdef const floating* swp = &sample_weight[0] if sample_weight.shape[0] > 0 else NULL
    cdef const Py_ssize_t* rowsp = &rows[0] if n_rows > 0 else NULL
    cdef const floating* Wp = &W[0, 0]
    # Threads pay for themselves only once a pass holds enough arithmetic:
    # on small data starting and joining them costs more than the pass.
    cdef bint parallel = (n_threads > 1 and n_rows >= PARALLEL_MIN_ROWS
                          and n_rows * D * K >= ORACLE_PARALLEL_MIN_WORK)
    if not parallel:
        n_threads = 1
    cdef Py_ssize_t w_stride = thread_stride(2 * K + 1, sizeof(double))
    cdef floating* G = NULL
    cdef floating* G_threads = NULL
    cdef double* work = NULL
    cdef double total = 0.0
    cdef bint error = False
    cdef double[:, ::1] out
    with nogil:
        work = <double*>calloc(n_threads * w_stride, sizeof(double))
        if with_gradient:
            G = <floating*>calloc(K * D, sizeof(floating))
            if parallel:
                G_threads = <floating*>calloc(
                    n_threads * thread_stride(K * D, sizeof(floating)),
                    sizeof(floating))
        if work == NULL or (with_gradient and (
                G == NULL or (parallel and G_threads == NULL))):
            error = True
        elif with_gradient and parallel:
            total = accumulate_rows_parallel(
                Xp, Xv, Xi, Xptr, sparse, n_features, Yp, y_cols, target_kind,
                swp, rowsp, n_rows, 0, n_rows, 1.0, Wp, K, loss, epsilon,
                G, G_threads, work, n_threads)
        elif with_gradient:
            total = accumulate_rows(
                Xp, Xv, Xi, Xptr, sparse, n_features, Yp, y_cols, target_kind,
                swp, rowsp, n_rows, 0, n_rows, 1.0, Wp, K, loss, epsilon,
                G, work, work + K)
        elif parallel:
            # One contiguous share of rows per thread, summed in thread
            # order: the same total whichever thread finishes first.
            share = (n_rows + n_threads - 1) // n_threads
            for tid in prange(n_threads, num_threads=n_threads, schedule="static"):
                lo = tid * share
                hi = lo + share
                if hi > n_rows:
                    hi = n_rows
                work[tid * w_stride] = 0.0
                if lo < hi:
                    work[tid * w_stride] = sum_row_losses(
                        Xp, Xv, Xi, Xptr, sparse, n_features, Yp, y_cols,
                        target_kind, swp, rowsp, lo, hi, Wp, K, loss, epsilon,
                        work + tid * w_stride + 1, work + tid * w_stride + 1 + K)
            for tid in range(n_threads):
                total += work[tid * w_stride]
        else:
            total = sum_row_losses(
                Xp, Xv, Xi, Xptr, sparse, n_features, Yp, y_cols, target_kind,
                swp, rowsp, 0, n_rows, Wp, K, loss, epsilon, work, work + K)
    if error:
        free(G)
        free(G_threads)
        free(work)
        raise MemoryError()
    gradient = None
    if with_gradient:
        gradient = np.empty((K, D))
        out = gradient
        for j in range(K * D):
            out[j // D, j % D] = G[j]
    free(G)
    free(G_threads)
    free(work)
    return total, gradient


def column_moments(
    const floating[:, ::1] X,
    const floating[::1] X_data,
    const index_t[::1] X_indices,
    const index_t[::1] X_indptr,
    bint sparse,
    const floating[::1] sample_weight,
    const Py_ssize_t[::1] rows,
    Py_ssize_t n_features,
):
    """(sum_i s_i x_i, sum_i s_i x_i**2) over the listed rows, float64: one
    pass, nothing copied (the weighted means and spreads preconditioning
    standardizes by)."""
    cdef double[::1] first = np.zeros(n_features)
    cdef double[::1] second = np.zeros(n_features)
    cdef Py_ssize_t r, i, j, q
    cdef double s, x
    with nogil:
        for r in range(rows.shape[0]):
            i = rows[r]
            s = sample_weight[i]
            if sparse:
                for q in range(X_indptr[i], X_indptr[i + 1]):
                    x = X_data[q]
                    first[X_indices[q]] += s * x
                    second[X_indices[q]] += s * x * x
            else:
                for j in range(n_features):
                    x = X[i, j]
                    first[j] += s * x
                    second[j] += s * x * x
    return np.asarray(first), np.asarray(second)


def optimizer_update(
    double[:, ::1] W,
    const double[:, ::1] G,
    double[:, ::1] S1,
    double[:, ::1] S2,
    int optimizer,
    double eta,
    double momentum,
    double beta1,
    double beta2,
    long long t,
    const double[::1] l1_thresholds,
    bint fit_intercept,
):
    """One step of the update rule `optimizer` on every coordinate of W from
    the gradient G of the smooth part of the objective (L2 term included),
    through the same per-coordinate rule as run_epoch (optimizer_step), then
    the soft threshold of coefficient j at the rule's effective step times
    l1_thresholds[j] (empty: no L1 part).  S1 and S2 have the shape of W.
    The last column (the intercept) is never thresholded and stays as it is
    without fit_intercept.  `t` counts the updates made before this one."""
    cdef Py_ssize_t D = W.shape[1], n_features = D - 1, j
    cdef int K = W.shape[0], k
    cdef double bias1 = 1.0, bias2 = 1.0, eff = 0.0
    cdef bint l1 = l1_thresholds.shape[0] > 0
    if G.shape[0] != K or S1.shape[0] != K or S2.shape[0] != K:
        raise ValueError("G, S1 and S2 must have the shape of W")
    if optimizer == OPT_ADAM:
        bias1 = 1.0 - pow(beta1, <double>(t + 1))
        bias2 = 1.0 - pow(beta2, <double>(t + 1))
    with nogil:
        for k in range(K):
            for j in range(n_features):
                W[k, j] = optimizer_step(
                    optimizer, W[k, j], G[k, j], &S1[k, j], &S2[k, j],
                    eta, momentum, beta1, beta2, bias1, bias2, &eff)
                if l1:
                    W[k, j] = soft_threshold(W[k, j], eff * l1_thresholds[j])
            if fit_intercept:
                W[k, n_features] = optimizer_step(
                    optimizer, W[k, n_features], G[k, n_features],
                    &S1[k, n_features], &S2[k, n_features],
                    eta, momentum, beta1, beta2, bias1, bias2, &eff)
