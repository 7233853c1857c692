# Loss functions of one prediction, shared by the epoch kernel and the
# Python-level objective.  Each returns the loss and writes its derivative with
# respect to the prediction `p` into `d`.  Definitions follow scikit-learn's
# SGD losses exactly (the same factors of 1/2 and 2), so a model trained here
# minimises the same objective as SGDRegressor / SGDClassifier.

from libc.math cimport fabs, log

cdef extern from *:
    """
    #include <math.h>
    #include <stdint.h>
    #include <string.h>

    #if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
    /* exp(t) for t <= 0 (NaN gives NaN), within one unit in the last place.
       The log loss and the softmax only ever need the exponential of a
       non-positive number (exp(-|z|), exp(p - max p)), and this version has
       no branch and no call, so a loop over a group of rows evaluates it in
       vector registers; the C library's exp is a call per value, and with
       log1p it cost a third of a logistic fit.

       t = k ln2 + r with |r| <= ln2 / 2, ln2 in two parts so that the
       reduction loses nothing; exp(r) by its Taylor series to r^13 (the
       next term is below 5e-18); 2^k written into the exponent bits.  t is
       first raised to -746, below which exp(t) rounds to zero, and 2^k is
       applied as 2^(k + 54) 2^-54 so that no k down to -1076 builds a
       number below the normal range.  -inf gives 0.

       Every step that must round once is a single fused multiply-add: the
       kernel is compiled with -fassociative-math (for its dot products),
       which may regroup a chain of additions, and regrouping the two-part
       reduction costs hundreds of units in the last place at t = -700. */
    static inline double skgd_exp_nonpos(double t) {
        double tc = t < -746.0 ? -746.0 : t;
        double kd = __builtin_rint(tc * 1.4426950408889634);
        int32_t k = (int32_t)kd;
        uint64_t scale_bits = (uint64_t)(int64_t)(k + 1077) << 52;
        double r, r2, r4, r8, p, scale;
        r = __builtin_fma(-kd, 6.93147180369123816490e-01, tc);
        r = __builtin_fma(-kd, 1.90821492927058770002e-10, r);
        /* 1 + r + r^2 (1/2 + r/6 + ... + r^11/13!), the bracket by
           Estrin's scheme: pairs, then pairs of pairs.  A chain of
           thirteen dependent multiply-adds (Horner) made the exponential
           slower than the C library's where one row waits for the last,
           as in per-sample SGD. */
        r2 = r * r;
        r4 = r2 * r2;
        r8 = r4 * r4;
        p = __builtin_fma(
            __builtin_fma(__builtin_fma(1.0 / 6227020800.0, r, 1.0 / 479001600.0), r2,
                          __builtin_fma(1.0 / 39916800.0, r, 1.0 / 3628800.0)), r8,
            __builtin_fma(
                __builtin_fma(__builtin_fma(1.0 / 362880.0, r, 1.0 / 40320.0), r2,
                              __builtin_fma(1.0 / 5040.0, r, 1.0 / 720.0)), r4,
                __builtin_fma(__builtin_fma(1.0 / 120.0, r, 1.0 / 24.0), r2,
                              __builtin_fma(1.0 / 6.0, r, 0.5))));
        p = 1.0 + __builtin_fma(r2, p, r);
        memcpy(&scale, &scale_bits, sizeof scale);
        return p * scale * 0x1p-54;
    }

    /* log(1 + e) for 0 <= e <= 1 (NaN gives NaN), within two units in the
       last place, branch-free like skgd_exp_nonpos.  1 + e = 2^j f with
       j = 0 or 1 and f in [sqrt(2)/2, sqrt(2)]; log f = 2 atanh(s) with
       s = (f - 1) / (f + 1), written from e directly (e / (2 + e), or
       (e - 1) / (e + 3) when j = 1) so that no digit of a small e is lost
       to 1 + e; |s| <= 0.172 and the series to s^21 is exact to 3e-17. */
    static inline double skgd_log1p_unit(double e) {
        int high = e > 0.41421356237309503;
        double s = (high ? e - 1.0 : e) / (high ? e + 3.0 : e + 2.0);
        double s2 = s * s, s4 = s2 * s2, s8 = s4 * s4, two_s = 2.0 * s, q;
        /* 1/3 + s^2/5 + ... + s^18/21 by Estrin's scheme, as above. */
        q = __builtin_fma(
            __builtin_fma(1.0 / 21.0, s2, 1.0 / 19.0), s8 * s8,
            __builtin_fma(
                __builtin_fma(__builtin_fma(1.0 / 17.0, s2, 1.0 / 15.0), s4,
                              __builtin_fma(1.0 / 13.0, s2, 1.0 / 11.0)), s8,
                __builtin_fma(__builtin_fma(1.0 / 9.0, s2, 1.0 / 7.0), s4,
                              __builtin_fma(1.0 / 5.0, s2, 1.0 / 3.0))));
        q = q * s2;
        /* ln 2 in two parts when j = 1; the small part joins 2s first. */
        return (high ? 6.93147180369123816490e-01 : 0.0)
            + __builtin_fma(two_s, q,
                            two_s + (high ? 1.90821492927058770002e-10 : 0.0));
    }
    #else
    /* Without fused multiply-adds the reductions above would round twice;
       the C library's functions are exact to within an ulp there. */
    static inline double skgd_exp_nonpos(double t) { return exp(t); }
    static inline double skgd_log1p_unit(double e) { return log1p(e); }
    #endif

    /* The log loss log(1 + exp(-z)), z = p y, of one prediction and its
       derivative -y / (1 + exp(z)), written so that neither overflows: only
       exp(-|z|) is ever evaluated. */
    static inline double skgd_log_loss(double p, double y, double *d) {
        double z = p * y;
        double e = skgd_exp_nonpos(-fabs(z));
        *d = (-y * (z > 0 ? e : 1.0)) / (1.0 + e);
        return skgd_log1p_unit(e) + (z < 0 ? -z : 0.0);
    }

    /* skgd_log_loss over n predictions at once.  Eight at a time in a loop
       of fixed length, which the compiler turns into vector instructions
       outright: a loop of variable length is vectorised for long runs
       only, and a group of eight rows would take its scalar remainder. */
    static inline void skgd_log_losses(
            const double *restrict p, const double *restrict y,
            double *restrict d, double *restrict loss, Py_ssize_t n) {
        Py_ssize_t i = 0;
        int j;
        for (; i + 8 <= n; i += 8)
            for (j = 0; j < 8; j++)
                loss[i + j] = skgd_log_loss(p[i + j], y[i + j], &d[i + j]);
        for (; i < n; i++)
            loss[i] = skgd_log_loss(p[i], y[i], &d[i]);
    }

    /* skgd_exp_nonpos in place over n values (the softmax's numerators),
       eight at a time as in skgd_log_losses. */
    static inline void skgd_exp_nonpos_inplace(double *restrict v,
                                               Py_ssize_t n) {
        Py_ssize_t i = 0;
        int j;
        for (; i + 8 <= n; i += 8)
            for (j = 0; j < 8; j++)
                v[i + j] = skgd_exp_nonpos(v[i + j]);
        for (; i < n; i++)
            v[i] = skgd_exp_nonpos(v[i]);
    }
    """
    double skgd_exp_nonpos(double t) noexcept nogil
    double skgd_log1p_unit(double e) noexcept nogil
    double skgd_log_loss(double p, double y, double* d) noexcept nogil
    void skgd_log_losses(const double* p, const double* y, double* d,
                         double* loss, Py_ssize_t n) noexcept nogil
    void skgd_exp_nonpos_inplace(double* v, Py_ssize_t n) noexcept nogil

