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

from libc.math cimport fabs, log, pow, sqrt
from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memset

from cython.parallel cimport prange, threadid

cimport cython
from cython cimport floating

from skgd._losses cimport (
    LOG_LOSS,
    LossCode,
    point_loss,
    skgd_exp_nonpos_inplace,
    skgd_log_losses,
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

    /* g += c[0] x[0] + c[1] x[1] + ... + c[count-1] x[count-1] over n
       values: the gradient terms of a group of dense rows.  Row by row,
       each term reads and writes all of g, and those loads and stores,
       not the multiply-adds, limited a full-batch gradient pass (1.8 times
       the time of a pass without the gradient).  Eight rows at a time keep
       each value of g in a register for eight terms.  Every value still
       takes the rows' terms one after the other, in their order, each as
       one multiply-add: the same roundings as adding row by row, so the
       result does not depend on how the rows were grouped. */
    #if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
    #define SKGD_MADD(a, b, t) __builtin_fma((a), (b), (t))
    #define SKGD_MADDF(a, b, t) __builtin_fmaf((a), (b), (t))
    #else
    #define SKGD_MADD(a, b, t) ((a) * (b) + (t))
    #define SKGD_MADDF(a, b, t) ((a) * (b) + (t))
    #endif
    #define SKGD_AXPY_ROWS(NAME, T, MADD)                                   \
    static inline void NAME(T *restrict g, const T *c,                      \
                            const T *const *x, ptrdiff_t count,             \
                            ptrdiff_t n) {                                  \
        ptrdiff_t q = 0, j;                                                 \
        for (; q + 8 <= count; q += 8) {                                    \
            const T c0 = c[q], c1 = c[q + 1], c2 = c[q + 2], c3 = c[q + 3]; \
            const T c4 = c[q + 4], c5 = c[q + 5], c6 = c[q + 6];            \
            const T c7 = c[q + 7];                                          \
            const T *x0 = x[q], *x1 = x[q + 1], *x2 = x[q + 2];             \
            const T *x3 = x[q + 3], *x4 = x[q + 4], *x5 = x[q + 5];         \
            const T *x6 = x[q + 6], *x7 = x[q + 7];                         \
            for (j = 0; j < n; j++) {                                       \
                T t = g[j];                                                 \
                t = MADD(c0, x0[j], t); t = MADD(c1, x1[j], t);             \
                t = MADD(c2, x2[j], t); t = MADD(c3, x3[j], t);             \
                t = MADD(c4, x4[j], t); t = MADD(c5, x5[j], t);             \
                t = MADD(c6, x6[j], t); t = MADD(c7, x7[j], t);             \
                g[j] = t;                                                   \
            }                                                               \
        }                                                                   \
        for (; q + 4 <= count; q += 4) {                                    \
            const T c0 = c[q], c1 = c[q + 1], c2 = c[q + 2], c3 = c[q + 3]; \
            const T *x0 = x[q], *x1 = x[q + 1], *x2 = x[q + 2];             \
            const T *x3 = x[q + 3];                                         \
            for (j = 0; j < n; j++) {                                       \
                T t = g[j];                                                 \
                t = MADD(c0, x0[j], t); t = MADD(c1, x1[j], t);             \
                t = MADD(c2, x2[j], t); t = MADD(c3, x3[j], t);             \
                g[j] = t;                                                   \
            }                                                               \
        }                                                                   \
        for (; q < count; q++) {                                            \
            const T c0 = c[q];                                              \
            const T *x0 = x[q];                                             \
            for (j = 0; j < n; j++)                                         \
                g[j] = MADD(c0, x0[j], g[j]);                               \
        }                                                                   \
    }
    SKGD_AXPY_ROWS(skgd_axpy_rows_f64, double, SKGD_MADD)
    SKGD_AXPY_ROWS(skgd_axpy_rows_f32, float, SKGD_MADDF)
    /* t + a b as one multiply-add: a running sum written with it is taken
       in the order written even under -fassociative-math, which may
       otherwise regroup (vectorise) a loop of plain additions. */
    static inline double skgd_madd(double a, double b, double t) {
        return SKGD_MADD(a, b, t);
    }
    """
    void skgd_prefetch(const void *p) noexcept nogil
    void skgd_prefetch_ends(const void *begin, const void *end) noexcept nogil
    void skgd_axpy_rows_f64(double* g, const double* c, const double* const* x,
                            Py_ssize_t count, Py_ssize_t n) noexcept nogil
    void skgd_axpy_rows_f32(float* g, const float* c, const float* const* x,
                            Py_ssize_t count, Py_ssize_t n) noexcept nogil
    double skgd_madd(double a, double b, double t) noexcept nogil


# Update-rule codes.  cpdef: Python sees them as skgd._kernel.OptCode, which
# skgd/_registry.py reads, so no number is written anywhere else.
cpdef enum OptCode:
    OPT_SGD = 0
    OPT_MOMENTUM = 1
    OPT_NESTEROV = 2
    OPT_ADAGRAD = 3
    OPT_RMSPROP = 4
    OPT_ADAM = 5
    OPT_ADAMW = 6

# Target encodings: real-valued targets, one column per output; a class index
# expanded to +-1 per output (one-vs-rest, or a single binary output); a class
# index for the multinomial (softmax) loss.  cpdef: skgd/_registry.py reads
# them as skgd._kernel.TargetKind.
cpdef enum TargetKind:
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
# The full-batch passes take rows in groups of this many: first every row's
# predictions, then the group's losses in one loop, then the gradient
# terms in row order.  The log loss and the softmax then evaluate their
# exponentials and logarithms in vector registers (skgd_log_losses), eight
# rows at a time, where a call per row cost a third of a logistic fit; the
# sums keep their row order, so the grouping changes no result.
cdef enum:
    ROW_GROUP = 8
# Work of one block of rows in the shared gradient of a batch, counted as
# rows x (stored values per row + 1) x outputs.  A batch with the work of
# at least two blocks is cut into blocks of this many rows' work (the last
# block takes the remainder), fixed by the batch and the data, never by the
# thread count, and the blocks' gradients are summed in block order: the
# model is bitwise the same with any number of threads.  A batch of less is
# one block on the calling thread, with no parallel region at all, so
# mini-batches of a few hundred rows never wait at a barrier per batch.
# The threshold, 2 x 2^18 = 524k, was measured with
# benchmarks/bench_threads.py --threshold (full-batch epochs of dense data,
# two blocks on 2 threads against one block on one thread) on 2 cores
# shared with other work (load 7 to 16): two threads took 2.5 to 2.8x the
# time of one at 16k of work, 1.3 to 1.5x at 131k, 1.1 to 1.2x at 262k and
# 524k, and about the same (0.9 to 1.1x) from 1M to 4M: below two such
# blocks, waking the second thread and summing the buffers cost more than
# the second thread saves even when it has a core to itself.
cdef Py_ssize_t BLOCK_WORK = 1 << 18
# A block also does at least this many times the work of adding its
# gradient buffer (outputs x (features + 1)) into the batch's: for sparse
# data with many more features than stored values per block, summing
# buffers would otherwise cost more than the rows.
cdef Py_ssize_t BLOCK_MIN_WORK_PER_BUFFER = 4
# Block gradient buffers held at once: blocks are computed in rounds of as
# many buffers as fit in this many bytes (at least one per thread), and a
# round's buffers are summed in block order before the next round starts.
cdef size_t BLOCK_BUFFER_BYTES = 16 << 20
# The lazy sparse update keeps weights as (scale, offset) products; once the
# accumulated scale gets this small every weight is brought up to date and
# the scale restarts at 1, long before it could underflow.
cdef double LAZY_RESCALE_BELOW = 1e-100
# A lazily kept running mean (U + A V) / B cancels digits in proportion to
# how far the scale has fallen since A started growing: restarting the
# scale at this size keeps that loss near 1e-10 relative.
cdef double AVERAGE_RESCALE_BELOW = 1e-6


cdef inline double dense_dot_f64(const double* w, const double* x,
                                 Py_ssize_t n) noexcept nogil:
    # Eight independent partial sums: with one running sum every
    # multiply-add waits for the previous one (a chain as long as the row),
    # and that chain, not the reads, limits a float64 row's dot product;
    # eight let the additions overlap.
    cdef Py_ssize_t j, m = n - n % 8
    cdef double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0
    for j in range(0, m, 8):
        s0 += w[j] * x[j]
        s1 += w[j + 1] * x[j + 1]
        s2 += w[j + 2] * x[j + 2]
        s3 += w[j + 3] * x[j + 3]
        s4 += w[j + 4] * x[j + 4]
        s5 += w[j + 5] * x[j + 5]
        s6 += w[j + 6] * x[j + 6]
        s7 += w[j + 7] * x[j + 7]
    for j in range(m, n):
        s0 += w[j] * x[j]
    return ((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7))


cdef inline floating dense_dot(const floating* w, const floating* x,
                               Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j
    cdef floating s = 0
    if floating is double:
        return dense_dot_f64(w, x, n)
    # float32 vectorises four to a register with one running sum, and was
    # measured slower with partial sums.
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


cdef inline floating soft_threshold(floating w, floating thr) noexcept nogil:
    if w > thr:
        return w - thr
    if w < -thr:
        return w + thr
    return 0


cdef inline floating cumulative_clip(floating z, double* q, double u) noexcept nogil:
    """The cumulative L1 penalty of Tsuruoka, Tsujii and Ananiadou (2009) on
    one weight z that has just taken its gradient step (and L2 shrink).

    u is the L1 penalty a weight could have received so far (the sum of
    eta alpha l1_ratio over every update), q what this weight did receive
    (signed).  The weight is pulled towards zero by what it still owes,
    u + q when positive and u - q when negative, and clipped at zero.  Unlike
    the per-step soft threshold, a weight the gradient noise keeps kicking
    away from zero must first pay back the penalty it missed while it sat at
    zero, so per-sample SGD leaves irrelevant weights at exactly zero."""
    cdef double w
    cdef floating wf
    if z > 0:
        w = z - (u + q[0])
        if w < 0:
            w = 0
    elif z < 0:
        w = z + (u - q[0])
        if w > 0:
            w = 0
    else:
        return z
    wf = <floating>w
    # What was applied is measured on the stored weight, so q stays
    # consistent with the weights in float32 as well.
    q[0] += <double>wf - <double>z
    return wf


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


cdef inline Py_ssize_t group_work_size(int K) noexcept nogil:
    """Doubles of work space group_row_losses and the grouped passes need:
    predictions, derivatives, targets and per-output losses of ROW_GROUP
    rows (K each), then the rows' losses at two points."""
    return ROW_GROUP * (4 * K + 2)


cdef inline void group_row_losses(
    int loss, double eps, int target_kind, int K,
    const floating* Yp, Py_ssize_t y_cols, const Py_ssize_t* rows,
    Py_ssize_t m, double* P, double* Dv, double* work, double* L,
) noexcept nogil:
    """row_loss of m <= ROW_GROUP rows at once: row g (data row rows[g])
    has its predictions at P[g K], gets its derivatives at Dv[g K] and its
    loss in L[g], the same numbers row_loss gives.  The log loss and the
    softmax evaluate the whole group's exponentials in one loop the
    compiler vectorises; work holds 2 ROW_GROUP K doubles."""
    cdef Py_ssize_t g, n = m * K
    cdef int k, label
    cdef double* T = work
    cdef double* E = work + ROW_GROUP * K
    cdef double total, pmax
    cdef const double* Pg
    cdef double* Dg
    if loss == LOG_LOSS and target_kind == TARGET_ONE_VS_REST:
        # The targets +-1 by arithmetic: the classes of consecutive rows are
        # as good as random, and a branch on them was mispredicted half the
        # time.
        if K == 1:
            for g in range(m):
                label = <int>Yp[rows[g] * y_cols]
                T[g] = 2.0 * (label == 1) - 1.0
        else:
            for g in range(m):
                label = <int>Yp[rows[g] * y_cols]
                for k in range(K):
                    T[g * K + k] = 2.0 * (label == k) - 1.0
        skgd_log_losses(P, T, Dv, E, n)
        for g in range(m):
            # Summed over outputs in order from zero, as row_loss does.
            total = 0.0
            for k in range(K):
                total += E[g * K + k]
            L[g] = total
    elif target_kind == TARGET_MULTINOMIAL:
        # softmax_loss with the exponentials taken out of the row loop.
        for g in range(m):
            Pg = P + g * K
            pmax = Pg[0]
            for k in range(1, K):
                if Pg[k] > pmax:
                    pmax = Pg[k]
            E[g] = pmax
            for k in range(K):
                Dv[g * K + k] = Pg[k] - pmax
        skgd_exp_nonpos_inplace(Dv, n)
        for g in range(m):
            Pg = P + g * K
            Dg = Dv + g * K
            total = 0.0
            for k in range(K):
                total += Dg[k]
            for k in range(K):
                Dg[k] /= total
            label = <int>Yp[rows[g] * y_cols]
            Dg[label] -= 1.0
            L[g] = log(total) + E[g] - Pg[label]
    else:
        for g in range(m):
            L[g] = row_loss(loss, eps, target_kind, K, Yp + rows[g] * y_cols,
                            P + g * K, Dv + g * K)


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
    adamw     the step of adam (apply_gradient hands it the weight already
              decayed and the data gradient alone, see there).

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
    double* Q, double u,
) noexcept nogil:
    """One optimizer step on every coordinate from the batch gradient G,
    then the penalty; G is zeroed for the next batch.

    Plain SGD takes the proximal step w <- S(a w - eta g, thr), with
    a = 1 - eta alpha (1 - l1_ratio) the L2 shrink and S the soft threshold
    at thr = eta alpha l1_ratio, which sets weights exactly to zero.  With Q
    (stochastic batches) the soft threshold is replaced by the cumulative L1
    penalty u, Q (see cumulative_clip).  The other rules treat the L2 term
    as part of the gradient and finish with the soft threshold at their own
    effective step (see optimizer_step), except AdamW, whose L2 term is
    decoupled weight decay: the weight shrinks by the same factor a as in
    plain SGD and the moments see the data gradient alone,
    w <- a w - eta m_hat / (sqrt(v_hat) + eps)."""
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
            if Q != NULL:
                for j in range(n_features):
                    Wk[j] = cumulative_clip(Wk[j], Q + base + j, u)
            elif thr > 0:
                for j in range(n_features):
                    Wk[j] = soft_threshold(Wk[j], thr)
        elif optimizer == OPT_ADAMW:
            for j in range(n_features):
                Wk[j] = optimizer_step(
                    optimizer, a * Wk[j], Gk[j], S1 + base + j,
                    S2 + base + j, eta, mu, beta1, beta2, bias1, bias2, &eff)
                if l1 > 0:
                    Wk[j] = soft_threshold(Wk[j], <floating>(eff * l1))
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