# cpdef: the module skgd._losses (skgd/_losses.pyx) exposes the codes to
# Python as skgd._losses.LossCode, which skgd/_registry.py reads.
cpdef enum LossCode:
    SQUARED_ERROR = 0
    HUBER = 1
    EPSILON_INSENSITIVE = 2
    SQUARED_EPSILON_INSENSITIVE = 3
    LOG_LOSS = 4
    HINGE = 5
    SQUARED_HINGE = 6
    MODIFIED_HUBER = 7
    PERCEPTRON = 8
    SOFTMAX = 9


cdef inline double point_loss(int loss, double p, double y, double eps,
                              double* d) noexcept nogil:
    """Loss of prediction p for target y (a real target, or +-1 for the
    margin losses) and its derivative d = dloss/dp."""
    cdef double r, z
    if loss == SQUARED_ERROR:
        r = p - y
        d[0] = r
        return 0.5 * r * r
    elif loss == HUBER:
        r = p - y
        if fabs(r) <= eps:
            d[0] = r
            return 0.5 * r * r
        d[0] = eps if r > 0 else -eps
        return eps * fabs(r) - 0.5 * eps * eps
    elif loss == EPSILON_INSENSITIVE:
        r = p - y
        if fabs(r) <= eps:
            d[0] = 0.0
            return 0.0
        d[0] = 1.0 if r > 0 else -1.0
        return fabs(r) - eps
    elif loss == SQUARED_EPSILON_INSENSITIVE:
        r = p - y
        z = fabs(r) - eps
        if z <= 0:
            d[0] = 0.0
            return 0.0
        d[0] = 2.0 * z if r > 0 else -2.0 * z
        return z * z
    elif loss == LOG_LOSS:
        return skgd_log_loss(p, y, d)
    elif loss == HINGE:
        z = p * y
        if z <= 1.0:
            d[0] = -y
            return 1.0 - z
        d[0] = 0.0
        return 0.0
    elif loss == SQUARED_HINGE:
        z = 1.0 - p * y
        if z > 0:
            d[0] = -2.0 * y * z
            return z * z
        d[0] = 0.0
        return 0.0
    elif loss == MODIFIED_HUBER:
        z = p * y
        if z >= 1.0:
            d[0] = 0.0
            return 0.0
        if z >= -1.0:
            d[0] = -2.0 * y * (1.0 - z)
            return (1.0 - z) * (1.0 - z)
        d[0] = -4.0 * y
        return -4.0 * z
    elif loss == PERCEPTRON:
        z = p * y
        if z <= 0.0:
            d[0] = -y
            return -z
        d[0] = 0.0
        return 0.0
    d[0] = 0.0
    return 0.0


cdef inline double softmax_loss(const double* p, int n_classes, int label,
                                double* d) noexcept nogil:
    """Multinomial log loss -log softmax(p)[label] and its gradient
    softmax(p) - onehot(label).  The largest score is subtracted first so
    exp never overflows."""
    cdef int k
    cdef double pmax = p[0]
    cdef double total = 0.0
    for k in range(1, n_classes):
        if p[k] > pmax:
            pmax = p[k]
    for k in range(n_classes):
        d[k] = skgd_exp_nonpos(p[k] - pmax)
        total += d[k]
    for k in range(n_classes):
        d[k] /= total
    d[label] -= 1.0
    return log(total) + pmax - p[label]