cdef struct PenaltyMark:
    # After each update of a lazy epoch with the cumulative L1 penalty: the
    # cumulative shrink A and threshold C as in LazyRecord, and the
    # cumulative penalty u of cumulative_clip.
    double A
    double C
    double u


cdef inline void cumulative_catch_up(
    floating* W, double* Q, int K, Py_ssize_t D, Py_ssize_t j,
    Py_ssize_t h_now, const PenaltyMark* marks, Py_ssize_t* last,
) noexcept nogil:
    """Bring weight column j from update last[j] to update h_now through the
    penalty-only steps it missed, exactly as the eager path would have.

    A non-zero weight owes nothing on its side after its last clip, so each
    missed step is a shrink followed by a soft threshold at that step's
    penalty: |w| goes to A_now * (|w| / A_last - (C_now - C_last)) while
    that stays positive, and its applied penalty grows by u_now - u_last.
    A weight that reaches zero on the way stops there; what it received up
    to that step h is the penalty of the steps before it plus what was left
    of it, A_h * (|w| / A_last - (C_{h-1} - C_last)), and h is the first
    mark where C passes |w| / A_last (C only grows: a binary search)."""
    cdef Py_ssize_t h_last = last[j], lo, hi, mid
    cdef int k
    cdef double w, v, shift, applied
    if h_last == h_now:
        return
    last[j] = h_now
    shift = marks[h_now].C - marks[h_last].C
    for k in range(K):
        w = W[k * D + j]
        if w == 0:
            continue
        v = fabs(w) / marks[h_last].A
        if v > shift:
            applied = marks[h_now].u - marks[h_last].u
            v = marks[h_now].A * (v - shift)
        else:
            lo = h_last + 1
            hi = h_now
            while lo < hi:
                mid = (lo + hi) // 2
                if marks[mid].C - marks[h_last].C >= v:
                    hi = mid
                else:
                    lo = mid + 1
            applied = (marks[lo - 1].u - marks[h_last].u
                       + marks[lo].A * (v - (marks[lo - 1].C - marks[h_last].C)))
            v = 0.0
        if w > 0:
            W[k * D + j] = <floating>v
            Q[k * D + j] -= applied
        else:
            W[k * D + j] = <floating>(-v)
            Q[k * D + j] += applied


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


cdef void group_predictions(
    const floating* Xp, const floating* Xv, const index_t* Xi,
    const index_t* Xptr, bint sparse, Py_ssize_t n_features,
    const floating* Yp, Py_ssize_t y_cols, const floating* swp,
    const Py_ssize_t* orderp, Py_ssize_t r0, Py_ssize_t m, Py_ssize_t limit,
    const floating* W, int K, Py_ssize_t* rows, double* P,
) noexcept nogil:
    """The group of rows order[r0:r0 + m]: their indices into rows[g] and
    the predictions of every output into P[g K], each row requested from
    memory PREFETCH_AHEAD rows ahead (no further than order[limit - 1]).
    Called once per group, so the call costs nothing beside the rows."""
    cdef Py_ssize_t D = n_features + 1, r, g, i, q, next_row, row_start, nnz
    cdef int k
    cdef double* Pg
    for g in range(m):
        r = r0 + g
        i = orderp[r]
        rows[g] = i
        if sparse and r + 2 * PREFETCH_AHEAD < limit:
            # The row's extent must arrive before its data can be
            # requested: fetch it twice as far ahead.
            skgd_prefetch(Xptr + orderp[r + 2 * PREFETCH_AHEAD])
        if r + PREFETCH_AHEAD < limit:
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
        Pg = P + g * K
        if sparse:
            row_start = Xptr[i]
            nnz = Xptr[i + 1] - row_start
            for k in range(K):
                Pg[k] = sparse_dot(W + k * D, Xv + row_start, Xi + row_start,
                                   nnz) + W[k * D + n_features]
        else:
            for k in range(K):
                Pg[k] = dense_dot(W + k * D, Xp + i * n_features,
                                  n_features) + W[k * D + n_features]


cdef double accumulate_rows(
    const floating* Xp, const floating* Xv, const index_t* Xi,
    const index_t* Xptr, bint sparse, Py_ssize_t n_features,
    const floating* Yp, Py_ssize_t y_cols, int target_kind,
    const floating* swp, const Py_ssize_t* orderp, Py_ssize_t n_rows,
    Py_ssize_t start, Py_ssize_t stop, double scale,
    const floating* W, int K, int loss, double epsilon,
    floating* G, double* work,
    double* M_new, const double* M_base, double beta, double* loss_new,
) noexcept nogil:
    """Add the gradient of rows order[start:stop] at W into G (K, D) and
    return their sample-weighted loss sum: each row is read once for the
    predictions of every output and the gradient of every output.  work
    holds group_work_size(K) doubles.

    Extrapolated form (M_new not NULL; the accelerated line search): the
    predictions at W are written to M_new (row i at M_new[i K]) and their
    weighted loss sum added to loss_new[0]; the loss and the gradient are
    then those of the extrapolated model W + beta (W - W_base), whose
    predictions are P + beta (P - M_base) from the base model's stored
    ones (M_base), so the trial point and the next gradient point cost
    one read of the row between them.  M_base NULL means beta = 0.

    Rows go in groups of ROW_GROUP (predictions, losses, gradient terms);
    the loss sums and G take the rows in their order all the same."""
    cdef Py_ssize_t D = n_features + 1, r0, g, m, i, q
    cdef Py_ssize_t row_start = 0, nnz = 0
    cdef Py_ssize_t rows[ROW_GROUP]
    cdef int k
    cdef double total = 0.0, row_w, new_sum = 0.0
    cdef bint extrapolate = M_new != NULL and M_base != NULL and beta != 0.0
    cdef double* P = work
    cdef double* Dv = work + ROW_GROUP * K
    cdef double* loss_work = work + 2 * ROW_GROUP * K
    cdef double* L = work + 4 * ROW_GROUP * K
    cdef double* L_trial = L + ROW_GROUP
    cdef floating ck
    cdef floating C[ROW_GROUP]
    cdef const floating* Xg[ROW_GROUP]
    cdef Py_ssize_t n_terms
    r0 = start
    while r0 < stop:
        m = stop - r0
        if m > ROW_GROUP:
            m = ROW_GROUP
        group_predictions(Xp, Xv, Xi, Xptr, sparse, n_features, Yp, y_cols,
                          swp, orderp, r0, m, n_rows, W, K, rows, P)
        if M_new != NULL:
            for g in range(m):
                for k in range(K):
                    M_new[rows[g] * K + k] = P[g * K + k]
        if extrapolate:
            group_row_losses(loss, epsilon, target_kind, K, Yp, y_cols, rows,
                             m, P, Dv, loss_work, L_trial)
            for g in range(m):
                i = rows[g]
                for k in range(K):
                    P[g * K + k] = P[g * K + k] + beta * (P[g * K + k]
                                                          - M_base[i * K + k])
        group_row_losses(loss, epsilon, target_kind, K, Yp, y_cols, rows, m,
                         P, Dv, loss_work, L)
        # The loss sums take the rows in their order.
        for g in range(m):
            row_w = swp[rows[g]]
            if extrapolate:
                new_sum = skgd_madd(row_w, L_trial[g], new_sum)
            total = skgd_madd(row_w, L[g], total)
        if sparse:
            for g in range(m):
                i = rows[g]
                row_w = swp[i]
                row_start = Xptr[i]
                nnz = Xptr[i + 1] - row_start
                for k in range(K):
                    ck = <floating>(row_w * scale * Dv[g * K + k])
                    if ck == 0:
                        continue
                    for q in range(row_start, row_start + nnz):
                        G[k * D + Xi[q]] += ck * Xv[q]
                    G[k * D + n_features] += ck
        else:
            # Each output's terms over the group's rows at once
            # (skgd_axpy_rows); rows whose term is zero are left out.
            for k in range(K):
                n_terms = 0
                for g in range(m):
                    ck = <floating>(swp[rows[g]] * scale * Dv[g * K + k])
                    if ck != 0:
                        C[n_terms] = ck
                        Xg[n_terms] = Xp + rows[g] * n_features
                        n_terms += 1
                if floating is double:
                    skgd_axpy_rows_f64(G + k * D, C, Xg, n_terms, n_features)
                else:
                    skgd_axpy_rows_f32(G + k * D, C, Xg, n_terms, n_features)
                for g in range(n_terms):
                    G[k * D + n_features] += C[g]
        r0 += m
    if M_new != NULL:
        # Without extrapolation the trial point is the gradient point.
        loss_new[0] += new_sum if extrapolate else total
    return total


cdef struct BlockPlan:
    # How the gradient of a batch is cut into blocks of rows and shared
    # among threads (see BLOCK_WORK); made by block_plan_init, released by
    # block_plan_free.
    Py_ssize_t rows_per_block
    # Block buffers held at once (0 when no batch spans two blocks).
    Py_ssize_t n_buffers
    # Buffer lengths in items, whole cache lines: two threads writing into
    # one line would take it from each other on every row.
    Py_ssize_t g_stride
    Py_ssize_t s_stride
    # n_buffers gradient buffers of g_stride items of the model's dtype.
    void* G_blocks
    # Per buffer (at least one): the block's loss, then the trial point's
    # loss sum of the extrapolated form.
    double* scratch
    # Per thread: the work space of a group of rows (group_work_size),
    # w_stride doubles apart.
    double* work
    Py_ssize_t w_stride
    int n_threads


cdef inline Py_ssize_t cache_stride(Py_ssize_t count, size_t item) noexcept nogil:
    """count items rounded up to whole 64-byte cache lines."""
    cdef Py_ssize_t per_line = 64 // item
    return ((count + per_line - 1) // per_line) * per_line


cdef inline double mean_stored_per_row(
    bint sparse, Py_ssize_t n_features, const index_t* Xptr, Py_ssize_t n_samples,
) noexcept nogil:
    """Stored values per row for the work of a batch: the features of a
    dense row, the mean count over a CSR matrix (a property of the data, so
    the blocks neither move between epochs nor with the thread count)."""
    if not sparse or n_samples == 0:
        return <double>n_features
    return Xptr[n_samples] / <double>n_samples


cdef int block_plan_init(
    BlockPlan* plan, Py_ssize_t max_batch_rows, double stored_per_row, int K,
    Py_ssize_t D, size_t item, int n_threads,
) noexcept nogil:
    """Fix the blocks for batches of up to max_batch_rows rows with
    stored_per_row values each (n_features for dense rows, the mean count
    of a CSR row) and K outputs, D = n_features + 1.  Returns -1 when the
    memory cannot be had (then block_plan_free is still safe)."""
    cdef double row_work = K * (stored_per_row + 1.0)
    cdef double block_work = BLOCK_WORK
    cdef Py_ssize_t n_blocks, budget
    if block_work < BLOCK_MIN_WORK_PER_BUFFER * <double>(K * D):
        block_work = BLOCK_MIN_WORK_PER_BUFFER * <double>(K * D)
    plan.rows_per_block = <Py_ssize_t>(block_work / row_work)
    if plan.rows_per_block < 1:
        plan.rows_per_block = 1
    plan.n_threads = n_threads if n_threads > 1 else 1
    plan.g_stride = cache_stride(K * D, item)
    plan.s_stride = cache_stride(2, sizeof(double))
    plan.w_stride = cache_stride(group_work_size(K), sizeof(double))
    plan.G_blocks = NULL
    n_blocks = max_batch_rows // plan.rows_per_block
    plan.n_buffers = 0
    if n_blocks >= 2:
        budget = <Py_ssize_t>(BLOCK_BUFFER_BYTES // (plan.g_stride * item))
        if budget < plan.n_threads:
            budget = plan.n_threads
        plan.n_buffers = n_blocks if n_blocks < budget else budget
        plan.G_blocks = malloc(plan.n_buffers * plan.g_stride * item)
    plan.scratch = <double*>malloc(
        (plan.n_buffers if plan.n_buffers > 0 else 1)
        * plan.s_stride * sizeof(double))
    plan.work = <double*>malloc(plan.n_threads * plan.w_stride * sizeof(double))
    if (plan.scratch == NULL or plan.work == NULL
            or (plan.n_buffers > 0 and plan.G_blocks == NULL)):
        return -1
    return 0


cdef void block_plan_free(BlockPlan* plan) noexcept nogil:
    free(plan.G_blocks)
    free(plan.scratch)
    free(plan.work)
    plan.G_blocks = NULL
    plan.scratch = NULL
    plan.work = NULL


cdef inline Py_ssize_t plan_round(
    const BlockPlan* plan, Py_ssize_t n_blocks, Py_ssize_t first, int* n_team,
) noexcept nogil:
    """The blocks first, first + 1, ... that one parallel round computes
    (as many as the plan has buffers), and in n_team the threads it takes
    (no more than it has blocks)."""
    cdef Py_ssize_t n_round = n_blocks - first
    if n_round > plan.n_buffers:
        n_round = plan.n_buffers
    n_team[0] = plan.n_threads if plan.n_threads < n_round else <int>n_round
    return n_round


cdef inline Py_ssize_t block_stop(
    Py_ssize_t block, Py_ssize_t n_blocks, Py_ssize_t rows_per_block,
    Py_ssize_t start, Py_ssize_t stop,
) noexcept nogil:
    """Where block `block` of rows start:stop ends: the last block also
    takes the remainder."""
    if block == n_blocks - 1:
        return stop
    return start + (block + 1) * rows_per_block


def _swap_block_work(Py_ssize_t work):
    """Set BLOCK_WORK and return the previous value.  Only for measuring the
    threshold (benchmarks/bench_threads.py --threshold): blocks of another
    size sum the gradient in another order, so models trained meanwhile
    differ from the usual ones at rounding level."""
    global BLOCK_WORK
    cdef Py_ssize_t previous = BLOCK_WORK
    if work < 1:
        raise ValueError("the work of a block must be at least 1")
    BLOCK_WORK = work
    return previous


cdef double accumulate_rows_parallel(
    const floating* Xp, const floating* Xv, const index_t* Xi,
    const index_t* Xptr, bint sparse, Py_ssize_t n_features,
    const floating* Yp, Py_ssize_t y_cols, int target_kind,
    const floating* swp, const Py_ssize_t* orderp, Py_ssize_t n_rows,
    Py_ssize_t start, Py_ssize_t stop, double scale,
    const floating* W, int K, int loss, double epsilon,
    floating* G, BlockPlan* plan,
    double* M_new, const double* M_base, double beta, double* loss_new,
) noexcept nogil:
    """accumulate_rows over rows order[start:stop] cut into the plan's
    blocks of rows_per_block rows (the last one also takes the remainder,
    so a batch of less than two blocks' rows is one block): a single block
    runs on the calling thread straight into G;
    several are computed into buffers of their own, taken by whichever
    thread is free (a thread descheduled by a busy neighbour then holds up
    at most one block), and added into G in block order.  The blocks and
    the order of every sum depend only on the rows, never on the thread
    count, so neither does the result.  Returns the sample-weighted loss
    sum of the rows (and, in the extrapolated form, adds the trial point's
    loss sum into loss_new[0] in the same block order)."""
    cdef Py_ssize_t rpb = plan.rows_per_block
    cdef Py_ssize_t n_blocks = (stop - start) // rpb
    cdef Py_ssize_t size = K * (n_features + 1), g_stride = plan.g_stride
    cdef Py_ssize_t s_stride = plan.s_stride
    cdef Py_ssize_t first, n_round, q, lo, hi, j
    cdef floating* G_blocks = <floating*>plan.G_blocks
    cdef floating* Gq
    cdef double* sq
    cdef double total = 0.0
    cdef int n_team
    if n_blocks <= 1 or plan.n_buffers == 0:
        return accumulate_rows(
            Xp, Xv, Xi, Xptr, sparse, n_features, Yp, y_cols, target_kind,
            swp, orderp, n_rows, start, stop, scale, W, K, loss, epsilon,
            G, plan.work, M_new, M_base, beta, loss_new)
    first = 0
    while first < n_blocks:
        n_round = plan_round(plan, n_blocks, first, &n_team)
        for q in prange(n_round, num_threads=n_team, schedule="dynamic",
                        chunksize=1):
            lo = start + (first + q) * rpb
            hi = block_stop(first + q, n_blocks, rpb, start, stop)
            Gq = G_blocks + q * g_stride
            sq = plan.scratch + q * s_stride
            memset(Gq, 0, size * sizeof(floating))
            sq[1] = 0.0
            sq[0] = accumulate_rows(
                Xp, Xv, Xi, Xptr, sparse, n_features, Yp, y_cols, target_kind,
                swp, orderp, n_rows, lo, hi, scale, W, K, loss, epsilon,
                Gq, plan.work + threadid() * plan.w_stride,
                M_new, M_base, beta, sq + 1)
        for q in range(n_round):
            total += plan.scratch[q * s_stride]
            if M_new != NULL:
                loss_new[0] += plan.scratch[q * s_stride + 1]
            Gq = G_blocks + q * g_stride
            for j in range(size):
                G[j] += Gq[j]
        first += n_round
    return total


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
    # The cumulative L1 penalty u after the epoch (see cumulative_clip).
    cdef public double l1_total

    def __init__(self, double loss_sum, long long n_updates,
                 double l1_total=0.0):
        self.loss_sum = loss_sum
        self.n_updates = n_updates
        self.l1_total = l1_total


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
    double[:, ::1] l1_applied=None,
    double l1_total=0.0,
):
    """Run one epoch in place on W (and the optimizer state S1, S2, and the
    running average W_avg when average_start >= 0).

    Parameters are the model and data exactly as the driver prepared them:
    X dense C-contiguous (n, d) or CSR (X_data, X_indices, X_indptr) with the
    same dtype as W; `order` the training rows in visiting order; `steps` the
    step size of each batch. Batches of the eager path with the work of at
    least two blocks (see BLOCK_WORK) are shared among `n_threads` threads,
    with a result that does not depend on `n_threads`. Returns an
    EpochResult with the sample-weighted sum of each row's loss at the moment
    its batch was processed.

    Plain SGD with an L1 part takes the cumulative L1 penalty (see
    cumulative_clip) when `l1_applied` is given: the penalty each weight has
    received, shape (n_outputs, n_features + 1), float64, updated in place,
    with `l1_total` the penalty any weight could have received so far; the
    new total comes back in the EpochResult.  Without it the L1 part is the
    per-step soft threshold (the proximal step of full-batch training).
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
    cdef bint cumulative = (l1_applied is not None and optimizer == OPT_SGD
                            and alpha * l1_ratio > 0.0)
    if cumulative and (l1_applied.shape[0] != K or l1_applied.shape[1] != D):
        raise ValueError("l1_applied must have the shape of W")
    cdef double* Qp = &l1_applied[0, 0] if cumulative else NULL
    cdef double u_total = l1_total
    # The lazy path of the cumulative penalty keeps a mark per update since
    # every weight was last brought up to date; when the marks run out, all
    # weights are caught up and the marks restart.  About as many marks as
    # weights keep the cost of that pass below one operation per weight and
    # update.
    cdef Py_ssize_t n_marks = 0, h_now = 0
    cdef PenaltyMark* marks = NULL
    cdef Py_ssize_t* last_mark = NULL

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
    cdef BlockPlan plan
    plan.G_blocks = NULL
    plan.scratch = NULL
    plan.work = NULL
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
        if lazy_l1 and cumulative:
            n_marks = n_features if n_features > 4096 else 4096
            if n_marks > n_batches:
                n_marks = n_batches
            n_marks += 1
            marks = <PenaltyMark*>malloc(n_marks * sizeof(PenaltyMark))
            last_mark = <Py_ssize_t*>malloc(D * sizeof(Py_ssize_t))
        G = <floating*>malloc(K * D * sizeof(floating))
        P = <double*>malloc(K * sizeof(double))
        Dv = <double*>malloc(K * sizeof(double))
        C = <floating*>malloc(K * sizeof(floating))
        if not (fused or lazy or rowwise_sparse):
            if block_plan_init(
                    &plan, batch_size if batch_size < n_rows else n_rows,
                    mean_stored_per_row(sparse, n_features, Xptr,
                                        X_indptr.shape[0] - 1),
                    K, D, sizeof(floating), n_threads) != 0:
                error = True
        if track_touched:
            stamp = <long long*>malloc(D * sizeof(long long))
            touched = <Py_ssize_t*>malloc(D * sizeof(Py_ssize_t))
        if lazy_l1:
            records = <LazyRecord*>malloc(D * sizeof(LazyRecord))
        if rowwise_sparse and averaging:
            U = <double*>malloc(K * D * sizeof(double))
        if (error or G == NULL or P == NULL or Dv == NULL or C == NULL
                or (track_touched and (stamp == NULL or touched == NULL))
                or (lazy_l1 and records == NULL)
                or (lazy_l1 and cumulative and (marks == NULL or last_mark == NULL))
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
            if marks != NULL:
                marks[0].A = 1.0
                marks[0].C = 0.0
                marks[0].u = u_total
                for j in range(D):
                    last_mark[j] = 0

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
                    if optimizer == OPT_ADAM or optimizer == OPT_ADAMW:
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
                    if lazy_l1 and (A_now * a_step < LAZY_RESCALE_BELOW
                                    or h_now + 1 >= n_marks):
                        for j in range(n_features):
                            if cumulative:
                                cumulative_catch_up(Wp, Qp, K, D, j, h_now, marks,
                                                    last_mark)
                                last_mark[j] = 0
                            else:
                                lazy_catch_up(Wp, K, D, j, A_now, C_now, records)
                                records[j].A = 1.0
                                records[j].C = 0.0
                        A_now = 1.0
                        C_now = 0.0
                        h_now = 0
                        if cumulative:
                            marks[0].A = 1.0
                            marks[0].C = 0.0
                            marks[0].u = u_total
                    n_touched = 0
                    if cumulative:
                        u_total += thr_step

                    if not (fused or lazy):
                        # The eager path: the whole batch's gradient into G,
                        # in blocks shared among threads when the batch has
                        # the work of two blocks or more.
                        loss_sum += accumulate_rows_parallel(
                            Xp, Xv, Xi, Xptr, sparse, n_features, Yp, y_cols,
                            target_kind, swp, orderp, n_rows, start, stop, scale,
                            Wp, K, loss, epsilon, G, &plan, NULL, NULL, 0.0,
                            NULL)

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
                                            if cumulative:
                                                cumulative_catch_up(
                                                    Wp, Qp, K, D, j, h_now, marks,
                                                    last_mark)
                                            else:
                                                lazy_catch_up(Wp, K, D, j, A_now,
                                                              C_now, records)
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
                                    if cumulative:
                                        for j in range(n_features):
                                            Wp[kD + j] = cumulative_clip(
                                                Wp[kD + j], Qp + kD + j, u_total)
                                    elif thr > 0:
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
                                       bias1, bias2, Qp, u_total)
                        if cumulative:
                            # Every weight is up to date with this update's
                            # penalty: the marks restart from it.
                            marks[0].u = u_total
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
                        if cumulative:
                            h_now += 1
                            marks[h_now].A = A_now
                            marks[h_now].C = C_now
                            marks[h_now].u = u_total
                        for q in range(n_touched):
                            j = touched[q]
                            for k in range(K):
                                kD = k * D
                                w = a * Wp[kD + j] - <floating>eta * G[kD + j]
                                if cumulative:
                                    w = cumulative_clip(w, Qp + kD + j, u_total)
                                elif thr > 0:
                                    w = soft_threshold(w, thr)
                                Wp[kD + j] = w
                                G[kD + j] = 0
                            records[j].A = A_now
                            records[j].C = C_now
                            if cumulative:
                                last_mark[j] = h_now
                        finish_intercept(Wp, G, K, D, n_features, fit_intercept, eta)
                    else:
                        apply_gradient(Wp, G, S1p, S2p, K, n_features,
                                       fit_intercept, optimizer, eta, alpha,
                                       l1_ratio, momentum, beta1, beta2,
                                       bias1, bias2, Qp, u_total)
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
                    if cumulative:
                        cumulative_catch_up(Wp, Qp, K, D, j, h_now, marks,
                                            last_mark)
                    else:
                        lazy_catch_up(Wp, K, D, j, A_now, C_now, records)

        free(G)
        block_plan_free(&plan)
        free(P)
        free(Dv)
        free(C)
        free(records)
        free(marks)
        free(last_mark)
        free(stamp)
        free(touched)
        free(U)
    if error:
        raise MemoryError()
    return EpochResult(loss_sum, t - t_start, u_total)


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


cdef double sum_row_losses(
    const floating* Xp, const floating* Xv, const index_t* Xi,
    const index_t* Xptr, bint sparse, Py_ssize_t n_features,
    const floating* Yp, Py_ssize_t y_cols, int target_kind,
    const floating* swp, const Py_ssize_t* rowsp,
    Py_ssize_t start, Py_ssize_t stop,
    const floating* W, int K, int loss, double epsilon,
    double* work,
) noexcept nogil:
    """Sample-weighted loss sum of rows[start:stop] at W, without the
    gradient: the loss-only evaluations of a line search read each row once
    for its predictions and write nothing else.  Rows go in groups as in
    accumulate_rows (work holds group_work_size(K) doubles), prefetched as
    there."""
    cdef Py_ssize_t r0, g, m
    cdef Py_ssize_t rows[ROW_GROUP]
    cdef double total = 0.0
    cdef double* P = work
    cdef double* Dv = work + ROW_GROUP * K
    cdef double* loss_work = work + 2 * ROW_GROUP * K
    cdef double* L = work + 4 * ROW_GROUP * K
    r0 = start
    while r0 < stop:
        m = stop - r0
        if m > ROW_GROUP:
            m = ROW_GROUP
        group_predictions(Xp, Xv, Xi, Xptr, sparse, n_features, Yp, y_cols,
                          swp, rowsp, r0, m, stop, W, K, rows, P)
        group_row_losses(loss, epsilon, target_kind, K, Yp, y_cols, rows, m,
                         P, Dv, loss_work, L)
        for g in range(m):
            total = skgd_madd(swp[rows[g]], L[g], total)
        r0 += m
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
    cdef Py_ssize_t j, lo, hi
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
    # The rows are cut into the same blocks as a full batch of run_epoch
    # (see BLOCK_WORK): no parallel region below two blocks, and sums in
    # block order, so the result does not depend on the thread count.
    cdef BlockPlan plan
    cdef Py_ssize_t rpb, n_blocks, first, n_round, q
    cdef int n_team
    cdef double* sq
    cdef floating* G = NULL
    cdef double total = 0.0
    cdef bint error = False
    cdef double[:, ::1] out
    with nogil:
        if block_plan_init(
                &plan, n_rows,
                mean_stored_per_row(sparse, n_features, Xptr,
                                    X_indptr.shape[0] - 1),
                K, D, sizeof(floating), n_threads) != 0:
            error = True
        elif with_gradient:
            G = <floating*>calloc(K * D, sizeof(floating))
            if G == NULL:
                error = True
            else:
                total = accumulate_rows_parallel(
                    Xp, Xv, Xi, Xptr, sparse, n_features, Yp, y_cols,
                    target_kind, swp, rowsp, n_rows, 0, n_rows, 1.0, Wp, K,
                    loss, epsilon, G, &plan, NULL, NULL, 0.0, NULL)
        else:
            rpb = plan.rows_per_block
            n_blocks = n_rows // rpb
            if n_blocks <= 1 or plan.n_buffers == 0:
                total = sum_row_losses(
                    Xp, Xv, Xi, Xptr, sparse, n_features, Yp, y_cols,
                    target_kind, swp, rowsp, 0, n_rows, Wp, K, loss, epsilon,
                    plan.work)
            else:
                # The blocks' loss sums, added in block order.
                first = 0
                while first < n_blocks:
                    n_round = plan_round(&plan, n_blocks, first, &n_team)
                    for q in prange(n_round, num_threads=n_team,
                                    schedule="dynamic", chunksize=1):
                        sq = plan.scratch + q * plan.s_stride
                        lo = (first + q) * rpb
                        hi = block_stop(first + q, n_blocks, rpb, 0, n_rows)
                        sq[0] = sum_row_losses(
                            Xp, Xv, Xi, Xptr, sparse, n_features, Yp, y_cols,
                            target_kind, swp, rowsp, lo, hi, Wp, K, loss,
                            epsilon, plan.work + threadid() * plan.w_stride)
                    for q in range(n_round):
                        total += plan.scratch[q * plan.s_stride]
                    first += n_round
        block_plan_free(&plan)
    if error:
        free(G)
        raise MemoryError()
    gradient = None
    if with_gradient:
        gradient = np.empty((K, D))
        out = gradient
        for j in range(K * D):
            out[j // D, j % D] = G[j]
    free(G)
    return total, gradient


def extrapolated_loss_gradient(
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
    double[:, ::1] margins_new,
    margins_base,
    double beta,
    int n_threads=1,
):
    """One read of the rows for a step of the accelerated line search:
    ``(loss_W, loss_Y, G_Y)`` with ``loss_W`` the sample-weighted loss sum
    at the trial model W, and ``loss_Y`` and its gradient ``G_Y`` (float64,
    the shape of W) at the extrapolated model ``Y = W + beta (W - B)``.

    ``margins_new`` (n_samples, K) receives the predictions at W of the
    listed rows; ``margins_base`` (n_samples, K, or None for beta = 0) holds
    those of the base model B from an earlier call.  Y's predictions are
    combined from the two, the linear models' predictions being linear in
    the model, so Y is never multiplied by X.  The sums are accumulated as
    full_loss_gradient accumulates them (same blocks, same order)."""
    cdef Py_ssize_t n_rows = rows.shape[0]
    cdef Py_ssize_t n_features = W.shape[1] - 1
    cdef Py_ssize_t D = W.shape[1]
    cdef int K = W.shape[0]
    cdef Py_ssize_t y_cols = Y.shape[1]
    cdef Py_ssize_t j
    cdef const double[:, ::1] base
    cdef const double* Mb = NULL
    if margins_base is not None and beta != 0.0:
        base = margins_base
        if base.shape[0] != margins_new.shape[0] or base.shape[1] != K:
            raise ValueError("the base margins do not match the new ones")
        if base.shape[0] > 0:
            Mb = &base[0, 0]
    if margins_new.shape[1] != K or (
            n_rows > 0 and margins_new.shape[0] < Y.shape[0]):
        raise ValueError("margins_new must have shape (n_samples, n_outputs)")
    cdef double* Mn = &margins_new[0, 0] if margins_new.shape[0] > 0 else NULL
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
    cdef BlockPlan plan
    cdef floating* G = NULL
    cdef double total = 0.0, total_new = 0.0
    cdef bint error = False
    cdef double[:, ::1] out
    if n_rows == 0:
        return 0.0, 0.0, np.zeros((K, D))
    with nogil:
        if block_plan_init(
                &plan, n_rows,
                mean_stored_per_row(sparse, n_features, Xptr,
                                    X_indptr.shape[0] - 1),
                K, D, sizeof(floating), n_threads) != 0:
            error = True
        else:
            G = <floating*>calloc(K * D, sizeof(floating))
            if G == NULL:
                error = True
            else:
                total = accumulate_rows_parallel(
                    Xp, Xv, Xi, Xptr, sparse, n_features, Yp, y_cols,
                    target_kind, swp, rowsp, n_rows, 0, n_rows, 1.0, Wp, K,
                    loss, epsilon, G, &plan, Mn, Mb, beta, &total_new)
        block_plan_free(&plan)
    if error:
        free(G)
        raise MemoryError()
    gradient = np.empty((K, D))
    out = gradient
    for j in range(K * D):
        out[j // D, j % D] = G[j]
    free(G)
    return total_new, total, gradient


cdef void moments_rows(
    const floating* Xp, const floating* Xv, const index_t* Xi,
    const index_t* Xptr, bint sparse, Py_ssize_t n_features,
    const floating* swp, const Py_ssize_t* rowsp, Py_ssize_t lo, Py_ssize_t hi,
    double* first, double* second,
) noexcept nogil:
    """Add sum_i s_i x_i into first and sum_i s_i x_i**2 into second over
    the rows rows[lo:hi], in their order."""
    cdef Py_ssize_t r, i, j, q
    cdef double s, x
    cdef const floating* xr
    for r in range(lo, hi):
        i = rowsp[r]
        s = swp[i]
        if sparse:
            for q in range(Xptr[i], Xptr[i + 1]):
                x = Xv[q]
                first[Xi[q]] += s * x
                second[Xi[q]] += s * x * x
        else:
            xr = Xp + i * n_features
            for j in range(n_features):
                x = xr[j]
                first[j] += s * x
                second[j] += s * x * x


def column_moments(
    const floating[:, ::1] X,
    const floating[::1] X_data,
    const index_t[::1] X_indices,
    const index_t[::1] X_indptr,
    bint sparse,
    const floating[::1] sample_weight,
    const Py_ssize_t[::1] rows,
    Py_ssize_t n_features,
    int n_threads=1,
):
    """(sum_i s_i x_i, sum_i s_i x_i**2) over the listed rows, float64: one
    pass, nothing copied (the weighted means and spreads preconditioning
    standardizes by).

    The rows are cut into blocks as a gradient pass cuts them (BlockPlan,
    here with the two sums as two outputs); the blocks' sums are added in
    block order, so the result does not depend on `n_threads`."""
    cdef Py_ssize_t n_rows = rows.shape[0], D = n_features + 1
    cdef Py_ssize_t rpb, n_blocks, first_block, n_round, q, lo, hi, j
    cdef const floating* Xp = &X[0, 0] if (not sparse and X.shape[0] > 0) else NULL
    cdef const floating* Xv = NULL
    cdef const index_t* Xi = NULL
    cdef const index_t* Xptr = NULL
    if sparse:
        Xptr = &X_indptr[0]
        if X_data.shape[0] > 0:
            Xv = &X_data[0]
            Xi = &X_indices[0]
    cdef const floating* swp = &sample_weight[0] if sample_weight.shape[0] > 0 else NULL
    cdef const Py_ssize_t* rowsp = &rows[0] if n_rows > 0 else NULL
    cdef double[::1] sums = np.zeros(2 * D)
    cdef double* out = &sums[0]
    cdef double* block
    cdef double* blocks
    cdef BlockPlan plan
    cdef int n_team
    cdef bint error = False
    with nogil:
        if block_plan_init(
                &plan, n_rows,
                mean_stored_per_row(sparse, n_features, Xptr,
                                    X_indptr.shape[0] - 1),
                2, D, sizeof(double), n_threads) != 0:
            error = True
        else:
            rpb = plan.rows_per_block
            n_blocks = n_rows // rpb
            blocks = <double*>plan.G_blocks
            if n_blocks <= 1 or plan.n_buffers == 0:
                moments_rows(Xp, Xv, Xi, Xptr, sparse, n_features, swp, rowsp,
                             0, n_rows, out, out + D)
            else:
                first_block = 0
                while first_block < n_blocks:
                    n_round = plan_round(&plan, n_blocks, first_block, &n_team)
                    for q in prange(n_round, num_threads=n_team,
                                    schedule="dynamic", chunksize=1):
                        block = blocks + q * plan.g_stride
                        memset(block, 0, 2 * D * sizeof(double))
                        lo = (first_block + q) * rpb
                        hi = block_stop(first_block + q, n_blocks, rpb, 0,
                                        n_rows)
                        moments_rows(Xp, Xv, Xi, Xptr, sparse, n_features,
                                     swp, rowsp, lo, hi, block, block + D)
                    for q in range(n_round):
                        block = blocks + q * plan.g_stride
                        for j in range(2 * D):
                            out[j] += block[j]
                    first_block += n_round
        block_plan_free(&plan)
    if error:
        raise MemoryError()
    moments = np.asarray(sums)
    return moments[:n_features].copy(), moments[D:D + n_features].copy()


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
    if optimizer == OPT_ADAM or optimizer == OPT_ADAMW:
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
# ---------------------------------------------------------------------------
# Consecutive full-batch epochs of the accelerated line search, compiled
# ---------------------------------------------------------------------------
# The default full-batch rule as skgd._fullbatch.solve_full_batch runs it
# (Nesterov's convex momentum sequence with gradient and function restart,
# backtracking from the last accepted step, the gradient-mapping stopping
# rule), for in-memory data when no per-epoch Python hook is needed
# (callbacks, verbose output, validation scores, averaging).  On small data
# an epoch of the Python driver costs tens of small NumPy calls, far more
# than its arithmetic; here it costs its reads of the rows.  The two follow
# the same steps in the same order, so they take the same decisions and
# reach the same model to rounding (tests/test_fullbatch.py checks it).

# Statuses of accelerated_search_epochs.
cdef enum:
    ST_MAX_EPOCHS = 0
    ST_CONVERGED = 1
    ST_SEARCH_FAILED = 2
    ST_UNSOUND_EPOCH = 3

LOOP_MAX_EPOCHS = ST_MAX_EPOCHS
LOOP_CONVERGED = ST_CONVERGED
LOOP_SEARCH_FAILED = ST_SEARCH_FAILED
LOOP_UNSOUND_EPOCH = ST_UNSOUND_EPOCH

# Indices of the loop's scalar state (in and out).
S_F_Y = 0          # smooth part at y
S_F_X = 1          # objective at x
S_THETA = 2        # momentum sequence
S_ETA = 3          # the step the next epoch starts from
S_T = 4            # update count
S_Y_COMBINED = 5   # f(y), g(y) from combined predictions (1) or not (0)
S_MU = 6           # smallest secant curvature seen (inf: none)
S_FIRST_MAPPING = 7  # first gradient-mapping norm (NaN: none yet)
S_BEST = 8         # best objective seen (inf: none)
S_STALLED = 9      # epochs without a decrease beyond rounding
S_LAST_ETA = 10    # out: the last epoch's step
S_LAST_VALUE = 11  # out: the objective the status is about
S_STREAK = 12      # epochs in a row whose step passed at its first trial
N_LOOP_SCALARS = 13


cdef inline void model_of(
    const double* z, floating* W, int K, Py_ssize_t D, const double* scale,
    const double* mean, bint identity, bint fit_intercept,
) noexcept nogil:
    """W (X's dtype) of the point z of the driver's coordinates (see
    skgd._fullbatch._Coordinates.to_W)."""
    cdef Py_ssize_t j, nf = D - 1
    cdef int k
    cdef double c, b
    for k in range(K):
        if identity:
            for j in range(D):
                W[k * D + j] = <floating>z[k * D + j]
            continue
        b = 0.0
        for j in range(nf):
            c = z[k * D + j] / scale[j]
            W[k * D + j] = <floating>c
            b += c * mean[j]
        W[k * D + nf] = <floating>(z[k * D + nf] - b) if fit_intercept else 0


cdef inline double smooth_part(
    double loss_sum, const floating* G, const floating* W, double* g, int K,
    Py_ssize_t D, double weight_sum, double l2, const double* scale,
    const double* mean, bint identity, bint fit_intercept,
) noexcept nogil:
    """The smooth part of the objective from the loss sum at W and, with G,
    its gradient in the driver's coordinates into g (see
    skgd._fullbatch._Problem._smooth_part)."""
    cdef Py_ssize_t j, nf = D - 1
    cdef int k
    cdef double f = loss_sum / weight_sum, sq = 0.0, c, gb
    if l2 > 0.0:
        for k in range(K):
            for j in range(nf):
                c = <double>W[k * D + j]
                sq += c * c
        f += 0.5 * l2 * sq
    if G == NULL:
        return f
    for k in range(K):
        gb = <double>G[k * D + nf] / weight_sum
        for j in range(nf):
            c = <double>G[k * D + j] / weight_sum
            if not identity:
                c = (c - gb * mean[j]) / scale[j]
            if l2 > 0.0:
                c += l2 * <double>W[k * D + j] / scale[j]
            g[k * D + j] = c
        g[k * D + nf] = gb if fit_intercept else 0.0
    return f


cdef inline double nonsmooth_part(
    const double* z, int K, Py_ssize_t D, double l1, const double* scale,
) noexcept nogil:
    cdef Py_ssize_t j
    cdef int k
    cdef double s = 0.0
    if l1 == 0.0:
        return 0.0
    for k in range(K):
        for j in range(D - 1):
            s += fabs(z[k * D + j]) / scale[j]
    return l1 * s


def accelerated_search_epochs(
    const floating[:, ::1] X,
    const floating[::1] X_data,
    const index_t[::1] X_indices,
    const index_t[::1] X_indptr,
    bint sparse,
    const floating[:, ::1] Y,
    int target_kind,
    const floating[::1] sample_weight,
    const Py_ssize_t[::1] rows,
    int loss,
    double epsilon,
    int n_threads,
    double weight_sum,
    const double[::1] scale,
    const double[::1] mean,
    bint identity,
    bint fit_intercept,
    double l2,
    double l1,
    const double[::1] l1_thresholds,
    double[:, ::1] x,
    double[:, ::1] y,
    double[:, ::1] g_y,
    floating[:, ::1] W_x,
    floating[:, ::1] W_y,
    double[::1] s,
    double[::1] loss_curve,
    int max_epochs,
    double tol,
    double distance_safety,
    double floor,
    double slack,
    double eta0,
    double bound,
    int max_backtracks,
    int recheck_after,
    int stall_epochs,
    double stall_rtol,
    double restart_rtol,
    double grow,
    int grow_after,
):
    """Run up to ``max_epochs`` epochs of the accelerated line search from
    the driver's state (x, y, g_y = gradient at y, their models W_x and W_y,
    the scalars ``s`` indexed by the S_* constants), updating it in place
    and writing each epoch's objective into ``loss_curve``.  ``tol`` < 0
    never stops.  Returns ``(status, epochs)``: LOOP_MAX_EPOCHS,
    LOOP_CONVERGED, LOOP_SEARCH_FAILED (no trial step passed; s[S_LAST_ETA]
    and s[S_LAST_VALUE] hold the last trial) or LOOP_UNSOUND_EPOCH (the
    epoch's objective or model is not finite, or the objective exceeds
    ``bound``: the caller raises; ``epochs`` counts that epoch)."""
    cdef int K = x.shape[0]
    cdef Py_ssize_t D = x.shape[1], nf = D - 1, size = K * D
    cdef Py_ssize_t n_rows = rows.shape[0], n_samples = Y.shape[0]
    cdef Py_ssize_t j, y_cols = Y.shape[1]
    cdef int epoch = 0, trial, status = ST_MAX_EPOCHS, base_slot = -1
    cdef int new_slot
    cdef double eta, theta_next, beta, f_new, f_next, bound_t, dot_gd, dd
    cdef double F_new, F_next, objective, mapping, restart_dot, dz, mu_c
    cdef double num, den, znorm, loss_new, loss_y
    cdef bint first_try, within, restart, next_combined, accepted
    cdef bint fresh_base, finite
    cdef bint has_l1 = l1_thresholds.shape[0] > 0
    cdef const double* sc = &scale[0] if nf > 0 else NULL
    cdef const double* mn = &mean[0] if nf > 0 else NULL
    cdef const double* thr = &l1_thresholds[0] if has_l1 else NULL
    cdef double* xp = &x[0, 0]
    cdef double* yp = &y[0, 0]
    cdef double* gyp = &g_y[0, 0]
    cdef floating* Wxp = &W_x[0, 0]
    cdef floating* Wyp = &W_y[0, 0]
    cdef const floating* Xp = &X[0, 0] if (not sparse and X.shape[0] > 0) else NULL
    cdef const floating* Xv = NULL
    cdef const index_t* Xi = NULL
    cdef const index_t* Xptr = NULL
    if sparse:
        Xptr = &X_indptr[0]
        if X_data.shape[0] > 0:
            Xv = &X_data[0]
            Xi = &X_indices[0]
    cdef const floating* Yp = &Y[0, 0] if n_samples > 0 else NULL
    cdef const floating* swp = &sample_weight[0] if sample_weight.shape[0] > 0 else NULL
    cdef const Py_ssize_t* rowsp = &rows[0] if n_rows > 0 else NULL
    # Work arrays: trial and next points, their models and gradients, the
    # predictions of two models (the accepted one's and the trial's).
    cdef double[:, ::1] x_new_a = np.empty((K, D))
    cdef double[:, ::1] y_next_a = np.empty((K, D))
    cdef double[:, ::1] g_next_a = np.empty((K, D))
    cdef floating[:, ::1] W_new_a = np.empty_like(W_x)
    cdef floating[:, ::1] W_next_a = np.empty_like(W_x)
    cdef double[:, ::1] margins = np.empty((2 * max(n_samples, 1), K))
    cdef double* xnp = &x_new_a[0, 0]
    cdef double* ynp = &y_next_a[0, 0]
    cdef double* gnp = &g_next_a[0, 0]
    cdef floating* Wnp = &W_new_a[0, 0]
    cdef floating* Wnxp = &W_next_a[0, 0]
    cdef double* M = &margins[0, 0]
    cdef Py_ssize_t M_stride = max(n_samples, 1) * K
    cdef double* Mbase
    cdef BlockPlan plan
    cdef floating* G = NULL
    cdef bint error = False
    cdef double f_y = s[S_F_Y], F_x = s[S_F_X], theta = s[S_THETA]
    cdef double eta_start = s[S_ETA], t = s[S_T]
    cdef bint y_combined = s[S_Y_COMBINED] != 0.0
    cdef double mu = s[S_MU], first_mapping = s[S_FIRST_MAPPING]
    cdef double best = s[S_BEST], stalled = s[S_STALLED]
    cdef int streak = <int>s[S_STREAK]
    cdef double last_eta = eta_start, last_value = 0.0
    with nogil:
        if block_plan_init(
                &plan, n_rows,
                mean_stored_per_row(sparse, nf, Xptr, X_indptr.shape[0] - 1),
                K, D, sizeof(floating), n_threads) != 0:
            error = True
        else:
            G = <floating*>malloc(size * sizeof(floating))
            error = G == NULL
        while not error and epoch < max_epochs:
            epoch += 1
            eta = eta_start
            first_try = True
            within = False
            accepted = False
            for trial in range(max_backtracks):
                if trial == recheck_after and y_combined:
                    # See solve_full_batch: evaluate y from the data.
                    memset(G, 0, size * sizeof(floating))
                    loss_y = accumulate_rows_parallel(
                        Xp, Xv, Xi, Xptr, sparse, nf, Yp, y_cols, target_kind,
                        swp, rowsp, n_rows, 0, n_rows, 1.0, Wyp, K, loss,
                        epsilon, G, &plan, NULL, NULL, 0.0, NULL)
                    f_y = smooth_part(loss_y, G, Wyp, gyp, K, D, weight_sum,
                                      l2, sc, mn, identity, fit_intercept)
                    y_combined = False
                # The proximal gradient step from y.
                restart_dot = 0.0
                dot_gd = 0.0
                dd = 0.0
                for j in range(size):
                    if j % D == nf and not fit_intercept:
                        xnp[j] = yp[j]
                    else:
                        xnp[j] = yp[j] - eta * gyp[j]
                        if has_l1 and j % D != nf:
                            xnp[j] = soft_threshold(xnp[j], eta * thr[j % D])
                    dz = xnp[j] - yp[j]
                    dot_gd += gyp[j] * dz
                    dd += dz * dz
                    restart_dot += (yp[j] - xnp[j]) * (xnp[j] - xp[j])
                restart = restart_dot > 0.0
                if restart:
                    theta_next = 1.0
                    beta = 0.0
                else:
                    theta_next = 0.5 * (1.0 + sqrt(1.0 + 4.0 * theta * theta))
                    beta = (theta - 1.0) / theta_next
                model_of(xnp, Wnp, K, D, sc, mn, identity, fit_intercept)
                if beta == 0.0:
                    for j in range(size):
                        ynp[j] = xnp[j]
                        Wnxp[j] = Wnp[j]
                else:
                    for j in range(size):
                        ynp[j] = xnp[j] + beta * (xnp[j] - xp[j])
                    model_of(ynp, Wnxp, K, D, sc, mn, identity, fit_intercept)
                Mbase = NULL
                if beta != 0.0:
                    if base_slot < 0:
                        # The predictions of x are not kept yet: one read.
                        memset(G, 0, size * sizeof(floating))
                        loss_new = 0.0
                        accumulate_rows_parallel(
                            Xp, Xv, Xi, Xptr, sparse, nf, Yp, y_cols,
                            target_kind, swp, rowsp, n_rows, 0, n_rows, 1.0,
                            Wxp, K, loss, epsilon, G, &plan, M, NULL, 0.0,
                            &loss_new)
                        base_slot = 0
                    Mbase = M + base_slot * M_stride
                new_slot = 1 - base_slot if base_slot >= 0 else 0
                memset(G, 0, size * sizeof(floating))
                loss_new = 0.0
                loss_y = accumulate_rows_parallel(
                    Xp, Xv, Xi, Xptr, sparse, nf, Yp, y_cols, target_kind,
                    swp, rowsp, n_rows, 0, n_rows, 1.0, Wnp, K, loss, epsilon,
                    G, &plan, M + new_slot * M_stride, Mbase, beta, &loss_new)
                f_new = smooth_part(loss_new, NULL, Wnp, NULL, K, D,
                                    weight_sum, l2, sc, mn, identity,
                                    fit_intercept)
                f_next = smooth_part(loss_y, G, Wnxp, gnp, K, D, weight_sum,
                                     l2, sc, mn, identity, fit_intercept)
                next_combined = beta != 0.0
                bound_t = f_y + dot_gd + dd / (2.0 * eta)
                finite = f_new == f_new and fabs(f_new) <= 1.7976931348623157e308
                if finite and f_new <= bound_t:
                    accepted = True
                    break
                if finite and f_new <= bound_t + slack * fabs(f_y):
                    within = True
                    accepted = True
                    break
                eta *= 0.5
                first_try = False
            last_eta = eta
            if not accepted:
                last_value = f_new
                status = ST_SEARCH_FAILED
                break
            # The step rule of solve_full_batch (LINE_SEARCH_GROW_AFTER).
            eta_start = eta
            streak = streak + 1 if first_try else 0
            if within:
                eta_start = eta * 0.5
                if eta_start < 1e-12 * eta0:
                    eta_start = 1e-12 * eta0
                streak = 0
            elif streak >= grow_after:
                eta_start = eta * grow
                streak = 0
            F_new = f_new + nonsmooth_part(xnp, K, D, l1, sc)
            objective = F_x
            loss_curve[epoch - 1] = objective
            # The divergence monitor's epoch check (DivergenceMonitor
            # .check_epoch): the caller raises with its message.
            finite = objective == objective and objective <= bound
            for j in range(size):
                if not (Wyp[j] == Wyp[j] and fabs(<double>Wyp[j]) <= 1.7976931348623157e308):
                    finite = False
            if not finite:
                last_value = objective
                status = ST_UNSOUND_EPOCH
                break
            mapping = 0.0
            for j in range(size):
                if j % D == nf and not fit_intercept:
                    continue
                dz = yp[j] - xnp[j]
                mapping += dz * dz
            mapping = sqrt(mapping) / eta
            theta = theta_next
            fresh_base = True
            if F_new > F_x + restart_rtol * fabs(F_x):
                # Function restart: stay at x, a plain step next epoch.
                for j in range(size):
                    xnp[j] = xp[j]
                    ynp[j] = xp[j]
                    Wnp[j] = Wxp[j]
                    Wnxp[j] = Wxp[j]
                F_new = F_x
                theta = 1.0
                memset(G, 0, size * sizeof(floating))
                loss_y = accumulate_rows_parallel(
                    Xp, Xv, Xi, Xptr, sparse, nf, Yp, y_cols, target_kind,
                    swp, rowsp, n_rows, 0, n_rows, 1.0, Wxp, K, loss, epsilon,
                    G, &plan, NULL, NULL, 0.0, NULL)
                f_next = smooth_part(loss_y, G, Wxp, gnp, K, D, weight_sum,
                                     l2, sc, mn, identity, fit_intercept)
                next_combined = False
                fresh_base = False
            if fresh_base:
                base_slot = new_slot
            y_combined = next_combined
            F_next = f_next + nonsmooth_part(ynp, K, D, l1, sc)
            # The secant curvature between y and the next point.
            num = 0.0
            den = 0.0
            for j in range(size):
                dz = ynp[j] - yp[j]
                den += dz * dz
                num += (gnp[j] - gyp[j]) * dz
            if den > 0.0:
                mu_c = num / den
                if mu_c > 0.0 and mu_c <= 1.7976931348623157e308 and mu_c < mu:
                    mu = mu_c
            t += 1.0
            znorm = 0.0
            for j in range(size):
                xp[j] = xnp[j]
                Wxp[j] = Wnp[j]
                yp[j] = ynp[j]
                gyp[j] = gnp[j]
                Wyp[j] = Wnxp[j]
                znorm += xp[j] * xp[j]
            F_x = F_new
            f_y = f_next
            # The stopping rule (skgd._fullbatch._Stopping.converged).
            if tol < 0.0:
                continue
            if first_mapping != first_mapping:
                first_mapping = mapping
            if not (best <= 1.7976931348623157e308) or objective < best - stall_rtol * fabs(best):
                stalled = 0.0
            else:
                stalled += 1.0
            if objective < best:
                best = objective
            if (stalled >= stall_epochs and mapping <= floor * first_mapping) or mapping == 0.0:
                status = ST_CONVERGED
                break
            if mu <= 1.7976931348623157e308 and (
                    mapping / mu <= tol / distance_safety * sqrt(znorm)):
                status = ST_CONVERGED
                break
        block_plan_free(&plan)
        free(G)
    if error:
        raise MemoryError()
    s[S_F_Y] = f_y
    s[S_F_X] = F_x
    s[S_THETA] = theta
    s[S_ETA] = eta_start
    s[S_T] = t
    s[S_Y_COMBINED] = 1.0 if y_combined else 0.0
    s[S_MU] = mu
    s[S_FIRST_MAPPING] = first_mapping
    s[S_BEST] = best
    s[S_STALLED] = stalled
    s[S_STREAK] = streak
    s[S_LAST_ETA] = last_eta
    s[S_LAST_VALUE] = last_value
    return status, epoch
